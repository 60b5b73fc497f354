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


class RoundTrips:
    """A pipelined client's round trips: reads issued before a wait are answered together."""

    def __init__(self) -> None:
        self.batch = 0  # the batch that new reads join
        self.count = 0

    def wait_for(self, batch: int) -> None:
        if batch >= self.batch:  # not answered yet: one round trip answers everything issued
            self.count += 1
            self.batch += 1


class _Pending:
    """A read's value, available once the client has waited for the round trip it joined."""

    def __init__(self, trips: RoundTrips, value: Any) -> None:
        self._trips, self._value, self._batch = trips, value, trips.batch

    def present(self) -> bool:
        self._trips.wait_for(self._batch)
        return bool(self._value.present())

    def wait(self) -> _Pending:
        self._trips.wait_for(self._batch)
        return self

    def __bytes__(self) -> bytes:
        self._trips.wait_for(self._batch)
        return bytes(self._value)


class _PipelinedView:
    def __init__(self, view: Any, trips: RoundTrips) -> None:
        self._view, self.trips = view, trips

    def get(self, key: bytes) -> _Pending:
        return _Pending(self.trips, self._view.get(key))

    def get_range(self, *args: Any, **kwargs: Any) -> Any:
        self.trips.wait_for(self.trips.batch)  # iterated at once: a round trip of its own
        return self._view.get_range(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._view, name)


class PipelinedTransaction(_PipelinedView):
    def __init__(self, tr: Any) -> None:
        super().__init__(tr, RoundTrips())
        self.snapshot = _PipelinedView(tr.snapshot, self.trips)


class PipelinedDatabase:
    """A database whose transactions count read round trips as a cluster client would."""

    def __init__(self, db: Any) -> None:
        self._db = db
        self.transactions: list[PipelinedTransaction] = []

    def create_transaction(self) -> PipelinedTransaction:
        tr = PipelinedTransaction(self._db.create_transaction())
        self.transactions.append(tr)
        return tr

    def round_trips(self, core: Any) -> int:
        """Run one step of ``core``; the read round trips its transactions waited for."""
        self.transactions.clear()
        core.step()
        return sum(tr.trips.count for tr in self.transactions)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def test_steps_wait_for_few_read_round_trips(memory_db: Any, clock: ManualClock) -> None:
    """On a cluster, each read round trip is network latency on the step, and the handover's
    critical path is a stop step and a claim step."""
    db = PipelinedDatabase(memory_db)
    leader = make_core(db, clock, "a")
    follower = make_core(db, clock, "b", seed=1)
    start(leader)
    start(follower)
    leading: list[int] = []
    following: list[int] = []
    for _ in range(12):
        clock.advance(HEARTBEAT / 2)
        leading.append(db.round_trips(leader))
        following.append(db.round_trips(follower))
    assert leader.is_leader and not follower.is_leader
    # One round trip; two when the step also scans the candidates (every lease) or, in the
    # first steps, reads what it watches next.
    assert sorted(leading)[len(leading) // 2] == 1 and max(leading) <= 2, leading
    assert max(following[1:]) == 1, following
    leader.request_stop()
    assert db.round_trips(leader) == 1, "resign and unregister"
    assert db.round_trips(follower) <= 2, "claim: the reads, then the candidate scan"
    assert follower.is_leader
