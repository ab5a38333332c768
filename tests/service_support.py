"""Start ``claimrules serve`` as a real process on 127.0.0.1 and a free port, for the HTTP tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from record_support import POLICY

CLI = [sys.executable, "-c", "from claimrules.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_service(ledger: str, *, api_key: str | None = None, workers: int = 1,
                    policy: Path = POLICY) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ)
    arguments = [*CLI, "serve", "--policy", str(policy), "--ledger", ledger, "--port", str(port),
                 "--workers", str(workers)]
    if api_key is not None:
        env["TEST_CLAIMRULES_KEY"] = api_key
        arguments += ["--api-key-env", "TEST_CLAIMRULES_KEY"]
    server = subprocess.Popen(arguments, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=5) as response:
                    if json.load(response)["status"] == "ok":
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    _, err = server.communicate(timeout=10)
                    raise RuntimeError(f"claimrules serve did not start: {err}") from None
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
