"""What a report notebook works from: the tables, the settings, the as-of, and the analysis, prepared once.

The notebooks stay thin: their first cell calls :func:`open_report` with
their papermill parameters and every later cell shows one part of the
returned :class:`ReportContext`. It also words what the reader must know to
read the numbers right (the pass mark and where it comes from, a course that
has ended, submissions left out after withdrawal).
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from .cohort import CohortAnalysis
from .checks import COHORT
from .cohorts import CohortsAnalysis, analyse_cohorts, cohort_starts, split_cohorts
from .comparison import ModelComparison, compare_with_rules
from .errors import AnalyticsError, UnknownIdError
from .pacing import resolve_as_of
from .present import Html, summarised
from .settings import ReportSettings
from .status import StudentStatus, student_status
from .tables import CourseTables, load_tables


@dataclass(frozen=True)
class ReportContext:
    """Everything a report shows, computed once."""

    tables: CourseTables
    tables_dir: Path
    settings: ReportSettings
    analysis: CohortsAnalysis
    course_day: float | None
    """The as-of as days after each cohort's start, if it was given that way."""

    @property
    def pooled(self) -> CohortAnalysis:
        return self.analysis.pooled

    @property
    def as_of(self) -> pd.Timestamp:
        return self.analysis.pooled.as_of

    @property
    def several(self) -> bool:
        """Whether the tables hold more than one cohort."""
        return len(self.analysis.cohorts) > 1

    @property
    def starts(self) -> dict[str, pd.Timestamp]:
        """Day 0 of each cohort: the settings' course start(s), else when its first lesson opens."""
        known = cohort_starts(self.tables)
        if self.settings.cohort_starts:
            known |= {name: pd.Timestamp(start) for name, start in self.settings.cohort_starts.items()}
        elif self.settings.course_start is not None:
            known = dict.fromkeys(known, pd.Timestamp(self.settings.course_start))
        return known

    @property
    def day_zero(self) -> pd.Timestamp | None:
        """The one course start of the figures' "course day" axes, when the settings give one."""
        return pd.Timestamp(self.settings.course_start) if self.settings.course_start is not None else None

    def when(self, moment: pd.Timestamp | dt.datetime) -> str:
        """A moment in the settings' time zone, with the zone's abbreviation."""
        return pd.Timestamp(moment).tz_convert(self.settings.zone).strftime("%Y-%m-%d %H:%M %Z")

    def intro(self, title: str) -> str:
        """The report's heading and first paragraph (Markdown)."""
        if self.course_day is not None:
            moment = f"**course day {self.course_day:g}** (each cohort that many days after its start)"
        else:
            moment = f"**{self.when(self.as_of)}**"
        day = ""
        if self.day_zero is not None and self.course_day is None:
            day = f", course day {(self.as_of - self.day_zero) / pd.Timedelta(days=1):.0f}"
        cohorts = f" It holds {len(self.analysis.cohorts)} cohorts, shown pooled and side by side." if self.several else ""
        return f"# {title}\n\nAs of {moment}{day}, from the tables in `{self.tables_dir}`.{cohorts}"

    def notes(self) -> str:
        """What to keep in mind reading the numbers (Markdown), one short paragraph each."""
        rules, pooled = self.settings.rules, self.pooled
        parts = [f"**Pass mark:** {rules.pass_fraction:.0%} of a lesson's points (`[at_risk] pass_fraction`, used "
                 "by every figure here)" + (
                     f"; gated lessons unlock at {self.settings.gating_pass_fraction:.0%} "
                     "(`[gating] pass_fraction`, the instructor side's mark)."
                     if self.settings.gating_pass_fraction is not None else ".")]
        tau = (f"{rules.inactive_gap_multiple:g} x the gap between the student's consecutive targets"
               if rules.inactive_gap_multiple is not None else f"{rules.inactive_days:g} days")
        parts.append(f"**Inactive** means lessons left and no submission for {tau}; students who passed every "
                     "lesson have finished and are never inactive or at risk.")
        if pooled.course_ended is not None:
            parts.append(f"**The course has ended** ({self.when(pooled.course_ended)}): nothing is left to submit, so "
                         "every student who has not finished now counts as stopped once they have been silent for "
                         "the inactivity threshold, and the persistence curve falls towards 0 for that reason.")
        if pooled.ungraded:
            parts.append(f"_{pooled.ungraded:,} attempts submitted by then have no grade (not graded yet, or grading "
                         "failed): they count as submitted, not passed._")
        late = pooled.after_withdrawal
        if len(late):
            count = int(late["submissions"].sum())
            parts.append(f"**{count:,} submission{'s' if count != 1 else ''} from {len(late):,} "
                         f"student{'s' if len(late) != 1 else ''} arrived after they withdrew.** A withdrawal cuts the student's log: they are measured up to the withdrawal "
                         "and later submissions are left out of every figure (listed under the at-risk list).")
        return "\n\n".join(parts)

    def withdrawn(self) -> Html:
        """The withdrawn students, counted, with the full list folded."""
        students = self.pooled.students
        gone = students.loc[students["label"] == "withdrawn"]
        # Columns zipped, not itertuples: a row tuple of every column for each of thousands of students cost
        # more than the rest of the list.
        items = [f"{who} ({withdrawn:%Y-%m-%d}, after {passed} of {lessons} lessons)" for who, withdrawn, passed, lessons
                 in zip(self._who_of(gone), gone["withdrawn_at"], gone["lessons_passed"], gone["lessons"])]
        return summarised(items, noun="withdrawn student")

    def after_withdrawal(self) -> Html:
        late = self.pooled.after_withdrawal
        items = [f"{who}: {count} after {withdrawn:%Y-%m-%d}"
                 for who, count, withdrawn in zip(self._who_of(late), late["submissions"], late["withdrawn_at"])]
        return summarised(items, noun="student who submitted after withdrawing")

    def at_risk_ids(self) -> Html:
        return summarised(self._who_of(self.pooled.at_risk), noun="student at risk", shown=0)

    def student(self, student_id: str) -> StudentStatus:
        """One student's view (:func:`~analytics.status.student_status`), from the analysis already made."""
        return student_status(self.tables, student_id, as_of=self.as_of, rules=self.settings.rules,
                              analysis=self.pooled)

    @property
    def latest_cohort(self) -> str:
        """The cohort that started last: the "current" one when past cohorts come from the same tables."""
        starts = self.starts
        return max(self.analysis.cohorts, key=lambda name: (starts.get(name, pd.Timestamp.min.tz_localize("UTC")), name))

    def model_comparison(self, past_tables_dirs: Sequence[str]) -> ModelComparison | str:
        """The risk model against the rules (:func:`~analytics.comparison.compare_with_rules`): past cohorts
        from ``past_tables_dirs``, else (with three or more cohorts in these tables) the cohorts before the
        latest one, which is then the current cohort. A sentence (Markdown) instead when there is no model."""
        rules = self.settings.rules
        try:
            if past_tables_dirs:
                common = os.path.commonpath(past_tables_dirs)  # the cohorts are named by their folders below it
                past = {os.path.relpath(directory, common): load_tables(directory, course_start=self.settings.day_zero)
                        for directory in past_tables_dirs}
                if self.several:
                    current = self.latest_cohort
                    return compare_with_rules(split_cohorts(self.tables)[current], past, rules=rules,
                                              as_of=self.analysis.cohorts[current].as_of)
                return compare_with_rules(self.tables, past, as_of=self.as_of, rules=rules)
            if len(self.analysis.cohorts) >= 3:
                current = self.latest_cohort
                return compare_with_rules(self.tables, cohort=current, as_of=self.analysis.cohorts[current].as_of,
                                          rules=rules)
        except AnalyticsError as error:
            return f"_The model could not be compared with the rules: {error}_"
        return ("_No past cohorts were given, so the rules alone are used. To compare them with a model, give the "
                "exports of two or more past cohorts (`--past DIR --past DIR`), or tables holding three or more "
                "cohorts (the latest is then compared with a model fitted on the others)._")

    def model_intro(self, comparison: ModelComparison, past_tables_dirs: Sequence[str]) -> str:
        source = (f"Past cohorts from `{os.path.commonpath(past_tables_dirs)}`" if past_tables_dirs else
                  f"The cohorts before {self.latest_cohort} in these tables")
        current = f" The current cohort is {self.latest_cohort}, the latest to start." if self.several else ""
        return (f"{source}, each seen {comparison.days_after_start:.1f} days after its first lesson opened, as the "
                "current one is now; unfinished means not every lesson passed by the course's last date. The model "
                "is fitted on the other past cohorts and compared with the rules on the one held out ('at k': among "
                f"the k students each ranks highest, k being the number the rules flag):{current}")

    def _who_of(self, frame: pd.DataFrame) -> list[str]:
        """Each row's student, with the cohort when there are several."""
        if self.several:
            return [f"{student} [{cohort}]" for student, cohort in zip(frame["student_id"], frame["cohort"])]
        return [str(student) for student in frame["student_id"]]


