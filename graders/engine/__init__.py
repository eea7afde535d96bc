"""nbgrader as paceline's engine: every stage that runs nbgrader gets it configured from here.

- :mod:`.wiring`: a :class:`~graders.course.plan.CourseConfig` as nbgrader's config (for paceline's
  stages, for grading workers, and for the ``nbgrader_config.py`` formgrader and the ``nbgrader``
  command read), nbgrader's gradebook and its Python API;
- :mod:`.isolation`: how kernels that run student code start (the sandbox, unless told otherwise).

Below the stages (release, grading, feedback and export all use it) and above the course and the
sandbox, so that no stage has to import another to reach nbgrader.
"""
