"""The file store: the embedded store kept in ONE SQLite file that processes on this host share.

Example::

    db = fdb_election.embedded.open("/var/lib/myapp/election.fdbe")  # any number of processes

It has the in-memory store's semantics (the transaction layer is the same; only this storage
backend differs), and keeps them across processes:

* **MVCC.** Table ``kv`` keeps versions of each key (``value`` NULL = cleared). A read at version
  ``v`` sees the newest row with ``version <= v``. Every read is one short SQLite statement (its
  own WAL snapshot); nothing is held open between a transaction's operations, so a process that is
  stopped or killed mid-transaction holds no lock and no snapshot.
* **Conflicts.** Table ``conflicts`` keeps each commit's write conflict ranges with its version.
  A commit checks its read conflict ranges against commits newer than its read version, and
  writes, inside one short ``BEGIN IMMEDIATE`` section: that is the only lock anyone takes.
* **Versions.** ``state.last_version`` is the newest commit version. A commit takes
  ``max(last + 1, wall-clock microseconds)``: strictly increasing across processes, and advancing
  about 1,000,000 per second like FoundationDB's. A read version is ``last_version``, so it always
  names a commit that is fully visible.
* **Pruning.** Every second (of versions) a commit also prunes history older than the 5 s window:
  old versions of each key except the newest one at the horizon, cleared keys, and old conflict
  ranges. ``state.prune_mark`` remembers the newest pruned-over commit; a read or conflict check at
  an older read version gets 1007 ``transaction_too_old``, so pruning can never change an answer.
* **Lifetime.** A read version here is the last commit's version, which says nothing about when
  a transaction got it (the file may have had no commit for an hour). So the transaction layer
  times it instead (``enforces_lifetime`` is False): a read, or a commit with read conflicts,
  more than 5 s of the database's clock after the read version was fetched gets 1007, whatever
  other processes did, as on FoundationDB.
* **Durability.** WAL mode with ``synchronous=FULL``: the WAL is fsync'ed before a commit returns,
  so an acknowledged commit survives a process crash *and* a power loss or OS crash, as
  FoundationDB promises. (``NORMAL`` would survive process crashes only: the last commits could
  vanish on power loss, and a leader could then lose a lease it was told it holds.) A crash in the
  middle of a commit is rolled back by SQLite's WAL recovery.
* **Watches across processes.** After each commit the committer sends a datagram to every
  listening process (see :mod:`.wakeup`); a process with watches re-reads its watched keys then,
  and at least every ``fallback_interval`` seconds (default 10) as a fallback. The fallback only
  matters if a wake-up were lost; each re-check is a wake-up of an idle process, which costs CPU
  (milliseconds of it on some virtual machines), so it is kept rare.

What can surprise you: a process stopped (SIGSTOP) *inside* the few-millisecond commit section
holds SQLite's write lock; other processes' commits then wait up to ``lock_timeout`` seconds
(default 2) and fail with the retryable 1038 ``database_locked`` until it resumes or dies (reads
never wait). A transaction's ``set_timeout`` does not shorten that wait. Every process sharing a
file must use the real wall clock (``version_clock`` is injectable for single-process tests only).
"""

from __future__ import annotations

import bisect
import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from fdb_election.embedded.errors import FDBError, FileStoreError
from fdb_election.embedded.mutations import (
    CLEAR_RANGE,
    SET_VALUE,
    Mutation,
    MutationType,
    apply_atomic,
    substitute_versionstamp,
    versionstamp_bytes,
)
from fdb_election.embedded.wakeup import WakeupListener, WakeupNotifier, wake_directory
from fdb_election.embedded.watch_registry import Watch, WatchRegistry

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FileStoreError",
    "SQLiteStorage",
]

FORMAT_NAME = "fdb-election embedded store"
"""Marker stored in every file of ours (table ``fdb_election_format``)."""
FORMAT_VERSION = 1
"""Layout version of the file; a file with a higher one was written by a newer fdb-election."""

WINDOW_VERSIONS = 5_000_000
"""History kept for snapshot reads and conflict checks: FoundationDB's 5 s."""
PRUNE_EVERY_VERSIONS = 1_000_000
"""How often (in versions, about a second) a commit also prunes old history."""

_SQLITE_HEADER = b"SQLite format 3\x00"