def open_report(tables_dir: str | Path, *, settings: Mapping[str, Any] | ReportSettings, as_of: str | None = None,
                course_day: float | None = None, student_id: str | None = None,
                cohort: str | None = None) -> ReportContext:
    """Load the tables (day offsets from the settings' course start), resolve the as-of (default: the latest
    submission) and analyse every cohort and all of them pooled; with ``student_id``, only the student's
    cohort (``cohort`` says which where the id recurs in several)."""
    settings = settings if isinstance(settings, ReportSettings) else ReportSettings.from_json(settings)
    tables = load_tables(Path(tables_dir), course_start=settings.day_zero)
    return prepare_report(tables, tables_dir=Path(tables_dir), settings=settings, as_of=as_of, course_day=course_day,
                          student_id=student_id, cohort=cohort)


def prepare_report(tables: CourseTables, *, tables_dir: Path, settings: ReportSettings,
                   as_of: str | dt.datetime | None = None, course_day: float | None = None,
                   student_id: str | None = None, cohort: str | None = None) -> ReportContext:
    """:func:`open_report` on tables already loaded (and validated) from ``tables_dir``."""
    if student_id is not None and tables.cohorts:
        cohort, tables = _cohort_of(tables, student_id, cohort)
    rules, since = settings.rules, settings.persistence_since
    if course_day is not None:
        starts = cohort_starts(tables)
        if settings.cohort_starts:
            starts |= {name: pd.Timestamp(start) for name, start in settings.cohort_starts.items()}
            if "" in starts and cohort in settings.cohort_starts:  # one student's cohort, split from the rest
                starts[""] = pd.Timestamp(settings.cohort_starts[cohort])
        elif settings.course_start is not None:
            starts = dict.fromkeys(starts or {"": None}, pd.Timestamp(settings.course_start))
        analysis = analyse_cohorts(tables, course_day=course_day, starts=starts, rules=rules, persistence_since=since)
    else:
        analysis = analyse_cohorts(tables, as_of=resolve_as_of(tables, as_of=as_of), rules=rules,
                                   persistence_since=since)
    return ReportContext(tables=tables, tables_dir=Path(tables_dir), settings=settings, analysis=analysis,
                         course_day=course_day)


