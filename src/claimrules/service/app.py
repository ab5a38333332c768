"""The FastAPI application. The policy set is loaded and compiled once per worker process, when the
application starts; every request reuses it (``CompiledPolicy`` is thread-safe)."""

from __future__ import annotations

import hmac
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from claimrules.api import CompiledPolicy, load_policy
from claimrules.errors import ClaimError, ClaimrulesError
from claimrules.facts import claim_json_schema, parse_claim
from claimrules.ledger import Ledger, LedgerError, open_store
from claimrules.ledger.history import history as build_history
from claimrules.ledger.store import UnknownClaim
from claimrules.render.confirmation import render_confirmation
from claimrules.render.letter import render_letter
from claimrules.service.models import (
    DecideRequest,
    DecideResponse,
    ErrorResponse,
    GrantRequest,
    GrantResponse,
    LetterRequest,
)

MAX_BODY_BYTES = 1_000_000
API_KEY_HEADER = "x-api-key"


@dataclass(frozen=True)
class ServiceSettings:
    policy: Path
    ledger: str
    api_key: str | None = None          # when set, the write endpoints need it in X-API-Key
    max_body_bytes: int = MAX_BODY_BYTES

    @classmethod
    def from_env(cls) -> ServiceSettings:
        """For ``uvicorn --factory claimrules.service.app:app_from_env`` (one per worker)."""
        from claimrules.cli_support import resolve_policy

        return cls(policy=resolve_policy(None),   # $CLAIMRULES_POLICY, else claimrules.toml
                   ledger=os.environ.get("CLAIMRULES_LEDGER", "claimrules-ledger.sqlite"),
                   api_key=os.environ.get("CLAIMRULES_API_KEY") or None,
                   max_body_bytes=int(os.environ.get("CLAIMRULES_MAX_BODY_BYTES", MAX_BODY_BYTES)))


def _error(status: int, family: str, message: str, **fields: Any) -> JSONResponse:
    error = ClaimrulesError(message, **fields)
    body = error.as_dict()
    body["family"] = family
    return JSONResponse({"error": body}, status_code=status)


class BodyLimit:
    """Refuses a request body over the limit (413) before it is read in full."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = _error(413, "request", f"the request body is larger than {self.limit} bytes",
                          field="body", expected=f"at most {self.limit} bytes")
        await response(scope, receive, send)


class _TooLarge(Exception):
    """A request body past the size limit (answered 413)."""


def create_app(settings: ServiceSettings) -> FastAPI:
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        policy: CompiledPolicy = load_policy(settings.policy)  # compiled once for this worker
        state["policy"] = policy
        state["ledger"] = Ledger(open_store(settings.ledger), policy)
        try:
            yield
        finally:
            state["ledger"].close()

    app = FastAPI(title="claimrules", version="0.1.0", lifespan=lifespan,
                  description="Adjudicate warranty, protection-plan and return claims; keep the claim's record.",
                  responses={400: {"model": ErrorResponse}, 401: {"model": ErrorResponse},
                             404: {"model": ErrorResponse}, 413: {"model": ErrorResponse}})
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    def ledger() -> Ledger:
        found: Ledger = state["ledger"]
        return found

    def policy() -> CompiledPolicy:
        found: CompiledPolicy = state["policy"]
        return found

    def require_key(request: Request) -> None:
        if settings.api_key is None:
            return
        given = request.headers.get(API_KEY_HEADER, "")
        if not hmac.compare_digest(given.encode(), settings.api_key.encode()):
            raise _Unauthorized()

    @app.exception_handler(ClaimrulesError)
    async def claimrules_error(_: Request, error: ClaimrulesError) -> JSONResponse:
        status = (404 if isinstance(error, UnknownClaim) else 400 if isinstance(error, ClaimError | LedgerError)
                  else 500)
        return JSONResponse({"error": error.as_dict()}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def request_error(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return _error(400, "request", str(first.get("msg", "invalid request")), field=where or None,
                      expected=str(first.get("type", "")) or None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return _error(error.status_code, "request", f"{request.method} {request.url.path}: {error.detail}",
                      field="path", expected="an endpoint listed in /openapi.json")

    @app.exception_handler(_Unauthorized)
    async def unauthorized(_: Request, __: _Unauthorized) -> JSONResponse:
        return _error(401, "auth", "this endpoint writes to the ledger and needs the API key",
                      field=f"header {API_KEY_HEADER}", expected="the service's API key")

    @app.middleware("http")
    async def internal_errors(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        try:
            return await call_next(request)
        except Exception as problem:  # the last line: a structured 500, never a traceback to the caller
            return _error(500, "internal", f"internal error (a bug in claimrules): {type(problem).__name__}")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "policy": policy().fingerprint}

    @app.get("/schema")
    def schema() -> dict[str, Any]:
        """The JSON Schema of claim facts."""
        return claim_json_schema(policy())

    @app.post("/decide", response_model=DecideResponse)
    def decide(body: DecideRequest, request: Request) -> DecideResponse:
        """Decide a claim. With ``claim_id`` the decision is recorded (a write: needs the API key when one is set)."""
        if body.claim_id is None:
            return DecideResponse(decision=policy().adjudicate(parse_claim(body.facts, policy()), body.on).model_copy(update={"trace": (), "facts": ()}))
        require_key(request)
        entry = ledger().decide(body.claim_id, body.facts, actor=body.actor or "http", on=body.on)
        return DecideResponse(decision=entry.decision.model_copy(update={"trace": (), "facts": ()}),
                              claim_id=entry.claim_id, record=entry.record.seq,
                              new=entry.new, changes=entry.changes, exceptions=list(entry.exceptions))

    @app.post("/explain", response_model=DecideResponse)
    def explain(body: DecideRequest) -> DecideResponse:
        """The decision with its full trace (nothing is recorded)."""
        return DecideResponse(decision=policy().adjudicate(parse_claim(body.facts, policy()), body.on))

    @app.post("/letter", response_class=PlainTextResponse)
    def letter(body: LetterRequest) -> PlainTextResponse:
        """The written decision for the customer."""
        facts = parse_claim(body.facts, policy())
        decision = policy().adjudicate(facts, body.on)
        text = render_letter(decision, policy().policy, format=body.format, claim=facts, docs_base=body.docs_base)
        media = {"html": "text/html", "md": "text/markdown", "txt": "text/plain"}[body.format]
        return PlainTextResponse(text, media_type=f"{media}; charset=utf-8")

    @app.post("/claims/{claim_id}/grant", response_model=GrantResponse)
    def grant(claim_id: str, body: GrantRequest, request: Request) -> GrantResponse:
        """Record a return-window extension (a write); the policy's authority limits apply."""
        require_key(request)
        recorded = ledger().grant_extension(claim_id, grantor_id=body.staff_id, grantor_role=body.role,
                                            granted_on=body.granted_on, new_end=body.new_end,
                                            actor=body.actor or body.staff_id)
        record = recorded.record
        confirmation = render_confirmation(recorded.claim_id, record.seq, record.hash, record.at, record.data,
                                           format=body.letter_format)
        return GrantResponse(claim_id=recorded.claim_id, record=record.seq, item=recorded.item,
                             authority=record.data["authority"], confirmation=confirmation)

    @app.get("/claims/{claim_id}/history")
    def history(claim_id: str) -> dict[str, Any]:
        """The claim's whole story, in order."""
        return build_history(claim_id, ledger().records(claim_id))

    return app


class _Unauthorized(Exception):
    """A write without the API key (answered 401)."""


def app_from_env() -> FastAPI:
    return create_app(ServiceSettings.from_env())
