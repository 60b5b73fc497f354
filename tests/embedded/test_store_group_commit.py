"""Transactions committed together: each keeps its own conflict check, version and outcome.

``commit_many`` (``fdb_election.transactional``) commits a list of transactions at once on any
database: one group commit on the embedded store (one fsync on the file store), concurrent
``commit()`` calls on a cluster. The first tests hold on every backend; the ``embedded`` ones
check what ``Database.commit_many`` adds there: the members are ordered as given.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from store_helpers import committed, error_code, ready_event

from backends import close_backend, open_backend
from fdb_election.transactional import commit_many


def outcomes(futures: list[Any]) -> list[int | None]:
    """The error code of each commit future (None for a commit that succeeded)."""
    return [error_code(future.wait) for future in futures]


def stamp_value() -> bytes:
    return b"\xff" * 10 + struct.pack("<I", 0)


@pytest.fixture(params=["memory", "sqlite"])
def embedded_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The embedded stores only: what ``Database.commit_many`` promises beyond a cluster."""
    db = open_backend(request.param, tmp_path)
    try:
        yield db
    finally:
        close_backend(db)


# -- every backend -------------------------------------------------------------------------


def test_two_members_that_read_and_write_one_key_commit_exactly_one(db: Any) -> None:
    committed(db, lambda tr: tr.set(b"k", b"0"))
    members = [db.create_transaction() for _ in range(2)]
    for value, tr in zip((b"1", b"2"), members, strict=True):
        assert tr[b"k"] == b"0"
        tr[b"k"] = value
    codes = outcomes(commit_many(members))
    assert sorted(codes, key=str) == [1020, None]
    winner = (b"1", b"2")[codes.index(None)]
    assert db[b"k"] == winner


def test_independent_members_all_commit_with_their_own_versionstamps(db: Any) -> None:
    members = [db.create_transaction() for _ in range(8)]
    stamps = []
    for i, tr in enumerate(members):
        assert not tr[b"other/%d" % i].present()  # a read: each has read conflicts
        tr.set_versionstamped_value(b"log/%d" % i, stamp_value())
        stamps.append(tr.get_versionstamp())
    assert outcomes(commit_many(members)) == [None] * 8
    got = [bytes(stamp.wait()) for stamp in stamps]
    assert len(set(got)) == 8
    stored = {kv.key: kv.value for kv in db.get_range_startswith(b"log/")}
    assert [stored[b"log/%d" % i] for i in range(8)] == got
    for tr, stamp in zip(members, got, strict=True):
        assert int.from_bytes(stamp[:8], "big") == tr.get_committed_version()


def test_a_member_refused_before_its_commit_leaves_the_others_alone(db: Any) -> None:
    good = db.create_transaction()
    good[b"good"] = b"1"
    too_long = db.create_transaction()
    too_long[b"x" * 10_001] = b"v"  # deferred 2102, raised by its commit
    blind = db.create_transaction()
    blind[b"blind"] = b"1"
    assert outcomes(commit_many([good, too_long, blind])) == [None, 2102, None]
    assert db[b"good"] == b"1" and db[b"blind"] == b"1"


def test_a_watch_fires_on_a_write_committed_in_a_group(db: Any) -> None:
    committed(db, lambda tr: tr.set(b"watched", b"0"))
    watch = committed(db, lambda tr: tr.watch(b"watched"))
    fired = ready_event(watch)
    writer, other = db.create_transaction(), db.create_transaction()
    writer[b"watched"] = b"1"
    other[b"elsewhere"] = b"1"
    assert outcomes(commit_many([other, writer])) == [None, None]
    assert fired.wait(30), "the watch did not fire"
    watch.wait()


def test_a_member_s_own_watch_fails_when_it_conflicts(db: Any) -> None:
    committed(db, lambda tr: tr.set(b"k", b"0"))
    first, second = db.create_transaction(), db.create_transaction()
    for tr in (first, second):
        assert tr[b"k"] == b"0"
        tr[b"k"] = b"mine"
    watches = [first.watch(b"w"), second.watch(b"w")]
    codes = outcomes(commit_many([first, second]))
    loser = codes.index(1020)
    assert error_code(watches[loser].wait) == 1020
    assert not watches[1 - loser].is_ready()  # the winner's watch is active
    watches[1 - loser].cancel()


# -- the embedded store: members in the order given ------------------------------------------


