"""The "My course" panel is built and checked against tests/fixtures/progress/ (a hand-made document with
every state, an extension, a late penalty, a gated lesson and hostile strings): that fixture must keep to
what the backend's builder writes, so the panel reads no field the real document lacks."""

from __future__ import annotations

import json
from pathlib import Path

from test_progress_document import _leaves, attempt, berlin, build

from graders.course.timeline import Extension
from graders.operations.progress import SCHEMA

FIXTURE = Path(__file__).parent / "fixtures" / "progress" / "self_paced_student.json"


def test_the_panels_fixture_has_only_fields_the_builder_writes() -> None:
    fixture = json.loads(FIXTURE.read_text())
    extension = Extension("ada", "01-intro", berlin(2026, 11, 13, 23, 59, 59), "tina", berlin(2026, 11, 10, 9, 0), "ill", True)
    built = build(attempts=[attempt(1, "01-intro", berlin(2026, 11, 16, 10, 0), score=3.0, penalty=0.3),
                            attempt(2, "01-intro", berlin(2026, 11, 17, 10, 0), score=2.0)],
                  extensions={("ada", "01-intro"): extension})
    assert fixture["schema"] == built["schema"] == SCHEMA
    assert _leaves(fixture) - _leaves(built) == set()
    states = {lesson["state"] for lesson in fixture["lessons"]}
    assert {"passed", "fetched", "locked", "not_open"} <= states
