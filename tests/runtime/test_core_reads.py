"""An elector's steady steps read each key at most once per transaction."""

from __future__ import annotations

from collections import Counter
from typing import Any

from elector_harness import CONFIG, make_core, start

from fdb_election.runtime import ManualClock

HEARTBEAT = CONFIG.heartbeat_interval.total_seconds()


class CountingDatabase:
    """A database whose transactions count the point reads issued on them, per key."""

    def __init__(self, db: Any) -> None:
        self._db = db
        self.transactions: list[CountingTransaction] = []

    def create_transaction(self) -> CountingTransaction:
        tr = CountingTransaction(self._db.create_transaction())
        self.transactions.append(tr)
        return tr

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


class CountingTransaction:
    def __init__(self, tr: Any) -> None:
        self._tr = tr
        self.reads: Counter[bytes] = Counter()
        self.snapshot = _CountingView(tr.snapshot, self.reads)

    def get(self, key: bytes) -> Any:
        self.reads[bytes(key)] += 1
        return self._tr.get(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tr, name)


class _CountingView:
    def __init__(self, view: Any, reads: Counter[bytes]) -> None:
        self._view = view
        self._reads = reads

    def get(self, key: bytes) -> Any:
        self._reads[bytes(key)] += 1
        return self._view.get(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._view, name)


def step_reading_each_key_once(db: CountingDatabase, core: Any) -> None:
    db.transactions.clear()
    core.step()
    assert db.transactions, "the step ran a transaction"
    for tr in db.transactions:
        twice = {key: n for key, n in tr.reads.items() if n > 1}
        assert not twice, f"{core.process_id} read keys more than once: {twice}"


def test_leader_and_follower_steps_read_no_key_twice(memory_db: Any, clock: ManualClock) -> None:
    db = CountingDatabase(memory_db)
    leader = make_core(db, clock, "a")
    follower = make_core(db, clock, "b", seed=1)
    start(leader)
    start(follower)
    assert leader.is_leader
    for _ in range(6):
        clock.advance(HEARTBEAT / 2)
        for core in (leader, follower):
            step_reading_each_key_once(db, core)
    assert leader.is_leader and not follower.is_leader
    # The stop step resigns and unregisters: one read of each key too.
    leader.request_stop()
    step_reading_each_key_once(db, leader)
    assert not leader.is_leader
    step_reading_each_key_once(db, follower)
    assert follower.is_leader
