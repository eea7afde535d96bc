"""Lateness, in one place: the penalty, nbgrader's plugin that applies it, extensions, and keeping it current.

- :mod:`.policy`: ``[late_policy]`` as arithmetic (:func:`late_penalty`) and as nbgrader's
  late-submission plugin (:class:`CourseLatePolicy`), so nbgrader (paceline's grading,
  formgrader, the ``nbgrader`` command) computes every penalty;
- :mod:`.extensions`: an instructor moves one student's due date for one lesson, or takes that back;
- :mod:`.refresh`: each lesson's effective due date (asked of :mod:`graders.course.timeline`:
  self-pacing, extensions, grace days) and re-applying nbgrader's penalty where it moved;
- :mod:`.gradebook`: a due date and its penalty as nbgrader's gradebook keeps them.

The time that counts is paceline's receipt time (:attr:`~graders.exchange.ledger.Attempt.submitted_at`).
"""

from __future__ import annotations

import importlib

from .extensions import grant_extension, revoke_extension
from .refresh import counted_submissions, refresh_lateness, student_dues

# These need nbgrader, seconds to import: loaded on first use, so `paceline extend` and `status` on work
# that is not graded yet never pay for it (nbgrader finds CourseLatePolicy here by its dotted name).
_NBGRADER_NAMES = {"apply_lateness": "gradebook", "gradebook_dues": "gradebook", "set_due": "gradebook",
                   "CourseLatePolicy": "policy", "late_penalty": "policy"}


def __getattr__(name: str) -> object:
    module = _NBGRADER_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value

__all__ = [
    "CourseLatePolicy", "apply_lateness", "counted_submissions", "grant_extension", "gradebook_dues", "late_penalty",
    "refresh_lateness", "revoke_extension", "set_due", "student_dues",
]
