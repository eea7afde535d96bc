"""Id codes: Parquet text read with its dictionary codes, positions and distinct keys (no kernels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

from analytics import TableError, load_tables, validate_tables, write_tables
from analytics.keys import all_distinct, factorized, positions, read_parquet
from tests.test_analytics_tables import raw_tables

IDS = ["s3", None, "s1", "ü-2", "s3", "s1", "", "s3"]


def write(path: Path, *, dictionary: bool) -> Path:
    table = pa.table({"student_id": pa.array(IDS, type=pa.string()), "attempt": pa.array(range(len(IDS)))})
    # Row groups of three: each has its own dictionary, which the reader must unify.
    pq.write_table(table, path, row_group_size=3, use_dictionary=dictionary)
    return path


@pytest.mark.parametrize("dictionary", [True, False], ids=["dictionary-encoded", "plain"])
def test_read_parquet_is_pandas_read_parquet_with_codes_remembered(tmp_path: Path, dictionary: bool) -> None:
    path = write(tmp_path / "log.parquet", dictionary=dictionary)
    frame = read_parquet(path)
    assert_frame_equal(frame, pd.read_parquet(path))
    codes, uniques = factorized(frame["student_id"])
    assert uniques.is_unique
    decoded = [None if code < 0 else uniques[code] for code in codes]
    assert decoded == IDS
    # A second call answers from memory: the very same arrays.
    assert factorized(frame["student_id"])[0] is codes


def test_positions_through_remembered_codes_match_get_indexer(tmp_path: Path) -> None:
    frame = read_parquet(write(tmp_path / "log.parquet", dictionary=True))
    keys = pd.Series(["s1", "s3", "nobody"], dtype="str")
    expected = pd.Index(keys).get_indexer(frame["student_id"])
    np.testing.assert_array_equal(positions(keys, frame["student_id"]), expected)


def test_positions_are_remembered_read_only_and_codes_against_their_own_uniques(tmp_path: Path) -> None:
    frame = read_parquet(write(tmp_path / "log.parquet", dictionary=True))
    keys = pd.Series(["s1", "s3", "nobody"], dtype="str")
    found = positions(keys, frame["student_id"])
    assert positions(keys, frame["student_id"]) is found  # the same two columns: answered from memory
    with pytest.raises(ValueError, match="read-only"):
        found[0] = 7
    codes, uniques = factorized(frame["student_id"])
    np.testing.assert_array_equal(positions(uniques, frame["student_id"]), codes)  # null ids: -1 in both
    np.testing.assert_array_equal(positions(pd.Index(list(uniques)), frame["student_id"]),
                                  pd.Index(list(uniques)).get_indexer(frame["student_id"]))


@pytest.mark.parametrize(("keys", "distinct"), [
    (np.array([], dtype=np.int64), True),
    (np.array([5, 3, 9, 0]), True),
    (np.array([5, 3, 9, 3]), False),
    (np.array([-7, 2, -7]), False),
    (np.array([-2**40, 2**40]), True),  # too sparse for a table: hashed
    (np.array([-2**40, 2**40, -2**40]), False),
], ids=["empty", "dense", "dense duplicate", "negative duplicate", "sparse", "sparse duplicate"])
def test_all_distinct(keys: np.ndarray, distinct: bool) -> None:
    assert all_distinct(keys) is distinct


def test_parquet_numbers_are_checked_without_parsing(tmp_path: Path) -> None:
    tables = validate_tables(raw_tables())
    write_tables(tables, tmp_path, formats=("parquet",))
    loaded = load_tables(tmp_path)
    assert loaded.submissions["attempt"].dtype == np.int64
    infinite = tables.submissions.assign(max_score=[10.0, np.inf, 20.0])
    infinite.to_parquet(tmp_path / "submissions.parquet", index=False)
    with pytest.raises(TableError, match=r"^submissions.max_score: row 1, student 007: inf is not a finite number"):
        load_tables(tmp_path)
