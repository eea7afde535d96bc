from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixture_course(tmp_path: Path) -> Path:
    """A private copy of the two-lesson fixture course."""
    root = tmp_path / "course"
    shutil.copytree(FIXTURES / "course", root)
    return root
