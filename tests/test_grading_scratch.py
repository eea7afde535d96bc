"""Scratch courses of grading processes that were killed are removed by a later grading process."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from graders.grading.task import SCRATCH_PREFIX, remove_stale_scratch


def test_a_killed_workers_scratch_course_is_removed_and_nothing_else(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()  # a pid whose process has ended
    dead = tmp_path / f"{SCRATCH_PREFIX}{gone}-abc"
    (dead / "submitted" / "ada").mkdir(parents=True)
    (dead / "submitted" / "ada" / "work.ipynb").write_text("{}")
    running = tmp_path / f"{SCRATCH_PREFIX}{os.getpid()}-def"  # this process's: still grading
    running.mkdir()
    unnamed = tmp_path / f"{SCRATCH_PREFIX}ghi"  # no process in its name: left alone
    unnamed.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / f"{SCRATCH_PREFIX}{gone}-link").symlink_to(elsewhere)  # a link is not followed
    assert remove_stale_scratch.__wrapped__() == 1
    assert not dead.exists()
    assert running.is_dir() and unnamed.is_dir() and elsewhere.is_dir()
