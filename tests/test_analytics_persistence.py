"""Kaplan-Meier with censoring and ties, against estimates computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from analytics import kaplan_meier, median_persistence


def durations(*pairs: tuple[float, bool]) -> pd.DataFrame:
    days, stopped = zip(*pairs) if pairs else ((), ())
    return pd.DataFrame({"duration_days": np.array(days, dtype=float), "stopped": np.array(stopped, dtype=bool)})


def test_kaplan_meier_by_hand_with_ties_and_censoring() -> None:
    # Two stop at day 2 while one is censored there (still at risk at 2), one stops at 3,
    # and at 5 one stops and one is censored.
    curve = kaplan_meier(durations((2, True), (2, True), (2, False), (3, True), (5, False), (5, True)))
    # S(2) = 1 - 2/6; S(3) = S(2) (1 - 1/3); S(5) = S(3) (1 - 1/2).
    # Greenwood sums: 2/(6*4) = 1/12; + 1/(3*2) = 1/4; + 1/(2*1) = 3/4.
    expected = pd.DataFrame({
        "days": [0.0, 2.0, 3.0, 5.0],
        "at_risk": np.array([6, 6, 3, 2], dtype="int64"),
        "stopped": np.array([0, 2, 1, 1], dtype="int64"),
        "censored": np.array([0, 1, 0, 1], dtype="int64"),
        "survival": [1.0, 2 / 3, 4 / 9, 2 / 9],
        "std_error": [0.0, 2 / 3 * np.sqrt(1 / 12), 4 / 9 * np.sqrt(1 / 4), 2 / 9 * np.sqrt(3 / 4)],
    })
    assert_frame_equal(curve, expected)
    shuffled = durations((5, True), (2, True), (3, True), (2, False), (5, False), (2, True))
    assert_frame_equal(kaplan_meier(shuffled), expected)
    assert median_persistence(curve) == 3.0


def test_everyone_censored_keeps_survival_at_one() -> None:
    curve = kaplan_meier(durations((1.5, False), (4, False)))
    assert curve["survival"].tolist() == [1.0, 1.0, 1.0]
    assert curve["at_risk"].tolist() == [2, 2, 1]
    assert np.isnan(median_persistence(curve))


def test_curve_reaching_zero_has_no_standard_error_there() -> None:
    curve = kaplan_meier(durations((1, True), (2, True)))
    assert curve["survival"].tolist() == [1.0, 0.5, 0.0]
    assert curve["std_error"].iloc[1] == pytest.approx(0.5 * np.sqrt(1 / 2))
    assert np.isnan(curve["std_error"].iloc[2])


def test_a_stop_at_time_zero_and_no_students() -> None:
    curve = kaplan_meier(durations((0, True), (3, False)))
    assert curve["days"].tolist() == [0.0, 3.0] and curve["survival"].tolist() == [0.5, 0.5]
    empty = kaplan_meier(durations())
    assert empty["days"].tolist() == [0.0] and empty["at_risk"].tolist() == [0] and np.isnan(empty["survival"].iloc[0])


def test_missing_durations_are_refused() -> None:
    with pytest.raises(ValueError, match="missing"):
        kaplan_meier(durations((np.nan, True)))
