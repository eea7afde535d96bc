"""The course: what ``course.toml`` plans, who is enrolled, everyone's own dates, the clock, the folder layout.

The bottom of the pipeline: every stage reads the course through here, and
nothing here imports a later stage, nbgrader, or analytics (reading
``course.toml`` stays cheap for the CLI and for every grading worker).

- :mod:`.plan`: ``course.toml`` as a typed, validated :class:`~.plan.CourseConfig`;
- :mod:`.toml_reader`: typed getters that name the key of a wrong value;
- :mod:`.roster`: ``students.csv`` and safe student ids;
- :mod:`.timeline`: each student's own lesson dates (self-pacing, extensions, grace days);
- :mod:`.clock`: time as an injectable dependency;
- :mod:`.layout`: every path of a course folder and its exchange (the only place one is spelled).
"""
