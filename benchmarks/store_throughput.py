"""Throughput of the in-memory embedded store against a locked dict, measured in the same run.

One transaction = read one key, write it, commit (one thread). The baseline does the same read and
write on a plain ``dict`` under a ``threading.Lock``. The ratio says what the transaction layer
(MVCC, conflict bookkeeping, futures) costs on this machine.

Usage::

    python benchmarks/store_throughput.py [--quick]
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable

from fdb_election import embedded


def _rate(work: Callable[[int], None], count: int) -> float:
    """Operations per second of ``work(count)`` (best of three runs)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        work(count)
        best = min(best, time.perf_counter() - start)
    return count / best


def _memory_transactions(count: int) -> None:
    db = embedded.open()
    keys = [b"key%04d" % (i % 1000) for i in range(count)]
    for key in keys:
        tr = db.create_transaction()
        value = tr[key]
        tr[key] = b"1" if not value.present() else b"2"
        tr.commit().wait()


def _dict_operations(count: int) -> None:
    data: dict[bytes, bytes] = {}
    lock = threading.Lock()
    keys = [b"key%04d" % (i % 1000) for i in range(count)]
    for key in keys:
        with lock:
            value = data.get(key)
        with lock:
            data[key] = b"1" if value is None else b"2"


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark, print a table and return the figures by name."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    args = parser.parse_args(argv)
    figures = run(quick=args.quick)
    print(f"{'measure':<28}{'value':>14}")
    print(f"{'memory store txn/s':<28}{figures['memory_txn_per_s']:>14,.0f}")
    print(f"{'locked dict read+write/s':<28}{figures['dict_ops_per_s']:>14,.0f}")
    print(f"{'dict / memory (x slower)':<28}{figures['memory_vs_dict_ratio']:>14.1f}")
    print(f"{'memory txn cost (us)':<28}{figures['memory_txn_us']:>14.1f}")
    return figures


def run(quick: bool = False) -> dict[str, float]:
    """The figures, for benchmarks/run.py (``quick``: fewer iterations)."""
    count = 2_000 if quick else 20_000
    memory_rate = _rate(_memory_transactions, count)
    dict_rate = _rate(_dict_operations, count)
    figures = {
        "memory_txn_per_s": memory_rate,
        "dict_ops_per_s": dict_rate,
        "memory_vs_dict_ratio": dict_rate / memory_rate,
        "memory_txn_us": 1e6 / memory_rate,
    }
    return figures


if __name__ == "__main__":
    main()
