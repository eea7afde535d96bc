"""At-risk rules: thresholds from course.toml, and a synthetic cohort whose personas the rules must find."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from analytics import AnalyticsError, AtRiskRules, RulesError, analyse_cohort, load_rules, rules_from_mapping, synthetic_course

UTC = dt.timezone.utc
START = dt.datetime(2026, 9, 7, 9, tzinfo=UTC)


def test_defaults_and_a_full_table() -> None:
    assert rules_from_mapping({}) == AtRiskRules()
    rules = rules_from_mapping({"behind_lessons": 3, "inactive_days": 10, "failed_attempts": 1, "first_try_share": 0,
                                "first_try_min_lessons": 2, "projected_late": False, "pass_fraction": 0.6})
    assert rules == AtRiskRules(3, 10.0, 1, 0.0, 2, False, 0.6)
    assert rules_from_mapping({"inactive_gap_multiple": 1.5}).inactive_gap_multiple == 1.5
    assert isinstance(rules.inactive_days, float) and isinstance(rules.behind_lessons, int)


BAD = {
    "unknown key": ({"behind": 2}, "behind", "unknown key (allowed: behind_lessons, inactive_days"),
    "text for a whole number": ({"behind_lessons": "2"}, "behind_lessons", "must be a whole number, not '2'"),
    "float for a whole number": ({"failed_attempts": 2.5}, "failed_attempts", "must be a whole number, not 2.5"),
    "bool for a number": ({"inactive_days": True}, "inactive_days", "must be a number, not True"),
    "zero days": ({"inactive_days": 0}, "inactive_days", "must be above 0 and at most 36,500, not 0"),
    # A huge threshold is a clear error here, not an OverflowError in the middle of the metrics.
    "a million years": ({"inactive_days": 365e6}, "inactive_days", "must be above 0 and at most 36,500, not 365000000"),
    "gap multiple of 0": ({"inactive_gap_multiple": 0}, "inactive_gap_multiple", "must be above 0 and at most 100"),
    "share above one": ({"first_try_share": 1.5}, "first_try_share", "must be at least 0 and at most 1, not 1.5"),
    "too few lessons": ({"behind_lessons": 0}, "behind_lessons", "must be at least 1, not 0"),
    "number for a bool": ({"projected_late": 1}, "projected_late", "must be true or false, not 1"),
}


@pytest.mark.parametrize(("mapping", "key", "message"), BAD.values(), ids=BAD.keys())
def test_bad_rules_name_the_key(mapping: dict, key: str, message: str) -> None:
    with pytest.raises(RulesError) as error:
        rules_from_mapping(mapping)
    assert error.value.key == key and error.value.source is None
    assert str(error.value) == f"at_risk.{key}: {error.value.problem}" and message in error.value.problem
    assert isinstance(error.value, AnalyticsError) and isinstance(error.value, ValueError)


def test_at_risk_must_be_a_table() -> None:
    with pytest.raises(RulesError, match=r"^at_risk: must be a table, not list$"):
        rules_from_mapping([1, 2])  # type: ignore[arg-type]


def test_load_rules_reads_only_the_at_risk_table(tmp_path: Path) -> None:
    toml = tmp_path / "course.toml"
    toml.write_text('[course]\nid = "x"\nanything = "else"\n\n[at_risk]\ninactive_days = 10\nprojected_late = false\n')
    assert load_rules(toml) == AtRiskRules(inactive_days=10.0, projected_late=False)
    toml.write_text('[course]\nid = "x"\n')
    assert load_rules(toml) == AtRiskRules()


def test_load_rules_errors_name_the_file(tmp_path: Path) -> None:
    toml = tmp_path / "course.toml"
    toml.write_text("[at_risk]\nbehind_lessons = -1\n")
    with pytest.raises(RulesError, match=rf"^{toml}: at_risk.behind_lessons: must be at least 1, not -1$") as error:
        load_rules(toml)
    assert error.value.source == toml and error.value.key == "behind_lessons"
    toml.write_text("[at_risk\n")
    with pytest.raises(RulesError, match="not valid TOML"):
        load_rules(toml)
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "missing.toml")


@pytest.fixture(scope="module")
def simulated() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(reasons, labels, personas) of a 600-student, 8-lesson synthetic cohort, three weeks before its end."""
    course = synthetic_course(students=600, lessons=8, seed=21, start=START)
    analysis = analyse_cohort(course.tables, as_of=dt.datetime(2026, 10, 24, tzinfo=UTC))
    labels = analysis.students[["student_id", "label", "days_silent"]].merge(course.personas, on="student_id")
    return analysis.reasons.merge(course.personas, on="student_id"), labels, analysis.at_risk


def test_rules_name_dropouts_for_falling_behind_or_going_quiet(simulated: tuple) -> None:
    reasons, labels, _ = simulated
    dropouts = labels.loc[(labels["persona"] == "dropout") & (labels["label"] != "withdrawn")]
    why = reasons.groupby("student_id")["rule"].agg(lambda rules: set(rules.astype(str)))
    # Every dropout silent for tau (14 days) is listed as inactive (and behind, if 2+ lessons), never as failing.
    gone = dropouts.loc[dropouts["days_silent"] >= 14, "student_id"]
    assert len(gone) >= 15 and set(gone) <= set(why.index)
    assert all("inactive" in why[student] and not why[student] & {"failing", "first_tries"} for student in gone)
    assert sum("behind" in why[student] for student in gone) >= len(gone) - 5
    # Those who stopped more recently are already labelled behind pace.
    assert set(dropouts.loc[dropouts["days_silent"] < 14, "label"]) <= {"behind"}
    # The withdrawn half is labelled withdrawn, not listed: they can no longer be nudged.
    withdrawn = labels.loc[labels["label"] == "withdrawn"]
    assert len(withdrawn) and set(withdrawn["persona"]) == {"dropout"}
    assert not set(reasons["student_id"]) & set(withdrawn["student_id"])


def test_rules_name_strugglers_for_failing(simulated: tuple) -> None:
    reasons, labels, _ = simulated
    strugglers = set(labels.loc[labels["persona"] == "struggler", "student_id"])
    failing = set(reasons.loc[reasons["rule"].isin(["first_tries", "failing"]), "student_id"])
    assert len(strugglers & failing) / len(strugglers) >= 0.85
    # ... and those rules mostly find strugglers.
    assert len(strugglers & failing) / len(failing) >= 0.8


def test_rules_leave_early_and_steady_students_alone(simulated: tuple) -> None:
    reasons, labels, at_risk = simulated
    good = set(labels.loc[labels["persona"].isin(["early", "steady"]), "student_id"])
    assert len(good & set(at_risk["student_id"])) / len(good) <= 0.05
    # The ranking puts the dropouts and strugglers first.
    top = at_risk.head(40).merge(labels, on="student_id")
    assert top["persona"].isin(["dropout", "struggler"]).mean() >= 0.9
