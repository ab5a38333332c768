"""The ``claimrules`` console script: ``check`` asks the resident process first (if one runs),
before importing pydantic, typer or rich; everything else, and ``check`` when no resident process
answers, is the ordinary command (``claimrules.cli``), with the same output and exit code.

``python -m claimrules.cli`` never asks the resident process; ``CLAIMRULES_RESIDENT=off`` turns it off.
"""

from __future__ import annotations

import io
import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["check"]:
        from claimrules.resident.client import answer_check

        try:
            outcome = answer_check(argv)
        except KeyboardInterrupt:  # as the in-process command: exit 130, nothing printed
            sys.exit(130)
        if outcome.exit is not None:
            sys.exit(outcome.exit)
        if outcome.stdin is not None:  # already read for the resident process: the command reads it again
            sys.stdin = io.TextIOWrapper(io.BytesIO(outcome.stdin), encoding=sys.stdin.encoding, errors=sys.stdin.errors)
    from claimrules.cli import main as run

    run()


if __name__ == "__main__":
    main()
