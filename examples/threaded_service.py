"""A service that does leader-only work with ``fdb_election.Elector`` (a background thread).

It campaigns, waits until it leads, then does one unit of work per tick for ``--seconds``; each
unit is a write fenced with ``elector.fence(tr)``, so it commits only while this process still
leads. On the way out ``stop()`` resigns, so another replica takes over within milliseconds.

Run it::

    python examples/threaded_service.py                        # a temporary embedded file
    python examples/threaded_service.py --db sqlite:/tmp/svc.fdbe --seconds 30
    python examples/threaded_service.py --db fdb:              # a FoundationDB cluster

``--db`` defaults to ``$FDB_ELECTION_DB`` when it is set. Start it twice on the same ``sqlite:``
file (two terminals): one leads, the other waits and takes over when the first exits.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any

import fdb_election

COUNTER = fdb_election.Subspace(("examples", "threaded-service", "units"))


@fdb_election.transactional
def do_unit_of_work(tr: Any, elector: fdb_election.Elector) -> int:
    """Count one unit of work, but only while this elector's tenure holds."""
    elector.fence(tr)  # raises NotLeader, or makes the commit conflict, if leadership moved
    key = COUNTER.pack((elector.process_id,))
    value = tr[key]
    done = (int(bytes(value)) if value.present() else 0) + 1
    tr[key] = b"%d" % done
    return done


def main(url: str, seconds: float) -> None:
    """Lead the election "threaded-service" on ``url`` and work for ``seconds``."""
    db = fdb_election.connect(url)
    config = fdb_election.ElectionConfig.with_lease_duration(2)  # only used if none is stored
    with fdb_election.Elector(
        db,
        "threaded-service",
        config=config,
        on_elected=lambda event: print(f"elected with ballot {event.ballot}", flush=True),
        on_demoted=lambda event: print(f"demoted: {event.reason}", flush=True),
    ) as elector:
        print(f"{elector.process_id} campaigning on {url}", flush=True)
        if not elector.wait_for_leadership(timeout=30):
            raise SystemExit("not elected within 30 s")
        done = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                done = do_unit_of_work(db, elector)
            except fdb_election.NotLeader as error:
                print(f"lost leadership, work paused: {error}", flush=True)
                elector.wait_for_leadership(timeout=30)
            time.sleep(0.1)
        print(f"did {done} units of work as leader", flush=True)
    # Leaving the with block called stop(): leadership given up, resigned, unregistered.
    print("stopped: left the election", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="a service with fdb_election.Elector")
    parser.add_argument("--db", help="memory:, sqlite:PATH or fdb: (default: a temporary file)")
    parser.add_argument("--seconds", type=float, default=2.0, help="how long to lead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        default = os.environ.get("FDB_ELECTION_DB") or f"sqlite:{scratch}/example.fdbe"
        main(args.db or default, args.seconds)
