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
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import Annotated

import typer

from claimrules.api import CompiledPolicy, load_policy, load_vocabulary
from claimrules.cli_support import (
    ENV_POLICY,
    ClaimSource,
    UsageError,
    claim_sources,
    error_json,
    exit_code,
    resolve_policy,
)
from claimrules.errors import ClaimError, ClaimrulesError, EvaluationError
from claimrules.facts import ClaimFacts, claim_json_schema, read_claim_text
from claimrules.files import FileProblem, write_new
from claimrules.render.escape import clean_text
from claimrules.render.text import decision_json, decision_text

EXIT_DECIDED = 0
EXIT_USAGE = 2
EXIT_BAD_CLAIM = 3
EXIT_BAD_POLICY = 4
EXIT_INTERNAL = 5

# The help is the docstring of the callback below (a help= here would replace it).
app = typer.Typer(add_completion=True, no_args_is_help=True, pretty_exceptions_enable=False)


class DecisionFormat(StrEnum):
    text = "text"
    json = "json"
    jsonl = "jsonl"


class LetterFormat(StrEnum):
    html = "html"
    md = "md"
    txt = "txt"


def _version(value: bool) -> None:
    if value:
        try:
            version = metadata.version("claimrules")
        except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
            version = "unknown"
        typer.echo(f"claimrules {version}")
        raise typer.Exit(EXIT_DECIDED)


