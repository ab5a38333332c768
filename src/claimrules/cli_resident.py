"""``claimrules resident start|stop|status``: the opt-in resident process that answers ``check`` in
milliseconds (see ``claimrules.resident`` and docs/resident.md). Heavy modules are imported only
when a command runs."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

EXIT_DONE, EXIT_NOT_RUNNING, EXIT_USAGE = 0, 1, 2


def register(app: typer.Typer) -> None:
    resident_app = typer.Typer(no_args_is_help=True, help=(
        "The resident process: keeps policy sets compiled so `claimrules check` answers in milliseconds. "
        "CLAIMRULES_RESIDENT=off makes check never use it."))
    app.add_typer(resident_app, name="resident")
    resident_app.command("start")(start)
    resident_app.command("stop")(stop)
    resident_app.command("status")(status)


def _error(problem: Exception) -> None:
    typer.echo(f"error: {problem}", err=True)
    raise typer.Exit(EXIT_USAGE)


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{rest:02d}s" if hours else f"{minutes}m{rest:02d}s"


def start(
    idle_minutes: Annotated[float, typer.Option("--idle-minutes", min=0.01,
                                                help="Exit after this many minutes without a request.")] = 15.0,
) -> None:
    """Start the resident process in the background (if it is not running); `check` then uses it."""
    from claimrules.resident.control import ResidentError
    from claimrules.resident.control import start as launch

    try:
        started = launch(idle_minutes * 60)
    except ResidentError as problem:
        _error(problem)
        return
    if started.already:
        typer.echo(f"already running: pid {started.pid}, socket {started.socket}")
    else:
        typer.echo(f"started: pid {started.pid}, socket {started.socket}, log {started.log}; "
                   f"exits after {idle_minutes:g} min without a request")


def stop() -> None:
    """Stop the resident process (nothing to do if none runs)."""
    from claimrules.resident.control import ResidentError
    from claimrules.resident.control import stop as halt

    try:
        pid = halt()
    except ResidentError as problem:
        _error(problem)
        return
    typer.echo("not running" if pid is None else f"stopped: pid {pid}")


def status(
    as_json: Annotated[bool, typer.Option("--json", help="The status as one JSON object.")] = False,
) -> None:
    """Whether the resident process runs: its pid, uptime, checks answered, policy sets held. Exit 1 if it does not."""
    from claimrules.resident.control import status as ask_status

    running: dict[str, Any] | None = ask_status()
    if as_json:
        typer.echo(json.dumps(running or {"status": "not running"}, indent=2, sort_keys=True))
    elif running is None:
        typer.echo("not running")
    else:
        typer.echo(f"running: pid {running['pid']}, up {_duration(running['uptime_seconds'])}, "
                   f"{running['checks']} check(s) answered, exits after {_duration(running['idle_seconds'])} idle")
        typer.echo(f"socket: {running['socket']}")
        policies = running["policies"]
        typer.echo("policy sets held:" if policies else "policy sets held: none yet")
        for held in policies:
            typer.echo(f"  {held['folder']} (fingerprint {held['fingerprint']}, {held['checks']} check(s))")
    if running is None:
        raise typer.Exit(EXIT_NOT_RUNNING)
