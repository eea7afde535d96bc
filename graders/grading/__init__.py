"""Grading: collected attempts in, scores and feedback pages out, as plan -> dispatch -> record.

- :mod:`.grade`: the stage (``paceline grade``): plan, dispatch, record, refresh lateness, unlock;
- :mod:`.plan`: which attempts become which tasks (pure);
- :mod:`.dispatch`: the executor that runs tasks (Dask today);
- :mod:`.task`: one attempt graded by nbgrader in a private temporary course (runs on a worker);
- :mod:`.record`: the coordinator writes results into the ledger, the gradebook and ``autograded/``;
- :mod:`.lateness`: late penalties (nbgrader's plugin), extensions, and keeping penalties in step with due dates.

nbgrader itself, configured from the course, and the kernels' isolation come from :mod:`graders.engine`,
which release and feedback use too.
"""
