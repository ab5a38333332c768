"""``claimrules test``, ``claimrules lint`` and ``claimrules diff``: policy analysis from the command line.

Exit codes as for every command (0 ok, 2 usage, 3 bad claim/case, 4 bad policy, 5 internal), plus
1 when a test case fails, a lint finding is reported, or a diff finds changed decisions.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Literal

import typer

from claimrules.errors import ClaimError, ClaimrulesError, PolicyError

EXIT_FINDINGS = 1


def _fail(error: ClaimrulesError) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(3 if isinstance(error, ClaimError) else 4 if isinstance(error, PolicyError) else 5)


def register(app: typer.Typer) -> None:
    @app.command("test")
    def test_command(
        policy: Annotated[Path, typer.Argument(help="Policy set folder (with policy-set.yaml).")],
        paths: Annotated[list[Path] | None, typer.Argument(
            help="Case files or folders (default: the policy's examples/ and tests/ folders).")] = None,
        format: Annotated[Literal["text", "junit", "json"], typer.Option("--format", "-f")] = "text",
        output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here.")] = None,
    ) -> None:
        """Run example claims with expected decisions against a policy; exit 1 on any failure."""
        from claimrules.analysis import cases
        from claimrules.api import load_policy

        started = time.perf_counter()
        search = list(paths or [])
        if not search:
            search = [folder for folder in (policy / "examples", policy / "tests") if folder.is_dir()]
            if not search:
                typer.echo(f"error: no case files given and {policy} has no examples/ or tests/ folder", err=True)
                raise typer.Exit(2)
        try:
            with load_policy(policy) as compiled:
                results = cases.run_cases(compiled, cases.load_cases(search))
        except ClaimrulesError as error:
            raise _fail(error) from None
        elapsed = time.perf_counter() - started
        if not results:
            typer.echo("error: no test cases found in " + ", ".join(map(str, search)), err=True)
            raise typer.Exit(2)
        if format == "junit":
            report = cases.junit_report(results, elapsed, suite=f"claimrules {policy}")
        elif format == "json":
            report = cases.json_report(results, elapsed)
        else:
            report = cases.text_report(results, elapsed)
        if output is not None:
            output.write_text(report, encoding="utf-8")
            typer.echo(cases.text_report(results, elapsed).splitlines()[-1])
        else:
            typer.echo(report, nl=False)
        if any(not result.passed for result in results):
            raise typer.Exit(EXIT_FINDINGS)