@app.callback()
def _global(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Adjudicate warranty, protection-plan and return claims against declarative policies.

    The policy set comes from --policy, else $CLAIMRULES_POLICY, else `policy = "DIR"` in the nearest \
claimrules.toml or in ~/.config/claimrules/config.toml.
    """


PolicyOption = Annotated[Path | None, typer.Option(
    "--policy", "-p", help=f"Policy set folder (with policy-set.yaml). Default: ${ENV_POLICY}, or policy = \"DIR\" in "
                           "claimrules.toml (here or a parent) or ~/.config/claimrules/config.toml.")]
def _check_on(value: str | None) -> str | None:
    """A bad --on is a bad command line (exit 2), not a bad claim."""
    if value is not None:
        try:
            date.fromisoformat(value)
        except ValueError:
            typer.echo(f"error: --on: {value[:40]!r} is not a real date (expected a date YYYY-MM-DD)", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        if len(value) != 10:
            typer.echo(f"error: --on: {value[:40]!r} is not a plain date (expected a date YYYY-MM-DD)", err=True)
            raise typer.Exit(EXIT_USAGE)
    return value


OnOption = Annotated[str | None, typer.Option("--on", callback=_check_on,
                                              help="Decision date YYYY-MM-DD (default: the day the claim was reported).")]
ClaimsArgument = Annotated[list[str], typer.Argument(
    help="Claim files (JSON); '-' reads standard input; a .jsonl file (or --format jsonl) holds one claim per line.")]


def _fail(error: ClaimrulesError, as_json: bool = False) -> None:
    if as_json:
        typer.echo(error_json(error))
    else:
        typer.echo(f"error: {clean_text(error)}", err=True)  # no terminal escapes from a claim or policy
    raise typer.Exit(exit_code(error))


def _internal(problem: Exception, as_json: bool = False) -> None:
    if as_json:
        typer.echo(error_json(problem))
    else:
        typer.echo(f"error: internal error (a bug in claimrules): {type(problem).__name__}: {problem}", err=True)
    raise typer.Exit(EXIT_INTERNAL)


def _decision_date(on: str | None) -> date | None:
    if on is None:
        return None
    try:
        return date.fromisoformat(on)
    except ValueError:
        raise ClaimError(f"'{on}' is not a real date", field="--on", expected="a date YYYY-MM-DD") from None


def _claim(source: ClaimSource, compiled: CompiledPolicy) -> ClaimFacts:
    """A claim read with the policy set's vocabulary (its facts.yaml)."""
    return compiled.parse_claim(read_claim_text(source.text, source=source.name), source=source.name)


#: Opens the compiled policy set of a folder for one command: loads it (and releases it after), or
#: lends one the resident process holds (``claimrules.resident.policies``).
PolicyOpener = Callable[[Path], AbstractContextManager[CompiledPolicy]]


def _decide_all(claims: list[str], policy: Path | None, format: DecisionFormat, on: str | None, *, trace: bool,
                open_policy: PolicyOpener = load_policy) -> None:
    """Decide every claim given; one result each (a JSON array for json with several, a line each for jsonl)."""
    if trace:  # only `explain` needs the explanation trees: `check` does not import them (fast start)
        from claimrules.explanation import explain as explain_decision
        from claimrules.render.explain import explanation_text

    as_json = format is not DecisionFormat.text
    try:
        folder = resolve_policy(policy)
        decided_on = _decision_date(on)
        opened = open_policy(folder)
    except ClaimrulesError as error:
        _fail(error, as_json)
        return
    worst = EXIT_DECIDED
    results: list[str] = []
    with opened as compiled:
        try:
            sources = list(claim_sources(claims, lines=format is DecisionFormat.jsonl))
        except ClaimrulesError as error:
            _fail(error, as_json)
            return
        if not sources:
            _fail(UsageError("no claim given", field="CLAIM", expected="a claim file, '-' or a .jsonl file"), as_json)
        for source in sources:
            try:
                facts = _claim(source, compiled)
                decision = compiled.adjudicate(facts, decided_on)
                if format is DecisionFormat.text:
                    out = (explanation_text(explain_decision(compiled.program, facts, decision)) if trace
                           else decision_text(decision, vocabulary=compiled.policy.vocabulary))
                    # the terminal never receives escape sequences or bidi overrides from claim text
                    results.append((f"== {source.name}\n" if len(sources) > 1 else "") + clean_text(out))
                elif trace:
                    results.append(explain_decision(compiled.program, facts, decision).model_dump_json(indent=None if format is DecisionFormat.jsonl else 2))
                elif format is DecisionFormat.jsonl:
                    results.append(json.dumps({"source": source.name, "decision": decision.model_dump(mode="json", exclude={"trace"})},
                                              ensure_ascii=False))
                else:
                    results.append(decision_json(decision, trace=False).rstrip("\n"))
            except ClaimrulesError as error:
                if len(sources) == 1 or format is DecisionFormat.text:
                    if len(sources) > 1:
                        typer.echo(f"error: {error}", err=True)
                        worst = max(worst, exit_code(error))
                        continue
                    _fail(error, as_json)
                    return
                worst = max(worst, exit_code(error))
                results.append(json.dumps({"source": source.name, **json.loads(error_json(error))}, ensure_ascii=False)
                               if format is DecisionFormat.jsonl else error_json(error))
            except Exception as problem:  # a bug: say so, never a traceback
                _internal(problem, as_json)
                return
    if format is DecisionFormat.jsonl:
        typer.echo("\n".join(results))
    elif format is DecisionFormat.json:
        typer.echo(results[0] if len(results) == 1 else "[\n" + ",\n".join(results) + "\n]")
    else:
        typer.echo("\n".join(results), nl=False)
    if worst != EXIT_DECIDED:
        raise typer.Exit(worst)


@app.command()
def check(
    ctx: typer.Context,
    claims: ClaimsArgument,
    policy: PolicyOption = None,
    format: Annotated[DecisionFormat, typer.Option("--format", "-f", help="Output format.")] = DecisionFormat.text,
    on: OnOption = None,
) -> None:
    """Decide claims and print each decision: the outcome, and why in words, with the dates."""
    # The resident process (claimrules.resident) runs this same command with the policy sets it holds.
    open_policy: PolicyOpener = ctx.obj if callable(ctx.obj) else load_policy
    _decide_all(claims, policy, format, on, trace=False, open_policy=open_policy)


@app.command()
def explain(
    claims: ClaimsArgument,
    policy: PolicyOption = None,
    format: Annotated[DecisionFormat, typer.Option("--format", "-f", help="Output format (json: the same tree).")] = DecisionFormat.text,
    on: OnOption = None,
) -> None:
    """Decide claims and show why as trees: every condition, the value at each leaf, the result at \
each node, the tests that decided; and what would have had to hold instead."""
    _decide_all(claims, policy, format, on, trace=True)


@app.command()
def letter(
    claim: Annotated[str, typer.Argument(help="Claim facts (JSON); '-' reads standard input.")],
    policy: PolicyOption = None,
    format: Annotated[LetterFormat, typer.Option("--format", "-f", help="Letter format.")] = LetterFormat.html,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the letter here (default: stdout).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output file.")] = False,
    on: OnOption = None,
    base_url: Annotated[str | None, typer.Option(
        "--base-url", help="Where the coverage site is published (absolute URL); default: the policy set's site_url.")] = None,
    docs_base: Annotated[str | None, typer.Option("--docs-base", hidden=True,
                                                  help="Older name of --base-url (may be relative).")] = None,
) -> None:
    """Decide one claim and write the decision letter to the customer."""
    from claimrules.render.letter import render_letter  # only the commands that use it import it (fast start)

    try:
        folder = resolve_policy(policy)
        source = next(iter(claim_sources([claim], lines=False)))
        decided_on = _decision_date(on)
        with load_policy(folder) as compiled:
            facts = _claim(source, compiled)
            decision = compiled.adjudicate(facts, decided_on)
            base = base_url or docs_base or compiled.policy.site_url
            if not base:
                typer.echo("warning: links are relative to a site/ folder next to the letter; set site_url in "
                           "policy-set.yaml or pass --base-url so they work once the letter is sent", err=True)
                base = "site/"
            text = render_letter(decision, compiled.policy, format=format.value, claim=facts, docs_base=base)
            policy_files = (folder, folder / "policy-set.yaml",
                            *sorted({Path(document.source.file) for document in compiled.policy.documents}))
    except ClaimrulesError as error:
        _fail(error)
        return
    except Exception as problem:
        _internal(problem)
        return
    if output is None:
        typer.echo(text, nl=False)
        return
    try:  # never over an input (the claim, a policy file), through a link, or over a file without --force
        inputs = (Path(claim),) if claim != "-" else ()
        write_new(output, text.encode("utf-8"), force=force, inputs=(*inputs, *policy_files))
    except FileProblem as problem:
        typer.echo(f"error: cannot write {output}: {problem.reason} (expected {problem.expected})", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    typer.echo(f"wrote {output} ({decision.outcome}, decision {decision.decision_id})", err=True)


@app.command()
def docs(
    policy_dir: Annotated[Path | None, typer.Argument(
        help="Policy set folder (with policy-set.yaml); default as for --policy.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write the site into.")] = Path("site"),
    examples: Annotated[Path | None, typer.Option(
        "--examples", help="Folder of example claims to decide and show as worked examples "
                           "(default: the policy set's own examples/ and tests/ folders).")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 4 when a written warranty lacks a 16 CFR 701.3 item.")] = False,
) -> None:
    """Build the customer coverage documentation (HTML and Markdown) from a policy set."""
    started = time.perf_counter()
    try:
        from claimrules.render.site import OWN_EXAMPLES, build_site

        report = build_site(resolve_policy(policy_dir), output, OWN_EXAMPLES if examples is None else examples)
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
def schema(policy: PolicyOption = None) -> None:
    """Print the JSON Schema of a claim file under the policy set's vocabulary (its facts.yaml)."""
    try:
        vocabulary = load_vocabulary(resolve_policy(policy))
    except ClaimrulesError as error:
        _fail(error)
        return
    typer.echo(json.dumps(claim_json_schema(vocabulary), indent=2, sort_keys=True))


from claimrules import cli_analysis  # noqa: E402 - commands registered once the app exists

cli_analysis.register(app)

from claimrules.cli_record import register as _register_record  # noqa: E402

_register_record(app)


from claimrules.cli_batch import register as _register_batch  # noqa: E402

_register_batch(app)

from claimrules.cli_resident import register as _register_resident  # noqa: E402

_register_resident(app)


def main() -> None:
    from claimrules.cli_output import guard_stdout

    with guard_stdout(EXIT_USAGE):
        try:
            app()
        except EvaluationError as error:  # pragma: no cover - typer exits inside app() normally
            typer.echo(f"error: {error}", err=True)
            sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
