"""Sorting rows by group, then value, without lexsort (no kernels)."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.grouping import IN_ORDER, sorted_keys, sorted_within


@pytest.mark.parametrize("spread", [20, 70_000, 2**40], ids=["one radix pass", "two passes", "three passes"])
def test_sorted_within_orders_like_lexsort_up_to_ties(spread: int) -> None:
    rng = np.random.default_rng(7)
    groups = rng.integers(-spread // 2, spread // 2, 5_000)
    values = rng.integers(0, 50, 5_000).astype(np.float64)  # many ties
    values[rng.random(5_000) < 0.1] = np.nan
    order = sorted_within(groups, values)
    expected = np.lexsort((values, groups))
    assert sorted(np.arange(5_000)[order].tolist()) == list(range(5_000))
    np.testing.assert_array_equal(groups[order], groups[expected])
    np.testing.assert_array_equal(values[order], values[expected])  # NaN last in each group, as lexsort puts it


def test_rows_in_order_are_only_checked() -> None:
    assert sorted_within(np.array([], dtype=np.int64), np.array([])) is IN_ORDER
    assert sorted_within(np.array([0, 0, 1, 1]), np.array([2.0, 3.0, 1.0, 1.0])) is IN_ORDER
    assert sorted_within(np.array([0, 0, 1, 1]), np.array([3.0, 2.0, 1.0, 1.0])).tolist() in ([1, 0, 2, 3], [1, 0, 3, 2])
    assert sorted_keys(np.array([1, 5, 9])) is IN_ORDER


TWO_RUNS = list(range(0, 10_000, 2)) + list(range(1, 10_000, 2))  # two logs appended: merged by the stable sort


@pytest.mark.parametrize("keys", [[1, 4, 9], [9, 1, 4], [], [3], TWO_RUNS],
                         ids=["sorted", "unsorted", "empty", "one", "two sorted runs"])
def test_sorted_keys(keys: list[int]) -> None:
    keys_array = np.array(keys, dtype=np.int64)
    np.testing.assert_array_equal(keys_array[sorted_keys(keys_array)], np.sort(keys_array))


@pytest.mark.parametrize("span", [10, 10**12], ids=["a counter per possible code", "counters for codes that occur"])
def test_cell_counters_give_kept_codes_their_own_counter(span: int) -> None:
    from analytics.lessons import _counters

    code = np.array([3, 7, 3, 9, 2]) * (span // 10)
    keep = np.array([True, True, True, False, True])
    counter, meaning = _counters(code, keep, span=span)
    assert counter[~keep].tolist() == [len(meaning)]  # the extra last counter
    assert [int(meaning[c]) for c in counter[keep]] == code[keep].tolist()