_SCHEMA = (
    "CREATE TABLE fdb_election_format (name TEXT NOT NULL, version INTEGER NOT NULL)",
    """CREATE TABLE state (
        id INTEGER PRIMARY KEY CHECK (id = 0),
        last_version INTEGER NOT NULL,
        prune_mark INTEGER NOT NULL,
        pruned_to INTEGER NOT NULL
    )""",
    """CREATE TABLE kv (
        key BLOB NOT NULL,
        version INTEGER NOT NULL,
        value BLOB,
        PRIMARY KEY (key, version)
    ) WITHOUT ROWID""",
    "CREATE INDEX kv_by_version ON kv (version)",
    """CREATE TABLE conflicts (
        version INTEGER NOT NULL,
        begin_key BLOB NOT NULL,
        end_key BLOB NOT NULL,
        PRIMARY KEY (version, begin_key, end_key)
    ) WITHOUT ROWID""",
)

_GET = """SELECT
    (SELECT value FROM kv WHERE key = ?1 AND version <= ?2 ORDER BY version DESC LIMIT 1),
    prune_mark, last_version FROM state"""
_GET_LATEST = "SELECT value FROM kv WHERE key = ? ORDER BY version DESC LIMIT 1"
_RANGE_FORWARD = """SELECT key, version, value FROM kv
    WHERE key >= ?1 AND key < ?2 AND version <= ?3 ORDER BY key, version"""
_RANGE_REVERSE = """SELECT key, version, value FROM kv
    WHERE key >= ?1 AND key < ?2 AND version <= ?3 ORDER BY key DESC, version DESC"""
_LIVE_KEYS = """SELECT key FROM (
        SELECT key, value, MAX(version) FROM kv WHERE key >= ?1 AND key < ?2 GROUP BY key
    ) WHERE value IS NOT NULL"""
_MARKS = "SELECT prune_mark, last_version FROM state"
_STATE = "SELECT last_version, prune_mark, pruned_to FROM state"
_RECENT_CONFLICTS = "SELECT begin_key, end_key FROM conflicts WHERE version > ?"
_PUT = "INSERT OR REPLACE INTO kv (key, version, value) VALUES (?, ?, ?)"
_PUT_CONFLICT = "INSERT OR IGNORE INTO conflicts (version, begin_key, end_key) VALUES (?, ?, ?)"

Range = tuple[bytes, bytes]
WatchCallback = Callable[[], None]


def _merge(ranges: Iterable[Range]) -> list[Range]:
    """Sorted, non-overlapping union of half-open ranges (empty ones dropped)."""
    merged: list[list[bytes]] = []
    for begin, end in sorted(r for r in ranges if r[0] < r[1]):
        if merged and begin <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1][1] = end
        else:
            merged.append([begin, end])
    return [(b, e) for b, e in merged]


def _overlaps(reads: Sequence[Range], writes: list[Range]) -> bool:
    """Whether any read range intersects the union ``writes`` (sorted, disjoint)."""
    if not writes:
        return False
    begins = [b for b, _ in writes]
    for begin, end in reads:
        if begin >= end:
            continue
        # The last write range starting before ``end`` is the only candidate.
        i = bisect.bisect_left(begins, end) - 1
        if i >= 0 and writes[i][1] > begin:
            return True
    return False


def _check_version(version: int, prune_mark: int, last_version: int) -> None:
    """1007 for a version whose history was pruned; 1009 for one not committed yet."""
    if version < prune_mark:
        raise FDBError(1007)
    if version > last_version:
        raise FDBError(1009)


