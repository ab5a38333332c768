"""Many claims against one policy set: streaming, ordered, on all cores, resumable.

``adjudicate_many(policy, claims)`` yields one :class:`BatchResult` per claim, in input order: a
decision, or the error that kept that claim from being decided (a bad claim never stops the batch
and is never dropped). ``decide_jsonl`` does the same for a JSON Lines or CSV file and writes JSON
Lines, one record per input line:

    {"line": 7, "decision": {...}}                      a decided claim
    {"line": 8, "error": {"family": "claim", ...}}      a line that could not be decided

Memory stays flat: the input is read lazily and at most ``window`` chunks are in flight. With
``workers > 1`` a process pool decides the chunks. A worker forked from the caller decides with the
caller's compiled policy; a spawned one (where the platform cannot fork) loads and compiles it once
from its folder, checked against the caller's fingerprint. Records come back in input order.
Because there is exactly one record per input line, in order, an interrupted run resumes after the
last complete record (see :func:`resume_point`).
"""

from __future__ import annotations

import csv
import gc
import io
import json
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, TypeVar

from claimrules.api import CompiledPolicy, load_policy
from claimrules.decision import Decision
from claimrules.errors import ClaimError, ClaimrulesError, PolicyError
from claimrules.facts import ClaimFacts, parse_claim, read_claim_text

__all__ = [
    "BatchResult",
    "adjudicate_many",
    "csv_claim",
    "decide_jsonl",
    "decide_records",
    "read_claims",
    "resume_point",
]

#: Claims per task sent to a worker: large enough to amortise the inter-process round trip.
CHUNK = 64



@dataclass(frozen=True, slots=True)
class BadInput:
    """An input record that is not a claim at all (e.g. a CSV row with too many cells)."""

    message: str
    expected: str | None = None


Item = ClaimFacts | Mapping[str, Any] | str | bytes | BadInput
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class BatchResult:
    """One claim's outcome in a batch: ``decision`` or ``error`` (a dict, see ``ClaimrulesError.as_dict``)."""

    line: int
    decision: Decision | None = None
    error: dict[str, object] | None = None

    @property
    def ok(self) -> bool:
        return self.decision is not None


# -- one process's decider -------------------------------------------------------------------------

