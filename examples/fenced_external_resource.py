"""Fencing an external resource with the ballot: the resource refuses a former leader's token.

``elector.fence(tr)`` only protects writes to FoundationDB. For anything else (a file store, a
queue, another database), send the ballot along with every write as a *fencing token*, and let
the resource refuse a token lower than the highest it has seen. Ballots never go backwards, and
each new tenure's ballot is higher than every ballot of the tenures before it.

``TokenCheckingStore`` below stands in for such a resource: a small SQLite table that checks the
token and writes in one transaction. ``replica-a`` leads and writes; it is then replaced by
``replica-b`` (as after a pause: here an operator's step-down), which writes with its higher
ballot; ``replica-a``'s job, unaware, writes once more and is refused by the resource itself.

Run it::

    python examples/fenced_external_resource.py            # a temporary embedded file
    python examples/fenced_external_resource.py --db fdb:  # the election on a cluster

``--db`` (default ``$FDB_ELECTION_DB`` when set) is the election's database; the resource is
always a SQLite file in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import threading

import fdb_election


class StaleToken(Exception):
    """The resource has already accepted a write with a higher fencing token."""


class TokenCheckingStore:
    """A key-value resource that accepts a write only if its token is >= every token seen."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT)")
        self._db.execute("CREATE TABLE IF NOT EXISTS fence (id INTEGER PRIMARY KEY, token INT)")

    def write(self, key: str, value: str, token: int) -> None:
        """Check the token and write in one transaction, so no check-then-write race exists."""
        with self._db:  # BEGIN ... COMMIT (ROLLBACK on an exception)
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT token FROM fence WHERE id = 1").fetchone()
            if row is not None and token < row[0]:
                raise StaleToken(f"token {token} is below {row[0]}, already used by a newer leader")
            self._db.execute("INSERT OR REPLACE INTO fence VALUES (1, ?)", (token,))
            self._db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, value))

    def read(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])


def main(url: str, resource_path: str) -> None:
    """Two tenures write to the resource; the first tenure's late write is refused."""
    db = fdb_election.connect(url)
    store = TokenCheckingStore(resource_path)
    name, config = "fenced-external", fdb_election.ElectionConfig.with_lease_duration(2)
    with fdb_election.Elector(db, name, process_id="replica-a", config=config) as a:
        if not a.wait_for_leadership(timeout=30) or a.ballot is None:
            raise SystemExit("replica-a was not elected")
        token_a = a.ballot
        print(f"replica-a elected with ballot {token_a}", flush=True)
        store.write("report", "written by replica-a", token_a)

        follows = threading.Event()  # set once replica-b runs and has seen who leads
        b = fdb_election.Elector(
            db, name, process_id="replica-b", on_leader_change=lambda _: follows.set()
        )
        with b:
            follows.wait(timeout=30)
            fdb_election.request_step_down(db, name, "replica-a")
            if not b.wait_for_leadership(timeout=30) or b.ballot is None:
                raise SystemExit("replica-b did not take over")
            print(f"replica-b elected with ballot {b.ballot}", flush=True)
            store.write("report", "written by replica-b", b.ballot)

            try:
                store.write("report", "late write by replica-a", token_a)
            except StaleToken as refused:
                print(f"resource refused replica-a's write: {refused}", flush=True)
            else:
                raise SystemExit("BUG: the resource accepted a former leader's token")
            print(f"resource holds: {store.read('report')}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="fence an external resource with the ballot")
    parser.add_argument("--db", help="memory:, sqlite:PATH or fdb: (default: a temporary file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        default = os.environ.get("FDB_ELECTION_DB") or f"sqlite:{scratch}/example.fdbe"
        main(args.db or default, f"{scratch}/resource.sqlite")
