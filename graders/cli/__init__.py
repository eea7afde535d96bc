"""The ``paceline`` command: each command parses its arguments, calls one
library function, and prints a one-screen summary. No logic lives here.

Commands import their pipeline stage when they run, so that ``paceline --help``
does not pay for importing nbgrader, pandas and the Jupyter stack. The group and
what the commands share are in :mod:`.base`; the commands, by what they are for,
in the other modules, each registering its own on the group."""

from . import authoring, pipeline, progress, service  # noqa: F401 - each registers its commands on main
from .base import main

__all__ = ["main"]
