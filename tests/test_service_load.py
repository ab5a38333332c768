"""A short, bounded run of the service load test (bench/service_load.py) in CI: real server process on
127.0.0.1, concurrent clients, no request may fail. The 20-client, 30-second figures are in
bench/RESULTS.md."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from record_support import ROOT


def test_service_under_concurrent_load_answers_every_request() -> None:
    pytest.importorskip("fastapi")
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "service_load.py"), "--clients", "6", "--seconds", "4",
                           "--workers", "1"], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["errors"] == 0
    assert figures["requests"] > 20
