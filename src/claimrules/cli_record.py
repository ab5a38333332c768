"""The system-of-record commands: ``ledger decide``, ``ledger verify``, ``grant``, ``history``, ``audit``
and ``serve``.

Exit codes as the rest of ``claimrules`` (0 done, 2 usage, 3 bad claim, 4 bad policy, 5 internal),
plus 6: the ledger cannot be used, names no such claim, or does not verify.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from claimrules.api import CompiledPolicy, load_policy
from claimrules.errors import ClaimError, ClaimrulesError, PolicyError
from claimrules.facts import load_claim

EXIT_LEDGER = 6
DEFAULT_LEDGER = "claimrules-ledger.sqlite"

LedgerOption = Annotated[str | None, typer.Option(
    "--ledger", "-l", help=f"SQLite file or postgresql:// URL (default: $CLAIMRULES_LEDGER or {DEFAULT_LEDGER}).")]
PolicyOption = Annotated[Path | None, typer.Option("--policy", "-p", help="Policy set folder (with policy-set.yaml); default as for check.")]
FormatOption = Annotated[str, typer.Option("--format", "-f", help="text or json")]


def ledger_location(option: str | None) -> str:
    return option or os.environ.get("CLAIMRULES_LEDGER") or DEFAULT_LEDGER


def _fail(error: ClaimrulesError) -> None:
    from claimrules.ledger import LedgerError

    typer.echo(f"error: {error}", err=True)
    code = (3 if isinstance(error, ClaimError) else 4 if isinstance(error, PolicyError)
            else EXIT_LEDGER if isinstance(error, LedgerError) else 5)
    raise typer.Exit(code)


def _format(value: str, allowed: tuple[str, ...] = ("text", "json")) -> str:
    if value not in allowed:
        typer.echo(f"error: --format: '{value}' is not allowed (expected {' or '.join(allowed)})", err=True)
        raise typer.Exit(2)
    return value


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ClaimError(f"'{value}' is not a real date", field=option, expected="a date YYYY-MM-DD") from None


def _open(ledger: str | None, policy: Path | None) -> Any:
    from claimrules.cli_support import resolve_policy
    from claimrules.ledger import Ledger, open_store

    compiled: CompiledPolicy = load_policy(resolve_policy(policy))
    return Ledger(open_store(ledger_location(ledger)), compiled)


def _actor(by: str | None) -> str:
    return by or os.environ.get("CLAIMRULES_ACTOR") or os.environ.get("USER") or "unknown"


def register(app: typer.Typer) -> None:
    ledger_app = typer.Typer(no_args_is_help=True, help="The claim ledger: record decisions, verify the chain.")
    app.add_typer(ledger_app, name="ledger")

    @ledger_app.command("decide")
    def ledger_decide(
        claim: Annotated[Path, typer.Argument(help="Claim facts (JSON).")],
        claim_id: Annotated[str, typer.Option("--claim-id", "-c", help="The claim's id in the ledger.")],
        by: Annotated[str | None, typer.Option("--by", help="Who asks (staff id); default $CLAIMRULES_ACTOR or $USER.")] = None,
        ledger: LedgerOption = None,
        policy: PolicyOption = None,
        on: Annotated[str | None, typer.Option("--on", help="Decision date YYYY-MM-DD.")] = None,
        format: FormatOption = "text",
    ) -> None:
        """Decide a claim and record it: the recorded decision again when nothing changed, a new one with what changed otherwise."""
        _format(format)
        try:
            with _open(ledger, policy) as opened:
                facts = load_claim(claim, opened.policy)
                entry = opened.decide(claim_id, facts, actor=_actor(by), on=_date(on, "--on"))
        except ClaimrulesError as error:
            _fail(error)
            return
        if format == "json":
            typer.echo(json.dumps({"claim_id": entry.claim_id, "record": entry.record.seq, "new": entry.new,
                                   "changes": entry.changes, "exceptions": list(entry.exceptions),
                                   "decision": entry.decision.model_dump(mode="json")}, indent=2, sort_keys=True))
            return
        from claimrules.render.text import decision_text

        state = "recorded as" if entry.new else "unchanged: the recorded decision"
        typer.echo(f"claim {entry.claim_id}: {state} record #{entry.record.seq}")
        typer.echo(decision_text(entry.decision, vocabulary=opened.policy.vocabulary), nl=False)

    @ledger_app.command("verify")
    def ledger_verify(ledger: LedgerOption = None) -> None:
        """Walk the hash chain; name every edited, deleted or reordered record (exit 6 if any)."""
        from claimrules.ledger import open_store, verify

        try:
            with open_store(ledger_location(ledger)) as store:
                result = verify(store.records(), store.head())
        except ClaimrulesError as error:
            _fail(error)
            return
        if result.ok:
            typer.echo(f"ledger verifies: {result.records} record(s), chain intact")
            return
        for problem in result.problems:
            typer.echo(f"error: {problem}", err=True)
        typer.echo(f"ledger does NOT verify: {len(result.problems)} problem(s) in {result.records} record(s)", err=True)
        raise typer.Exit(EXIT_LEDGER)

    @app.command()
    def grant(
        claim_id: Annotated[str, typer.Argument(help="The claim's id in the ledger.")],
        staff: Annotated[str, typer.Option("--staff", help="The grantor's staff id.")],
        role: Annotated[str, typer.Option("--role", help="The grantor's role.")],
        new_end: Annotated[str, typer.Option("--new-end", help="The new end of the return window, YYYY-MM-DD.")],
        granted_on: Annotated[str | None, typer.Option("--granted-on", help="The day it was granted (default: today).")] = None,
        by: Annotated[str | None, typer.Option("--by", help="Who records it (default: --staff).")] = None,
        ledger: LedgerOption = None,
        policy: PolicyOption = None,
        letter: Annotated[Path | None, typer.Option("--letter", help="Write the customer's written confirmation here.")] = None,
        letter_format: Annotated[str, typer.Option("--letter-format", help="txt, md or html")] = "txt",
        format: FormatOption = "text",
    ) -> None:
        """Record a return-window extension; the policy's authority limits apply (refused or capped, clause cited)."""
        _format(format)
        _format(letter_format, ("txt", "md", "html"))
        from claimrules.render.confirmation import render_confirmation

        try:
            end = _date(new_end, "--new-end")
            assert end is not None
            with _open(ledger, policy) as opened:
                recorded = opened.grant_extension(claim_id, grantor_id=staff, grantor_role=role,
                                                  granted_on=_date(granted_on, "--granted-on") or date.today(),
                                                  new_end=end, actor=by or staff)
        except ClaimrulesError as error:
            _fail(error)
            return
        record = recorded.record
        confirmation = render_confirmation(recorded.claim_id, record.seq, record.hash, record.at, record.data,
                                           format=letter_format)
        if letter is not None:
            letter.parent.mkdir(parents=True, exist_ok=True)
            letter.write_text(confirmation, encoding="utf-8")
        authority = recorded.authority
        if format == "json":
            typer.echo(json.dumps({"claim_id": recorded.claim_id, "record": record.seq, "item": recorded.item,
                                   "authority": record.data["authority"], "confirmation": confirmation},
                                  indent=2, sort_keys=True))
            return
        typer.echo(f"claim {recorded.claim_id}: extension by {staff} ({role}) recorded as #{record.seq}: "
                   f"{authority.status.upper()} - {authority.reason}")
        if letter is None:
            typer.echo("")
            typer.echo(confirmation, nl=False)
        else:
            typer.echo(f"wrote the customer's confirmation to {letter}", err=True)

    @app.command()
    def history(
        claim_id: Annotated[str, typer.Argument(help="The claim's id in the ledger.")],
        ledger: LedgerOption = None,
        format: FormatOption = "text",
        all_events: Annotated[bool, typer.Option("--all", help="Show every record (default: the last 16, one screen).")] = False,
    ) -> None:
        """The claim's whole story in order: facts as they arrived, decisions, exceptions, changes."""
        _format(format)
        from claimrules.ledger import open_store
        from claimrules.ledger.history import history as build
        from claimrules.ledger.history import history_text
        from claimrules.ledger.ledger import check_claim_id

        try:
            with open_store(ledger_location(ledger)) as store:
                records = store.records(check_claim_id(claim_id))
            if not records:
                from claimrules.ledger.store import UnknownClaim

                raise UnknownClaim(f"the ledger holds no claim {claim_id}", field="claim_id",
                                  expected="a claim id the ledger holds")
        except ClaimrulesError as error:
            _fail(error)
            return
        story = build(claim_id, records)
        typer.echo(json.dumps(story, indent=2, sort_keys=True) if format == "json" else history_text(story, last=None if all_events else 16),
                   nl=False)

    @app.command()
    def serve(
        policy: PolicyOption = None,
        ledger: LedgerOption = None,
        host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="Port to bind (0: any free port).")] = 8000,
        workers: Annotated[int, typer.Option("--workers", help="Worker processes (each compiles the policy once).")] = 1,
        api_key_env: Annotated[str | None, typer.Option(
            "--api-key-env", help="Name of an environment variable holding the API key the write endpoints need.")] = None,
        max_body_bytes: Annotated[int, typer.Option("--max-body-bytes", help="Largest request body accepted.")] = 1_000_000,
    ) -> None:
        r"""Serve decide, explain, letter, grant, history and schema over HTTP (needs the \[service] extra)."""
        try:
            import uvicorn
        except ImportError:
            typer.echo("error: the HTTP service needs the service extra: pip install 'claimrules[service]'", err=True)
            raise typer.Exit(2) from None
        api_key = None
        if api_key_env is not None:
            api_key = os.environ.get(api_key_env)
            if not api_key:
                typer.echo(f"error: --api-key-env: the environment variable {api_key_env} is not set", err=True)
                raise typer.Exit(2)
        from claimrules.cli_support import resolve_policy

        os.environ.update(CLAIMRULES_POLICY=str(resolve_policy(policy)), CLAIMRULES_LEDGER=ledger_location(ledger),
                          CLAIMRULES_MAX_BODY_BYTES=str(max_body_bytes))
        if api_key:
            os.environ["CLAIMRULES_API_KEY"] = api_key
        uvicorn.run("claimrules.service.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                    log_level="warning")

    @app.command()
    def audit(
        history_file: Annotated[Path, typer.Argument(metavar="HISTORY", help="Past decisions, JSONL (docs/audit.md).")],
        policy: PolicyOption = None,
        format: FormatOption = "text",
        html: Annotated[Path | None, typer.Option("--html", help="Also write the HTML report (charts inline) here.")] = None,
        json_file: Annotated[Path | None, typer.Option("--json", help="Also write the JSON report here.")] = None,
        workers: Annotated[int, typer.Option("--workers", help="Processes deciding the claims (default 1).")] = 1,
    ) -> None:
        """Decide past claims again and compare with what people decided: agreement, disagreements and why."""
        _format(format)
        from claimrules.audit import audit as run_audit
        from claimrules.audit import read_history
        from claimrules.cli_support import resolve_policy
        from claimrules.render.audit import audit_html, audit_text

        try:
            folder = resolve_policy(policy)
            with load_policy(folder) as compiled:
                report = run_audit(compiled, read_history(history_file), workers=workers, policy_dir=folder).as_dict()
        except ClaimrulesError as error:
            _fail(error)
            return
        for target, text in ((html, audit_html(report) if html else ""),
                             (json_file, json.dumps(report, indent=2, sort_keys=True) if json_file else "")):
            if target is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        typer.echo(json.dumps(report, indent=2, sort_keys=True) if format == "json" else audit_text(report), nl=False)
