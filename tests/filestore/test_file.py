"""The database file: permissions, persistence, and clear errors for files that are not ours."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from fdb_election import embedded
from fdb_election.embedded.sqlite import FORMAT_VERSION, FileStoreError


def test_file_wal_and_shared_memory_are_private_to_the_user(tmp_path: Path) -> None:
    path = tmp_path / "private.fdbe"
    db = embedded.open(str(path))
    try:
        db[b"k"] = b"v"
        for name in ("private.fdbe", "private.fdbe-wal", "private.fdbe-shm"):
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name
    finally:
        db.close()


def test_data_survives_closing_and_reopening(tmp_path: Path) -> None:
    path = str(tmp_path / "persist.fdbe")
    db = embedded.open(path)
    db[b"a"] = b"1"
    db[b"b"] = b"2"
    del db[b"b"]
    db.close()
    again = embedded.open(path)
    try:
        assert again[b"a"] == b"1"
        assert again[b"b"] is None
        # Versions keep increasing across reopenings.
        tr = again.create_transaction()
        tr[b"c"] = b"3"
        tr.commit().wait()
        assert tr.get_committed_version() > 0
    finally:
        again.close()


def test_a_file_that_is_not_sqlite_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("my shopping list\n" * 10)
    with pytest.raises(FileStoreError, match="not an fdb-election database file"):
        embedded.open(str(path))
    assert path.read_text().startswith("my shopping list")  # untouched


def test_an_sqlite_file_of_another_application_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(FileStoreError, match="not an fdb-election database"):
        embedded.open(str(path))


def test_a_file_of_a_newer_format_is_rejected(tmp_path: Path) -> None:
    path = str(tmp_path / "future.fdbe")
    embedded.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE fdb_election_format SET version = ?", (FORMAT_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(FileStoreError, match="newer than this version understands"):
        embedded.open(path)


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileStoreError, match="does not exist"):
        embedded.open(str(tmp_path / "no" / "such" / "dir" / "db.fdbe"))


def test_a_directory_is_not_a_database_file(tmp_path: Path) -> None:
    with pytest.raises(FileStoreError, match="not a regular file"):
        embedded.open(str(tmp_path))


def test_a_path_below_a_regular_file_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(FileStoreError, match="does not exist"):
        embedded.open(str(blocker / "db.fdbe"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_an_unwritable_directory_is_a_clear_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        with pytest.raises(FileStoreError, match="writable"):
            embedded.open(str(locked / "db.fdbe"))
    finally:
        locked.chmod(0o700)


def test_an_empty_file_becomes_a_new_database(tmp_path: Path) -> None:
    path = tmp_path / "empty.fdbe"
    path.touch()
    db = embedded.open(str(path))
    try:
        db[b"k"] = b"v"
        assert db[b"k"] == b"v"
    finally:
        db.close()


def test_use_after_close_is_an_error_not_a_hang(tmp_path: Path) -> None:
    db = embedded.open(str(tmp_path / "closed.fdbe"))
    db.close()
    with pytest.raises(Exception, match="closed"):
        db[b"k"] = b"v"


_OPEN_AT = """
import sys, time
from fdb_election import embedded
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
db = embedded.open(sys.argv[1])
tr = db.create_transaction()
tr.add(b"opened", (1).to_bytes(8, "little"))
tr.commit().wait()
print("ok", flush=True)
"""


@pytest.mark.slow
def test_processes_opening_a_new_file_at_the_same_moment_all_succeed(tmp_path: Path) -> None:
    """Creating the file and switching it to WAL takes locks: openers racing for it wait."""
    import subprocess
    import sys
    import time

    path = str(tmp_path / "race.fdbe")
    start = time.time() + 1.0  # every child is running by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_AT, path, repr(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    results = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 6, [err for _out, err in results]
    db = embedded.open(path)
    try:
        assert int.from_bytes(bytes(db[b"opened"]), "little") == 6
    finally:
        db.close()


def _commit_error(db: embedded.Database, key: bytes) -> embedded.FDBError:
    tr = db.create_transaction()
    tr[key] = b"v"
    with pytest.raises(embedded.FDBError) as failed:
        tr.commit().wait()
    return failed.value


def test_a_removed_database_file_takes_no_more_commits(tmp_path: Path) -> None:
    path = tmp_path / "gone.fdbe"
    db = embedded.open(str(path))
    try:
        db[b"before"] = b"1"
        path.unlink()  # a process that opens the path now starts a new, empty election
        error = _commit_error(db, b"after")
        assert error.code == 1510 and not embedded.predicates.is_retryable(error)
        assert "was removed after this process opened it" in str(error)
        assert "Restart this process" in str(error)
        for _ in range(3):  # a read answers from the old file, or fails alike: never a new one
            try:
                assert db[b"after"] is None, "nothing committed"
            except embedded.FDBError as exc:
                assert exc.code == 1510 and "was removed" in str(exc)
        assert not path.exists(), "no empty file appears in the removed one's place"
    finally:
        db.close()


def test_a_database_file_replaced_by_another_takes_no_more_commits(tmp_path: Path) -> None:
    path = tmp_path / "replaced.fdbe"
    db = embedded.open(str(path))
    other_path = tmp_path / "other.fdbe"
    other = embedded.open(str(other_path))
    other.close()
    try:
        db[b"before"] = b"1"
        os.replace(other_path, path)  # a restore, or `mv`
        error = _commit_error(db, b"after")
        assert error.code == 1510 and "was replaced by another file" in str(error)
        fresh = embedded.open(str(path))
        try:
            assert fresh[b"after"] is None, "the refused commit went nowhere"
        finally:
            fresh.close()
    finally:
        db.close()
