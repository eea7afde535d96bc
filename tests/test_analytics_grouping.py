"""Sorting rows by group, then value, without lexsort (no kernels)."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.grouping import IN_ORDER, Groups, sorted_keys, sorted_pairs, sorted_within


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


SECOND, DAY_NS = 10**9, 86_400 * 10**9


@pytest.mark.parametrize(("students", "unit", "days"), [
    (50_000, SECOND, 400),  # packed, in seconds
    (50_000, 1_000, 400),  # packed, in microseconds
    (3, 1, 2),  # packed, in nanoseconds
    (50_000, 1, 400),  # nanoseconds of 50,000 students over 400 days do not fit in an int64: argsort instead
], ids=["seconds", "microseconds", "nanoseconds", "too wide to pack"])
def test_sorted_pairs_sorts_by_group_then_value(students: int, unit: int, days: int) -> None:
    rng = np.random.default_rng(3)
    groups = rng.integers(0, students, 20_000)
    values = rng.integers(-days * DAY_NS // 2, days * DAY_NS // 2, 20_000) // unit * unit  # before 1970 too
    values[:50] = values[50]  # ties
    sorted_groups, sorted_values = sorted_pairs(groups, values)
    expected = np.lexsort((values, groups))
    np.testing.assert_array_equal(sorted_groups, groups[expected])
    np.testing.assert_array_equal(sorted_values, values[expected])
    one = sorted_pairs(np.array([4]), np.array([7]))
    assert one[0].tolist() == [4] and one[1].tolist() == [7]


def test_groups_median_skips_nan_and_averages_the_middle_pair() -> None:
    keys = np.array([5, 1, 5, 1, 5, 1, 9, 5, 1])
    values = np.array([3.0, 1.0, np.nan, 4.0, 1.0, 2.0, np.nan, 10.0, 2.0])
    groups = Groups(keys)
    assert groups.keys.tolist() == [1, 5, 9]
    np.testing.assert_array_equal(groups.median(values), [2.0, 3.0, np.nan])  # 1: (2+2)/2, 5: 1,3,10 -> 3
    assert groups.rows(1).tolist() == [0, 2, 4, 7]
    rng = np.random.default_rng(5)
    keys, values = rng.integers(0, 30, 10_000), rng.normal(size=10_000)
    values[rng.random(10_000) < 0.2] = np.nan
    expected = [np.nanmedian(values[keys == key]) for key in range(30)]
    np.testing.assert_array_equal(Groups(keys).median(values), expected)


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
