"""Helpers the benchmark scripts share: a retried commit, a counting workload, the command line.

Kept free of timing logic: each script measures what it reports itself.
"""

from __future__ import annotations

import argparse
import struct
from collections.abc import Callable
from typing import Any

from fdb_election import embedded


def commit(db: Any, body: Callable[[Any], Any]) -> Any:
    """Run ``body(tr)`` in a new transaction and commit it, retrying retryable errors."""
    tr = db.create_transaction()
    while True:
        try:
            result = body(tr)
            tr.commit().wait()
            return result
        except embedded.FDBError as exc:
            tr.on_error(exc).wait()


def count_up(db: Any, key: bytes, n: int) -> None:
    """``n`` one-read-one-write transactions: read ``key``, write it back incremented, commit.

    The value is a little-endian signed 64-bit count; one transaction object is reused.
    """
    tr = db.create_transaction()
    for _ in range(n):
        while True:
            try:
                value = tr[key]
                count = struct.unpack("<q", bytes(value))[0] if value.present() else 0
                tr[key] = struct.pack("<q", count + 1)
                tr.commit().wait()
                tr.reset()
                break
            except embedded.FDBError as e:
                tr.on_error(e).wait()


def quick_flag(doc: str, quick_help: str, argv: list[str] | None) -> bool:
    """Parse a benchmark's command line (``--quick`` only); its description is ``doc``'s first
    line."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    return bool(parser.parse_args(argv).quick)


def print_figures(figures: dict[str, float], value_format: str, *, header: bool = False) -> None:
    """One line per figure, names aligned, values in ``value_format`` (e.g. ``".3g"``)."""
    width = max(len(name) for name in figures)
    if header:
        print(f"{'figure':<{width}}  value")
    for name, value in figures.items():
        print(f"{name:<{width}}  {value:{value_format}}")