class SQLiteStorage:
    """Storage backend over one SQLite file (see the module docstring for the algorithm).

    ``lock_timeout`` bounds how long a commit waits for another process's commit section
    (then 1038, retryable); ``version_clock`` gives wall-clock seconds and must be the real clock
    whenever several processes share the file; ``fallback_interval`` is the slow watch re-check.
    """

    enforces_lifetime = False  # read versions are old commit versions: transactions time them

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        lock_timeout: float = 2.0,
        version_clock: Callable[[], float] = time.time,
        fallback_interval: float = 10.0,
    ) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self._lock_timeout = lock_timeout
        self._version_clock = version_clock
        self._fallback_interval = fallback_interval
        self._closed = False
        self._readers: list[sqlite3.Connection] = []
        self._all: list[sqlite3.Connection] = []
        self._commit_lock = threading.Lock()
        self._watch_lock = threading.Lock()
        self._watches = WatchRegistry()
        self._listener: WakeupListener | None = None
        _create_file(self.path)
        self._writer = self._connect(busy_timeout_ms=0)
        try:
            _initialise(self._writer, self.path, self._now_version(), lock_timeout)
            self._notifier = WakeupNotifier(wake_directory(self.path))
        except BaseException:
            self._writer.close()
            raise

    # -- connections -------------------------------------------------------------------------

    def _connect(self, busy_timeout_ms: int) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=0
            )
        except sqlite3.Error as exc:
            raise FileStoreError(f"cannot open database file {self.path!r}: {exc}") from exc
        try:
            # Setting up a connection can meet another process creating or recovering the file
            # (switching it to WAL): wait for that like any lock, then use the caller's timeout.
            conn.execute(f"PRAGMA busy_timeout = {int(self._lock_timeout * 1000)}")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        except sqlite3.Error as exc:
            conn.close()
            raise FileStoreError(f"cannot set up database file {self.path!r}: {exc}") from exc
        self._all.append(conn)
        return conn

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise FileStoreError(f"the database {self.path!r} is closed")
        try:
            return self._readers.pop()
        except IndexError:
            return self._connect(busy_timeout_ms=int(self._lock_timeout * 1000))

    def _release(self, conn: sqlite3.Connection) -> None:
        self._readers.append(conn)

    def _now_version(self) -> int:
        return int(self._version_clock() * 1_000_000)

    # -- reads -------------------------------------------------------------------------------

    def read_version(self) -> int:
        """The newest commit version: every commit up to it is visible to reads."""
        conn = self._reader()
        try:
            return int(conn.execute("SELECT last_version FROM state").fetchone()[0])
        finally:
            self._release(conn)

    def get(self, key: bytes, version: int) -> bytes | None:
        """The value of ``key`` as of ``version`` (None when absent)."""
        conn = self._reader()
        try:
            value, mark, last = conn.execute(_GET, (key, version)).fetchone()
        finally:
            self._release(conn)
        _check_version(version, mark, last)
        return value  # type: ignore[no-any-return]

    def get_range(
        self, begin: bytes, end: bytes, version: int, limit: int = 0, reverse: bool = False
    ) -> list[tuple[bytes, bytes]]:
        """Key-value pairs in ``[begin, end)`` as of ``version``, at most ``limit`` (0 = all)."""
        out: list[tuple[bytes, bytes]] = []
        if begin >= end:
            return out
        conn = self._reader()
        try:
            # Checked before the data: a version not yet committed would miss later commits.
            _check_version(version, *conn.execute(_MARKS).fetchone())
            cursor = conn.execute(
                _RANGE_REVERSE if reverse else _RANGE_FORWARD, (begin, end, version)
            )
            try:
                current: bytes | None = None
                best_version = -1
                best_value: bytes | None = None
                for key, row_version, value in cursor:
                    if key != current:
                        if best_value is not None:
                            out.append((current, best_value))  # type: ignore[arg-type]
                            if len(out) == limit:
                                best_value = None
                                break
                        current, best_version, best_value = key, row_version, value
                    elif row_version > best_version:
                        best_version, best_value = row_version, value
                if best_value is not None:
                    out.append((current, best_value))  # type: ignore[arg-type]
            finally:
                cursor.close()  # ends the statement's WAL snapshot
            # And after: pruning only raises the mark, so a mark still at or below ``version``
            # proves nothing this read needed was pruned while it ran.
            _check_version(version, *conn.execute(_MARKS).fetchone())
        finally:
            self._release(conn)
        return out

    # -- commit ------------------------------------------------------------------------------

    def commit(
        self,
        read_version: int | None,
        read_conflicts: Sequence[Range],
        write_conflicts: Sequence[Range],
        mutations: Sequence[Mutation],
    ) -> int:
        """Check conflicts and apply ``mutations`` atomically; return the commit version.

        Raises 1020 when a read conflict range was written by a commit newer than
        ``read_version``, 1007 when that history was already pruned, 1038 when another
        process held the commit lock for longer than ``lock_timeout``.
        """
        if self._closed:
            raise FileStoreError(f"the database {self.path!r} is closed")
        with self._commit_lock:
            conn = self._writer
            self._begin(conn)
            committing = False
            try:
                last, mark, pruned_to = conn.execute(_STATE).fetchone()
                if read_version is not None and read_conflicts:
                    if read_version < mark:
                        raise FDBError(1007)
                    recent = conn.execute(_RECENT_CONFLICTS, (read_version,)).fetchall()
                    if recent and _overlaps(read_conflicts, _merge(recent)):
                        raise FDBError(1020)
                version: int = max(last + 1, self._now_version())
                rows = self._apply(conn, version, mutations)
                if rows:
                    conn.executemany(_PUT, rows)
                if write_conflicts:
                    conn.executemany(
                        _PUT_CONFLICT, [(version, b, e) for b, e in _merge(write_conflicts)]
                    )
                horizon = version - WINDOW_VERSIONS
                if horizon - pruned_to >= PRUNE_EVERY_VERSIONS:
                    mark = _prune(conn, pruned_to, horizon, mark)
                    pruned_to = horizon
                conn.execute(
                    "UPDATE state SET last_version = ?, prune_mark = ?, pruned_to = ?",
                    (version, mark, pruned_to),
                )
                committing = True
                conn.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                if committing and isinstance(exc, sqlite3.Error):
                    raise FDBError(1021) from exc  # the outcome of a failed COMMIT is unknown
                raise
        self._notifier.notify(exclude=self._listener.name if self._listener else None)
        if self._watches:
            self.check_watches()
        return version

    def _begin(self, conn: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE``, retried with short sleeps while another process commits."""
        deadline = time.monotonic() + self._lock_timeout
        delay = 0.0001
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise FDBError(1038) from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.005)

    def _apply(
        self, conn: sqlite3.Connection, version: int, mutations: Sequence[Mutation]
    ) -> list[tuple[bytes, int, bytes | None]]:
        """The rows ``mutations`` produce at ``version`` (None value = cleared)."""
        pending: dict[bytes, bytes | None] = {}
        stamp: bytes | None = None

        def current(key: bytes) -> bytes | None:
            if key in pending:
                return pending[key]
            row = conn.execute(_GET_LATEST, (key,)).fetchone()
            return None if row is None else row[0]

        for op, key, param in mutations:
            if op == SET_VALUE:
                pending[key] = param
            elif op == CLEAR_RANGE:
                for (live,) in conn.execute(_LIVE_KEYS, (key, param)).fetchall():
                    pending[live] = None
                for other in pending:
                    if key <= other < param:
                        pending[other] = None
            elif op == MutationType.SET_VERSIONSTAMPED_KEY:
                stamp = stamp or versionstamp_bytes(version)
                pending[substitute_versionstamp(key, stamp)] = param
            elif op == MutationType.SET_VERSIONSTAMPED_VALUE:
                stamp = stamp or versionstamp_bytes(version)
                pending[key] = substitute_versionstamp(param, stamp)
            else:
                pending[key] = apply_atomic(op, current(key), param)
        return [(key, version, value) for key, value in pending.items()]

    # -- watches -----------------------------------------------------------------------------

    def watch(self, key: bytes, seen: bytes | None, callback: WatchCallback) -> object:
        """Call ``callback`` (once, from any thread) when ``key``'s value is no longer ``seen``.

        The check runs after local commits, when another process signals a commit, and every
        ``fallback_interval`` seconds; at once if the value already differs.
        """
        with self._watch_lock:
            if self._listener is None and not self._closed:
                self._listener = WakeupListener(
                    wake_directory(self.path),
                    self.check_watches,
                    fallback_interval=self._fallback_interval,
                )
            entry = self._watches.add(Watch(key, seen, callback))
        self.check_watches(only=key)
        return entry

    def unwatch(self, handle: object) -> None:
        """Forget a watch; its callback will not be called (harmless if it already fired)."""
        with self._watch_lock:
            self._watches.remove(handle)

    def check_watches(self, only: bytes | None = None) -> None:
        """Fire every watch whose key changed (reads the newest committed values).

        Only watches registered before the read are judged: their ``seen`` value is at least as
        old as what is read, so a difference is a real change, never a false alarm. ``only``
        limits the check to one key (used when a watch is registered).
        """
        with self._watch_lock:
            keys = [only] if only is not None else self._watches.keys()
            registered = self._watches.serial
        if not keys or self._closed:
            return
        conn = self._reader()
        try:
            latest = {}
            for key in keys:
                row = conn.execute(_GET_LATEST, (key,)).fetchone()
                latest[key] = None if row is None else row[0]
        finally:
            self._release(conn)
        fired: list[Watch] = []
        with self._watch_lock:
            for key, value in latest.items():
                fired.extend(self._watches.take_changed(key, value, registered))
        for w in fired:
            w.callback()

    def stats(self) -> dict[str, int]:
        """Row counts of the file (for tests of pruning and for diagnostics)."""
        conn = self._reader()
        try:
            return {
                "keys": conn.execute("SELECT COUNT(DISTINCT key) FROM kv").fetchone()[0],
                "versions": conn.execute("SELECT COUNT(*) FROM kv").fetchone()[0],
                "conflict_ranges": conn.execute("SELECT COUNT(*) FROM conflicts").fetchone()[0],
                "watches": len(self._watches),
            }
        finally:
            self._release(conn)

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the watch listener and close every connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._listener is not None:
            self._listener.close()
        self._notifier.close()
        with self._commit_lock:
            for conn in self._all:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._readers.clear()


def _create_file(path: str) -> None:
    """Create the file with mode 0600 if missing; reject what cannot be ours before SQLite."""
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        raise FileStoreError(
            f"cannot open database file {path!r}: directory {parent!r} does not exist "
            "(create it first; the file itself is created on first open)"
        )
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise FileStoreError(
            f"cannot create database file {path!r}: {exc.strerror}; the directory must be "
            "writable by this user"
        ) from exc
    else:
        os.close(fd)
        return
    if not os.path.isfile(path):
        raise FileStoreError(f"{path!r} exists but is not a regular file; give a file path")
    if not os.access(path, os.R_OK | os.W_OK) or not os.access(parent, os.W_OK):
        raise FileStoreError(
            f"cannot open database file {path!r}: it (or its directory, which holds the WAL) "
            "is not readable and writable by this user"
        )
    with open(path, "rb") as f:
        header = f.read(len(_SQLITE_HEADER))
    if header and header != _SQLITE_HEADER:
        raise FileStoreError(
            f"{path!r} is not an fdb-election database file (not an SQLite file at all); "
            "give the path of a file created by fdb-election, or a new path"
        )


def _initialise(conn: sqlite3.Connection, path: str, first_version: int, timeout: float) -> None:
    """Switch to WAL, create the schema in a new file, or check the format marker of ours."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            conn.execute("PRAGMA journal_size_limit = 16777216")
            conn.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise FileStoreError(f"cannot open database file {path!r}: {exc}") from exc
            if time.monotonic() >= deadline:
                raise FileStoreError(
                    f"cannot open database file {path!r}: it stayed locked by another process "
                    f"for {timeout} s"
                ) from exc
            time.sleep(0.01)
        except sqlite3.DatabaseError as exc:
            raise FileStoreError(
                f"{path!r} is not an fdb-election database file ({exc}); give the path of a "
                "file created by fdb-election, or a new path"
            ) from exc
    try:
        if str(mode).lower() != "wal":
            raise FileStoreError(
                f"cannot use {path!r}: SQLite could not switch it to WAL mode (got {mode!r}); "
                "the file store needs a local file system"
            )
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if not tables:
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO fdb_election_format (name, version) VALUES (?, ?)",
                (FORMAT_NAME, FORMAT_VERSION),
            )
            conn.execute("INSERT INTO state VALUES (0, ?, 0, ?)", (first_version, first_version))
        else:
            _check_format(conn, path, tables)
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


