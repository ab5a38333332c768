"""The HTTP service (issue #17, point 6), in process through FastAPI's test client.

Expected decisions from the Store Returns terms: Dana's refurbished laptop, delivered 2024-06-03, asked
back on day 18: RT 1.2 (14 days) refuses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient
from record_support import POLICY, gulf_return

import claimrules.service.app as service_app
from claimrules.service import ServiceSettings, create_app

KEY = "test-key-123"


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    seen: list[Path] = []
    real = service_app.load_policy

    def counting(path: Any) -> Any:
        seen.append(Path(path))
        return real(path)

    monkeypatch.setattr(service_app, "load_policy", counting)
    return seen


@pytest.fixture
def client(tmp_path: Path, loads: list[Path]) -> Iterator[TestClient]:
    settings = ServiceSettings(policy=POLICY, ledger=str(tmp_path / "svc.sqlite"), api_key=KEY, max_body_bytes=20_000)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_decide_without_recording_needs_no_key(client: TestClient, loads: list[Path]) -> None:
    for _ in range(3):
        answer = client.post("/decide", json={"facts": gulf_return()})
        assert answer.status_code == 200
        body = answer.json()
        assert body["decision"]["outcome"] == "deny" and body["decision"]["deciding"]["clause"] == "RT 1.2"
        assert body["record"] is None
    assert len(loads) == 1  # the policy was compiled once for this worker, not per request


def test_writes_need_the_api_key(client: TestClient) -> None:
    refused = client.post("/decide", json={"facts": gulf_return(), "claim_id": "S-1"})
    assert refused.status_code == 401
    assert refused.json()["error"]["family"] == "auth" and refused.json()["error"]["field"] == "header x-api-key"
    wrong = client.post("/decide", json={"facts": gulf_return(), "claim_id": "S-1"}, headers={"x-api-key": "nope"})
    assert wrong.status_code == 401
    first = client.post("/decide", json={"facts": gulf_return(), "claim_id": "S-1"}, headers={"x-api-key": KEY})
    again = client.post("/decide", json={"facts": gulf_return(), "claim_id": "S-1"}, headers={"x-api-key": KEY})
    assert first.status_code == again.status_code == 200
    assert first.json()["new"] is True and again.json()["new"] is False
    assert again.json()["record"] == first.json()["record"]
    no_key_grant = client.post("/claims/S-1/grant", json={"staff_id": "M-1", "role": "manager",
                                                          "granted_on": "2024-06-15", "new_end": "2024-08-01"})
    assert no_key_grant.status_code == 401
    granted = client.post("/claims/S-1/grant", headers={"x-api-key": KEY},
                          json={"staff_id": "M-1", "role": "manager", "granted_on": "2024-06-15", "new_end": "2024-08-01"})
    assert granted.status_code == 200
    assert granted.json()["authority"]["status"] == "granted" and "1 August 2024" in granted.json()["confirmation"]
    story = client.get("/claims/S-1/history")
    assert [event["kind"] for event in story.json()["events"]] == ["facts", "decision", "exception"]


def test_errors_are_structured(client: TestClient) -> None:
    facts = gulf_return()
    facts["product"]["condition"] = "broken"
    bad_claim = client.post("/decide", json={"facts": facts})
    assert bad_claim.status_code == 400
    error = bad_claim.json()["error"]
    assert error["family"] == "claim" and error["field"] == "product.condition"
    assert "refurbished" in error["expected"]
    missing = client.post("/decide", json={"claim_id": "S-2"})
    assert missing.status_code == 400
    assert missing.json()["error"]["family"] == "request" and missing.json()["error"]["field"] == "facts"
    unknown = client.get("/claims/NOPE/history")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {**unknown.json()["error"], "family": "ledger", "field": "claim_id"}
    bad_role = client.post("/claims/NOPE/grant", headers={"x-api-key": KEY},
                           json={"staff_id": "M-1", "role": "manager", "granted_on": "2024-06-15", "new_end": "2024-08-01"})
    assert bad_role.status_code == 404


def test_unknown_path_and_method_are_structured_errors(client: TestClient) -> None:
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and missing.json()["error"]["family"] == "request"
    assert missing.json()["error"]["message"] == "GET /nowhere: Not Found"
    wrong_method = client.get("/decide")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["field"] == "path"


def test_request_size_limit(client: TestClient) -> None:
    facts = gulf_return()
    facts["claim"]["description"] = "x" * 30_000
    answer = client.post("/decide", json={"facts": facts})
    assert answer.status_code == 413
    assert answer.json()["error"]["family"] == "request" and answer.json()["error"]["field"] == "body"


def test_explain_letter_schema_openapi(client: TestClient) -> None:
    explained = client.post("/explain", json={"facts": gulf_return()}).json()
    assert any(trace["clause"] == "RT 1.2" for trace in explained["decision"]["trace"])
    letter = client.post("/letter", json={"facts": gulf_return(), "format": "html"})
    assert letter.status_code == 200 and letter.headers["content-type"].startswith("text/html")
    assert "RT 1.2" in letter.text and "RT 5.3" in letter.text
    schema = client.get("/schema").json()
    assert "product" in schema["properties"]
    openapi = client.get("/openapi.json").json()
    assert {"/decide", "/explain", "/letter", "/schema", "/claims/{claim_id}/grant",
            "/claims/{claim_id}/history"} <= set(openapi["paths"])
    assert {"DecideRequest", "DecideResponse", "GrantRequest", "GrantResponse", "Decision", "ErrorResponse"} <= set(
        openapi["components"]["schemas"])
