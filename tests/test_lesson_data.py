"""[[lessons]] data: files a lesson reads, fetched once by the instructor from a real HTTP server on 127.0.0.1
into the lesson folder, published with the lesson, never fetched while grading."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from graders.authoring.check import check_course
from graders.authoring.lesson_data import fetch_lesson_data
from graders.authoring.lesson_files import published_files
from graders.course.plan import load_course
from graders.errors import ConfigError, LessonError
from graders.exchange.release import release_lessons

STATIONS = b"station,lat,lon\nBER,52.5,13.4\n"


class Server:
    """A real HTTP server on 127.0.0.1 serving ``folder``, remembering the paths asked for."""

    def __init__(self, folder: Path) -> None:
        self.asked: list[str] = []
        asked = self.asked

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                asked.append(self.path)
                super().do_GET()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    folder = tmp_path / "www"
    folder.mkdir()
    (folder / "stations.geojson").write_bytes(STATIONS)
    running = Server(folder)
    thread = threading.Thread(target=running.httpd.serve_forever, daemon=True)
    thread.start()
    yield running
    running.httpd.shutdown()
    running.httpd.server_close()


def declare(course: Path, lesson_index: int, data: str) -> None:
    """Set ``data = ...`` in the course's ``lesson_index``-th [[lessons]] table."""
    text = (course / "course.toml").read_text()
    tables = text.split("[[lessons]]\n")
    kept = [line for line in tables[lesson_index + 1].splitlines(keepends=True) if not line.startswith("data = ")]
    tables[lesson_index + 1] = f"data = {data}\n" + "".join(kept)
    (course / "course.toml").write_text("[[lessons]]\n".join(tables))


@pytest.mark.parametrize(("data", "key", "why"), [
    ('"https://example.org/a.csv"', "lessons[0].data", "must be a list of URLs"),
    ('["ftp://example.org/a.csv"]', "lessons[0].data[0].url", "is not an http:// or https:// URL"),
    ('["https://example.org/data/?id=3"]', "lessons[0].data[0].url", "give one with name"),
    ('[{ url = "https://example.org/x", name = "../x.csv" }]', "lessons[0].data[0].name", "not a plain file name"),
    ('[{ url = "https://example.org/x.csv", sha256 = "abc" }]', "lessons[0].data[0].sha256", "64 hexadecimal digits"),
    ('[{ url = "https://example.org/x.csv", md5 = "abc" }]', "lessons[0].data[0].md5", "unknown key"),
    ('["https://example.org/x.csv", "https://mirror.example.org/x.csv"]', "lessons[0].data[1]", "already fetched from"),
])
def test_data_is_validated_naming_the_key(fixture_course: Path, data: str, key: str, why: str) -> None:
    declare(fixture_course, 0, data)
    with pytest.raises(ConfigError, match=why) as caught:
        load_course(fixture_course)
    assert caught.value.key == key


def test_fetched_once_refetched_for_another_hash_and_a_failure_names_the_url(fixture_course: Path, server: Server) -> None:
    digest = hashlib.sha256(STATIONS).hexdigest()
    declare(fixture_course, 0, f'["{server.url}/stations.geojson"]')
    course = load_course(fixture_course)
    lesson = course.lesson("01-add")
    folder = course.layout.lesson_source("01-add")
    assert fetch_lesson_data(course, lesson) == ["stations.geojson"]
    assert (folder / "stations.geojson").read_bytes() == STATIONS
    assert fetch_lesson_data(course, lesson) == [] and server.asked == ["/stations.geojson"]  # present: not fetched again

    (folder / "stations.geojson").write_bytes(b"stale copy\n")
    declare(fixture_course, 0, f'[{{ url = "{server.url}/stations.geojson", sha256 = "{digest}" }}]')
    course = load_course(fixture_course)
    assert fetch_lesson_data(course, course.lesson("01-add")) == ["stations.geojson"]  # not the pinned hash
    assert (folder / "stations.geojson").read_bytes() == STATIONS
    assert fetch_lesson_data(course, course.lesson("01-add")) == [] and len(server.asked) == 2

    declare(fixture_course, 1, f'[{{ url = "{server.url}/stations.geojson", name = "copy.geojson", sha256 = "{"0" * 64}" }}, '
                               f'"{server.url}/missing.csv"]')
    course = load_course(fixture_course)
    with pytest.raises(LessonError) as caught:
        fetch_lesson_data(course, course.lesson("02-words"))
    assert str(caught.value) == (f"02-words / copy.geojson: cannot fetch {server.url}/stations.geojson ([[lessons]] data in "
                                 f"course.toml): the file has sha256 {digest}, not the {'0' * 64} course.toml gives: check "
                                 "the URL, or update sha256 if the data changed on purpose")
    words = course.layout.lesson_source("02-words")
    assert sorted(p.name for p in words.iterdir()) == ["words.ipynb"]  # no part file left behind
    declare(fixture_course, 1, f'["{server.url}/missing.csv"]')
    course = load_course(fixture_course)
    with pytest.raises(LessonError, match=rf"02-words / missing.csv: cannot fetch {server.url}/missing.csv "
                                          r"\(\[\[lessons\]\] data in course.toml\): the server answered HTTP 404 File not found"):
        fetch_lesson_data(course, course.lesson("02-words"))
    server.httpd.shutdown()
    server.httpd.server_close()
    with pytest.raises(LessonError, match="missing.csv: cannot fetch .*Connection refused"):
        fetch_lesson_data(course, course.lesson("02-words"))


def test_release_fetches_and_publishes_the_data_and_check_reports_what_cannot_be_fetched(
        fixture_course: Path, server: Server) -> None:
    declare(fixture_course, 0, f'["{server.url}/stations.geojson"]')
    declare(fixture_course, 1, f'["{server.url}/missing.csv"]')
    course = load_course(fixture_course)

    checked = check_course(course, lesson_ids=["02-words"])  # before any kernel: nothing to run without the data
    assert [(str(p.where), p.code) for p in checked.problems] == [("02-words / missing.csv", "data-not-fetched")]
    assert "HTTP 404" in checked.problems[0].message

    report = release_lessons(course, lesson_ids=["01-add", "02-words"])
    assert [lesson.lesson_id for lesson in report.released] == ["01-add"]
    assert [str(problem) for problem in report.problems] == [
        f"02-words / missing.csv: cannot fetch {server.url}/missing.csv ([[lessons]] data in course.toml): "
        "the server answered HTTP 404 File not found"]
    assert "stations.geojson" in report.released[0].files  # not a default data extension: published as declared
    assert (course.layout.exchange.released("01-add") / "stations.geojson").read_bytes() == STATIONS
    assert not course.layout.exchange.released("02-words").exists()
    assert "stations.geojson" in published_files(course, course.lesson("01-add")).files  # what grading ships
    assert server.asked == ["/missing.csv", "/stations.geojson", "/missing.csv"]  # check, then release