def _check_format(conn: sqlite3.Connection, path: str, tables: set[str]) -> None:
    marker = None
    if "fdb_election_format" in tables:
        marker = conn.execute("SELECT name, version FROM fdb_election_format").fetchone()
    if marker is None or marker[0] != FORMAT_NAME:
        raise FileStoreError(
            f"{path!r} is an SQLite file but not an fdb-election database (no format marker); "
            "give the path of a file created by fdb-election, or a new path"
        )
    if int(marker[1]) > FORMAT_VERSION:
        raise FileStoreError(
            f"{path!r} has fdb-election file format {marker[1]}, newer than this version "
            f"understands ({FORMAT_VERSION}); upgrade fdb-election to open it"
        )


def _prune(conn: sqlite3.Connection, pruned_to: int, horizon: int, mark: int) -> int:
    """Drop history that only reads older than ``horizon`` could see; return the new prune mark.

    For every key written in ``(pruned_to, horizon]`` only its newest version at or below the
    horizon is kept (and removed too when it is a clear); conflict ranges at or below the
    horizon go. A read at a version at or above the returned mark sees exactly what it saw
    before; older reads must fail with 1007.
    """
    window = (pruned_to, horizon)
    (newest_row,) = conn.execute(
        "SELECT MAX(version) FROM kv WHERE version > ? AND version <= ?", window
    ).fetchone()
    conn.execute(
        """DELETE FROM kv WHERE (key, version) IN (
            SELECT old.key, old.version FROM kv AS old JOIN (
                SELECT key, MAX(version) AS newest FROM kv
                WHERE version > ?1 AND version <= ?2 GROUP BY key
            ) AS aged ON old.key = aged.key
            WHERE old.version < aged.newest
        )""",
        window,
    )
    conn.execute("DELETE FROM kv WHERE version > ? AND version <= ? AND value IS NULL", window)
    (newest_conflict,) = conn.execute(
        "SELECT MAX(version) FROM conflicts WHERE version <= ?", (horizon,)
    ).fetchone()
    conn.execute("DELETE FROM conflicts WHERE version <= ?", (horizon,))
    return max(mark, newest_row or 0, newest_conflict or 0)
