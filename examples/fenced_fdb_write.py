"""Fenced writes inside FoundationDB: a former leader's write is refused, not committed.

Two replicas, ``replica-a`` and ``replica-b``, run in this one process (in production they are
separate processes or hosts). ``replica-a`` leads and starts a job that remembers its tenure
(process id and ballot) and fences every write with it. An operator then asks ``replica-a`` to
step down (what ``fdb-election resign --id replica-a`` does) and ``replica-b`` takes over. The
old job, still running, tries one more write: the fence refuses it with ``NotLeader``, so the
store only ever holds writes made under the current leadership.

Run it::

    python examples/fenced_fdb_write.py                   # a temporary embedded file
    python examples/fenced_fdb_write.py --db fdb:         # a FoundationDB cluster

``--db`` defaults to ``$FDB_ELECTION_DB`` when it is set.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
from typing import Any

import fdb_election

NAME = "fenced-fdb-write"
ELECTION = fdb_election.LeaderElection(fdb_election.election_subspace(NAME))
OWNER_KEY = fdb_election.Subspace(("examples", NAME)).pack(("owner",))


@fdb_election.transactional
def protected_write(tr: Any, process_id: str, ballot: int) -> None:
    """Write the owner record, but only while ``process_id`` holds the tenure of ``ballot``.

    The fence reads the leader record in this transaction: if leadership has moved, it raises
    ``NotLeader``; if it moves after the read but before the commit, the commit conflicts and
    the retry raises ``NotLeader``.
    """
    ELECTION.fence(tr, process_id, ballot)
    tr[OWNER_KEY] = f"{process_id}@{ballot}".encode()


def main(url: str) -> None:
    """Elect replica-a, hand over to replica-b, and show replica-a's late write refused."""
    db = fdb_election.connect(url)
    config = fdb_election.ElectionConfig.with_lease_duration(2)
    with fdb_election.Elector(db, NAME, process_id="replica-a", config=config) as a:
        if not a.wait_for_leadership(timeout=30):
            raise SystemExit("replica-a was not elected")
        token = a.ballot  # the job's fencing token: the ballot of replica-a's tenure
        assert token is not None
        print(f"replica-a elected with ballot {token}", flush=True)
        protected_write(db, "replica-a", token)
        print(f"replica-a wrote owner = {bytes(db[OWNER_KEY]).decode()}", flush=True)

        follows = threading.Event()  # set once replica-b runs and has seen who leads
        b = fdb_election.Elector(
            db, NAME, process_id="replica-b", on_leader_change=lambda _: follows.set()
        )
        with b:
            follows.wait(timeout=30)
            fdb_election.request_step_down(db, NAME, "replica-a")  # the operator's step-down
            if not b.wait_for_leadership(timeout=30) or b.ballot is None:
                raise SystemExit("replica-b did not take over")
            print(f"replica-b elected with ballot {b.ballot}", flush=True)
            protected_write(db, "replica-b", b.ballot)

            try:  # replica-a's job did not notice it lost leadership and writes again
                protected_write(db, "replica-a", token)
            except fdb_election.NotLeader as refused:
                print(f"stale write refused: {refused.reason}", flush=True)
            else:
                raise SystemExit("BUG: a former leader's write committed")
            print(f"owner is still {bytes(db[OWNER_KEY]).decode()}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="fenced writes inside FoundationDB")
    parser.add_argument("--db", help="memory:, sqlite:PATH or fdb: (default: a temporary file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        default = os.environ.get("FDB_ELECTION_DB") or f"sqlite:{scratch}/example.fdbe"
        main(args.db or default)
