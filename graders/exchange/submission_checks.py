"""Checks on what a student controls, made before anything parses it.

A submission's folder and file names, its ``submission_secret.txt`` and its
notebooks' JSON are written by the student, who can make them anything the
filesystem allows: bytes that are not UTF-8, newlines and terminal escapes,
JSON nested deeply enough to overflow a recursive parser, tens of thousands
of cells. Each check here is a pure function that returns what is wrong (or
None), phrased for the refusal or failure reason an instructor reads; the
collector and the grader decide what to do with it. Names and secrets are
checked against allow-lists: what nbgrader's own submit produces, and what an
honest student plausibly names a file.
"""

from __future__ import annotations

import json
import re
import unicodedata
from itertools import accumulate
from typing import Any

from ..course.layout import SUBMISSION_SECRET

# Folders inside a submission: deeper trees are refused before anything is copied.
MAX_FOLDER_DEPTH = 16
# Longer names are refused: honest files are shorter, and the name appears in every reason shown.
MAX_NAME_CHARS = 128
# A notebook's JSON nests about 6 levels; outputs a student displayed (application/json) add some.
# Anything deeper is refused before parsing: Python's json and nbformat's validator recurse.
MAX_JSON_DEPTH = 100
# nbgrader's submit writes secrets.token_hex(64); fewer than 32 hex digits would make the
# feedback's file name guessable by other students.
SECRET = re.compile(r"[0-9a-f]{32,256}")
SECRET_NAME = SUBMISSION_SECRET  # nbgrader names the feedback pages of a submission by it

# Beyond letters, marks and digits (any script), the punctuation a file name may hold. No path
# or shell syntax (\ : * ? " < > | `), no control, format (bidi overrides) or separator characters.
NAME_PUNCTUATION = frozenset(" !#$%&'()+,-.;=@[]^_{}~")

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def shown(name: str) -> str:
    """A name as it can be printed safely: quoted, with bytes that are not UTF-8 as ``\\xff`` and
    invisible characters (newlines, terminal escapes, bidi overrides) as backslash escapes."""
    out = []
    for ch in name:
        if 0xDC80 <= ord(ch) <= 0xDCFF:  # os.listdir's surrogateescape of a byte that is not UTF-8
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "'" + "".join(out) + "'"


def _invalid_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def inbound_name_problem(name: str) -> str | None:
    """What is wrong with an inbound folder's name (``student+lesson+timestamp+random``), if anything."""
    if _invalid_utf8(name):
        return "its name is not valid UTF-8"
    if not name.isprintable():
        return "its name holds invisible characters (newlines, escapes or the like)"
    return None


def entry_name_problem(name: str) -> str | None:
    """What is wrong with the name of a file or folder inside a submission, if anything."""
    if _invalid_utf8(name):
        return "the name is not valid UTF-8"
    if len(name) > MAX_NAME_CHARS:
        return f"the name is longer than {MAX_NAME_CHARS} characters"
    if name != name.strip():
        return "the name starts or ends with a space"
    if set(name) == {"."}:
        return "the name is only dots"
    for ch in name:
        if ch not in NAME_PUNCTUATION and unicodedata.category(ch)[0] not in "LMN":
            return f"the name holds {shown(ch)}, which file names may not hold"
    return None


def secret_problem(data: bytes) -> str | None:
    """What is wrong with the content of ``submission_secret.txt``, if anything.

    The secret names the student's feedback file in the exchange, and nbgrader hashes it exactly
    as written: an empty one crashes nbgrader's hashing, whitespace would name another file.
    """
    if not data:
        return f"{SECRET_NAME} is empty"
    if len(data) > 256:
        return f"{SECRET_NAME} is {len(data)} bytes: nbgrader writes 128 hexadecimal digits"
    if SECRET.fullmatch(data.decode("latin-1")) is None:
        return f"{SECRET_NAME} is not 32 to 256 lowercase hexadecimal digits (nbgrader writes 128)"
    return None