class _Decider:
    """A compiled policy and the per-claim work shared by every way of running a batch."""

    def __init__(self, policy: CompiledPolicy, on: date | None, trace: bool) -> None:
        self.policy = policy
        self.on = on
        self.exclude = None if trace else {"trace"}

    def decide(self, line: int, item: Item) -> BatchResult:
        try:
            return BatchResult(line, decision=self.policy.adjudicate(_facts(item, line, self.policy), self.on))
        except ClaimrulesError as error:
            return BatchResult(line, error=error.as_dict())
        except Exception as problem:  # a bug in claimrules: reported on this line, the batch goes on
            return BatchResult(line, error=_internal(problem))

    def record(self, line: int, item: Item) -> str:
        """The JSON Lines record for one input line (no newline)."""
        result = self.decide(line, item)
        if result.decision is not None:
            return f'{{"line":{line},"decision":{result.decision.model_dump_json(exclude=self.exclude)}}}'
        error = json.dumps(result.error, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        return f'{{"line":{line},"error":{error}}}'


def _facts(item: Item, line: int, policy: Any) -> ClaimFacts:
    """One input item as claim facts, read with the policy's vocabulary."""
    if isinstance(item, ClaimFacts):
        return item
    source = f"line {line}"
    if isinstance(item, BadInput):
        raise ClaimError(item.message, file=source, expected=item.expected)
    if isinstance(item, (str, bytes)):
        if not item.strip():
            raise ClaimError("empty line", file=source, expected="one claim as a JSON object per line")
        return parse_claim(read_claim_text(item, source=source), policy, source=source)
    if isinstance(item, CsvClaim):
        return parse_claim(typed_cells(item, policy.vocabulary), policy, source=source)
    return parse_claim(item, policy, source=source)


def _internal(problem: Exception) -> dict[str, object]:
    return {"family": "internal", "message": f"{type(problem).__name__}: {problem}",
            "text": f"internal error (a bug in claimrules): {type(problem).__name__}: {problem}"}


def settle_heap() -> None:
    """In a process claimrules owns (the batch command, a pool worker), once the policy set is
    compiled: move everything alive to the collector's permanent generation (``gc.freeze``), so
    the compiled policy is not traversed again by every collection of the millions of short-lived
    objects a batch makes (14% less CPU per record, bench/RESULTS.md). Never called on a library
    caller's process: freezing is process-wide."""
    gc.collect()
    gc.freeze()


#: The caller's compiled policies while their pools start, by (folder, fingerprint): a worker
#: forked from the caller decides with the caller's copy, compiled already (see ``_run``).
_INHERITED: dict[tuple[str, str], CompiledPolicy] = {}


@lru_cache(maxsize=4)
def _worker_decider(policy_dir: str, fingerprint: str, on: date | None, trace: bool) -> _Decider:
    """The policy of a worker process (pool worker or Dask worker): the caller's own compiled
    policy where the worker was forked from the caller, else compiled once here from its folder
    and checked to be the one the caller compiled (a folder edited since would decide differently)."""
    policy = _INHERITED.get((policy_dir, fingerprint))
    if policy is None or policy.program.network.closed:
        policy = load_policy(policy_dir)
    if policy.fingerprint != fingerprint:
        raise PolicyError(f"the policy changed while the batch ran (fingerprint {policy.fingerprint}, "
                          f"expected {fingerprint})", file=policy_dir)
    return _Decider(policy, on, trace)


def _decide_chunk(args: tuple[str, str, date | None, bool, bool, Sequence[tuple[int, Item]]]) -> list[Any]:
    """Pool task: a chunk of (line, item) decided in a worker; records (str) or BatchResults."""
    policy_dir, fingerprint, on, trace, as_records, chunk = args
    fresh = _worker_decider.cache_info().currsize == 0
    decider = _worker_decider(policy_dir, fingerprint, on, trace)
    if fresh:  # the pool's worker processes are claimrules' own
        settle_heap()
    if as_records:
        return [decider.record(line, item) for line, item in chunk]
    return [decider.decide(line, item) for line, item in chunk]


def decide_partition(items: Iterable[tuple[int, Item]], policy_dir: str, fingerprint: str,
                     on: date | None = None, trace: bool = False) -> list[str]:
    """JSON Lines records for one partition of (line, claim) pairs: the function a Dask worker runs
    (see ``claimrules.scaleout``). The worker keeps the compiled policy between partitions."""
    decider = _worker_decider(policy_dir, fingerprint, on, trace)
    return [decider.record(line, item) for line, item in items]


# -- ordered, bounded parallel map --------------------------------------------------------------------

def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _ordered_pool_map(task: Callable[[T], R], jobs: Iterable[T], workers: int, window: int) -> Iterator[R]:
    """``map(task, jobs)`` on a process pool, in order, with at most ``window`` jobs in flight
    (``Pool.imap`` would read the whole input ahead of the workers).

    Workers are forked where the platform can (they start at once and do not re-run the caller's
    main module, and use the caller's compiled policy); elsewhere they are spawned, the caller's
    script needs the usual ``if __name__ == "__main__":`` guard, and each worker compiles the
    policy itself on its first task.
    """
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method))
    pending: deque[Future[R]] = deque()
    try:
        for job in jobs:
            pending.append(pool.submit(task, job))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _resolve(policy: CompiledPolicy | str | Path) -> CompiledPolicy:
    return policy if isinstance(policy, CompiledPolicy) else load_policy(policy)


def _policy_dir(policy: CompiledPolicy) -> str:
    if policy.path is None:
        raise PolicyError("this compiled policy was not loaded from a folder, so worker processes cannot load it",
                          help="use claimrules.load_policy(folder), or workers=1")
    return str(policy.path)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _run(policy: CompiledPolicy | str | Path, numbered: Iterable[tuple[int, Item]], *, on: date | None,
         trace: bool, workers: int | None, as_records: bool, chunk: int, window: int | None) -> Iterator[Any]:
    compiled = _resolve(policy)
    count = default_workers() if workers is None else max(1, workers)
    if count == 1:
        decider = _Decider(compiled, on, trace)
        for line, item in numbered:
            yield decider.record(line, item) if as_records else decider.decide(line, item)
        return
    policy_dir, fingerprint = _policy_dir(compiled), compiled.fingerprint
    jobs = ((policy_dir, fingerprint, on, trace, as_records, piece) for piece in _chunks(numbered, chunk))
    # Forked workers find the caller's compiled policy here and skip loading and compiling it
    # again (about 0.25 s of CPU each on the reference set, before their first claim, and the
    # compiled policy's memory stays shared); spawned workers compile it from its folder.
    inherit = (policy_dir, fingerprint) not in _INHERITED
    if inherit:
        _INHERITED[(policy_dir, fingerprint)] = compiled
    try:
        for results in _ordered_pool_map(_decide_chunk, jobs, count, window or 4 * count):
            yield from results
    finally:
        if inherit:
            del _INHERITED[(policy_dir, fingerprint)]


