"""Group commit on the file store: logical commits and fsyncs per second, against one fsync each.

Every file-store commit waits for an fsync. This measures, on one database file in a temporary
directory, small independent transactions (read one key of one's own, write it back, commit),
as hundreds of electors of one process would make them:

* ``baseline_*``: ``THREADS`` threads committing at once with grouping turned off
  (``max_group=1``: one SQLite transaction, so one fsync of the WAL, per commit, as before
  group commit; the same code path otherwise). Measured before and after the others; the
  better run is kept, so noise on the shared disk cannot flatter the ratios;
* ``threads_*``: the same threads with group commit (the default): concurrent ``tr.commit()``
  calls queue up and one SQLite transaction writes each queue;
* ``commit_many_*``: one thread committing ``BATCH`` transactions per ``db.commit_many`` call
  (what a driver running all due elector steps together does).

For each: ``commits_per_s`` (logical transactions committed per second), ``fsyncs_per_s``
(SQLite write transactions per second; each is one fsync of the write-ahead log, see
``SQLiteStorage.commit_groups``) and ``commits_per_fsync``; then the ratios of the grouped
commit rates to the baseline's. Usage: ``python benchmarks/group_commit.py [--quick]``;
``run(quick)`` is what ``benchmarks/run.py`` calls.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from _common import print_figures, quick_flag
from fdb_election import embedded
from fdb_election.embedded.database import Database
from fdb_election.embedded.sqlite import MAX_GROUP, SQLiteStorage

THREADS = 32
BATCH = 32


def _body(tr: embedded.Transaction, key: bytes, n: int) -> None:
    """A small read-write transaction on a key of its own (it never conflicts)."""
    tr[key].present()
    tr[key] = b"%d" % n


def _retried(db: Database, key: bytes, n: int) -> None:
    tr = db.create_transaction()
    while True:
        try:
            _body(tr, key, n)
            tr.commit().wait()
            return
        except embedded.FDBError as e:
            tr.on_error(e).wait()


def _figures(store: SQLiteStorage, work: Callable[[Database], None]) -> tuple[float, float]:
    """(commits/s, SQLite transactions/s) of ``work`` on a fresh database over ``store``."""
    db = Database(store)
    try:
        _retried(db, b"warm-up", 0)
        commits, groups = store.commits, store.commit_groups
        started = time.perf_counter()
        work(db)
        elapsed = time.perf_counter() - started
        return (store.commits - commits) / elapsed, (store.commit_groups - groups) / elapsed
    finally:
        db.close()


def _threads(each: int) -> Callable[[Database], None]:
    """``THREADS`` threads, each committing ``each`` transactions one after another."""

    def work(db: Database) -> None:
        def one(me: int) -> None:
            key = b"thread/%03d" % me
            for n in range(each):
                _retried(db, key, n)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    return work


def _commit_many(rounds: int) -> Callable[[Database], None]:
    """One thread: ``rounds`` calls of ``db.commit_many`` with ``BATCH`` transactions each."""

    def work(db: Database) -> None:
        for n in range(rounds):
            members = [db.create_transaction() for _ in range(BATCH)]
            for i, tr in enumerate(members):
                _body(tr, b"batch/%03d" % i, n)
            for future in db.commit_many(members):
                future.wait()  # independent keys: nothing to retry

    return work


def run(quick: bool = False) -> dict[str, float]:
    """Measure everything; return the named figures."""
    each = 20 if quick else 150  # commits per thread
    rounds = 30 if quick else 150  # commit_many calls
    with tempfile.TemporaryDirectory(prefix="fdbe-group-", dir=os.environ.get("BENCH_DIR")) as d:
        directory = Path(d)

        def measure(name: str, work: Callable[[Database], None], group: int) -> tuple[float, float]:
            return _figures(SQLiteStorage(directory / f"{name}.fdbe", max_group=group), work)

        before = measure("baseline-before", _threads(each), 1)
        threads = measure("threads", _threads(each), MAX_GROUP)
        many = measure("commit-many", _commit_many(rounds), MAX_GROUP)
        after = measure("baseline-after", _threads(each), 1)
    baseline = max(before, after)
    return {
        "baseline_commits_per_s": baseline[0],
        "baseline_fsyncs_per_s": baseline[1],
        "threads_commits_per_s": threads[0],
        "threads_fsyncs_per_s": threads[1],
        "threads_commits_per_fsync": threads[0] / threads[1],
        "commit_many_commits_per_s": many[0],
        "commit_many_fsyncs_per_s": many[1],
        "commit_many_commits_per_fsync": many[0] / many[1],
        "threads_vs_baseline_ratio": threads[0] / baseline[0],
        "commit_many_vs_baseline_ratio": many[0] / baseline[0],
    }


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Command-line entry: run, print a table, return the figures."""
    figures = run(quick=quick_flag(__doc__, "reduced run, a few seconds", argv))
    print_figures(figures, "12.2f")
    return figures


if __name__ == "__main__":
    main()
