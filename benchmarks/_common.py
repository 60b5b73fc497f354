"""Helpers the benchmark scripts share: a retried commit, a counting workload, the command line,
and the floor processes that idle figures are compared with.

Kept free of timing logic: each script measures what it reports itself.
"""

from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
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


# ---------------------------------------------------------------------------- floors
# Idle CPU is judged against processes that do the least any candidate must do: commit one
# write per heartbeat, then sleep. Each takes the file path and the interval in seconds and
# prints "ready" once set up. A wake-up after a sleep costs more CPU than the same work done
# warm (cold caches), so a floor only means something at the cadence it is compared with.

SQLITE_FLOOR_WORKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode = WAL")
conn.execute("PRAGMA synchronous = FULL")
conn.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB)")
interval = float(sys.argv[2])
print("ready", flush=True)
beat = 0
while True:
    beat += 1
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (b"heartbeat", str(beat).encode()))
    conn.execute("COMMIT")
    time.sleep(interval)
"""
"""Bare Python and SQLite: one fsynced one-row commit per interval."""

STORE_FLOOR_WORKER = """
import sys, time
from fdb_election import embedded
db = embedded.open(sys.argv[1])
interval = float(sys.argv[2])
print("ready", flush=True)
beat = 0
while True:
    beat += 1
    tr = db.create_transaction()
    tr[b"heartbeat"] = str(beat).encode()
    tr.commit().wait()
    time.sleep(interval)
"""
"""The same through the embedded file store: what its transactions (versions, conflict ranges,
wake-ups) add to a bare commit before any election logic."""

LAYER_FLOOR_WORKER = """
import sys, time
from fdb.subspace_impl import Subspace
import fdb_election
from fdb_election import embedded
from fdb_election.election import ElectionConfig, LeaderElection
db = embedded.open(sys.argv[1])
interval = float(sys.argv[2])
election = LeaderElection(Subspace(("floor",)))
def commit(work):
    tr = db.create_transaction()
    work(tr)
    tr.commit().wait()
commit(lambda tr: election.initialize_with_config(tr, ElectionConfig.with_lease_duration(3600.0)))
for pid in ("holder", "floor"):
    commit(lambda tr: election.register_candidate(tr, pid, 0, fdb_election.now()))
commit(lambda tr: election.try_claim_leadership(tr, "holder", 0, fdb_election.now()))
print("ready", flush=True)
while True:
    tr = db.create_transaction()
    cycle = election.cycle(tr, "floor")
    cycle.read_cycle()
    cycle.config()
    cycle.leader()
    cycle.leader_lease_ns()
    cycle.heartbeat(0, fdb_election.now())
    tr.commit().wait()
    time.sleep(interval)
"""
"""A follower's cycle through the election layer, without an elector: the reads of a cycle
(configuration, its registration, the leader record held by another candidate, the tenure)
and its heartbeat, in one transaction per interval. What an elector's own logic, its driver
and its threads add comes on top of this."""


def start_floors(directory: str, interval: float) -> dict[str, subprocess.Popen[str]]:
    """Start the floor processes (``"sqlite floor"``, ``"store floor"``, ``"layer floor"``)
    committing every ``interval`` seconds in files under ``directory``; each has printed
    "ready" on return."""
    floors: dict[str, subprocess.Popen[str]] = {}
    try:
        for name, worker, file in (
            ("sqlite floor", SQLITE_FLOOR_WORKER, "floor.sqlite"),
            ("store floor", STORE_FLOOR_WORKER, "floor.fdbe"),
            ("layer floor", LAYER_FLOOR_WORKER, "layer-floor.fdbe"),
        ):
            proc = subprocess.Popen(
                [sys.executable, "-c", worker, os.path.join(directory, file), str(interval)],
                stdout=subprocess.PIPE,
                text=True,
            )
            floors[name] = proc
            line = proc.stdout.readline() if proc.stdout else ""
            if line.strip() != "ready":
                raise RuntimeError(f"the {name} process did not start (printed {line!r})")
    except BaseException:
        stop_floors(floors)
        raise
    return floors


def stop_floors(floors: dict[str, subprocess.Popen[str]]) -> None:
    """Kill the floor processes and reap them."""
    for proc in floors.values():
        proc.kill()
    for proc in floors.values():
        proc.wait()