def test_a_member_that_read_what_an_earlier_member_writes_fails_alone(embedded_db: Any) -> None:
    db = embedded_db
    committed(db, lambda tr: [tr.set(b"a", b"0"), tr.set(b"b", b"0")])
    first, second, third = (db.create_transaction() for _ in range(3))
    assert first[b"a"] == b"0"
    first[b"a"] = b"first"
    assert second[b"a"] == b"0"  # first writes it: second must not commit after first
    second[b"b"] = b"second"
    assert third[b"b"] == b"0"  # second does not commit, so third's read stays valid
    third[b"c"] = b"third"
    assert outcomes(db.commit_many([first, second, third])) == [None, 1020, None]
    assert db[b"a"] == b"first" and db[b"b"] == b"0" and db[b"c"] == b"third"


def test_an_earlier_member_does_not_conflict_with_a_later_one(embedded_db: Any) -> None:
    db = embedded_db
    committed(db, lambda tr: tr.set(b"k", b"0"))
    reader, writer = db.create_transaction(), db.create_transaction()
    assert reader[b"k"] == b"0"
    reader[b"seen"] = b"0"
    writer[b"k"] = b"1"  # blind: commits after the reader, whose read stays valid
    assert outcomes(db.commit_many([reader, writer])) == [None, None]
    assert db[b"k"] == b"1" and db[b"seen"] == b"0"


def test_members_get_increasing_versions_and_stamps_in_the_order_given(
    embedded_db: Any,
) -> None:
    db = embedded_db
    before = db.create_transaction()
    before[b"before"] = b"1"
    before.commit().wait()
    members = [db.create_transaction() for _ in range(5)]
    stamps = []
    for i, tr in enumerate(members):
        tr.set_versionstamped_value(b"log/%d" % i, stamp_value())
        stamps.append(tr.get_versionstamp())
    assert outcomes(db.commit_many(members)) == [None] * 5
    versions = [before.get_committed_version()] + [tr.get_committed_version() for tr in members]
    assert versions == sorted(set(versions))
    got = [bytes(stamp.wait()) for stamp in stamps]
    assert got == sorted(set(got))


def test_later_members_see_what_earlier_members_wrote(embedded_db: Any) -> None:
    db = embedded_db
    committed(db, lambda tr: [tr.set(b"tmp/1", b"x"), tr.set(b"tmp/2", b"x")])
    members = [db.create_transaction() for _ in range(4)]
    for tr in members:
        tr.add(b"counter", struct.pack("<q", 1))
    members[1].set(b"tmp/3", b"x")
    members[2].clear_range(b"tmp/", b"tmp0")  # clears what the store and member 1 hold
    members[3].set(b"tmp/4", b"x")
    assert outcomes(db.commit_many(members)) == [None] * 4
    assert db[b"counter"] == struct.pack("<q", 4)
    assert [kv.key for kv in db.get_range_startswith(b"tmp/")] == [b"tmp/4"]


def test_commit_many_of_nothing_and_of_a_foreign_transaction(embedded_db: Any) -> None:
    from fdb_election import embedded

    db = embedded_db
    assert db.commit_many([]) == []
    mine = db.create_transaction()
    mine[b"k"] = b"v"
    foreign = embedded.open().create_transaction()
    with pytest.raises(ValueError, match="created by this database"):
        db.commit_many([mine, foreign])
    assert db[b"k"] is None  # refused before anything was committed
    assert outcomes(db.commit_many([mine])) == [None]


def test_a_transaction_given_twice_commits_once(embedded_db: Any) -> None:
    db = embedded_db
    tr = db.create_transaction()
    tr.add(b"n", struct.pack("<q", 1))
    assert outcomes(db.commit_many([tr, tr])) == [None, 2017]
    assert db[b"n"] == struct.pack("<q", 1)


def test_threads_committing_at_once_lose_no_update(embedded_db: Any) -> None:
    db = embedded_db
    threads, each = 8, 25

    def work(me: int) -> None:
        tr = db.create_transaction()
        for _ in range(each):
            while True:
                try:
                    value = tr[b"shared"]
                    n = struct.unpack("<q", bytes(value))[0] if value.present() else 0
                    tr[b"shared"] = struct.pack("<q", n + 1)
                    tr[b"own/%d" % me] = struct.pack("<q", n)
                    tr.commit().wait()
                    tr.reset()
                    break
                except Exception as e:
                    tr.on_error(e).wait()

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert db[b"shared"] == struct.pack("<q", threads * each)
