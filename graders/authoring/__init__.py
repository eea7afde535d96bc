"""Authoring: a new course or lesson from the template, and checking lessons before release.

- :mod:`.scaffold`: ``paceline init`` and ``paceline new``;
- :mod:`.lesson`: reading lesson notebooks (cell roles, points, solution and hidden-test regions);
- :mod:`.check`: ``paceline check``, the authoring lint;
- :mod:`.lint`: its checks that read a notebook without running it (``release`` refuses by them too);
- :mod:`.trial_run`: running a notebook in a fresh kernel, scored as nbgrader would.
"""
