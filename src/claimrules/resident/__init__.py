"""The resident process: an opt-in background ``claimrules`` that keeps compiled policy sets and
answers ``check`` for a thin client, so a command takes milliseconds instead of a cold start.

    claimrules resident start      # then every `claimrules check ...` is answered by it
    claimrules resident status
    claimrules resident stop

Pieces, each importable alone: ``place`` (the private socket folder), ``stamp`` (the code the process
runs), ``protocol`` (one framed JSON message each way), ``client`` (the thin client: standard
library only), ``policies`` (compiled policy sets held by content), ``server`` (the process),
``control`` (start, stop, status). See docs/resident.md.

Nothing here is imported by the core; the package itself imports nothing.
"""
