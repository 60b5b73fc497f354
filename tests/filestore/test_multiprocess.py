"""One database file shared by real OS processes: the store's guarantees hold across them.

Children are separate Python interpreters (``procs.Child``), so locking, visibility and crash
behaviour are those of independent processes, not of threads.
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

pytestmark = pytest.mark.slow


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "shared.fdbe")


@pytest.fixture
def db(path: str) -> Iterator[Any]:
    database = embedded.open(path)
    yield database
    database.close()


def _int(value: bytes | None) -> int:
    return 0 if value is None else int(struct.unpack("<q", value)[0])


def _integrity_ok(path: str) -> bool:
    conn = sqlite3.connect(path)
    try:
        return bool(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
    finally:
        conn.close()


def test_read_modify_write_increments_from_four_processes_are_exact(db: Any, path: str) -> None:
    script = """
        n = int(sys.argv[2])
        for _ in range(n):
            transact(lambda tr: incr(tr, b"counter"))
        say("done")
    """
    with children(path, script, 4, "40") as procs:
        for child in procs:
            child.expect("done")
            child.finish()
    assert _int(db[b"counter"]) == 4 * 40


def test_a_write_from_another_process_after_my_read_gives_1020(db: Any, path: str) -> None:
    db[b"k"] = b"before"
    tr = db.create_transaction()
    assert tr[b"k"] == b"before"
    writer = Child(path, 'db[b"k"] = b"theirs"\nsay("written")')
    writer.expect("written")
    writer.finish()
    tr[b"k"] = b"mine"
    with pytest.raises(embedded.FDBError) as info:
        tr.commit().wait()
    assert info.value.code == 1020
    assert db[b"k"] == b"theirs"


def test_my_commit_makes_a_reader_in_another_process_conflict(db: Any, path: str) -> None:
    script = """
        tr = db.create_transaction()
        seen = tr[b"k"].value
        say("read", seen.decode())
        sys.stdin.readline()
        tr[b"k"] = b"child"
        try:
            tr.commit().wait()
            say("committed")
        except embedded.FDBError as e:
            say("error", e.code)
    """
    db[b"k"] = b"v1"
    child = Child(path, script)
    assert child.expect("read") == ["read", "v1"]
    db[b"k"] = b"v2"
    child.send("go")
    assert child.expect("error") == ["error", "1020"]
    child.finish()


def test_snapshot_reads_and_blind_writes_do_not_conflict_across_processes(
    db: Any, path: str
) -> None:
    db[b"k"] = b"v1"
    tr = db.create_transaction()
    assert tr.snapshot[b"k"] == b"v1"
    writer = Child(path, 'db[b"k"] = b"v2"\nsay("written")')
    writer.expect("written")
    writer.finish()
    assert tr.snapshot[b"k"] == b"v1"  # still our snapshot
    tr[b"k"] = b"v3"
    tr.commit().wait()
    assert db[b"k"] == b"v3"


def test_versionstamps_from_all_processes_are_unique_and_increase(db: Any, path: str) -> None:
    script = """
        me = int(sys.argv[2])
        for i in range(25):
            def body(tr, i=i):
                tr.set_versionstamped_value(
                    b"log/%d/%03d" % (me, i), b"\\xff" * 10 + struct.pack("<I", 0)
                )
                return tr.get_versionstamp()
            stamp = transact(body)
            say("stamp", bytes(stamp.wait()).hex())
        say("done")
    """
    reported: dict[int, list[bytes]] = {}
    with children(path, script, 4) as procs:
        for index, child in enumerate(procs):
            lines = child.finish()
            reported[index] = [bytes.fromhex(w.split()[1]) for w in lines if w.startswith("stamp")]
    everything = [s for stamps in reported.values() for s in stamps]
    assert len(everything) == 100
    assert len(set(everything)) == 100
    for stamps in reported.values():
        assert stamps == sorted(stamps)
        assert all(len(s) == 10 for s in stamps)
    stored = {kv.key: kv.value for kv in db.get_range_startswith(b"log/")}
    assert sorted(stored.values()) == sorted(everything)

    # Causality: a commit that starts after another finished gets a larger stamp.
    tr = db.create_transaction()
    tr[b"x"] = b"1"
    first = tr.get_versionstamp()
    tr.commit().wait()
    child = Child(
        path,
        """
        def body(tr):
            tr[b"x"] = b"2"
            return tr.get_versionstamp()
        say("stamp", bytes(transact(body).wait()).hex())
        """,
    )
    middle = bytes.fromhex(child.expect("stamp")[1])
    child.finish()
    tr = db.create_transaction()
    tr[b"x"] = b"3"
    last = tr.get_versionstamp()
    tr.commit().wait()
    assert bytes(first.wait()) < middle < bytes(last.wait())
    assert max(everything) < bytes(first.wait())


def test_killed_mid_transaction_leaves_nothing_behind_and_blocks_nobody(db: Any, path: str) -> None:
    script = """
        tr = db.create_transaction()
        tr[b"partial"] = b"never committed"
        tr[b"k"].wait()
        say("open")
        time.sleep(600)
    """
    child = Child(path, script)
    child.expect("open")
    child.kill()
    db[b"after"] = b"ok"
    assert db[b"partial"] is None
    assert db[b"after"] == b"ok"
    assert _integrity_ok(path)


def test_killed_inside_the_commit_section_loses_nothing_acknowledged(db: Any, path: str) -> None:
    script = """
        for i in range(5):
            db[b"acked/%d" % i] = b"yes"
            say("acked", i)
        PausingConnection.pause = True
        db[b"torn"] = b"never acknowledged"
    """
    child = Child(path, script)
    acked = [int(child.expect("acked")[1]) for _ in range(5)]
    child.expect("in-commit")  # holding SQLite's write lock, rows written, not committed
    child.kill()
    started = time.monotonic()
    db[b"after"] = b"ok"  # the lock died with the process
    assert time.monotonic() - started < WAIT
    assert db[b"torn"] is None
    for i in acked:
        assert db[b"acked/%d" % i] == b"yes"
    assert _integrity_ok(path)


def test_killed_at_a_random_moment_of_a_commit_loop_loses_nothing_acknowledged(
    db: Any, path: str
) -> None:
    script = """
        i = 0
        while True:
            db[b"loop/%06d" % i] = b"x"
            say("acked", i)
            i += 1
    """
    child = Child(path, script)
    acked = [int(child.expect("acked")[1]) for _ in range(30)]
    child.signal(signal.SIGKILL)  # most likely inside a commit: it spends its time there
    child.kill()
    present = {kv.key for kv in db.get_range_startswith(b"loop/")}
    assert {b"loop/%06d" % i for i in acked} <= present
    db[b"after"] = b"ok"
    assert _integrity_ok(path)


def test_a_stopped_process_holding_an_open_transaction_blocks_nobody(db: Any, path: str) -> None:
    script = """
        tr = db.create_transaction()
        value = tr[b"k"].value
        for kv in tr.get_range(b"", b"\\xff"):
            pass
        tr[b"k"] = b"child"
        say("open")
        sys.stdin.readline()
        try:
            tr.commit().wait()
            say("committed")
        except embedded.FDBError as e:
            say("error", e.code)
    """
    db[b"k"] = b"v0"
    child = Child(path, script)
    child.expect("open")
    child.signal(signal.SIGSTOP)
    try:
        for i in range(20):
            tr = db.create_transaction()
            tr[b"k"] = b"parent%d" % i
            assert tr[b"other"].value is None
            tr.commit().wait()
        assert db[b"k"] == b"parent19"
    finally:
        child.signal(signal.SIGCONT)
    child.send("go")
    assert child.expect("error") == ["error", "1020"]  # its read was overwritten meanwhile
    child.finish()


def test_a_process_stopped_inside_its_commit_delays_commits_but_never_reads(
    path: str,
) -> None:
    db = Database(SQLiteStorage(path, lock_timeout=0.5))
    try:
        db[b"k"] = b"v0"
        script = """
            PausingConnection.pause = True
            db[b"k"] = b"child"
            say("committed")
        """
        child = Child(path, script)
        child.expect("in-commit")
        child.signal(signal.SIGSTOP)
        try:
            assert db[b"k"] == b"v0"  # reads go on
            tr = db.create_transaction()
            tr[b"k"] = b"parent"
            with pytest.raises(embedded.FDBError) as info:
                tr.commit().wait()
            assert info.value.code == 1038  # database_locked: retryable, nothing written
            assert embedded.predicates.is_retryable(info.value)
        finally:
            child.signal(signal.SIGCONT)
        child.send("go")
        child.expect("committed")
        child.finish()
        db[b"k"] = b"parent"
        assert db[b"k"] == b"parent"
    finally:
        db.close()


def test_a_watch_in_one_process_fires_on_a_commit_from_another(db: Any, path: str) -> None:
    script = """
        import threading
        fired = threading.Event()
        value, watch = db.get_and_watch(b"leader")
        watch.on_ready(lambda _f: fired.set())
        say("watching", value.value.decode())
        if fired.wait(20):
            say("fired", time.monotonic())
        else:
            say("timeout")
    """
    db[b"leader"] = b"a"
    child = Child(path, script)
    assert child.expect("watching") == ["watching", "a"]
    db[b"leader"] = b"b"
    committed = time.monotonic()
    words = child.expect("fired")
    child.finish()
    latency = float(words[1]) - committed
    print(f"cross-process watch latency: {latency * 1000:.2f} ms")


def test_commits_wake_another_process_only_for_the_keys_it_watches(db: Any, path: str) -> None:
    """Heartbeats of other keys send no datagram to a process that watches the leader key: an
    idle process is not woken by every commit on the file."""
    script = """
        import threading
        fired = threading.Event()
        value, watch = db.get_and_watch(b"leader")
        watch.on_ready(lambda _f: fired.set())
        say("watching")
        say("fired" if fired.wait(20) else "timeout")
    """
    db[b"leader"] = b"a"
    child = Child(path, script)
    child.expect("watching")
    notifier = db._store._notifier
    original = notifier.notify
    sent: list[int] = []

    def counted(changed: Any = None, exclude: str | None = None) -> int:
        sent.append(original(changed, exclude))
        return sent[-1]

    notifier.notify = counted
    for beat in range(5):
        db[b"candidates/a"] = str(beat).encode()
    assert sent == [0] * 5
    db[b"leader"] = b"b"
    assert child.expect("fired") == ["fired"]
    child.finish()
    assert sent[-1] == 1


def test_a_watch_fires_in_this_process_on_a_commit_from_another(db: Any, path: str) -> None:
    db[b"leader"] = b"a"
    watch = db.set_and_watch(b"leader", b"a")
    assert not watch.is_ready()
    writer = Child(path, 'db[b"leader"] = b"b"\nsay("written")')
    writer.expect("written")
    writer.finish()
    fired = threading.Event()
    watch.on_ready(lambda _f: fired.set())
    assert fired.wait(WAIT), "the watch did not fire"
    watch.wait()  # fired without error
