"""Embedded-only behaviour: injected clock, fault hook, bounded memory, backend interface."""

from __future__ import annotations

import random

from store_helpers import error_code
from test_store_retry import FakeClock

from fdb_election import embedded
from fdb_election.embedded.memory import MemoryStorage
from fdb_election.embedded.storage import Storage


def fake_db():
    clock = FakeClock()
    return embedded.open(clock=clock, sleep=clock.sleep, rng=random.Random(1)), clock


def test_memory_storage_satisfies_the_protocol():
    store: Storage = MemoryStorage(lambda: 0.0)
    assert store.read_version() >= 0


def test_versions_follow_the_clock_and_increase_per_commit():
    db, clock = fake_db()
    versions = []
    for _ in range(3):
        tr = db.create_transaction()
        tr[b"k"] = b"v"
        tr.commit().wait()
        versions.append(tr.get_committed_version())
    assert versions[0] < versions[1] < versions[2]
    clock.now += 2
    tr = db.create_transaction()
    assert tr.get_read_version().wait() >= versions[-1] + 2_000_000 - 10


def test_fault_hook_commit_fails_and_writes_nothing():
    db, _clock = fake_db()
    events = []

    def hook(event, tr):
        events.append(event)
        return 1020 if event == "commit" else None

    db.set_fault_hook(hook)
    tr = db.create_transaction()
    tr[b"k"] = b"v"
    assert error_code(lambda: tr.commit().wait()) == 1020
    db.set_fault_hook(None)
    assert db[b"k"] is None
    assert events == ["commit"]


def test_fault_hook_committed_reports_error_but_data_is_durable():
    db, _clock = fake_db()
    db.set_fault_hook(lambda event, tr: 1021 if event == "committed" else None)
    tr = db.create_transaction()
    tr[b"k"] = b"v"
    assert error_code(lambda: tr.commit().wait()) == 1021
    db.set_fault_hook(None)
    assert db[b"k"] == b"v"


def test_fault_hook_read_version():
    db, _clock = fake_db()
    db.set_fault_hook(lambda event, tr: 1037 if event == "read_version" else None)
    tr = db.create_transaction()
    assert error_code(lambda: tr[b"k"].present()) == 1037
    db.set_fault_hook(None)
    tr.on_error(1037).wait()
    assert not tr[b"k"].present()


def test_history_is_pruned_under_a_steady_workload():
    clock = FakeClock()
    store = MemoryStorage(clock)
    db = embedded.open(clock=clock, sleep=clock.sleep)
    db._store = store  # the same backend, observed directly
    for i in range(2000):
        tr = db.create_transaction()
        assert tr[b"hot"] is not None
        tr[b"hot"] = b"%d" % i
        tr.clear_range(b"tmp", b"tmq")
        tr[b"tmp%d" % (i % 10)] = b"x"
        tr.add_write_conflict_range(b"r", b"s")
        tr.commit().wait()
        clock.now += 0.01  # 100 commits per virtual second: 500 in the 5 s window
    stats = store.stats()
    assert stats["commit_records"] <= 510
    assert stats["versions"] <= 3 * 510 + 20  # hot + one set + one cleared key per commit
    assert stats["range_conflicts"] <= 1100
    assert db[b"hot"] == b"1999"


def test_old_snapshot_still_readable_inside_window_after_pruning():
    db, clock = fake_db()
    db[b"k"] = b"old"
    reader = db.create_transaction()
    assert reader[b"k"] == b"old"
    for i in range(50):
        clock.now += 0.09
        db[b"k"] = b"%d" % i
    assert reader[b"k"] == b"old"
    clock.now += 1
    assert error_code(lambda: reader[b"k"].present()) == 1007


def test_deleted_keys_disappear_from_memory():
    clock = FakeClock()
    db = embedded.open(clock=clock)
    for i in range(100):
        db[b"k%d" % i] = b"v"
    del db[b"":b"\xff"]
    clock.now += 6
    db[b"trigger"] = b"prune"
    assert db._store.stats()["keys"] == 1
