"""The ``claimrules`` command: check a claim, explain a decision, write a decision letter, build the
coverage documentation, print the claim schema.

Exit codes: 0 a decision was made (whatever the outcome); 2 the command line is wrong;
3 the claim is invalid; 4 the policy is invalid; 5 claimrules met an internal error (a bug).
Errors are one clear message on stderr, never a traceback.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from claimrules.api import load_policy
from claimrules.errors import ClaimError, ClaimrulesError, EvaluationError, PolicyError
from claimrules.facts import claim_json_schema, load_claim
from claimrules.render.text import decision_json, decision_text

EXIT_DECIDED = 0
EXIT_USAGE = 2
EXIT_BAD_CLAIM = 3
EXIT_BAD_POLICY = 4
EXIT_INTERNAL = 5

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Adjudicate warranty, protection-plan and return claims against declarative policies.")

PolicyOption = Annotated[Path, typer.Option("--policy", "-p", help="Policy set folder (with policy-set.yaml).")]
OnOption = Annotated[str | None, typer.Option("--on", help="Decision date YYYY-MM-DD (default: the day the claim was reported).")]


def _fail(error: ClaimrulesError) -> None:
    typer.echo(f"error: {error}", err=True)
    code = EXIT_BAD_CLAIM if isinstance(error, ClaimError) else EXIT_BAD_POLICY if isinstance(error, PolicyError) else EXIT_INTERNAL
    raise typer.Exit(code)


def _internal(problem: Exception) -> None:
    typer.echo(f"error: internal error (a bug in claimrules): {type(problem).__name__}: {problem}", err=True)
    raise typer.Exit(EXIT_INTERNAL)


def _decision_date(on: str | None) -> date | None:
    if on is None:
        return None
    try:
        return date.fromisoformat(on)
    except ValueError:
        raise ClaimError(f"'{on}' is not a real date", field="--on", expected="a date YYYY-MM-DD") from None


def _decide(claim: Path, policy: Path, on: str | None):  # type: ignore[no-untyped-def]
    facts = load_claim(claim)
    decided_on = _decision_date(on)
    with load_policy(policy) as compiled:
        return compiled.adjudicate(facts, decided_on)


def _print_decision(claim: Path, policy: Path, format: str, on: str | None, *, trace: bool) -> None:
    if format not in ("text", "json"):
        typer.echo(f"error: --format: '{format}' is not allowed (expected text or json)", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        decision = _decide(claim, policy, on)
    except ClaimrulesError as error:
        _fail(error)
        return
    typer.echo(decision_json(decision, trace=trace) if format == "json" else decision_text(decision, trace=trace), nl=False)


@app.command()
def check(
    claim: Annotated[Path, typer.Argument(help="Claim facts (JSON).")],
    policy: PolicyOption = Path("policies/northwind"),
    format: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
    on: OnOption = None,
) -> None:
    """Decide one claim and print the decision."""
    _print_decision(claim, policy, format, on, trace=False)


@app.command()
def explain(
    claim: Annotated[Path, typer.Argument(help="Claim facts (JSON).")],
    policy: PolicyOption = Path("policies/northwind"),
    format: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
    on: OnOption = None,
) -> None:
    """Decide one claim and print the full trace: every condition, the facts it read, its result."""
    _print_decision(claim, policy, format, on, trace=True)


@app.command()
def letter(
    claim: Annotated[Path, typer.Argument(help="Claim facts (JSON).")],
    policy: PolicyOption = Path("policies/northwind"),
    format: Annotated[str, typer.Option("--format", "-f", help="html, md or txt")] = "html",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the letter here (default: stdout).")] = None,
    on: OnOption = None,
    docs_base: Annotated[str, typer.Option("--docs-base", help="Where the coverage documentation is, relative to the letter or as a URL.")] = "site/",
) -> None:
    """Decide one claim and write the decision letter to the customer."""
    from claimrules.render.letter import FORMATS, render_letter  # only the commands that use it import it

    if format not in FORMATS:
        typer.echo(f"error: --format: '{format}' is not allowed (expected {', '.join(FORMATS)})", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        facts = load_claim(claim)
        decided_on = _decision_date(on)
        with load_policy(policy) as compiled:
            decision = compiled.adjudicate(facts, decided_on)
            text = render_letter(decision, compiled.policy, format=format, claim=facts, docs_base=docs_base)
    except ClaimrulesError as error:
        _fail(error)
        return
    except Exception as problem:
        _internal(problem)
        return
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as problem:
        typer.echo(f"error: cannot write {output}: {problem.strerror}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    typer.echo(f"wrote {output} ({decision.outcome}, decision {decision.decision_id})", err=True)


@app.command()
def docs(
    policy_dir: Annotated[Path, typer.Argument(help="Policy set folder (with policy-set.yaml).")] = Path("policies/northwind"),
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write the site into.")] = Path("site"),
    examples: Annotated[Path, typer.Option("--examples", help="Example claims to decide and show as worked examples.")] = Path("examples/claims"),
    strict: Annotated[bool, typer.Option("--strict", help="Exit 4 when a written warranty lacks a 16 CFR 701.3 item.")] = False,
) -> None:
    """Build the customer coverage documentation (HTML and Markdown) from a policy set."""
    started = time.perf_counter()
    try:
        from claimrules.render.site import build_site

        report = build_site(policy_dir, output, examples)
    except ClaimrulesError as error:
        _fail(error)
        return
    except OSError as problem:
        typer.echo(f"error: cannot write the site to {output}: {problem.strerror}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except Exception as problem:
        _internal(problem)
        return
    elapsed = time.perf_counter() - started
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    decided = sum(1 for example in report.examples if example.outcome is not None)
    typer.echo(f"wrote {len(report.files)} files to {output}/ ({len(report.documents)} document(s), "
               f"{decided} worked example(s)) in {elapsed:.2f}s")
    if strict and report.missing_disclosures:
        items = ", ".join(f"{missing.document} {missing.item}" for missing in report.missing_disclosures)
        typer.echo(f"error: --strict: the written warranty lacks 16 CFR 701.3 items: {items}", err=True)
        raise typer.Exit(EXIT_BAD_POLICY)


@app.command()
def schema() -> None:
    """Print the JSON Schema of a claim file."""
    typer.echo(json.dumps(claim_json_schema(), indent=2, sort_keys=True))


from claimrules import cli_analysis  # noqa: E402 - commands registered once the app exists
from claimrules.cli_batch import register as _register_batch  # noqa: E402

cli_analysis.register(app)
_register_batch(app)


def main() -> None:
    try:
        app()
    except EvaluationError as error:  # pragma: no cover - typer exits inside app() normally
        typer.echo(f"error: {error}", err=True)
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
