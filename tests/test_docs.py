"""The README cannot drift: its commands exist and its table docs are the schema."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from analytics.tables import (
    CELL_SCORES_COLUMNS,
    ENROLLMENTS_COLUMNS,
    LESSONS_COLUMNS,
    SUBMISSIONS_COLUMNS,
    TIMELINES_COLUMNS,
)
from graders.cli import main

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
# Fences are matched in pairs from the start of a line, so a python block's closing fence is never
# taken for the opening of a shell block.
CODE_BLOCKS = "\n".join(body for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", README, flags=re.S | re.M)
                        if lang in ("", "sh", "bash"))


def schema_markdown() -> str:
    parts = []
    for name, columns in (("lessons", LESSONS_COLUMNS), ("enrollments", ENROLLMENTS_COLUMNS),
                          ("submissions", SUBMISSIONS_COLUMNS), ("cell_scores", CELL_SCORES_COLUMNS),
                          ("timelines", TIMELINES_COLUMNS)):
        rows = "\n".join(f"| `{c.name}` | {c.dtype} | {c.description} |" for c in columns)
        parts.append(f"#### `{name}`\n\n| column | type | meaning |\n|---|---|---|\n{rows}\n")
    return "\n".join(parts)


def test_readme_table_docs_are_the_schema() -> None:
    documented = README.split("<!-- tables:begin -->\n", 1)[1].split("<!-- tables:end -->", 1)[0]
    assert documented == schema_markdown()


def test_readme_shows_the_two_setup_commands_and_make_has_them() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("demo", "test", "demo-clean"):
        assert f"make {target}" in README
        assert re.search(rf"^{target}:", makefile, flags=re.M), target
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def readme_commands() -> list[list[str]]:
    found = []
    for line in CODE_BLOCKS.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("paceline "):
            found.append(line.split()[1:])
    return found


def test_readme_uses_every_command() -> None:
    used = {words[0] for words in readme_commands()}
    assert used == set(main.commands)


@pytest.mark.parametrize("words", readme_commands(), ids=lambda words: " ".join(words))
def test_readme_command_parses(words: list[str]) -> None:
    command = main.commands[words[0]]
    # Parsing the documented arguments, without running the command, catches renamed options.
    ctx = command.make_context(words[0], [w.strip('"') for w in re.findall(r'"[^"]*"|\S+', " ".join(words[1:]))])
    assert ctx.params is not None


def test_makefile_demo_runs_real_commands() -> None:
    recipe = (ROOT / "Makefile").read_text().split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    steps = re.findall(r"\$\(PACELINE\) (\S+)", recipe)
    assert steps == ["check", "release", "simulate", "collect", "grade", "feedback", "export", "report"]
    assert set(steps) <= set(main.commands)


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in main.commands:
        assert name in result.output


def test_undoing_mistakes_covers_release_extensions_grades_roster_and_withdrawal() -> None:
    section = README.split("## Undoing mistakes\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].split() for line in block.splitlines()]
    assert ["paceline", "unrelease"] == commands[0][:2]
    assert any(c[:2] == ["paceline", "release"] for c in commands) and "--now" in block
    assert any(c[:2] == ["paceline", "extend"] and "--revoke" in c for c in commands)
    assert any(c[:2] == ["paceline", "grade"] and "--all" in c for c in commands)
    for topic in ("students.csv", "withdrawn_at", "paceline simulate"):
        assert topic in section, topic
