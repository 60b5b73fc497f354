"""History pruning in the file backend: bounded under a steady workload, never a wrong answer.

These drive the storage backend directly with a fake wall clock (one process, so the clock need
not be shared), which lets a minute of versions pass in milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fdb_election.embedded.errors import FDBError
from fdb_election.embedded.mutations import CLEAR_RANGE, SET_VALUE
from fdb_election.embedded.sqlite import SQLiteStorage
from fdb_election.embedded.storage import MVCC_WINDOW


class FakeClock:
    """Wall-clock seconds that move only when told to."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[SQLiteStorage]:
    storage = SQLiteStorage(tmp_path / "prune.fdbe", version_clock=clock)
    yield storage
    storage.close()


def _set(store: SQLiteStorage, key: bytes, value: bytes) -> int:
    return store.commit(None, [], [(key, key + b"\x00")], [(SET_VALUE, key, value)])


def test_versions_stay_bounded_under_a_steady_election_workload(
    store: SQLiteStorage, clock: FakeClock
) -> None:
    keys = [b"leader", b"candidate/a", b"candidate/b", b"ballot"]
    counts = []
    for step in range(600):  # 120 s of commits, 5 per second
        clock.now += 0.2
        _set(store, keys[step % len(keys)], b"%d" % step)
        if step % 50 == 49:
            counts.append(store.stats())
    # Inside a 5 s window plus a 1 s pruning period, at most ~30 commits' rows and ranges
    # can be live, plus one base version per key; without pruning it would be 600.
    limit = 5 * 7 + len(keys)
    for stats in counts[1:]:
        assert stats["versions"] <= limit, counts
        assert stats["conflict_ranges"] <= limit, counts
    assert counts[-1]["keys"] == len(keys)


def test_cleared_keys_disappear_from_the_file(store: SQLiteStorage, clock: FakeClock) -> None:
    for i in range(50):
        _set(store, b"tmp/%03d" % i, b"x")
    store.commit(None, [], [(b"tmp/", b"tmp0")], [(CLEAR_RANGE, b"tmp/", b"tmp0")])
    assert store.stats()["keys"] == 50  # still there for readers inside the window
    clock.now += 20
    _set(store, b"other", b"y")
    clock.now += 2
    _set(store, b"other", b"z")
    assert store.stats()["keys"] == 1


def test_a_snapshot_inside_the_window_still_reads_its_versions(
    store: SQLiteStorage, clock: FakeClock
) -> None:
    _set(store, b"k", b"old")
    snapshot = store.read_version()
    for i in range(40):  # 4 s of newer writes, pruning included
        clock.now += 0.1
        _set(store, b"k", b"new%d" % i)
    assert store.get(b"k", snapshot) == b"old"
    assert store.get_range(b"", b"\xff", snapshot, 0, False) == [(b"k", b"old")]


def test_reads_and_conflict_checks_older_than_pruned_history_give_1007(
    store: SQLiteStorage, clock: FakeClock
) -> None:
    _set(store, b"k", b"old")
    snapshot = store.read_version()
    clock.now += 1
    _set(store, b"k", b"new")  # supersedes what the snapshot sees
    clock.now += MVCC_WINDOW / 1e6 + 2
    _set(store, b"other", b"x")  # prunes up to a horizon past the superseding write
    for read in (
        lambda: store.get(b"k", snapshot),
        lambda: store.get_range(b"", b"\xff", snapshot, 0, False),
        lambda: store.commit(snapshot, [(b"k", b"k\x00")], [(b"k", b"k\x00")], []),
    ):
        with pytest.raises(FDBError) as info:
            read()
        assert info.value.code == 1007
    assert store.get(b"k", store.read_version()) == b"new"


def test_an_idle_database_does_not_age_out_a_fresh_read_version(
    store: SQLiteStorage, clock: FakeClock
) -> None:
    _set(store, b"k", b"v")
    clock.now += 3600  # an hour without commits
    version = store.read_version()
    _set(store, b"other", b"x")  # prunes: the horizon passes the last commit
    assert store.get(b"k", version) == b"v"
    store.commit(version, [(b"k", b"k\x00")], [(b"k", b"k\x00")], [(SET_VALUE, b"k", b"w")])
    assert store.get(b"k", store.read_version()) == b"w"


def test_a_version_not_committed_yet_gives_1009(store: SQLiteStorage) -> None:
    with pytest.raises(FDBError) as info:
        store.get(b"k", store.read_version() + 1)
    assert info.value.code == 1009


def test_commit_versions_follow_the_clock_and_strictly_increase(
    store: SQLiteStorage, clock: FakeClock
) -> None:
    first = _set(store, b"k", b"1")
    same_instant = _set(store, b"k", b"2")
    clock.now += 2
    later = _set(store, b"k", b"3")
    clock.now -= 10  # the wall clock steps back
    after_step = _set(store, b"k", b"4")
    assert first < same_instant < later < after_step
    assert later - same_instant > 1_900_000  # about 1,000,000 per second
    assert store.read_version() == after_step
