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


class KernelCalls(list):
    """The parameters of each notebook run (without ``report_file``), and in ``prepared`` the analysis
    each run was handed (read back from its ``report_file``, as the kernel would)."""

    def __init__(self) -> None:
        super().__init__()
        self.prepared: list = []


@pytest.fixture
def no_kernel(monkeypatch: pytest.MonkeyPatch) -> KernelCalls:
    """papermill stand-in for tests of what the report runners pass: copies the notebook unexecuted
    and records each call's parameters (the real kernels run in the e2e report tests)."""
    import analytics.report  # papermill takes seconds to import: only for the tests that use this

    calls = KernelCalls()

    def execute(source: Path, output: Path, *, parameters: dict, **options: object) -> None:
        calls.prepared.append(analytics.load_report(parameters["report_file"]))
        calls.append({name: value for name, value in parameters.items() if name != "report_file"})
        shutil.copy(source, output)

    monkeypatch.setattr(analytics.report.papermill, "execute_notebook", execute)
    return calls
