"""Lateness, in one place: the penalty, nbgrader's plugin that applies it, extensions, and keeping it current.

- :mod:`.policy`: ``[late_policy]`` as arithmetic (:func:`late_penalty`) and as nbgrader's
  late-submission plugin (:class:`CourseLatePolicy`), so nbgrader (paceline's grading,
  formgrader, the ``nbgrader`` command) computes every penalty;
- :mod:`.extensions`: an instructor moves one student's due date for one lesson;
- :mod:`.refresh`: each lesson's effective due date (asked of :mod:`graders.course.timeline`:
  self-pacing, extensions, grace days) and re-applying nbgrader's penalty where it moved;
- :mod:`.gradebook`: a due date and its penalty as nbgrader's gradebook keeps them.

The time that counts is paceline's receipt time (:attr:`~graders.exchange.ledger.Attempt.submitted_at`).
"""

from .extensions import grant_extension
from .gradebook import apply_lateness, gradebook_dues, set_due
from .policy import CourseLatePolicy, late_penalty
from .refresh import counted_submissions, refresh_lateness, student_dues

__all__ = [
    "CourseLatePolicy", "apply_lateness", "counted_submissions", "grant_extension", "gradebook_dues", "late_penalty",
    "refresh_lateness", "set_due", "student_dues",
]
