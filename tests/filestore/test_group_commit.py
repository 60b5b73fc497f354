"""Group commit on the file store: many logical transactions, one SQLite transaction, one fsync.

The counters ``commits`` / ``commit_groups`` of :class:`SQLiteStorage` say how many transactions
were written and in how many SQLite transactions (each one fsync of the WAL). Multi-process tests
run children with ``procs.Child``; the crash tests stop a child inside a group's SQLite
transaction (``PausingConnection``) or at a random moment, then kill it.
"""

from __future__ import annotations

import signal
import sqlite3
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from procs import WAIT, Child, children

from fdb_election import embedded
from fdb_election.embedded.database import Database
from fdb_election.embedded.sqlite import SQLiteStorage
from fdb_election.transactional import commit_many


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "group.fdbe")


@pytest.fixture
def store(path: str) -> Iterator[SQLiteStorage]:
    storage = SQLiteStorage(path)
    yield storage
    storage.close()


def _codes(futures: list[Any]) -> list[int | None]:
    codes: list[int | None] = []
    for future in futures:
        try:
            future.wait()
            codes.append(None)
        except embedded.FDBError as e:
            codes.append(e.code)
    return codes


def _integrity_ok(path: str) -> bool:
    conn = sqlite3.connect(path)
    try:
        return bool(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
    finally:
        conn.close()


def _writers(db: Database, count: int, prefix: bytes = b"k") -> list[embedded.Transaction]:
    members = []
    for i in range(count):
        tr = db.create_transaction()
        assert not tr[b"%s/read/%d" % (prefix, i)].present()  # each has a read conflict range
        tr[b"%s/%d" % (prefix, i)] = b"v"
        members.append(tr)
    return members


def test_commit_many_is_one_sqlite_transaction(store: SQLiteStorage) -> None:
    db = Database(store)
    db[b"seed"] = b"1"
    groups, commits = store.commit_groups, store.commits
    assert _codes(db.commit_many(_writers(db, 50))) == [None] * 50
    assert store.commit_groups - groups == 1
    assert store.commits - commits == 50


def test_a_group_of_conflicting_members_only_writes_nothing(store: SQLiteStorage) -> None:
    db = Database(store)
    db[b"k"] = b"0"
    members = _writers(db, 3)
    for tr in members:
        assert tr[b"k"] == b"0"
    db[b"k"] = b"1"
    groups = store.commit_groups
    assert _codes(db.commit_many(members)) == [1020, 1020, 1020]
    assert store.commit_groups == groups  # rolled back: no fsync for nothing


def test_max_group_caps_the_size_of_a_group(path: str) -> None:
    storage = SQLiteStorage(path, max_group=4)
    try:
        db = Database(storage)
        assert _codes(db.commit_many(_writers(db, 10))) == [None] * 10
        assert (storage.commits, storage.commit_groups) == (10, 3)
    finally:
        storage.close()
    with pytest.raises(ValueError, match="max_group"):
        SQLiteStorage(path, max_group=0)


class _GatedConnection(sqlite3.Connection):
    """Holds the first commit that reaches the state update until the test opens the gate."""

    armed = False
    inside = threading.Event()
    gate = threading.Event()

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if _GatedConnection.armed and sql.startswith("UPDATE state"):
            _GatedConnection.armed = False
            _GatedConnection.inside.set()
            _GatedConnection.gate.wait(WAIT)
        return super().execute(sql, *args)


def test_commits_from_threads_that_queue_behind_a_commit_share_one_fsync(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect = sqlite3.connect
    monkeypatch.setattr(
        sqlite3, "connect", lambda *a, **k: connect(*a, factory=_GatedConnection, **k)
    )
    _GatedConnection.inside.clear()
    _GatedConnection.gate.clear()
    storage = SQLiteStorage(path)
    db = Database(storage)
    errors: list[BaseException] = []

    def commit(key: bytes) -> None:
        try:
            tr = db.create_transaction()
            assert not tr[key + b"/read"].present()
            tr[key] = b"v"
            tr.commit().wait()
        except BaseException as exc:
            errors.append(exc)

    try:
        _GatedConnection.armed = True
        first = threading.Thread(target=commit, args=(b"first",))
        first.start()
        assert _GatedConnection.inside.wait(WAIT)  # the first leader holds the commit section
        followers = [threading.Thread(target=commit, args=(b"t%02d" % i,)) for i in range(20)]
        for thread in followers:
            thread.start()
        deadline = time.monotonic() + WAIT
        while len(storage._queue) < 20:  # all twenty queued behind the first commit
            assert time.monotonic() < deadline, "the commits did not queue"
            time.sleep(0.001)
        _GatedConnection.gate.set()
        for thread in [first, *followers]:
            thread.join(WAIT)
        assert errors == []
        assert (storage.commits, storage.commit_groups) == (21, 2)
        assert all(db[b"t%02d" % i] == b"v" for i in range(20))
    finally:
        _GatedConnection.gate.set()
        db.close()


def test_a_group_commits_after_another_process_s_commit_and_is_checked_against_it(
    path: str,
) -> None:
    db = embedded.open(path)
    try:
        db[b"a"] = b"0"
        first, second, third = (db.create_transaction() for _ in range(3))
        assert first[b"a"] == b"0"  # the child writes it before the group commits
        first[b"x"] = b"1"
        assert not second[b"b"].present()
        second[b"y"] = b"2"
        third[b"z"] = b"3"
        stamps = [tr.get_versionstamp() for tr in (second, third)]
        child = Child(
            path,
            """
            def body(tr):
                tr[b"a"] = b"theirs"
                return tr.get_versionstamp()
            say("stamp", bytes(transact(body).wait()).hex())
            """,
        )
        theirs = bytes.fromhex(child.expect("stamp")[1])
        child.finish()
        assert _codes(db.commit_many([first, second, third])) == [1020, None, None]
        ours = [bytes(stamp.wait()) for stamp in stamps]
        assert theirs < ours[0] < ours[1]
        assert (db[b"x"], db[b"y"], db[b"z"]) == (None, b"2", b"3")
    finally:
        db.close()


def test_a_group_member_s_write_makes_another_process_s_reader_conflict(path: str) -> None:
    script = """
        tr = db.create_transaction()
        say("read", tr[b"k"].value.decode())
        sys.stdin.readline()
        tr[b"k"] = b"child"
        try:
            tr.commit().wait()
            say("committed")
        except embedded.FDBError as e:
            say("error", e.code)
    """
    db = embedded.open(path)
    try:
        db[b"k"] = b"v1"
        child = Child(path, script)
        assert child.expect("read") == ["read", "v1"]
        members = [db.create_transaction() for _ in range(3)]
        members[0][b"other"] = b"1"
        members[1][b"k"] = b"v2"
        members[2][b"more"] = b"1"
        assert _codes(db.commit_many(members)) == [None, None, None]
        child.send("go")
        assert child.expect("error") == ["error", "1020"]
        child.finish()
        assert db[b"k"] == b"v2"
    finally:
        db.close()


def test_groups_from_two_processes_lose_no_increment(path: str) -> None:
    script = """
        import threading
        def work():
            for _ in range(15):
                # Each round: two read-modify-write increments committed as one group.
                trs = [db.create_transaction(), db.create_transaction()]
                pending = list(trs)
                while pending:
                    for tr in pending:
                        incr(tr, b"counter")
                    failed = []
                    for tr, future in zip(pending, db.commit_many(pending)):
                        try:
                            future.wait()
                        except embedded.FDBError as e:
                            tr.on_error(e).wait()
                            failed.append(tr)
                    pending = failed
        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        say("done")
    """
    with children(path, script, 2) as procs:
        for child in procs:
            child.expect("done")
            child.finish()
    db = embedded.open(path)
    try:
        assert db[b"counter"] == struct.pack("<q", 2 * 3 * 15 * 2)
    finally:
        db.close()


def test_killed_inside_a_group_commit_loses_no_acknowledged_member(path: str) -> None:
    script = """
        def group(n, prefix):
            trs = []
            for i in range(n):
                tr = db.create_transaction()
                tr[b"%s/%d" % (prefix, i)] = b"yes"
                trs.append(tr)
            for future in db.commit_many(trs):
                future.wait()
        for g in range(3):
            group(10, b"acked/%d" % g)
            say("acked", g)
        PausingConnection.pause = True
        group(10, b"torn")
    """
    child = Child(path, script)
    acked = [int(child.expect("acked")[1]) for _ in range(3)]
    child.expect("in-commit")  # inside the group's SQLite transaction: all ten rows written
    child.kill()
    db = embedded.open(path)
    try:
        assert db.get_range_startswith(b"torn/") == []
        for g in acked:
            assert len(db.get_range_startswith(b"acked/%d/" % g)) == 10
        db[b"after"] = b"ok"
    finally:
        db.close()
    assert _integrity_ok(path)


def test_killed_at_a_random_moment_of_threaded_group_commits_loses_nothing_acknowledged(
    path: str,
) -> None:
    script = """
        import threading
        lock = threading.Lock()
        def work(me):
            i = 0
            while True:
                db[b"loop/%d/%06d" % (me, i)] = b"x"
                with lock:
                    say("acked", me, i)
                i += 1
        for me in range(6):
            threading.Thread(target=work, args=(me,), daemon=True).start()
        threading.Event().wait()
    """
    child = Child(path, script)
    acked = [child.expect("acked")[1:] for _ in range(120)]
    child.signal(signal.SIGKILL)  # most likely inside a group commit: they spend their time there
    child.kill()
    db = embedded.open(path)
    try:
        present = {kv.key for kv in db.get_range_startswith(b"loop/")}
        assert {b"loop/%s/%06d" % (me.encode(), int(i)) for me, i in acked} <= present
        db[b"after"] = b"ok"
    finally:
        db.close()
    assert _integrity_ok(path)


def test_the_helper_groups_the_transactions_of_one_embedded_database(store: SQLiteStorage) -> None:
    db = Database(store)
    groups = store.commit_groups
    assert _codes(commit_many(_writers(db, 5))) == [None] * 5
    assert store.commit_groups - groups == 1


# -- deferred sync -----------------------------------------------------------------------------


def _traced(store: SQLiteStorage) -> list[str]:
    """The statements the store's writer connection runs from now on."""
    statements: list[str] = []
    store._writer.set_trace_callback(statements.append)
    return statements


def _deferred(db: Database, key: bytes) -> embedded.Transaction:
    tr = db.create_transaction()
    tr[key] = b"v"
    tr.defer_sync()
    return tr


def test_a_deferred_commit_skips_the_fsync_and_a_normal_one_syncs_again(
    store: SQLiteStorage,
) -> None:
    db = Database(store)
    db[b"seed"] = b"1"
    syncs, groups = store.syncs, store.commit_groups
    statements = _traced(store)
    _deferred(db, b"lazy").commit().wait()
    assert (store.syncs - syncs, store.commit_groups - groups) == (0, 1)
    assert statements[0] == "PRAGMA synchronous = NORMAL"
    statements.clear()
    _deferred(db, b"lazy2").commit().wait()
    assert not any("synchronous" in s for s in statements)  # set once, not per commit
    db[b"synced"] = b"v"
    assert (store.syncs - syncs, store.commit_groups - groups) == (1, 3)
    assert "PRAGMA synchronous = FULL" in statements
    assert (db[b"lazy"], db[b"lazy2"], db[b"synced"]) == (b"v", b"v", b"v")


def test_a_group_syncs_when_any_member_did_not_defer(store: SQLiteStorage) -> None:
    db = Database(store)
    db[b"seed"] = b"1"  # synced: the deferred groups below come within the sync interval
    syncs = store.syncs
    assert _codes(db.commit_many([_deferred(db, b"a"), _deferred(db, b"b")])) == [None, None]
    assert store.syncs == syncs
    normal = db.create_transaction()
    normal[b"c"] = b"v"
    assert _codes(db.commit_many([_deferred(db, b"d"), normal])) == [None, None]
    assert store.syncs == syncs + 1


def test_on_error_and_reset_undo_defer_sync(store: SQLiteStorage) -> None:
    db = Database(store)
    syncs = store.syncs
    retried = _deferred(db, b"retried")
    retried.on_error(embedded.FDBError(1020)).wait()
    retried[b"retried"] = b"v"
    retried.commit().wait()
    fresh = _deferred(db, b"fresh")
    fresh.reset()
    fresh[b"fresh"] = b"v"
    fresh.commit().wait()
    assert store.syncs == syncs + 2


def test_a_deferred_commit_survives_the_kill_of_its_process(path: str) -> None:
    embedded.open(path).close()  # created by the test, so the child only writes
    child = Child(
        path,
        """
        db[b"synced"] = b"1"
        tr = db.create_transaction()
        tr[b"lazy"] = b"kept"
        tr.defer_sync()
        tr.commit().wait()
        say("committed", db._store.syncs)
        sys.stdin.readline()
        """,
    )
    assert child.expect("committed")[1] == "1"  # the first commit's sync, not the deferred one
    child.kill()
    db = embedded.open(path)
    try:
        assert db[b"lazy"] == b"kept"
    finally:
        db.close()
    assert _integrity_ok(path)


def test_deferred_commits_sync_anyway_once_the_sync_interval_has_passed(path: str) -> None:
    now = [100.0]
    store = SQLiteStorage(path, sync_interval=1.0, sync_after=0, clock=lambda: now[0])
    db = Database(store)
    try:
        _deferred(db, b"first").commit().wait()
        assert store.syncs == 1  # nothing synced yet: the first group syncs
        now[0] += 0.9
        _deferred(db, b"second").commit().wait()
        assert store.syncs == 1
        now[0] += 0.2  # 1.1 s since the last sync
        _deferred(db, b"third").commit().wait()
        assert store.syncs == 2
        _deferred(db, b"fourth").commit().wait()
        assert store.syncs == 2
    finally:
        db.close()
    always = SQLiteStorage(path, sync_interval=0, sync_after=0)
    try:
        for key in (b"a", b"b"):
            _deferred(Database(always), key).commit().wait()
        assert always.syncs == 2
    finally:
        always.close()
    with pytest.raises(ValueError, match="sync_interval"):
        SQLiteStorage(path, sync_interval=-1)


def test_a_slow_committer_syncs_one_deferred_group_in_sync_after_plus_one(path: str) -> None:
    # An elector at the default timings heartbeats every 3 s: the time bound alone would sync
    # every one of its commits. It syncs only after leaving sync_after groups unsynced.
    now = [100.0]
    store = SQLiteStorage(path, sync_interval=1.0, sync_after=2, clock=lambda: now[0])
    db = Database(store)
    synced = []
    try:
        for beat in range(7):
            now[0] += 3.0
            before = store.syncs
            _deferred(db, b"beat %d" % beat).commit().wait()
            synced.append(store.syncs > before)
        # The first finds nothing unsynced yet either: two left unsynced, then the third syncs.
        assert synced == [False, False, True, False, False, True, False]
        # A synced member (a claim) syncs its group and starts the count again.
        tr = db.create_transaction()
        tr[b"claim"] = b"synced"
        tr.commit().wait()
        assert store.syncs == 3
        now[0] += 3.0
        _deferred(db, b"after").commit().wait()
        assert store.syncs == 3
    finally:
        db.close()


def test_a_busy_committer_still_waits_for_the_sync_interval(path: str) -> None:
    now = [100.0]
    store = SQLiteStorage(path, sync_interval=1.0, sync_after=2, clock=lambda: now[0])
    db = Database(store)
    try:
        tr = db.create_transaction()
        tr[b"claim"] = b"synced"
        tr.commit().wait()
        assert store.syncs == 1
        for key in (b"a", b"b", b"c", b"d", b"e"):
            now[0] += 0.15
            _deferred(db, key).commit().wait()
        assert store.syncs == 1  # five groups left unsynced, but within one second
        now[0] += 0.3
        _deferred(db, b"due").commit().wait()
        assert store.syncs == 2
    finally:
        db.close()
    for bad in (-1, 1.5, True, "4"):
        with pytest.raises(ValueError, match="sync_after must be an int of 0 or more"):
            SQLiteStorage(path, sync_after=bad)  # type: ignore[arg-type]
