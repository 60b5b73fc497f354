"""A power loss may undo the commits electors let skip their fsync, and must never matter.

On the file store, heartbeats, refreshes and resignations are committed without waiting for the
disk (``defer_sync``); claims sync. An OS crash kills every process sharing the file and keeps
the state of the last commit that synced (commits reach the disk in order, so that state
includes every earlier deferred commit). :class:`PowerLossStore` models exactly that on the
memory store, and these tests check that no fencing token is handed out twice across a reboot,
which is all that the deferred commits could break.
"""

from __future__ import annotations

import random
import time
from typing import Any

import hypothesis.strategies as st
from elector_harness import at_most_one_leader, make_core, new_election, start
from hypothesis import given, settings

from fdb_election.election import LeaderState
from fdb_election.embedded.database import Database
from fdb_election.embedded.memory import MemoryStorage
from fdb_election.embedded.mutations import SET_VALUE
from fdb_election.embedded.storage import CommitOutcome, CommitRequest
from fdb_election.runtime import ElectorCore, ManualClock


class PowerLossStore:
    """A memory store that keeps what an OS crash would leave on disk: everything up to the last
    commit that asked for a sync."""

    def __init__(self, inner: MemoryStorage | None = None) -> None:
        self.inner = inner if inner is not None else MemoryStorage(time.monotonic)
        self.syncs = 0
        self.on_disk: list[tuple[bytes, bytes]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def commit(self, *request: Any, sync: bool = True) -> int:
        version = self.inner.commit(*request, sync=sync)
        if sync:
            self._synced()
        return version

    def commit_batch(self, requests: list[CommitRequest]) -> list[CommitOutcome]:
        outcomes = self.inner.commit_batch(requests)
        if any(r.sync for r, o in zip(requests, outcomes, strict=True) if isinstance(o, int)):
            self._synced()
        return outcomes

    def _synced(self) -> None:
        self.syncs += 1
        self.on_disk = self.inner.get_range(b"", b"\xff", self.inner.read_version(), 0, False)

    def reboot(self) -> Database:
        """A new database holding what reached the disk (every process died with the host)."""
        inner = MemoryStorage(time.monotonic)
        inner.commit(None, [], [], [(SET_VALUE, key, value) for key, value in self.on_disk])
        return Database(PowerLossStore(inner))


def leader_record(db: Database) -> LeaderState | None:
    tr = db.create_transaction()
    return new_election().get_leader_raw(tr)


def run_until_led(cores: list[ElectorCore], clock: ManualClock, rng: random.Random) -> int:
    """Step the cores in random order, 0-0.1 s apart, until one leads; its fencing token."""
    for _ in range(2000):
        core = rng.choice(cores)
        core.step()
        at_most_one_leader(cores)
        leaders = [c.ballot for c in cores if c.ballot is not None]
        if leaders:
            return leaders[0]
        clock.advance(rng.uniform(0.0, 0.1))
    raise AssertionError("nobody was elected after the reboot")


def test_a_power_loss_undoes_refreshes_but_not_the_claim(clock: ManualClock) -> None:
    store = PowerLossStore()
    a = make_core(Database(store), clock, "a")
    start(a)
    token = a.ballot
    assert token is not None
    syncs = store.syncs
    for _ in range(5):
        clock.advance(0.3)
        a.step()
    assert a.is_leader and store.syncs == syncs  # five refreshes, no fsync
    db = store.reboot()
    record = leader_record(db)
    assert record is not None and record.ballot == token  # the claim's, not the last refresh's
    cores = [make_core(db, clock, "a"), make_core(db, clock, "b")]
    for core in cores:
        start(core)
    assert run_until_led(cores, clock, random.Random(1)) > token


def test_a_resignation_lost_in_a_power_loss_is_waited_out(clock: ManualClock) -> None:
    store = PowerLossStore()
    db = Database(store)
    a = make_core(db, clock, "a")
    start(a)
    token = a.ballot
    assert token is not None
    a.request_stop()
    a.step()  # nobody to hand over to: resigned and unregistered, not synced
    assert leader_record(db) is None
    rebooted = store.reboot()
    record = leader_record(rebooted)
    assert record is not None and record.leader_id == "a"
    b2 = make_core(rebooted, clock, "b")
    start(b2)
    assert not b2.is_leader  # the record's lease is waited out, as after a crash
    assert run_until_led([b2], clock, random.Random(2)) > token


def test_a_handover_survives_a_power_loss_through_its_own_sync(clock: ManualClock) -> None:
    store = PowerLossStore()
    db = Database(store)
    a, b = make_core(db, clock, "a"), make_core(db, clock, "b")
    start(a)
    start(b)
    a.request_stop()
    syncs = store.syncs
    a.step()  # hands over to b: the claim it writes for b syncs
    assert store.syncs == syncs + 1
    b.step()  # takes the tenure up without a commit
    assert b.is_leader and store.syncs == syncs + 1
    record = leader_record(store.reboot())
    assert record is not None and (record.leader_id, record.ballot) == ("b", b.ballot)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_no_fencing_token_is_handed_out_twice_across_a_power_loss(seed: int) -> None:
    rng = random.Random(seed)
    clock = ManualClock(start=1000.0)
    store = PowerLossStore()
    db = Database(store)
    cores = {pid: make_core(db, clock, pid, priority=rng.choice([0, 1])) for pid in "abc"}
    issued: set[int] = set()
    for _ in range(rng.randint(5, 300)):
        pid = rng.choice("abc")
        core = cores[pid]
        if rng.random() < 0.03:  # stop (resign, unregister) and start again under the same id
            core.request_stop()
            core.step()
            core = cores[pid] = make_core(db, clock, pid, priority=rng.choice([0, 1]))
        core.step()
        at_most_one_leader(cores.values())
        issued.update(c.ballot for c in cores.values() if c.ballot is not None)
        clock.advance(rng.uniform(0.0, 0.15))
    rebooted = store.reboot()
    clock.advance(rng.uniform(0.0, 5.0))
    fresh = [make_core(rebooted, clock, pid) for pid in "abc"]
    token = run_until_led(fresh, clock, rng)
    assert token > max(issued, default=0), f"token {token} was handed out before the power loss"
