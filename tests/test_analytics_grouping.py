"""Sorting rows by group, then value, without lexsort (no kernels)."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.grouping import sorted_keys, sorted_within


@pytest.mark.parametrize("spread", [20, 70_000, 2**40], ids=["one radix pass", "two passes", "three passes"])
def test_sorted_within_orders_like_lexsort_up_to_ties(spread: int) -> None:
    rng = np.random.default_rng(7)
    groups = rng.integers(-spread // 2, spread // 2, 5_000)
    values = rng.integers(0, 50, 5_000).astype(np.float64)  # many ties
    values[rng.random(5_000) < 0.1] = np.nan
    order = sorted_within(groups, values)
    expected = np.lexsort((values, groups))
    assert sorted(order.tolist()) == list(range(5_000))
    np.testing.assert_array_equal(groups[order], groups[expected])
    np.testing.assert_array_equal(values[order], values[expected])  # NaN last in each group, as lexsort puts it


def test_sorted_within_of_nothing() -> None:
    assert sorted_within(np.array([], dtype=np.int64), np.array([])).tolist() == []


@pytest.mark.parametrize("keys", [[1, 4, 9], [9, 1, 4], [], [3]], ids=["sorted", "unsorted", "empty", "one"])
def test_sorted_keys(keys: list[int]) -> None:
    keys_array = np.array(keys, dtype=np.int64)
    np.testing.assert_array_equal(keys_array[sorted_keys(keys_array)], np.sort(keys_array))
