"""``claimrules batch CLAIMS -o DECISIONS``: decide a file of claims on every core, or on a Dask cluster.

One JSON Lines record per input line, in input order (see ``claimrules.batch``); a bad line becomes
an error record and the batch goes on; ``--resume`` continues an interrupted run after its last
complete record. Heavy modules are imported only when the command runs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

EXIT_DECIDED, EXIT_USAGE, EXIT_BAD_CLAIM, EXIT_BAD_POLICY, EXIT_INTERNAL = 0, 2, 3, 4, 5


def register(app: typer.Typer) -> None:
    app.command(name="batch")(batch)


def batch(
    claims: Annotated[Path, typer.Argument(help="Claims: JSON Lines (one claim per line) or CSV (.csv, dotted fact paths as columns).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Decisions as JSON Lines, one record per input line.")],
    policy: Annotated[Path | None, typer.Option("--policy", "-p", help="Policy set folder (with policy-set.yaml); default as for check.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", "-j", help="Worker processes (default: every core).")] = None,
    input_format: Annotated[str | None, typer.Option("--input-format", help="jsonl or csv (default: from the file suffix).")] = None,
    on: Annotated[str | None, typer.Option("--on", help="Decision date YYYY-MM-DD for every claim (default: each claim's report day).")] = None,
    trace: Annotated[bool, typer.Option("--trace", help="Include each decision's full trace.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run after the last complete record of OUTPUT.")] = False,
    dask: Annotated[str | None, typer.Option("--dask", help="Run on the Dask cluster at this scheduler address (tcp://host:8786).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Decide every claim of a file; write one JSON record per input line (a decision or an error)."""
    from datetime import date

    from claimrules.api import load_policy
    from claimrules.batch import decide_jsonl, resume_point, settle_heap
    from claimrules.errors import ClaimError, ClaimrulesError, PolicyError

    if input_format not in (None, "jsonl", "csv"):
        typer.echo(f"error: --input-format: '{input_format}' is not allowed (expected jsonl or csv)", err=True)
        raise typer.Exit(EXIT_USAGE)
    if workers is not None and workers < 1:
        typer.echo("error: --workers: expected 1 or more", err=True)
        raise typer.Exit(EXIT_USAGE)
    if not claims.exists() or claims.is_dir():  # a file, or a pipe such as /dev/stdin
        typer.echo(f"error: {claims}: no such claims file", err=True)
        raise typer.Exit(EXIT_USAGE)
    if output.exists() and output.is_file() and output.stat().st_size > 0 and not resume:
        typer.echo(f"error: {output} already has records; pass --resume to continue that run, "
                   "or remove the file to start again", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        decided_on = None if on is None else date.fromisoformat(on)
    except ValueError:
        typer.echo(f"error: --on: '{on}' is not a real date (expected YYYY-MM-DD)", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    try:
        skip = resume_point(output) if resume and output.is_file() else 0
        from claimrules.cli_support import resolve_policy

        compiled = load_policy(resolve_policy(policy))
        settle_heap()  # this command's process is claimrules' own
    except ClaimrulesError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_BAD_POLICY if isinstance(error, PolicyError) else EXIT_BAD_CLAIM) from None

    started = time.perf_counter()
    total = claims.stat().st_size if claims.is_file() else None
    show = not quiet and sys.stderr.isatty()
    try:
        with output.open("a", encoding="utf-8", newline="\n") as sink, _Progress(show, total) as bar:
            if dask is not None:
                from claimrules.scaleout import decide_jsonl_on_dask

                records, errors = decide_jsonl_on_dask(dask, compiled, claims, sink, format=input_format, skip=skip,
                                                       on=decided_on, trace=trace, progress=bar.update)
            else:
                records, errors = decide_jsonl(compiled, claims, sink, format=input_format, skip=skip, on=decided_on,
                                               trace=trace, workers=workers, progress=bar.update)
    except ClaimError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_BAD_CLAIM) from None
    except ClaimrulesError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_BAD_POLICY if isinstance(error, PolicyError) else EXIT_INTERNAL) from None
    except OSError as problem:
        typer.echo(f"error: {problem.filename or output}: {problem.strerror}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except Exception as problem:
        typer.echo(f"error: internal error (a bug in claimrules): {type(problem).__name__}: {problem}", err=True)
        raise typer.Exit(EXIT_INTERNAL) from None
    finally:
        compiled.close()
    elapsed = time.perf_counter() - started
    rate = records / elapsed if elapsed > 0 else 0.0
    resumed = f" (resumed after line {skip})" if skip else ""
    typer.echo(f"{records} records written to {output}{resumed}: {records - errors} decided, {errors} bad "
               f"line(s) as error records; {elapsed:.1f}s, {rate:.0f} claims/s", err=True)


class _Progress:
    """A rich progress bar (bytes of input read, claims/s, ETA) on a terminal; nothing otherwise.

    Refreshed by hand (no refresh thread), so worker processes can be forked while it shows.
    """

    def __init__(self, show: bool, total: int | None) -> None:
        self.show, self.total = show, total
        self.bar: Any = None
        self.last = 0.0
        self.started = time.perf_counter()
        self.done = (0, 0)

    def __enter__(self) -> _Progress:
        if self.show:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.fields[claims]} claims"), BarColumn(),
                                TextColumn("{task.percentage:>3.0f}%"), TextColumn("{task.fields[rate]} claims/s"),
                                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                auto_refresh=False, transient=False)
            self.bar.start()
            self.task = self.bar.add_task("batch", total=self.total, claims=0, rate="-")
        return self

    def update(self, records: int, position: int) -> None:
        if self.bar is None:
            return
        self.done = (records, position)
        now = time.perf_counter()
        if now - self.last < 0.2:
            return
        self.last = now
        rate = records / (now - self.started) if now > self.started else 0.0
        self.bar.update(self.task, completed=position, claims=records, rate=f"{rate:,.0f}")
        self.bar.refresh()

    def __exit__(self, *_: object) -> None:
        if self.bar is not None:
            self.last = 0.0
            self.update(*self.done)  # the final figures, whatever the throttle skipped
            self.bar.stop()
