"""A lesson's data from the web (``[[lessons]] data`` in course.toml), fetched once by the instructor.

Grading runs without a network (the sandbox has none), and a lesson that
downloads its data would fetch it again for every student anyway: the lesson
names its URLs instead, and ``paceline release`` (or ``paceline check``, which
runs the lesson as grading does) fetches each file into the lesson folder,
whence the release publishes it beside the notebooks and grading ships it to
the kernel. Nothing here runs while grading.

A file already in the lesson folder is not fetched again (with ``sha256``: one
with that hash); a download lands in a hidden part file first, so a failed one
leaves nothing that a release would publish.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from ..course.plan import CourseConfig, DataFile, LessonPlan
from ..errors import CellRef, LessonError

TIMEOUT = 60.0  # seconds without an answer from the server
CHUNK = 1 << 20


def fetch_lesson_data(course: CourseConfig, lesson: LessonPlan, *, timeout: float = TIMEOUT) -> list[str]:
    """Fetch the lesson's data files missing from its folder; the names fetched.

    Raises :class:`LessonError` naming the lesson, the file and the URL at the first that cannot be fetched
    (the files fetched before it stay).
    """
    folder = course.layout.lesson_source(lesson.id)
    fetched = []
    for data in lesson.data:
        target = folder / data.name
        if target.is_symlink() or (target.exists() and not target.is_file()):
            raise _error(lesson, data, f"{target} is not a regular file: remove it, then fetch again")
        if target.is_file() and (data.sha256 is None or file_sha256(target) == data.sha256):
            continue
        _download(lesson, data, target, timeout=timeout)
        fetched.append(data.name)
    return fetched


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _download(lesson: LessonPlan, data: DataFile, target: Path, *, timeout: float) -> None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(data.url, headers={"User-Agent": "paceline (lesson data)"})
    part = tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{data.name}.", suffix=".part", delete=False)
    try:
        digest = hashlib.sha256()
        with part, urllib.request.urlopen(request, timeout=timeout) as response:
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                part.write(chunk)
        if data.sha256 is not None and digest.hexdigest() != data.sha256:
            raise _error(lesson, data, f"the file has sha256 {digest.hexdigest()}, not the {data.sha256} course.toml "
                                       "gives: check the URL, or update sha256 if the data changed on purpose")
        os.chmod(part.name, 0o644)
        os.replace(part.name, target)
    except urllib.error.HTTPError as exc:
        raise _error(lesson, data, f"the server answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _error(lesson, data, f"{exc.reason}") from None
    except TimeoutError:
        raise _error(lesson, data, f"no answer within {timeout:g} s") from None
    except OSError as exc:
        raise _error(lesson, data, exc.strerror or str(exc)) from None
    finally:
        Path(part.name).unlink(missing_ok=True)


def _error(lesson: LessonPlan, data: DataFile, why: str) -> LessonError:
    return LessonError(CellRef(lesson.id, data.name),
                       f"cannot fetch {data.url} ([[lessons]] data in course.toml): {why}")
