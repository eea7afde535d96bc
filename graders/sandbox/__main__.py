"""``python -m graders.sandbox check``: is this host ready to run student kernels?

Checks the prerequisites, then starts one sandboxed kernel and runs a cell in it.
Exit status 0 when ready, 1 otherwise.
"""

from __future__ import annotations

import sys
import time


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["check"]):
        print("usage: python -m graders.sandbox [check]", file=sys.stderr)
        return 2
    from .host import FIX_HINT, check_sandbox, host_notes

    problems = check_sandbox()
    if problems:
        print("kernel sandbox: NOT ready")
        for problem in problems:
            print(f"  - {problem}")
        print(f"To fix: {FIX_HINT}.")
        return 1
    for note in host_notes():
        print(f"  {note}")
    import nbformat
    from nbclient import NotebookClient

    from .manager import SandboxedKernelManager

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os; print(os.getuid() != 0)")])
    started = time.monotonic()
    try:
        NotebookClient(nb, kernel_manager_class=SandboxedKernelManager, timeout=30).execute()
    except Exception as exc:  # noqa: BLE001 - report whatever stops the smoke test
        print(f"kernel sandbox: NOT ready (a sandboxed kernel failed: {exc})")
        return 1
    text = "".join(output.get("text", "") for output in nb.cells[0].outputs)
    if text.strip() != "True":
        print(f"kernel sandbox: NOT ready (unexpected output {text!r})")
        return 1
    print(f"kernel sandbox: ready (a sandboxed kernel ran a cell in {time.monotonic() - started:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
