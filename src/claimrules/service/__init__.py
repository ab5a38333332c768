"""The HTTP service (``claimrules serve``): decide, explain, letter, grant, history and schema over
JSON, for claim systems not written in Python. Needs the ``service`` extra (FastAPI, uvicorn)."""

from __future__ import annotations

from claimrules.service.app import ServiceSettings, create_app

__all__ = ["ServiceSettings", "create_app"]