def adjudicate_many(policy: CompiledPolicy | str | Path, claims: Iterable[Item], *, on: date | None = None,
                    workers: int | None = None, chunk: int = CHUNK) -> Iterator[BatchResult]:
    """Decide every claim of ``claims`` (``ClaimFacts``, mappings, or JSON text), lazily and in order.

    One :class:`BatchResult` per claim, numbered from 1; a claim that cannot be decided carries its
    error instead of a decision. ``workers=None`` (the default) uses every core: a process pool
    whose workers each compile the policy once from its folder; ``workers=1`` decides here.
    """
    yield from _run(policy, enumerate(claims, start=1), on=on, trace=True, workers=workers, as_records=False,
                    chunk=chunk, window=None)


def decide_records(policy: CompiledPolicy | str | Path, numbered: Iterable[tuple[int, Item]], *,
                   on: date | None = None, trace: bool = False, workers: int | None = None,
                   chunk: int = CHUNK) -> Iterator[str]:
    """JSON Lines records (without newline) for numbered claims, in order."""
    yield from _run(policy, numbered, on=on, trace=trace, workers=workers, as_records=True, chunk=chunk, window=None)


# -- files ----------------------------------------------------------------------------------------------

class CsvClaim(dict[str, Any]):
    """A claim read from a CSV row: its cells are text, typed by the policy's vocabulary when decided."""


def typed_cells(document: dict[str, Any], vocabulary: Any, prefix: str = "") -> dict[str, Any]:
    """CSV text as the vocabulary's types: 'true'/'false' for a bool, digits for an integer or a
    decimal; everything else (dates, amounts, text) as JSON text would give it. A cell that is not
    of its fact's type stays text, so the claim model names the field and the expected type."""
    import re
    from decimal import Decimal, InvalidOperation

    typed: dict[str, Any] = {}
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            typed[key] = typed_cells(value, vocabulary, path + ".")
        elif isinstance(value, list):
            typed[key] = [typed_cells(item, vocabulary, path + "[].") if isinstance(item, dict) else item
                          for item in value]
        else:
            spec = vocabulary.specs.get(path)
            kind = spec.type if spec is not None else None
            text = str(value).strip()
            if kind == "bool" and text.lower() in ("true", "false"):
                typed[key] = text.lower() == "true"
            elif kind == "integer" and re.fullmatch(r"-?[0-9]{1,18}", text):
                typed[key] = int(text)
            elif kind == "decimal" and re.fullmatch(r"-?[0-9]{1,20}(\.[0-9]{1,20})?", text):
                try:
                    typed[key] = Decimal(text)
                except InvalidOperation:
                    typed[key] = value
            else:
                typed[key] = value
    return typed


def csv_claim(row: Mapping[str, str]) -> dict[str, Any]:
    """A CSV row as a claim: each column is a dotted fact path, a number selects a list item.

    ``claim.type``, ``product.price.amount``, ``product.price.currency``, ``extensions.0.new_end``...
    An empty cell is a fact the claim does not give. Text is converted by the claim model as JSON
    text would be ("true", "2025-03-01", "299.00").
    """
    document: dict[str, Any] = {}
    for column, cell in row.items():
        if column is None or cell is None or cell == "":
            continue
        parts = column.strip().split(".")
        if not all(parts):
            raise ClaimError(f"column '{column}' is not a dotted fact path", field=column,
                             expected="a path such as product.price.amount")
        node: Any = document
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            following = parts[index + 1] if not last else None
            fresh: Any = cell if last else ([] if following is not None and following.isdigit() else {})
            if part.isdigit():
                if not isinstance(node, list):
                    raise ClaimError(f"column '{column}': '{part}' selects a list item of something that is not a list",
                                     field=column, expected="a number only after a list fact")
                position = int(part)
                if position > len(node):
                    raise ClaimError(f"column '{column}': list item {position} comes before item {len(node)}",
                                     field=column, expected="list items numbered from 0 without gaps")
                if position == len(node):
                    node.append(fresh)
                node = node[position]
            else:
                if not isinstance(node, dict):
                    raise ClaimError(f"column '{column}' mixes a list item and a field", field=column)
                if last and part in node:
                    raise ClaimError(f"column '{column}' appears twice", field=column, expected="each column once")
                node = node.setdefault(part, fresh)
    return document


