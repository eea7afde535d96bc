"""``python -m graders`` is the ``paceline`` command."""

from graders.cli import main

main(prog_name="paceline")
