"""The resident process (issue #15): `claimrules check` answered by a started background process gives
the very bytes, on standard output and error, and the exit code the in-process command gives; it never
answers from a policy set or from code that changed since, and anything it cannot answer runs
in-process instead.

Real processes throughout: the resident process is started with `claimrules resident start` (or, to
make it fail on purpose, its server module with a patch) in a socket folder under the test's temporary
folder, and stopped (killed if need be) when the test ends. The client is `python -m claimrules.launch`,
the module the `claimrules` console script runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
NORTHWIND = ROOT / "policies" / "northwind"
BESTBUY = ROOT / "policies" / "bestbuy"
NORTHWIND_CLAIMS = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "examples" / "claims").glob("*.json"))
BESTBUY_CLAIMS = sorted(str(path.relative_to(ROOT)) for path in (BESTBUY / "examples").glob("*.json"))
BAD_CLAIMS = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "tests" / "bad_input" / "claims").iterdir())
GULF = "examples/claims/gulf-onsite-request.json"
TIMEOUT = 180


def environment(folder: Path, src: Path = SRC, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("CLAIMRULES_")}
    env.update(PYTHONPATH=str(src), CLAIMRULES_RESIDENT_DIR=str(folder), **extra)
    return env


def command(args: list[str], env: dict[str, str], *, cwd: Path = ROOT, stdin: bytes | None = None,
            stdout: Any = subprocess.PIPE) -> subprocess.CompletedProcess[bytes]:
    """`claimrules ARGS` as the console script runs it."""
    return subprocess.run([sys.executable, "-m", "claimrules.launch", *args], env=env, cwd=cwd, input=stdin,
                          stdout=stdout, stderr=subprocess.PIPE, timeout=TIMEOUT)


def in_process(args: list[str], env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    return command(args, {**env, "CLAIMRULES_RESIDENT": "off"}, **kwargs)


def result(done: subprocess.CompletedProcess[bytes]) -> tuple[int, bytes, bytes]:
    return done.returncode, done.stdout, done.stderr


@dataclass
class Resident:
    folder: Path
    env: dict[str, str]
    pid: int

    def status(self) -> dict[str, Any] | None:
        """What ``claimrules resident status`` shows, asked without importing the command (quicker)."""
        code = "import json; from claimrules.resident.control import status; print(json.dumps(status()))"
        done = subprocess.run([sys.executable, "-c", code], env=self.env, capture_output=True, text=True,
                              timeout=TIMEOUT, check=True)
        answer: dict[str, Any] | None = json.loads(done.stdout)
        return answer

    def wait_gone(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        while self.status() is not None:
            assert time.monotonic() < deadline, "the resident process did not exit"
            time.sleep(0.2)

    def checks(self) -> int:
        status = self.status()
        assert status is not None, "the resident process is not running"
        return int(status["checks"])

    def log(self) -> str:
        return "".join(path.read_text(encoding="utf-8") for path in self.folder.glob("*.log"))

    def same_as_in_process(self, args: list[str], **kwargs: Any) -> tuple[int, bytes, bytes]:
        """Run through the resident process, assert it answered and matched the in-process command."""
        before = self.checks()
        resident = result(command(args, self.env, **kwargs))
        assert self.checks() == before + 1, f"the resident process did not answer {args}"
        assert resident == result(in_process(args, self.env, **kwargs))
        return resident


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return  # already gone


def start(folder: Path, env: dict[str, str], *extra: str) -> Resident:
    done = subprocess.run([sys.executable, "-m", "claimrules.cli", "resident", "start", *extra], env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    found = re.search(r"pid (\d+)", done.stdout)
    assert found, done.stdout
    return Resident(folder, env, int(found.group(1)))


def stop(resident: Resident) -> None:
    subprocess.run([sys.executable, "-m", "claimrules.cli", "resident", "stop"], env=resident.env,
                   capture_output=True, timeout=TIMEOUT)
    _kill(resident.pid)


@pytest.fixture(scope="module")
def resident(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Resident]:
    folder = tmp_path_factory.mktemp("resident") / "sockets"
    process = start(folder, environment(folder))
    try:
        yield process
    finally:
        stop(process)


@pytest.fixture()
def own_resident(tmp_path: Path) -> Iterator[list[Resident]]:
    """Resident processes a test starts itself (and may stop); all stopped or killed at the end."""
    started: list[Resident] = []
    try:
        yield started
    finally:
        for process in started:
            stop(process)


# -- the same bytes --------------------------------------------------------------------------------

@pytest.mark.parametrize("format", ["text", "json"])  # jsonl: test_standard_input_is_sent
@pytest.mark.parametrize(("policy", "claims"), [(NORTHWIND, NORTHWIND_CLAIMS), (BESTBUY, BESTBUY_CLAIMS)],
                         ids=["northwind", "bestbuy"])
def test_every_example_gives_the_in_process_bytes(resident: Resident, policy: Path, claims: list[str], format: str) -> None:
    code, out, _ = resident.same_as_in_process(["check", *claims, "--policy", str(policy.relative_to(ROOT)),
                                                "--format", format])
    assert code == 0 and out.count(b"decision") >= len(claims)


@pytest.mark.parametrize("claim", [*NORTHWIND_CLAIMS[::15], GULF])
@pytest.mark.parametrize("format", ["text", "json"])
def test_one_claim_gives_the_in_process_bytes(resident: Resident, claim: str, format: str) -> None:
    code, out, err = resident.same_as_in_process(["check", claim, "--policy", "policies/northwind", "-f", format])
    assert (code, err) == (0, b"") and out


@pytest.mark.parametrize("claim", BESTBUY_CLAIMS[::8])
def test_one_best_buy_claim_gives_the_in_process_bytes(resident: Resident, claim: str) -> None:
    code, out, _ = resident.same_as_in_process(["check", claim, "--policy", "policies/bestbuy"])
    assert code == 0 and b"Deciding clause" in out


@pytest.mark.parametrize("format", ["text", "json", "jsonl"])
def test_bad_claims_give_the_in_process_errors(resident: Resident, format: str) -> None:
    code, _, err = resident.same_as_in_process(["check", *BAD_CLAIMS, "--policy", "policies/northwind", "-f", format])
    assert code == 3 and (format != "text" or err.count(b"error: ") == len(BAD_CLAIMS))


@pytest.mark.parametrize("args", [
    ["check", "no/such/claim.json", "--policy", "policies/northwind"],
    ["check", "tests/bad_input/claims/json-trailing-comma.json", "--policy", "policies/northwind"],
    ["check", "tests/bad_input/claims/non-utf8-bytes.bin", "--policy", "policies/northwind", "-f", "json"],
    ["check", GULF, "--policy", "tests/bad_input/policies/yaml-syntax-error"],
    ["check", GULF, "--policy", "tests/bad_input/policies/unknown-fact", "-f", "json"],
    ["check", GULF, "--policy", "tests/bad_input/policies/no-policy-set-file"],
    ["check", GULF, "--policy", "no/such/policy-folder"],
    ["check", GULF, "--policy", "policies/northwind", "--on", "2024-02-30"],
    ["check", GULF, "--policy", "policies/northwind", "--on", "2020-01-01"],
], ids=lambda args: "-".join(Path(arg).stem for arg in args[1:] if not arg.startswith("-"))[:60])
def test_bad_input_gives_the_in_process_error_and_exit_code(resident: Resident, args: list[str]) -> None:
    code, _, _ = resident.same_as_in_process(args)
    assert code in (2, 3, 4)


@pytest.mark.parametrize("args", [["check"], ["check", GULF, "--format", "xml"], ["check", "--help"],
                                  ["check", GULF, "--no-such-option"]], ids=["no-claim", "bad-format", "help", "bad-option"])
def test_usage_errors_and_help_are_drawn_in_process(resident: Resident, args: list[str]) -> None:
    """typer draws these for the caller's terminal: the resident process declines and the client runs
    the command itself, so the bytes are the in-process ones."""
    through, alone = command(args, resident.env), in_process(args, resident.env)
    assert result(through) == result(alone)
    assert through.returncode == (0 if "--help" in args else 2)


def test_standard_input_is_sent(resident: Resident) -> None:
    claim = (ROOT / GULF).read_bytes()
    code, out, _ = resident.same_as_in_process(["check", "-", "--policy", "policies/northwind"], stdin=claim)
    assert code == 0 and b"APPROVED under CP 6.2" in out
    lines = b"".join((ROOT / path).read_bytes().replace(b"\n", b" ") + b"\n" for path in NORTHWIND_CLAIMS[:5])
    code, out, _ = resident.same_as_in_process(["check", "-", "-f", "jsonl", "--policy", "policies/northwind"], stdin=lines)
    assert code == 0 and out.count(b'"source": "-:') == 5


def test_relative_paths_and_config_are_the_clients(resident: Resident, tmp_path: Path) -> None:
    # relative to the client's folder, not the resident process's
    code, out, _ = resident.same_as_in_process(["check", f"../{GULF}", "--policy", "northwind"], cwd=ROOT / "policies")
    assert code == 0 and b"CP 6.2" in out
    # the policy set from claimrules.toml found from the client's folder, and from CLAIMRULES_POLICY
    code, _, _ = resident.same_as_in_process(["check", GULF])
    assert code == 0
    env = {**resident.env, "CLAIMRULES_POLICY": str(BESTBUY)}
    claim = str(BESTBUY / "examples" / "bb-gift-card-refused.json")
    through, alone = command(["check", claim], env, cwd=tmp_path), in_process(["check", claim], env, cwd=tmp_path)
    assert result(through) == result(alone) and through.returncode == 0 and b"Deciding clause" in through.stdout
    # no policy set anywhere: the same hint
    env = {**resident.env, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    through, alone = command(["check", claim], env, cwd=tmp_path), in_process(["check", claim], env, cwd=tmp_path)
    assert result(through) == result(alone) and through.returncode == 2 and b"no policy set given" in through.stderr


def test_unwritable_standard_output_is_the_same_error(resident: Resident) -> None:
    with open("/dev/full", "wb") as full:
        through = command(["check", GULF, "--policy", "policies/northwind"], resident.env, stdout=full)
        alone = in_process(["check", GULF, "--policy", "policies/northwind"], resident.env, stdout=full)
    assert (through.returncode, through.stderr) == (alone.returncode, alone.stderr)
    assert through.returncode == 2 and b"cannot write to standard output" in through.stderr


def test_concurrent_clients_each_get_their_own_answer(resident: Resident) -> None:
    claims = [GULF, *NORTHWIND_CLAIMS[1:4]]
    expected = {claim: result(in_process(["check", claim, "--policy", "policies/northwind"], resident.env))
                for claim in claims}
    before = resident.checks()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda claim: (claim, result(command(["check", claim, "--policy", "policies/northwind"],
                                                                     resident.env))), claims * 3))
    assert all(answer == expected[claim] for claim, answer in answers)
    assert resident.checks() == before + len(answers)


def test_switched_off_the_resident_process_is_not_asked(resident: Resident) -> None:
    before = resident.checks()
    done = in_process(["check", GULF, "--policy", "policies/northwind"], resident.env)
    assert done.returncode == 0 and resident.checks() == before
    done = subprocess.run([sys.executable, "-m", "claimrules.cli", "check", GULF, "--policy", "policies/northwind"],
                          env=resident.env, cwd=ROOT, capture_output=True, timeout=TIMEOUT)
    assert done.returncode == 0 and resident.checks() == before  # python -m claimrules.cli: always in-process


def test_a_warm_check_imports_neither_pydantic_nor_typer(resident: Resident) -> None:
    probe = ("import atexit, sys\n"
             "atexit.register(lambda: sys.stderr.write(repr(sorted(m for m in ('pydantic', 'typer', 'click', 'rich', "
             "'yaml', 'claimrules.api', 'claimrules.cli') if m in sys.modules))))\n"
             f"sys.argv = ['claimrules', 'check', {GULF!r}, '--policy', 'policies/northwind']\n"
             "from claimrules.launch import main\nmain()\n")
    before = resident.checks()
    done = subprocess.run([sys.executable, "-c", probe], env=resident.env, cwd=ROOT, capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert done.returncode == 0 and "CP 6.2" in done.stdout
    assert resident.checks() == before + 1
    assert done.stderr.endswith("[]")
    # and the package itself is cheap to import: its names come on first use
    done = subprocess.run([sys.executable, "-c", "import sys, claimrules; print('pydantic' in sys.modules); "
                           "from claimrules import Decision; print('pydantic' in sys.modules)"],
                          env=resident.env, capture_output=True, text=True, timeout=TIMEOUT, check=True)
    assert done.stdout.split() == ["False", "True"]


def test_the_console_script_is_the_launcher() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["claimrules"] == "claimrules.launch:main"


# -- never stale -----------------------------------------------------------------------------------

def test_an_edited_policy_is_decided_as_edited(resident: Resident, tmp_path: Path) -> None:
    policy = tmp_path / "northwind"
    shutil.copytree(NORTHWIND, policy)
    args = ["check", str(ROOT / GULF), "--policy", str(policy)]
    first = resident.same_as_in_process(args)
    assert b"Mail-in depot repair instead of on-site service" in first[1]
    text = "".join(path.read_text(encoding="utf-8") for path in policy.glob("*.yaml"))
    assert text.count("Mail-in depot repair instead of on-site service") >= 1
    for path in policy.glob("*.yaml"):
        path.write_text(path.read_text(encoding="utf-8").replace(
            "Mail-in depot repair instead of on-site service", "Depot repair by mail (edited)"), encoding="utf-8")
    second = resident.same_as_in_process(args)
    assert b"Depot repair by mail (edited)" in second[1] and b"instead of on-site service" not in second[1]
    status = resident.status()
    assert status is not None
    held = [entry for entry in status["policies"] if entry["folder"] == os.path.realpath(policy)]
    assert len(held) == 2 and len({entry["content_sha256"] for entry in held}) == 2
    # a file added under the folder counts too, even one the policy set does not read
    (policy / "notes.txt").write_text("not read by the loader\n", encoding="utf-8")
    assert resident.same_as_in_process(args) == second
    status = resident.status()
    assert status is not None and len([e for e in status["policies"] if e["folder"] == os.path.realpath(policy)]) == 3


def test_edited_claimrules_code_is_never_used(tmp_path: Path, own_resident: list[Resident]) -> None:
    src = tmp_path / "src"
    shutil.copytree(SRC / "claimrules", src / "claimrules", ignore=shutil.ignore_patterns("__pycache__"))
    folder = tmp_path / "sockets"
    env = environment(folder, src)
    process = start(folder, env)
    own_resident.append(process)
    args = ["check", GULF, "--policy", "policies/northwind"]
    reference = result(in_process(args, env))
    assert result(command(args, env)) == reference and process.checks() == 1
    decide = src / "claimrules" / "decide.py"
    info = decide.stat()
    os.utime(decide, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))  # "touched"
    assert result(command(args, env)) == reference  # answered in-process
    process.wait_gone()  # a resident process running edited code exits
    assert "stale" in process.log()
    assert not list(folder.glob("*.sock")), "the socket is removed when it exits"


# -- robust ----------------------------------------------------------------------------------------

def _socket_of(resident: Resident) -> str:
    status = resident.status()
    assert status is not None
    return str(status["socket"])


def _ask_raw(path: str, payload: bytes) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(30)
        connection.connect(path)
        connection.sendall(payload)
        size = struct.unpack(">Q", connection.recv(8, socket.MSG_WAITALL))[0]
        data = b""
        while len(data) < size:
            data += connection.recv(size - len(data))
    answer: dict[str, Any] = json.loads(data)
    return answer


def _framed(message: Any) -> bytes:
    body = json.dumps(message).encode() if not isinstance(message, bytes) else message
    return struct.pack(">Q", len(body)) + body


def test_malformed_requests_get_an_error_answer(resident: Resident) -> None:
    path = _socket_of(resident)
    for payload, expected in [(_framed(b"{not json"), "not a JSON message"),
                              (_framed([1, 2]), "not a JSON object"),
                              (_framed({"kind": "explain"}), "unknown request kind"),
                              (struct.pack(">Q", 10**12), "bytes (at most")]:
        answer = _ask_raw(path, payload)
        assert answer["status"] == "error" and expected in answer["message"], answer
    # a well-formed request for another command is refused: only check is served
    request = _check_request(resident.env, ["letter", GULF, "--policy", "policies/northwind"])
    answer = _ask_raw(path, _framed(request))
    assert answer == {"status": "error", "message": "malformed request: the resident process runs only 'check'"}
    request = _check_request(resident.env, ["check", GULF])
    answer = _ask_raw(path, _framed({**request, "argv": "check"}))
    assert answer["status"] == "error" and "argv" in answer["message"]
    assert resident.status() is not None  # and it goes on serving
    resident.same_as_in_process(["check", GULF, "--policy", "policies/northwind"])


def _check_request(env: dict[str, str], argv: list[str]) -> dict[str, Any]:
    """A request as the client builds it (its stamp is the client's), from a process like the client."""
    code = ("import json, sys; from claimrules.resident.client import check_request; "
            "print(json.dumps(check_request(json.loads(sys.argv[1]), None)))")
    done = subprocess.run([sys.executable, "-c", code, json.dumps(argv)], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=TIMEOUT, check=True)
    request: dict[str, Any] = json.loads(done.stdout)
    return request


def _serve_patched(folder: Path, env: dict[str, str], patch: str) -> Resident:
    """The resident server with ``patch`` run first (a fault put in on purpose), detached as start does."""
    paths = subprocess.run([sys.executable, "-c", "from claimrules.resident import place; f = place.private_folder("
                            "create=True); print(place.socket_path(f)); print(place.lock_path(f)); print(place.log_path(f))"],
                           env=env, capture_output=True, text=True, timeout=TIMEOUT, check=True).stdout.split("\n")
    code = f"{patch}\nfrom claimrules.resident.server import main\nmain(['--socket', {paths[0]!r}, '--lock', {paths[1]!r}])\n"
    with open(paths[2], "ab") as log:
        process = subprocess.Popen([sys.executable, "-c", code], env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=log, start_new_session=True)
    resident = Resident(folder, env, process.pid)
    deadline = time.monotonic() + TIMEOUT
    while resident.status() is None:
        assert process.poll() is None and time.monotonic() < deadline, resident.log()
        time.sleep(0.1)
    return resident


def test_an_error_inside_the_resident_process_is_the_in_process_error(tmp_path: Path, own_resident: list[Resident]) -> None:
    folder = tmp_path / "sockets"
    env = environment(folder)
    patch = ("import claimrules.api\n"
             "def broken(self, facts, on=None): raise RuntimeError('boom')\n"
             "claimrules.api.CompiledPolicy.adjudicate = broken\n")
    own_resident.append(process := _serve_patched(folder, env, patch))
    args = ["check", GULF, "--policy", "policies/northwind"]
    through = command(args, env)
    alone = subprocess.run([sys.executable, "-c", f"{patch}import sys; sys.argv = ['claimrules', *{args!r}]\n"
                            "from claimrules.cli import main\nmain()"], env=env, cwd=ROOT, capture_output=True,
                           timeout=TIMEOUT)
    assert process.checks() == 1
    assert result(through) == result(alone)
    assert through.returncode == 5 and through.stderr == b"error: internal error (a bug in claimrules): RuntimeError: boom\n"
    assert b"Traceback" not in through.stderr


def test_an_error_escaping_the_command_runs_it_in_process(tmp_path: Path, own_resident: list[Resident]) -> None:
    folder = tmp_path / "sockets"
    env = environment(folder)
    patch = ("import claimrules.resident.policies as held\n"
             "def broken(self, folder): raise RuntimeError('boom')\n"
             "held.HeldPolicies.open = broken\n")
    own_resident.append(process := _serve_patched(folder, env, patch))
    args = ["check", GULF, "--policy", "policies/northwind"]
    through = command(args, env)
    assert result(through) == result(in_process(args, env)) and through.returncode == 0
    assert "unexpected error" in process.log() and "RuntimeError: boom" in process.log()
    assert process.status() is not None


def test_a_silent_resident_process_is_given_up_on(tmp_path: Path, own_resident: list[Resident]) -> None:
    folder = tmp_path / "sockets"
    env = environment(folder, CLAIMRULES_RESIDENT_TIMEOUT="2")
    patch = ("import time, claimrules.resident.server as server\n"
             "def hang(self, argv, prog_name): time.sleep(600)\n"
             "server.Resident.run = hang\n")
    own_resident.append(_serve_patched(folder, env, patch))
    args = ["check", GULF, "--policy", "policies/northwind"]
    through = command(args, env)
    assert result(through) == result(in_process(args, env)) and through.returncode == 0


# -- start, stop, status, the socket folder --------------------------------------------------------

def test_start_status_stop(tmp_path: Path, own_resident: list[Resident]) -> None:
    folder = tmp_path / "sockets"
    env = environment(folder)
    own_resident.append(process := start(folder, env))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    again = subprocess.run([sys.executable, "-m", "claimrules.cli", "resident", "start"], env=env, capture_output=True,
                           text=True, timeout=TIMEOUT)
    assert again.returncode == 0 and again.stdout.startswith(f"already running: pid {process.pid}")
    text = subprocess.run([sys.executable, "-m", "claimrules.cli", "resident", "status"], env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert text.returncode == 0 and text.stdout.startswith(f"running: pid {process.pid}, up ")
    (sock,) = folder.glob("*.sock")
    assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o600
    stopped = subprocess.run([sys.executable, "-m", "claimrules.cli", "resident", "stop"], env=env, capture_output=True,
                             text=True, timeout=TIMEOUT)
    assert stopped.stdout == f"stopped: pid {process.pid}\n"
    assert not sock.exists()
    status = subprocess.run([sys.executable, "-m", "claimrules.cli", "resident", "status"], env=env, capture_output=True,
                            text=True, timeout=TIMEOUT)
    assert (status.returncode, status.stdout) == (1, "not running\n")
    # and check goes on working, in-process
    assert command(["check", GULF, "--policy", "policies/northwind"], env).returncode == 0


def test_a_socket_left_behind_is_cleaned_up_by_start(tmp_path: Path, own_resident: list[Resident]) -> None:
    folder = tmp_path / "sockets"
    folder.mkdir(mode=0o700)
    env = environment(folder)
    path = subprocess.run([sys.executable, "-c", "from claimrules.resident import place; "
                           "print(place.socket_path(place.private_folder(create=False)))"],
                          env=env, capture_output=True, text=True, timeout=TIMEOUT, check=True).stdout.strip()
    left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left.bind(path)
    left.close()  # the file stays, nobody listens: as after a killed process
    assert Path(path).exists()
    args = ["check", GULF, "--policy", "policies/northwind"]
    assert result(command(args, env)) == result(in_process(args, env))  # nobody answers: in-process
    own_resident.append(process := start(folder, env))
    assert process.checks() == 0
    process.same_as_in_process(args)


def test_it_exits_when_idle(tmp_path: Path, own_resident: list[Resident]) -> None:
    folder = tmp_path / "sockets"
    own_resident.append(process := start(folder, environment(folder), "--idle-minutes", "0.02"))
    process.wait_gone()
    assert "idle: exiting" in process.log()
    assert not list(folder.glob("*.sock"))


@pytest.mark.parametrize("problem", ["group-readable", "a-link", "not-mine"])
def test_a_folder_others_can_use_is_refused(tmp_path: Path, problem: str) -> None:
    folder = tmp_path / "sockets"
    if problem == "group-readable":
        folder.mkdir(mode=0o700)
        folder.chmod(0o750)
        expected = "can be used by others"
    elif problem == "a-link":
        (tmp_path / "real").mkdir(mode=0o700)
        folder.symlink_to(tmp_path / "real")
        expected = "is not a folder"
    else:
        if os.getuid() == 0:
            folder.mkdir(mode=0o700)
            os.chown(folder, 12345, 12345)
        else:
            folder = Path("/")
        expected = "not to you"
    env = environment(folder)
    done = subprocess.run([sys.executable, "-m", "claimrules.cli", "resident", "start"], env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and expected in done.stderr
    assert not list(folder.glob("*.sock"))
    args = ["check", GULF, "--policy", "policies/northwind"]
    through = command(args, env)
    assert result(through) == result(in_process(args, env)) and through.returncode == 0
