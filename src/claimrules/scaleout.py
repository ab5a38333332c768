"""The same batch adjudication on a Dask cluster (``pip install 'claimrules[dask]'``).

``decide_bag(bag, policy)`` maps a ``dask.bag`` of ``(line, claim)`` pairs to JSON Lines records,
partition by partition; every worker loads and compiles the policy once (from the same folder
path, checked against the fingerprint of the caller's policy) and keeps it for later partitions.
``decide_jsonl_on_dask`` streams a claims file through a cluster in windows of partitions, writing
the records in input order: the bytes are those of a single-process ``claimrules batch``.

See docs/scale-out.md for running it on a real cluster.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import IO, Any

from claimrules.api import CompiledPolicy
from claimrules.batch import Item, _chunks, _policy_dir, decide_partition, is_error_record, read_claims
from claimrules.errors import PolicyError

__all__ = ["decide_bag", "decide_jsonl_on_dask"]

#: Claims per partition, and partitions per window sent to the cluster at once.
PARTITION = 256
WINDOW_PARTITIONS = 16


def _dask() -> Any:
    try:
        import dask.bag
        import distributed
    except ImportError as problem:
        raise PolicyError(f"Dask is not installed ({problem.name})",
                          help="pip install 'claimrules[dask]'") from None
    return dask.bag, distributed


def decide_bag(bag: Any, policy: CompiledPolicy, *, on: date | None = None, trace: bool = False) -> Any:
    """A bag of JSON Lines records (str) from a bag of ``(line, claim)`` pairs, partition by partition."""
    return bag.map_partitions(decide_partition, _policy_dir(policy), policy.fingerprint, on, trace)


def decide_jsonl_on_dask(address: str | Any, policy: CompiledPolicy, claims: Path, output: IO[str], *,
                         format: str | None = None, skip: int = 0, on: date | None = None, trace: bool = False,
                         progress: Callable[[int, int], None] | None = None,
                         partition: int = PARTITION, window: int = WINDOW_PARTITIONS) -> tuple[int, int]:
    """Decide the claims of a file on the cluster at ``address`` (or a ``distributed.Client``).

    The file is read here, in windows of ``window`` partitions; two windows are in flight at once
    and their records are written in input order. Returns (records, errors).
    """
    bags, distributed = _dask()
    client = address if isinstance(address, distributed.Client) else distributed.Client(address)
    try:
        records = errors = 0
        in_flight: deque[tuple[Any, int]] = deque()

        def drain() -> None:
            nonlocal records, errors
            future, position = in_flight.popleft()
            for record in future.result():
                output.write(record)
                output.write("\n")
                records += 1
                errors += is_error_record(record)
            if progress is not None:
                progress(records, position)

        for pieces in _chunks(_windows(read_claims(claims, format=format, skip=skip), partition), window):
            numbered = [pair for piece, _ in pieces for pair in piece]
            bag = bags.from_sequence(numbered, partition_size=partition)
            in_flight.append((client.compute(decide_bag(bag, policy, on=on, trace=trace)), pieces[-1][1]))
            if len(in_flight) >= 2:
                drain()
        while in_flight:
            drain()
        return records, errors
    finally:
        if client is not address:
            client.close()


def _windows(rows: Iterator[tuple[int, Item, int]], size: int) -> Iterator[tuple[list[tuple[int, Item]], int]]:
    """Partitions of (line, claim) pairs, each with the input position after its last claim."""
    for piece in _chunks(rows, size):
        yield [(line, item) for line, item, _ in piece], piece[-1][2]
