"""A full disk is error 1510 ``io_error``: not retried, with a message naming the file.

Two ways to fill the disk: SQLite's ``max_page_count`` (the file may not grow: SQLITE_FULL, the
same error a full disk gives, deterministic and available everywhere) and a real file system of
a few hundred KiB (a tmpfs mounted for the test: needs root, skipped otherwise), filled up
with a filler file, where the kernel itself says ENOSPC.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from procs import WAIT

from fdb_election import embedded
from fdb_election.embedded.database import Database
from fdb_election.embedded.sqlite import SQLiteStorage
from fdb_election.transactional import transactional


def _integrity_ok(path: str) -> bool:
    conn = sqlite3.connect(path)
    try:
        return bool(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
    finally:
        conn.close()


def _cap_file(store: SQLiteStorage, extra_pages: int = 0) -> None:
    """Forbid the file to grow (beyond ``extra_pages``): the next growth is SQLITE_FULL."""
    writer = store._writer
    (pages,) = writer.execute("PRAGMA page_count").fetchone()
    writer.execute(f"PRAGMA max_page_count = {pages + extra_pages}")


def _commit_error(tr: Any) -> embedded.FDBError:
    with pytest.raises(embedded.FDBError) as info:
        tr.commit().wait()
    return info.value


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[tuple[Database, SQLiteStorage, str]]:
    path = str(tmp_path / "capped.fdbe")
    store = SQLiteStorage(path)
    db = Database(store)
    for i in range(20):
        db[b"acked/%02d" % i] = b"x" * 100
    _cap_file(store)
    yield db, store, path
    db.close()


def test_a_commit_that_needs_more_space_is_1510_and_not_retried(capped: Any) -> None:
    db, _store, path = capped
    tr = db.create_transaction()
    tr[b"big"] = b"y" * 90_000
    error = _commit_error(tr)
    assert error.code == 1510
    assert not embedded.predicates.is_retryable(error)
    assert path in str(error) and "disk is full" in str(error)
    with pytest.raises(embedded.FDBError) as again:
        tr.on_error(error).wait()  # not retryable: the same error, at once
    assert again.value is error

    @transactional
    def write_big(tr: Any) -> None:
        tr[b"big"] = b"z" * 90_000

    with pytest.raises(embedded.FDBError) as raised:
        write_big(db)  # returns (raises) instead of retrying forever
    assert raised.value.code == 1510


def test_the_file_and_what_was_committed_stay_intact(capped: Any) -> None:
    db, store, path = capped
    tr = db.create_transaction()
    tr[b"big"] = b"y" * 90_000
    assert _commit_error(tr).code == 1510
    assert len(db.get_range_startswith(b"acked/")) == 20
    assert db[b"big"] is None
    assert _integrity_ok(path)
    other = embedded.open(path)  # what another process would see
    try:
        assert len(other.get_range_startswith(b"acked/")) == 20
    finally:
        other.close()
    store._writer.execute("PRAGMA max_page_count = 1073741823")  # space freed
    db[b"big"] = b"y" * 90_000
    assert db[b"big"] == b"y" * 90_000


def test_every_writing_member_of_a_group_gets_1510(capped: Any) -> None:
    db, _store, _path = capped
    db[b"k"] = b"0"
    conflicting = db.create_transaction()
    assert conflicting[b"k"] == b"0"
    conflicting[b"c"] = b"1"
    db[b"k"] = b"1"
    small, big = db.create_transaction(), db.create_transaction()
    small[b"small"] = b"1"
    big[b"big"] = b"y" * 90_000
    codes = []
    for future in db.commit_many([small, conflicting, big]):
        try:
            future.wait()
            codes.append(None)
        except embedded.FDBError as e:
            codes.append(e.code)
    assert codes == [1510, 1020, 1510]  # the group is one SQLite transaction: all or nothing
    assert db[b"small"] is None


# -- a real full file system -------------------------------------------------------------------


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A tmpfs of 512 KiB, unmounted afterwards (skipped where mounting is not allowed)."""
    mount_point = Path(tempfile.mkdtemp(prefix="fdbe-full-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        mount_point.rmdir()
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
        with contextlib.suppress(OSError):
            mount_point.rmdir()


def _fill(directory: Path) -> None:
    """Write a filler file until the file system refuses (ENOSPC)."""
    chunk = b"\0" * 4096
    with open(directory / "filler", "wb", buffering=0) as filler:
        while True:
            try:
                filler.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                return


def test_a_full_file_system_gives_1510_and_keeps_what_was_acknowledged(small_disk: Path) -> None:
    path = str(small_disk / "e.fdbe")
    db = embedded.open(path)
    acked = 0
    try:
        for i in range(200):  # 200 x 20 KB cannot fit in 512 KiB
            try:
                db[b"k%03d" % i] = os.urandom(20_000)
            except embedded.FDBError as error:
                assert error.code == 1510
                assert path in str(error) and "disk is full" in str(error)
                break
            acked = i + 1
        else:
            pytest.fail("512 KiB took 4 MB")
        assert acked > 0
        assert len(db.get_range_startswith(b"k")) == acked
    finally:
        db.close()
    again = embedded.open(path)
    try:
        assert len(again.get_range_startswith(b"k")) == acked
    finally:
        again.close()
    assert _integrity_ok(path)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "fdb_election.cli.main", *args]


def test_init_on_a_full_disk_exits_1_saying_so(small_disk: Path) -> None:
    url = f"sqlite:{small_disk / 'e.fdbe'}"
    assert (
        subprocess.run(_cli("--db", url, "init"), capture_output=True, timeout=WAIT).returncode == 0
    )
    _fill(small_disk)
    result = subprocess.run(
        _cli("--db", url, "--election", "other", "init"),
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert result.returncode == 1
    assert "full" in result.stderr and str(small_disk / "e.fdbe") in result.stderr


def test_run_exits_1_when_its_disk_fills_up(small_disk: Path) -> None:
    url = f"sqlite:{small_disk / 'e.fdbe'}"
    init = subprocess.run(
        _cli("--db", url, "init", "--lease", "1"), capture_output=True, timeout=WAIT
    )
    assert init.returncode == 0
    run = subprocess.Popen(
        _cli("--db", url, "run", "--", sys.executable, "-c", "import time; time.sleep(600)"),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert run.stderr is not None
        lines = []
        for line in run.stderr:  # wait until it leads and CMD runs
            lines.append(line)
            if "started CMD" in line:
                break
        else:
            pytest.fail(f"run did not start CMD: {''.join(lines)}")
        _fill(small_disk)
        started = time.monotonic()
        assert run.wait(WAIT) == 1
        rest = run.stderr.read()
        assert "cannot be written" in rest and "disk is full" in rest, rest
        print(f"run exited {time.monotonic() - started:.2f} s after the disk filled")
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
