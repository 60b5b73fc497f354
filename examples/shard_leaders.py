"""Shard leaders: one election per shard, spread over workers by priority, moved on shutdown.

Every worker runs one ``Elector`` per shard (elections ``shard-0`` ... ``shard-N``). A worker
asks for a higher priority on the shards it prefers (here: shard i prefers worker i mod 2), and
the election hands each shard to its preferred live worker: a leader that sees a live candidate
of strictly higher priority steps down for it (preemption is a handover, never an overlap).
When a worker stops, its shards move to the remaining worker within milliseconds.

Both workers run in this process to keep the example self-contained; in production each is its
own process or host running the same code with its own ``--worker`` name.

Run it::

    python examples/shard_leaders.py                       # a temporary embedded file
    python examples/shard_leaders.py --shards 16 --db fdb: # a FoundationDB cluster

``--db`` defaults to ``$FDB_ELECTION_DB`` when it is set.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import ExitStack
from typing import Any

import fdb_election

PREFERRED, OTHER = 10, 0  # priorities: higher wins the shard


def start_worker(stack: ExitStack, db: Any, worker: int, shards: int) -> list[str]:
    """Start one elector per shard for ``worker``; the stack stops them. Returns shard names."""
    config = fdb_election.ElectionConfig.with_lease_duration(1)  # only used if none is stored
    names = [f"shard-{i}" for i in range(shards)]
    for i, name in enumerate(names):
        priority = PREFERRED if i % 2 == worker else OTHER
        elector = fdb_election.Elector(
            db, name, process_id=f"worker-{worker}", priority=priority, config=config
        )
        stack.enter_context(elector)
    return names


@fdb_election.transactional
def leader_of(tr: Any, name: str) -> str | None:
    """Who leads election ``name`` now, read from the database (as ``fdb-election status``)."""
    election = fdb_election.LeaderElection(fdb_election.election_subspace(name))
    state = election.get_leader_raw(tr)
    return None if state is None else state.leader_id


def wait_until(db: Any, names: list[str], want: dict[str, str], timeout: float = 30) -> None:
    """Print and return once every shard is led by the wanted worker (or fail at ``timeout``)."""
    end = time.monotonic() + timeout
    while (now := {name: leader_of(db, name) for name in names}) != want:
        if time.monotonic() > end:
            raise SystemExit(f"shards did not settle: {now}")
        time.sleep(0.05)
    for name, leader in now.items():
        print(f"  {name} led by {leader}", flush=True)


def main(url: str, shards: int) -> None:
    """Two workers split the shards; worker-0 stops and worker-1 takes every shard."""
    db = fdb_election.connect(url)
    with ExitStack() as worker_1:
        names = start_worker(worker_1, db, 1, shards)
        with ExitStack() as worker_0:
            start_worker(worker_0, db, 0, shards)
            print("both workers running:", flush=True)
            wait_until(db, names, {n: f"worker-{i % 2}" for i, n in enumerate(names)})
        print("worker-0 stopped:", flush=True)
        wait_until(db, names, dict.fromkeys(names, "worker-1"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="shard leaders: one election per shard")
    parser.add_argument("--db", help="memory:, sqlite:PATH or fdb: (default: a temporary file)")
    parser.add_argument("--shards", type=int, default=6, help="number of shards")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        default = os.environ.get("FDB_ELECTION_DB") or f"sqlite:{scratch}/example.fdbe"
        main(args.db or default, args.shards)
