"""An asyncio service with ``fdb_election.aio.Elector``: ``async with``, events, fenced work.

One task prints the elector's events (``Elected`` / ``Demoted`` / ``LeaderChanged``, in order)
as they come from ``events()``; the main task waits for leadership, then does fenced work for
``--seconds``. Database calls block, so the fenced transaction runs in a worker thread with
``asyncio.to_thread``; the event loop never waits on the database.

Run it::

    python examples/asyncio_service.py                    # a temporary embedded file
    python examples/asyncio_service.py --db memory: --seconds 5
    python examples/asyncio_service.py --db fdb:          # a FoundationDB cluster

``--db`` defaults to ``$FDB_ELECTION_DB`` when it is set.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from typing import Any

import fdb_election
from fdb_election import aio

HEARTBEATS = fdb_election.Subspace(("examples", "asyncio-service", "last-write"))


@fdb_election.transactional
def write_as_leader(tr: Any, elector: aio.Elector, n: int) -> None:
    """A protected write: it commits only while this elector's tenure holds."""
    elector.fence(tr)
    tr[HEARTBEATS.pack((elector.process_id,))] = b"%d" % n


async def print_events(elector: aio.Elector) -> None:
    """Print every event until the elector stops (the iterator then ends)."""
    async for event in elector.events():
        match event:
            case fdb_election.Elected(ballot=ballot):
                print(f"event: elected with ballot {ballot}", flush=True)
            case fdb_election.Demoted(reason=reason):
                print(f"event: demoted ({reason})", flush=True)
            case fdb_election.LeaderChanged(previous_id=previous):
                print(f"event: leader changed from {previous} to {event.leader_id}", flush=True)


async def main(url: str, seconds: float) -> None:
    """Lead the election "asyncio-service" on ``url`` and work for ``seconds``."""
    db = fdb_election.connect(url)
    config = fdb_election.ElectionConfig.with_lease_duration(2)  # only used if none is stored
    async with aio.Elector(db, "asyncio-service", config=config) as elector:
        printer = asyncio.create_task(print_events(elector))
        if not await elector.wait_for_leadership(timeout=30):
            raise SystemExit("not elected within 30 s")
        writes = 0
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            try:
                await asyncio.to_thread(write_as_leader, db, elector, writes)
                writes += 1
            except fdb_election.NotLeader as error:
                print(f"not leading, write refused: {error.reason}", flush=True)
                await elector.wait_for_leadership(timeout=30)
            await asyncio.sleep(0.1)
        print(f"made {writes} fenced writes as leader", flush=True)
    await printer  # stop() ended the event stream, so the printer task finishes
    print("stopped: left the election", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="asyncio service with aio.Elector")
    parser.add_argument("--db", help="memory:, sqlite:PATH or fdb: (default: a temporary file)")
    parser.add_argument("--seconds", type=float, default=2.0, help="how long to lead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        default = os.environ.get("FDB_ELECTION_DB") or f"sqlite:{scratch}/example.fdbe"
        asyncio.run(main(args.db or default, args.seconds))
