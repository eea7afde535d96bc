"""The exchange: lessons out to students, submissions back in, and the ledger of every attempt.

- :mod:`.release`: student versions, published to everyone or (gated lessons) per student;
- :mod:`.gating` and :mod:`.unlock`: mastery gating, and publishing an unlocked lesson to one student;
- :mod:`.collect`: every submission becomes a numbered attempt, or is refused with the reason;
- :mod:`.ledger`: the attempt ledger (every attempt, its score, unlocks, releases, refusals, extensions);
- :mod:`.student`: the student's side (list, fetch, submit), as their server runs it;
- :mod:`.personal`: the exchange classes students' servers load.

Students' ``nbgrader_config.py`` files name the exchange classes as
``graders.exchange.PacelineExchangeList``,
``graders.exchange.PacelineExchangeFetchAssignment``,
``graders.exchange.PacelineExchangeSubmit`` and
``graders.exchange.PacelineExchangeFetchFeedback``; those names stay valid,
and load nbgrader's exchange only when a student's server asks for them.
"""

from __future__ import annotations

_STUDENT_CLASSES = ("PacelineExchangeFetchAssignment", "PacelineExchangeFetchFeedback", "PacelineExchangeList",
                    "PacelineExchangeSubmit")


def __getattr__(name: str) -> object:
    if name in _STUDENT_CLASSES:
        from . import personal

        return getattr(personal, name)
    raise AttributeError(f"module 'graders.exchange' has no attribute {name!r}")