def _jsonl_lines(stream: IO[bytes], skip: int) -> Iterator[tuple[int, Item, int]]:
    position = 0
    for line, raw in enumerate(stream, start=1):
        position += len(raw)
        if line > skip:
            yield line, raw.rstrip(b"\r\n"), position


def _csv_rows(stream: IO[bytes], skip: int) -> Iterator[tuple[int, Item, int]]:
    """CSV records numbered by the file line they start on (the header is line 1)."""
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        return
    start = reader.line_num + 1
    for row in reader:
        line = start
        start = reader.line_num + 1
        if line <= skip:
            continue
        item: Item
        if not any(cell.strip() for cell in row):
            item = ""  # reported as an empty line
        elif len(row) != len(header):
            item = BadInput(f"{len(row)} cells for {len(header)} columns", expected="one cell per header column")
        else:
            try:
                item = CsvClaim(csv_claim(dict(zip(header, row))))
            except ClaimError as error:
                item = BadInput(error.message, expected=error.expected)
        yield line, item, stream.tell()


def read_claims(path: Path, *, format: str | None = None, skip: int = 0) -> Iterator[tuple[int, Item, int]]:
    """(line number, claim, bytes read so far) for each claim of a JSON Lines or CSV file, after line ``skip``."""
    kind = format or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    with path.open("rb") as stream:
        if kind == "csv":
            yield from _csv_rows(stream, skip)
        else:
            yield from _jsonl_lines(stream, skip)


def resume_point(output: Path) -> int:
    """The input line after which an interrupted batch resumes: that of the last complete record.

    A record cut short by the interruption (no final newline) is removed first, so the output
    again ends with a complete record and the next one written is the next line's.
    """
    if not output.exists() or output.stat().st_size == 0:
        return 0
    with output.open("r+b") as stream:
        size = stream.seek(0, os.SEEK_END)
        position, tail = size, b""
        while position > 0:
            step = min(65536, position)
            position -= step
            stream.seek(position)
            tail = stream.read(step) + tail
            if tail.count(b"\n") >= 2 or (position == 0 and b"\n" in tail):
                break
        end = tail.rfind(b"\n")
        if end < 0:
            stream.truncate(0)
            return 0
        stream.truncate(position + end + 1)
        last = tail[: end].rsplit(b"\n", 1)[-1]
    try:
        line = json.loads(last)["line"]
    except (ValueError, KeyError, TypeError):
        raise ClaimError("the last record of the output is not a batch record", file=str(output),
                         expected="an output file written by claimrules batch") from None
    if not isinstance(line, int) or line < 1:
        raise ClaimError("the last record of the output has no line number", file=str(output))
    return line


def decide_jsonl(policy: CompiledPolicy | str | Path, claims: Path, output: IO[str], *, format: str | None = None,
                 skip: int = 0, on: date | None = None, trace: bool = False, workers: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> tuple[int, int]:
    """Decide every claim in ``claims`` after line ``skip``, writing one record per line to ``output``.

    ``progress(records, bytes_read)`` is called after each record. Returns (records, errors).
    """
    positions: deque[int] = deque()

    def numbered() -> Iterator[tuple[int, Item]]:
        for line, item, position in read_claims(claims, format=format, skip=skip):
            positions.append(position)
            yield line, item

    records = errors = 0
    for record in decide_records(policy, numbered(), on=on, trace=trace, workers=workers):
        output.write(record)
        output.write("\n")
        records += 1
        if is_error_record(record):
            errors += 1
        position = positions.popleft()
        if progress is not None:
            progress(records, position)
    return records, errors


def is_error_record(record: str) -> bool:
    """Whether a JSON Lines record of a batch is an error record (without parsing it)."""
    return record[record.index(",") + 1:].startswith('"error"')
