"""Running a course: the long-running and reporting commands built on the stages.

- :mod:`.watch`: ``paceline watch``: release, collect, grade and release feedback, continuously;
- :mod:`.status`: ``paceline status``: the cohort, or one student's record;
- :mod:`.export`: ``paceline export``: the tidy tables analytics reads;
- :mod:`.simulate` (with :mod:`.answers`): a made-up cohort working through the real exchange.
"""