def json_depth(text: str) -> int:
    """How deeply ``text``'s JSON arrays and objects nest, found without parsing it.

    Strings are removed first (brackets inside them do not count), then the
    brackets left are summed as +1/-1; every step runs in C, linear in the size.
    """
    skeleton = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)).encode("ascii")
    return max(accumulate(map(_DEPTH_STEP.__getitem__, skeleton)), default=0)


def notebook_text_problem(text: str) -> str | None:
    """What makes a notebook's text unsafe to parse (nesting), if anything."""
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        return f"its JSON nests {depth} levels deep, more than the {MAX_JSON_DEPTH} a notebook may"
    return None


def notebook_structure_problem(nb: Any, *, max_cells: int) -> str | None:
    """What is wrong with a parsed notebook's structure before nbformat and nbgrader read it.

    An allow-list of the shapes grading relies on: nbformat 4, at most ``max_cells`` cells
    (``[grading] max_cells``), each a table with a known type, text source and table metadata;
    nbgrader's cell metadata with the types nbgrader expects; code cells' outputs as tables and
    execution counts as whole numbers. nbformat itself only logs such problems, and nbgrader then
    fails with a traceback that names neither the cell nor the field.
    """
    if not isinstance(nb, dict):
        return "is not a notebook (its JSON is not an object)"
    if nb.get("nbformat") != 4:
        return f"is not an nbformat 4 notebook (nbformat is {_short(nb.get('nbformat'))})"
    if not isinstance(nb.get("metadata", {}), dict):
        return "has notebook metadata that is not an object"
    cells = nb.get("cells")
    if not isinstance(cells, list):
        return "has no list of cells"
    if len(cells) > max_cells:
        return f"has {len(cells)} cells, more than the {max_cells} allowed ([grading] max_cells)"
    for index, cell in enumerate(cells):
        problem = _cell_problem(cell)
        if problem:
            return f"cell {index}: {problem}"
    return None


NBGRADER_TYPES: dict[str, tuple[type, ...]] = {
    "grade": (bool,), "solution": (bool,), "locked": (bool,), "task": (bool,),
    "grade_id": (str,), "points": (int, float), "schema_version": (int,), "cell_type": (str,),
    "checksum": (str,),
}

KIND_NAMES = {bool: "true or false", str: "text", int: "a number"}


def _cell_problem(cell: Any) -> str | None:
    if not isinstance(cell, dict):
        return "is not an object"
    if cell.get("cell_type") not in ("code", "markdown", "raw"):
        return f"has cell_type {_short(cell.get('cell_type'))}, not code, markdown or raw"
    source = cell.get("source", "")
    if not (isinstance(source, str) or (isinstance(source, list) and all(isinstance(line, str) for line in source))):
        return "has a source that is not text"
    metadata = cell.get("metadata", {})
    if not isinstance(metadata, dict):
        return "has metadata that is not an object"
    if "nbgrader" in metadata:
        problem = _nbgrader_problem(metadata["nbgrader"])
        if problem:
            return problem
    if cell["cell_type"] == "code":
        outputs = cell.get("outputs", [])
        if not isinstance(outputs, list) or not all(isinstance(o, dict) and isinstance(o.get("output_type"), str) for o in outputs):
            return "has outputs that are not a list of outputs"
        count = cell.get("execution_count")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
            return f"has execution_count {_short(count)}, not a whole number"
    return None


def _nbgrader_problem(meta: Any) -> str | None:
    if not isinstance(meta, dict):
        return f"has nbgrader metadata {_short(meta)}, not an object"
    for key, kinds in NBGRADER_TYPES.items():
        value = meta.get(key)
        if value is None:
            continue
        wrong_bool = isinstance(value, bool) and bool not in kinds
        if wrong_bool or not isinstance(value, kinds):
            return f"has nbgrader {key} {_short(value)}, which is not {KIND_NAMES[kinds[0]]}"
    return None


def _short(value: Any) -> str:
    """A student-written value, cut short and printable, for a reason."""
    text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
