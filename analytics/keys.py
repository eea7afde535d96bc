"""Matching ids across tables fast: integer codes instead of string look-ups.

Millions of text ids (a ``cell_scores`` table, a big ``submissions`` log)
are matched several times faster through integer codes than through
``Index.get_indexer`` or a string MultiIndex. A column's codes are found
once and remembered (:func:`factorized`): read with the column from its
Parquet dictionary (:func:`read_parquet`), or given by the table that built
the column (:func:`remember_codes`); :func:`positions`, :func:`equal_to`,
:func:`attempt_rows` and :func:`all_distinct` then work on integers.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


class _Remembered:
    """Answers computed from objects that are not modified afterwards (Arrow arrays, validated frames), kept
    for as long as those very objects live: found by identity, dropped through weak references."""

    def __init__(self) -> None:
        self._entries: dict[tuple[int, ...], tuple[tuple[weakref.ref, ...], Any]] = {}

    def get(self, *sources: object) -> Any | None:
        entry = self._entries.get(tuple(map(id, sources)))
        if entry is not None and all(ref() is source for ref, source in zip(entry[0], sources)):
            return entry[1]
        return None

    def put(self, sources: tuple[object, ...], answer: Any) -> None:
        key = tuple(map(id, sources))

        def forget(dead: weakref.ref) -> None:
            entry = self._entries.get(key)
            if entry is not None and any(ref is dead for ref in entry[0]):  # not a newer entry under a reused id
                del self._entries[key]

        self._entries[key] = (tuple(weakref.ref(source, forget) for source in sources), answer)


# (frame, submissions) -> their attempt_rows, for the tables validate_tables returns: validating a cell_scores
# table finds every cell's attempt, and cell_pass_rates needs the same answer for the same frames.
_ATTEMPT_ROWS = _Remembered()


def remember_attempt_rows(frame: pd.DataFrame, submissions: pd.DataFrame, rows: np.ndarray) -> None:
    """Record :func:`attempt_rows` of these very frames (which must not be modified afterwards)."""
    _ATTEMPT_ROWS.put((frame, submissions), rows)


# positions() answers, by the Arrow arrays of the keys and the values: the pacing table and the student
# metrics both match every submission's student id against the same cohort's ids.
_MATCHES = _Remembered()


def positions(keys: pd.Series | pd.Index, values: pd.Series) -> np.ndarray:
    """For each of ``values``, its position in ``keys`` (which must be unique), or -1 if absent; read-only.

    The same answer as ``pd.Index(keys).get_indexer(values)``: ``values`` (millions of ids, such as every
    submission's student_id) are factorized once per column and remembered (:func:`factorized`), and only
    their distinct ids are looked up in ``keys``. The answer for the same two Arrow arrays is remembered;
    when ``keys`` is the very Index of distinct values that ``values``' codes refer to, the codes are it.
    """
    key_arrow, value_arrow = _arrow(keys), _arrow(values)
    remembered = key_arrow is not None and value_arrow is not None
    known = _MATCHES.get(key_arrow, value_arrow) if remembered else None
    if known is not None:
        return known
    found = _positions(keys, values)
    found.flags.writeable = False  # shared by every caller from now on
    if remembered:
        _MATCHES.put((key_arrow, value_arrow), found)
    return found


def _arrow(values: pd.Series | pd.Index) -> object | None:
    return getattr(getattr(values, "array", None), "_pa_array", None)


def _positions(keys: pd.Series | pd.Index, values: pd.Series) -> np.ndarray:
    codes, uniques = factorized(values)
    if uniques is keys:  # the codes are positions in keys already (null: -1)
        return np.array(codes, dtype=np.int64)
    keys = pd.Index(keys)
    if not keys.is_unique:  # not what callers promise; the answer of one factorize of both, as before
        codes, uniques = pd.factorize(pd.concat([pd.Series(keys), pd.Series(values)], ignore_index=True))
        where = np.full(len(uniques), -1, dtype=np.int64)
        where[codes[: len(keys)]] = np.arange(len(keys))
        return where[codes[len(keys):]]
    where = np.append(keys.get_indexer(uniques), -1).astype(np.int64)  # the last entry is for code -1 (null)
    return where[codes]


# Factorized id columns, by the Arrow array holding them: one analysis matches the same submissions' ids
# against the students and the lessons several times, and factorizing a million text ids was the biggest
# repeated cost. Arrow arrays are immutable, so one array always has the same codes.
_CODES = _Remembered()


def factorized(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(values)`` (codes, and the distinct values as an Index), remembered for Arrow-backed
    columns."""
    arrow = getattr(values.array, "_pa_array", None)
    known = _CODES.get(arrow) if arrow is not None else None
    if known is not None:
        return known
    codes, uniques = pd.factorize(values)
    uniques = pd.Index(uniques)
    if arrow is not None:
        _remember_codes(arrow, codes, uniques)
    return codes, uniques


def equal_to(values: pd.Series, text: str) -> np.ndarray:
    """``(values == text).to_numpy()`` for a text column, through its remembered codes: one integer
    comparison per row instead of a string comparison (a status column of a million attempts)."""
    codes, uniques = factorized(values)
    found = uniques.get_indexer([text])[0]
    return codes == found if found >= 0 else np.zeros(len(codes), dtype=bool)


def remember_codes(values: pd.Series, codes: np.ndarray, uniques: pd.Index) -> None:
    """Record that ``values`` (a text column, not modified afterwards) is ``uniques.take(codes)``, for
    :func:`factorized`: a table built from codes (the pacing table, one row per student x lesson) is not
    factorized again by every metric that matches its ids."""
    arrow = getattr(values.array, "_pa_array", None)
    if arrow is not None:
        _remember_codes(arrow, np.asarray(codes, dtype=np.intp), pd.Index(uniques))


def _remember_codes(arrow: object, codes: np.ndarray, uniques: pd.Index) -> None:
    _CODES.put((arrow,), (codes, uniques))


def read_parquet(path: Path) -> pd.DataFrame:
    """``pd.read_parquet(path)``, with the codes of every text column remembered (:func:`factorized`).

    Parquet stores text dictionary-encoded: read as dictionaries, the columns
    come with their codes, where factorizing millions of ids after a plain
    read cost more than the read itself. The codes are the dictionary's, not
    in order of first appearance as ``pd.factorize``'s; every user of
    :func:`factorized` only matches them.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    text = [field.name for field in pq.read_schema(path)
            if pa.types.is_string(field.type) or pa.types.is_large_string(field.type)]
    table = pq.read_table(path, read_dictionary=text).unify_dictionaries()
    coded: dict[str, tuple[np.ndarray, pa.Array]] = {}
    for name in text:
        column = table[name]
        if not pa.types.is_dictionary(column.type):
            continue
        dictionary = column.chunk(0).dictionary if column.num_chunks else pa.array([], type=pa.string())
        codes = np.concatenate([np.zeros(0, dtype=np.intp)] + [
            (pc.fill_null(chunk.indices, -1) if chunk.null_count else chunk.indices).to_numpy()
            for chunk in column.chunks], dtype=np.intp)
        decoded = pa.chunked_array([chunk.dictionary_decode() for chunk in column.chunks], type=dictionary.type)
        table = table.set_column(table.schema.get_field_index(name), name, decoded)
        coded[name] = (codes, dictionary)
    frame = table.to_pandas()
    for name, (codes, dictionary) in coded.items():
        uniques = pd.Index(dictionary.to_pandas(), dtype=frame[name].dtype)
        arrow = getattr(frame[name].array, "_pa_array", None)
        if arrow is not None and uniques.is_unique:  # a Parquet dictionary is; if not, factorize as usual
            _remember_codes(arrow, codes, uniques)
    return frame


def attempt_rows(frame: pd.DataFrame, submissions: pd.DataFrame) -> np.ndarray:
    """For each row of ``frame``, the position in ``submissions`` of the attempt with the same
    (student_id, lesson_id, attempt), or -1 if there is none (``submissions`` keys are unique).

    Ids are matched through integer codes rather than a string MultiIndex:
    a cell_scores table has millions of rows.
    """
    known = _ATTEMPT_ROWS.get(frame, submissions)
    if known is not None:
        return known
    top = int(submissions["attempt"].max()) if len(submissions) else 0

    def codes(column: str) -> tuple[np.ndarray, np.ndarray, int]:
        """Both sides' ids as the submissions' codes (-1 in ``frame`` for an id not in submissions): each
        column factorized on its own (and remembered), only the distinct ids of ``frame`` looked up."""
        sub_codes, sub_ids = factorized(submissions[column])
        frame_codes, frame_ids = factorized(frame[column])
        return sub_codes, np.append(sub_ids.get_indexer(frame_ids), -1)[frame_codes], len(sub_ids)

    (sub_student, frame_student, _), (sub_lesson, frame_lesson, lessons) = codes("student_id"), codes("lesson_id")
    attempt = frame["attempt"].to_numpy(dtype=np.int64)
    matched = (frame_student >= 0) & (frame_lesson >= 0) & (attempt >= 1) & (attempt <= top)
    wanted = (frame_student * lessons + frame_lesson) * (top + 1) + np.where(matched, attempt, 0)
    known = (sub_student * lessons + sub_lesson) * (top + 1) + submissions["attempt"].to_numpy(dtype=np.int64)
    span = int(known.max()) + 1 if len(known) else 0
    if span <= 4 * (len(known) + len(wanted)) + 1024:
        # Keys are dense enough for a table indexed by key: one write and one gather, no hash table.
        matched &= wanted < span
        where = np.full(span + 1, -1, dtype=np.int64)  # + 1: position 0 exists for the unmatched rows' gather
        where[known] = np.arange(len(known))
        found = where[np.where(matched, wanted, 0)]
    else:
        found = pd.Index(known).get_indexer(wanted)
    return np.where(matched, found, -1)


def all_distinct(keys: np.ndarray) -> bool:
    """Whether the integer ``keys`` are all different: marked in a table of one byte per possible key when
    they are dense enough (millions of cell keys: no hash table), else ``Index.is_unique``."""
    if len(keys) == 0:
        return True
    low, high = int(keys.min()), int(keys.max())
    if high - low < 32 * len(keys) + 1024:
        seen = np.zeros(high - low + 1, dtype=bool)
        seen[keys - low] = True
        return int(np.count_nonzero(seen)) == len(keys)
    return pd.Index(keys).is_unique
