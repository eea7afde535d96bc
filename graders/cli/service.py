"""Long-running services: watch, and the JupyterHub on this machine (hub, hub passwords)."""

from __future__ import annotations

import datetime as dt

import click

from ..terminal import err, escape, out
from .base import course_of, main


@main.command()
@click.option("--interval", type=click.FloatRange(0.5, 3600), default=5.0, show_default=True, help="Seconds between passes.")
@click.option("--workers", type=click.IntRange(1, 256), default=None, help="Local worker processes (default: one per core, plus one).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT", help="Grade on this Dask cluster instead of a local one.")
@click.option("--unsafe-no-sandbox", "unsafe", is_flag=True,
              help="DANGEROUS: run student code unsandboxed, as your own user.")
@click.pass_context
def watch(ctx: click.Context, interval: float, workers: int | None, scheduler: str | None, unsafe: bool) -> None:
    """Run continuously: release due lessons, collect, grade and release feedback within seconds."""
    import signal
    import threading

    from ..operations.watch import watch as watch_course

    course = course_of(ctx)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if unsafe:
        err.print("[bold red]WARNING: grading WITHOUT the sandbox: student code runs as you, with your access.[/]")
    from ..course.environment import kernel_environment, require_built
    from ..engine.isolation import kernel_config

    environment = kernel_environment(course)
    require_built(environment)
    kernel_config(course.grading, sandboxed=not unsafe, environment=environment)  # refuse now, not at the first submission
    out.print(f"Watching {course.id} every {interval:g} s (Ctrl-C to stop)")

    def report(cycle) -> None:
        if not cycle.busy:
            return
        stamp = dt.datetime.now().strftime("%H:%M:%S")
        parts = [f"released {', '.join(cycle.released)}"] if cycle.released else []
        parts += [f"{n} {what}" for n, what in ((cycle.collected, "collected"), (cycle.graded, "graded"),
                                                (cycle.feedback, "feedback released"),
                                                (cycle.progress, "progress document(s) updated")) if n]
        parts += [f"unlocked {lesson} for {student}" for student, lesson in cycle.unlocked]
        out.print(f"{stamp} " + "; ".join(parts), highlight=False)
        for problem in cycle.problems:
            err.print(f"{stamp} [red]problem:[/] {escape(problem)}", highlight=False)

    def waiting(holder) -> None:
        who = holder.describe(course.timezone) if holder is not None else "another paceline command"
        err.print(f"{dt.datetime.now():%H:%M:%S} waiting for {who}…", highlight=False, markup=False)

    watch_course(course, interval=interval, sandboxed=not unsafe, workers=workers, scheduler=scheduler,
                 stop=stop, on_cycle=report, on_wait=waiting)
    out.print("Stopped.")


@main.group(invoke_without_command=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
@click.option("--watch/--no-watch", default=True, show_default=True,
              help="Run `paceline watch` as a hub-managed service (release, collect, grade, feedback).")
@click.option("--interval", type=click.FloatRange(0.5, 3600), default=5.0, show_default=True,
              help="Seconds between the watch service's passes.")
@click.option("--workers", type=click.IntRange(1, 256), default=None, help="The watch service's grading processes.")
@click.pass_context
def hub(ctx: click.Context, port: int, watch: bool, interval: float, workers: int | None) -> None:
    """Run the course's JupyterHub on 127.0.0.1: a unix account and JupyterLab per student (as root)."""
    if ctx.invoked_subcommand is not None:
        return
    from ..hub import serve_hub, watch_service

    course = course_of(ctx)
    services = [watch_service(course, interval=interval, workers=workers)] if watch else []
    serve_hub(course, port=port, services=services,
              echo=lambda line: out.print(line, highlight=False, markup=False, soft_wrap=True))


@hub.command("passwords")
@click.option("--reset", "reset", multiple=True, metavar="STUDENT", help="Give this roster student a new password (repeatable).")
@click.pass_context
def hub_passwords(ctx: click.Context, reset: tuple[str, ...]) -> None:
    """Give every active student without a hub password one (and RESET students a new one) now."""
    from ..hub.passwords import course_passwords

    changes = course_passwords(course_of(ctx), reset=reset)
    for entry in changes.created:
        out.print(f"new password for {entry.student_id} (log in as {entry.account})", highlight=False, markup=False)
    for account in changes.removed:
        out.print(f"removed the password of {account} (no longer active on the roster)", highlight=False, markup=False)
    if changes.created:
        out.print(f"New passwords, to hand out: {changes.csv_path}", highlight=False, markup=False, soft_wrap=True)
    elif not changes.removed:
        out.print("Every active student has a password already.")