def save_report(context: ReportContext, path: Path) -> None:
    """Write a prepared report for :func:`load_report`: the report runner analyses the tables once, in its own
    process, and every notebook kernel it starts reads the result instead of loading and analysing again.

    The file is a pickle, so it is only for the process that wrote it (and kernels it starts) to read: it
    belongs in a private temporary folder, never beside the reports.

    The per-cell scores are left out (``tables.cell_scores`` is None in the report read back): the analysis
    already summarises them (``analysis.cells`` of every cohort), no notebook reads them again, and they are
    by far the biggest table (about 60% of the file at 50,000 students, the rest of the time spent writing
    and reading it).
    """
    slim = replace(context, tables=replace(context.tables, cell_scores=None))
    with open(path, "wb") as sink:
        pickle.dump(slim, sink, protocol=pickle.HIGHEST_PROTOCOL)


def load_report(path: str | Path) -> ReportContext:
    """The report :func:`save_report` wrote."""
    with open(path, "rb") as source:
        context = pickle.load(source)
    if not isinstance(context, ReportContext):
        raise AnalyticsError(f"{path} does not hold a prepared report")
    return context


def _cohort_of(tables: CourseTables, student_id: str, cohort: str | None) -> tuple[str, CourseTables]:
    """The one cohort ``student_id`` is in, and its tables (without the cohort column)."""
    enrollments = tables.enrollments
    found = list(pd.unique(enrollments.loc[enrollments["student_id"] == student_id, COHORT]))
    if cohort is not None:
        found = [name for name in found if name == cohort]
    if not found:
        raise UnknownIdError("student", student_id, detail=f" in cohort {cohort!r}" if cohort else "")
    if len(found) > 1:
        raise UnknownIdError("student", student_id, detail=f" is in several cohorts ({', '.join(found)}): give cohort")
    return found[0], split_cohorts(tables)[found[0]]
