"""``claimrules test``, ``claimrules lint`` and ``claimrules diff``: policy analysis from the command line.

Exit codes as for every command (0 ok, 2 usage, 3 bad claim/case, 4 bad policy, 5 internal), plus
1 when a test case fails, a lint finding is reported, or a diff finds changed decisions.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from claimrules.errors import ClaimError, ClaimrulesError, PolicyError

EXIT_FINDINGS = 1


def _fail(error: ClaimrulesError) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(3 if isinstance(error, ClaimError) else 4 if isinstance(error, PolicyError) else 5)


def register(app: typer.Typer) -> None:
    register_cases(app)
    register_analysis(app)


def register_cases(app: typer.Typer) -> None:
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


def _seeds_and_schema(example_paths: list[Path], policy: Path) -> tuple[Any, Any]:
    seeds, schema, _ = _examples(example_paths, policy)
    return seeds, schema


def _examples(example_paths: list[Path], policy: Path) -> tuple[Any, Any, list[dict[str, Any]]]:
    """The seed claims (one per shape), the claim JSON Schema, and every example claim."""
    from claimrules.analysis import cases
    from claimrules.analysis.solver import vocabulary
    from claimrules.analysis.witness import seeds_from
    from claimrules.api import load_vocabulary
    from claimrules.facts import claim_json_schema

    claim_vocabulary = load_vocabulary(policy)  # the policy set's facts.yaml
    schema = claim_json_schema(claim_vocabulary)
    examples = [(case.name, case.claim) for case in cases.load_cases(example_paths)] if example_paths else []
    return seeds_from(examples, vocabulary(schema), claim_vocabulary), schema, [claim for _, claim in examples]


def _example_paths(policy: Path, given: list[Path] | None) -> list[Path]:
    if given:
        return given
    return [folder for folder in (policy / "examples", policy / "tests") if folder.is_dir()]


def register_analysis(app: typer.Typer) -> None:
    @app.command("lint")
    def lint_command(
        policy: Annotated[Path, typer.Argument(help="Policy set folder (with policy-set.yaml).")],
        examples: Annotated[list[Path] | None, typer.Option(
            "--examples", "-e", help="Claims to build witnesses on (default: the policy's examples/ and tests/).")] = None,
        format: Annotated[Literal["text", "json"], typer.Option("--format", "-f")] = "text",
        structural_only: Annotated[bool, typer.Option("--structural", help="Skip the solver.")] = False,
    ) -> None:
        """Find unused definitions, missing review steps, unreachable and shadowed clauses, conflicts and gaps."""
        from claimrules.analysis import lint
        from claimrules.api import load_policy

        try:
            with load_policy(policy) as compiled:
                seeds, schema, claims = _examples(_example_paths(policy, examples), policy)
                report = lint.lint(compiled, seeds, schema, semantic_checks=not structural_only, evidence=claims)
        except ClaimrulesError as error:
            if isinstance(error, PolicyError):   # a policy that does not load is the first finding
                typer.echo(f"{error}\n1 finding(s)")
                raise typer.Exit(EXIT_FINDINGS) from None
            raise _fail(error) from None
        typer.echo(lint.json_report(report) if format == "json" else lint.text_report(report), nl=False)
        if report.findings:
            raise typer.Exit(EXIT_FINDINGS)

    @app.command("diff")
    def diff_command(
        old: Annotated[Path, typer.Argument(help="The policy set as it is.")],
        new: Annotated[Path, typer.Argument(help="The policy set as it would be.")],
        examples: Annotated[list[Path] | None, typer.Option(
            "--examples", "-e", help="Claims to build witnesses on (default: OLD's examples/ and tests/).")] = None,
        claims: Annotated[Path | None, typer.Option("--claims", help="Real claims (JSON Lines) to replay through both.")] = None,
        format: Annotated[Literal["text", "json"], typer.Option("--format", "-f")] = "text",
    ) -> None:
        """Which claims two versions of a policy decide differently, each with a witness claim."""
        from claimrules.analysis import diff
        from claimrules.api import load_policy
        from claimrules.facts import read_claim_text
        from claimrules.files import read_claim_lines

        try:
            with load_policy(old) as before, load_policy(new) as after:
                seeds, schema = _seeds_and_schema(_example_paths(old, examples), old)
                report = diff.semantic_diff(before, after, seeds, schema)
                if claims is not None:
                    rows = []
                    for number, line in enumerate(read_claim_lines(claims), start=1):  # bounded, regular files only
                        if line.strip():
                            rows.append((f"{claims}:{number}", read_claim_text(line, source=f"{claims}:{number}")))
                    report.replayed = diff.replay(before, after, rows)
        except ClaimrulesError as error:
            raise _fail(error) from None
        typer.echo(diff.json_report(report) if format == "json" else diff.text_report(report), nl=False)
        if report.differs:
            raise typer.Exit(EXIT_FINDINGS)
