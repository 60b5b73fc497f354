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
* **Group commit.** A commit waits for an fsync, so commits from one process are written in
  groups: a thread that commits while another thread of the process is inside the commit section
  queues its transaction; when the section is free, the thread that owns the oldest queued
  transaction becomes the leader and commits the whole queue (up to ``max_group`` transactions)
  in ONE SQLite transaction, so one fsync. Inside it each member is checked and applied as if alone,
  in queue order: against the commits newer than its read version, earlier members of the group
  included (a member that read what an earlier one writes gets 1020 alone), with its own commit
  version (strictly increasing) and versionstamp. Nobody is told "committed" before the COMMIT (and
  its fsync, unless every member deferred it) returned; a failure of the SQLite transaction is every
  writing member's outcome. :meth:`SQLiteStorage.commit_batch` hands the store a whole group at once
  (what ``Database.commit_many`` uses). Commits from other processes are serialized by SQLite's lock
  as before.
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
  FoundationDB promises. A group whose every member called ``Transaction.defer_sync`` is written
  with ``synchronous=NORMAL`` instead, which skips the fsync: SQLite appends commits to the WAL in
  order and an fsync covers the whole file, so such a commit becomes durable with the next synced
  commit of any process (or checkpoint), and an OS crash can lose only deferred commits made after
  the last sync. A process syncs anyway once it has left ``sync_after`` (4) deferred groups
  unsynced over at least ``sync_interval`` (1 s), so that the next synced commit, often a claim,
  has little to write out. The electors defer only writes whose loss after a reboot is harmless
  (heartbeats, refreshes, resignations; a claim always syncs). A crash in the middle of a commit
  is rolled back by SQLite's WAL recovery.
* **A full disk** (or an I/O error) while committing is error 1510 ``io_error``, which no retry
  loop retries, with a message naming the file: retrying cannot help until someone frees space.
  The failed commit is rolled back; the file and everything committed before stay intact and
  readable. (Before, it was 1021 ``commit_unknown_result``, which every retry loop retries
  forever.)
* **Watches across processes.** After each commit the committer sends a datagram to every
  listening process that watches a key the commit changed (see :mod:`.wakeup`); a process with
  watches re-reads its watched keys then, and at least every ``fallback_interval`` seconds
  (default 10) as a fallback. A commit re-checks this process's own watches only when it changed
  a watched key. The fallback only
  matters if a wake-up were lost; each re-check is a wake-up of an idle process, which costs CPU
  (milliseconds of it on some virtual machines), so it is kept rare.

What can surprise you: a process stopped (SIGSTOP) *inside* the few-millisecond commit section
holds SQLite's write lock; other processes' commits then wait up to ``lock_timeout`` seconds
(default 2) and fail with the retryable 1038 ``database_locked`` until it resumes or dies (reads
never wait). A transaction's ``set_timeout`` does not shorten that wait. Every process sharing a
file must use the real wall clock (``version_clock`` is injectable for single-process tests only).
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from sortedcontainers import SortedList

from fdb_election.embedded.errors import FDBError, FileStoreError
from fdb_election.embedded.filesystem import check_local
from fdb_election.embedded.mutations import (
    CLEAR_RANGE,
    SET_VALUE,
    Mutation,
    MutationType,
    apply_atomic,
    substitute_versionstamp,
    versionstamp_bytes,
)
from fdb_election.embedded.storage import CommitOutcome, CommitRequest
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
# SQLite's primary result codes for a failed write (the low byte of an extended code).
_SQLITE_IOERR: Final = 10
_SQLITE_FULL: Final = 13
#: Free space under which a failed write is reported as a full disk (SQLite says "I/O error"
#: when it cannot even extend its shared-memory file).
_FULL_BELOW_BYTES: Final = 1 << 20

MAX_GROUP = 128
"""Most transactions one SQLite transaction (one fsync) commits for this process."""

SYNC_INTERVAL = 1.0
"""Seconds since its last sync after which a process's deferred group syncs anyway (together
with :data:`SYNC_AFTER`).

What a deferred commit saves, the next synced commit pays: its fsync writes out every deferred
commit before it. That next commit is usually a claim, on a handover's critical path; measured on
the 2-core test machine with two candidates at a 1 s lease, the claim came 3.9 ms later (12.4 ms
instead of 8.6) after 20 s of deferred commits. Syncing at least once a second keeps that backlog
to about a second of commits and still skips two fsyncs in three at a 1 s lease."""
SYNC_AFTER = 4
"""Deferred groups a process leaves unsynced, at least, before one syncs anyway (together with
:data:`SYNC_INTERVAL`).

The time bound alone would sync every commit of a process that commits less than once a second:
an elector at the default timings heartbeats every 3 s. Waiting for a few groups as well keeps the
backlog small (a few commits of each process), and such a process syncs one commit in five."""
_GROUP_BYTES = 4_000_000
"""About how many bytes of mutations a group takes beyond its first transaction."""
_UNSET: Any = object()

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
_GET_LATEST_AT = "SELECT value FROM kv WHERE key = ? AND version <= ? ORDER BY version DESC LIMIT 1"
_CHANGED_SINCE = "SELECT DISTINCT key FROM kv WHERE version > ? AND version <= ?"
# The newest version of each key at or below ?3, live keys only, at most ?4 (-1: all). SQLite
# takes a bare column of a MAX() aggregate from the row that has the maximum, so the versions
# of a key are folded inside SQLite: a key heartbeated every 1/3 s keeps ~15 versions in the 5 s
# window, and fetching them all to Python made a scan of the candidates the costliest read.
_RANGE_NEWEST = """SELECT key, value FROM (
        SELECT key, value, MAX(version) FROM kv
        WHERE key >= ?1 AND key < ?2 AND version <= ?3 GROUP BY key
    ) WHERE value IS NOT NULL ORDER BY key {order} LIMIT ?4"""
_RANGE_FORWARD = _RANGE_NEWEST.format(order="ASC")
_RANGE_REVERSE = _RANGE_NEWEST.format(order="DESC")
_LIVE_KEYS = """SELECT key FROM (
        SELECT key, value, MAX(version) FROM kv WHERE key >= ?1 AND key < ?2 GROUP BY key
    ) WHERE value IS NOT NULL"""
_MARKS = "SELECT prune_mark, last_version FROM state"
_STATE = "SELECT last_version, prune_mark, pruned_to FROM state"
_RECENT_CONFLICTS = "SELECT version, begin_key, end_key FROM conflicts WHERE version > ?"
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


def _is_point(begin: bytes, end: bytes) -> bool:
    return len(end) == len(begin) + 1 and end[-1] == 0 and end.startswith(begin)


class _RecentWrites:
    """Write conflict ranges with their commit versions, for the conflict checks of one group.

    Holds what the file says committed after the group's oldest read version, then each member
    of the group as it is applied, so a member is checked against earlier members too. Point
    ranges (one key: the usual case) are a dict lookup; other ranges are few and scanned.
    """

    __slots__ = ("_point_keys", "_points", "_ranges")

    def __init__(self, rows: Iterable[tuple[int, bytes, bytes]] = ()) -> None:
        self._points: dict[bytes, int] = {}
        self._point_keys: SortedList | None = None  # built when a ranged read first needs it
        self._ranges: list[tuple[int, bytes, bytes]] = []
        for version, begin, end in rows:
            self.add(version, begin, end)

    def add(self, version: int, begin: bytes, end: bytes) -> None:
        if begin >= end:
            return
        if _is_point(begin, end):
            if self._points.get(begin, -1) < version:
                if begin not in self._points and self._point_keys is not None:
                    self._point_keys.add(begin)
                self._points[begin] = version
        else:
            self._ranges.append((version, begin, end))

    def conflicts(self, read_version: int, reads: Sequence[Range]) -> bool:
        """Whether a range written after ``read_version`` intersects one of ``reads``."""
        points = self._points
        for begin, end in reads:
            if begin >= end:  # an empty range conflicts with nothing
                continue
            if _is_point(begin, end):
                if points.get(begin, -1) > read_version:
                    return True
            elif points:
                if self._point_keys is None:
                    self._point_keys = SortedList(points)
                for key in self._point_keys.irange(begin, end, (True, False)):
                    if points[key] > read_version:
                        return True
            for version, range_begin, range_end in self._ranges:
                if version > read_version and range_begin < end and begin < range_end:
                    return True
        return False


def _check_version(version: int, prune_mark: int, last_version: int) -> None:
    """1007 for a version whose history was pruned; 1009 for one not committed yet."""
    if version < prune_mark:
        raise FDBError(1007)
    if version > last_version:
        raise FDBError(1009)


class _Waiter:
    """A thread waiting in :meth:`SQLiteStorage.commit_batch` for its requests' outcomes.

    ``remaining`` counts its requests not yet committed (only the leader changes it); ``event``
    is set when it reaches 0, or earlier with ``lead`` True when this thread must lead.
    """

    __slots__ = ("event", "lead", "remaining")

    def __init__(self, remaining: int) -> None:
        self.event = threading.Event()
        self.lead = False
        self.remaining = remaining


class _Entry:
    """One request in the commit queue and, once its group is committed, its outcome."""

    __slots__ = ("outcome", "request", "size", "waiter")

    def __init__(self, request: CommitRequest, waiter: _Waiter) -> None:
        self.request = request
        self.waiter = waiter
        self.size = sum(len(key) + len(param) for _op, key, param in request.mutations)
        self.outcome: CommitOutcome = _UNSET


class SQLiteStorage:
    """Storage backend over one SQLite file (see the module docstring for the algorithm).

    ``lock_timeout`` bounds how long a commit waits for another process's commit section
    (then 1038, retryable); ``version_clock`` gives wall-clock seconds and must be the real clock
    whenever several processes share the file; ``fallback_interval`` is the slow watch re-check;
    ``max_group`` caps the transactions of one group commit (1 turns grouping off). A group of
    deferred commits syncs anyway once this object has left ``sync_after`` groups
    unsynced since its last sync and ``sync_interval`` seconds have passed since then (see
    :data:`SYNC_AFTER` and :data:`SYNC_INTERVAL`; both 0 sync every commit), timed with the
    monotonic ``clock``. A file on a file system that other hosts mount too (NFS, SMB, CephFS,
    ...) is refused with :class:`FileStoreError` unless ``allow_network_filesystem`` (default:
    the environment variable ``FDB_ELECTION_ALLOW_NETWORK_FS=1``; see :mod:`.filesystem`).

    ``commits`` and ``commit_groups`` count the transactions this object wrote and the SQLite
    transactions it took to write them; ``syncs`` counts those of the groups that waited for an
    fsync (every group with a member that did not call ``defer_sync``).
    """

    enforces_lifetime = False  # read versions are old commit versions: transactions time them

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        lock_timeout: float = 2.0,
        version_clock: Callable[[], float] = time.time,
        fallback_interval: float = 10.0,
        max_group: int = MAX_GROUP,
        sync_interval: float = SYNC_INTERVAL,
        sync_after: int = SYNC_AFTER,
        clock: Callable[[], float] = time.monotonic,
        allow_network_filesystem: bool | None = None,
    ) -> None:
        if max_group < 1:
            raise ValueError(f"max_group must be at least 1, not {max_group!r}")
        if not sync_interval >= 0:
            raise ValueError(f"sync_interval must be 0 or more seconds, not {sync_interval!r}")
        if isinstance(sync_after, bool) or not isinstance(sync_after, int) or sync_after < 0:
            raise ValueError(f"sync_after must be an int of 0 or more, not {sync_after!r}")
        self.path = os.path.abspath(os.fspath(path))
        self._lock_timeout = lock_timeout
        self._version_clock = version_clock
        self._fallback_interval = fallback_interval
        self._closed = False
        self._readers: list[sqlite3.Connection] = []
        self._all: list[sqlite3.Connection] = []
        self._commit_lock = threading.Lock()  # held by the leader while it writes a group
        self._queue_lock = threading.Lock()
        self._queue: deque[_Entry] = deque()
        self._leading = False  # whether a thread is leading (the queue is then its to take)
        self._max_group = max_group
        self._sync_interval = sync_interval
        self._sync_after = sync_after
        self._clock = clock
        self._last_sync = -math.inf  # monotonic: when this object's last synced group committed
        self._unsynced = 0  # deferred groups committed since then
        self.commits = 0
        self.commit_groups = 0
        self.syncs = 0
        self._synced = True  # the writer's ``synchronous`` setting: FULL
        self._watch_lock = threading.Lock()
        self._watches = WatchRegistry()
        # Every commit up to this version has been compared with the watches (None: none yet).
        self._watches_checked: int | None = None
        self._listener: WakeupListener | None = None
        check_local(self.path, allow_shared=allow_network_filesystem)
        _create_file(self.path)
        self._writer = self._connect(busy_timeout_ms=0)
        try:
            _initialise(self._writer, self.path, self._now_version(), lock_timeout)
            self._notifier = WakeupNotifier(wake_directory(self.path))
            self._identity = _identity(self.path)
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
            raise FileStoreError(
                f"cannot set up database file {self.path!r}: {exc}{_full_disk_note(self.path)}"
            ) from exc
        self._all.append(conn)
        return conn

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise FileStoreError(f"the database {self.path!r} is closed")
        try:
            return self._readers.pop()
        except IndexError:
            pass
        moved = self._moved()  # else SQLite would create an empty file in the old one's place
        if moved is not None:
            raise FDBError(1510, moved)
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
        if begin >= end:
            return []
        conn = self._reader()
        try:
            # Checked before the data: a version not yet committed would miss later commits.
            _check_version(version, *conn.execute(_MARKS).fetchone())
            query = _RANGE_REVERSE if reverse else _RANGE_FORWARD
            out: list[tuple[bytes, bytes]] = conn.execute(
                query, (begin, end, version, limit if limit > 0 else -1)
            ).fetchall()
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
        *,
        sync: bool = True,
    ) -> int:
        """Check conflicts and apply ``mutations`` atomically; return the commit version.

        Raises 1020 when a read conflict range was written by a commit newer than
        ``read_version``, 1007 when that history was already pruned, 1038 when another
        process held the commit lock for longer than ``lock_timeout``, 1510 when the file
        cannot be written (full disk, I/O error). Commits that threads of this process make at
        the same time share one SQLite transaction (see :meth:`commit_batch`).
        """
        request = CommitRequest(read_version, read_conflicts, write_conflicts, mutations, sync)
        outcome = self.commit_batch([request])[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def commit_batch(self, requests: Sequence[CommitRequest]) -> list[CommitOutcome]:
        """Commit ``requests`` in order, each with its own conflict check, version and outcome,
        in as few SQLite transactions (fsyncs) as possible; see the module docstring.

        The requests join this process's commit queue. If no thread is committing, this one
        becomes the leader: it takes the whole queue (up to ``max_group`` transactions) and
        commits it in one SQLite transaction; requests that arrive meanwhile wait, and the next
        leader takes them all at once. Returns when every request has its outcome.
        """
        if self._closed:
            raise FileStoreError(f"the database {self.path!r} is closed")
        if not requests:
            return []
        waiter = _Waiter(len(requests))
        entries = [_Entry(request, waiter) for request in requests]
        with self._queue_lock:
            self._queue.extend(entries)
            lead = not self._leading
            self._leading = True
        if not lead:
            try:
                waiter.event.wait()  # set when all are done, or when this thread must lead
            except BaseException:  # interrupted (KeyboardInterrupt): leave nobody stranded
                self._withdraw(waiter)
                raise
            lead = waiter.lead
        if lead:
            self._lead(waiter)
        return [entry.outcome for entry in entries]

    def _lead(self, mine: _Waiter) -> None:
        """Commit groups from the queue until ``mine`` is done, then pass the lead on."""
        while True:
            with self._queue_lock:
                group = self._take_group()
            try:
                with self._commit_lock:
                    changed = self._commit_group(group)
            except BaseException as exc:  # not an error of the group (KeyboardInterrupt, ...)
                self._abandon_lead(mine, group, exc)
                raise
            done = []
            for entry in group:
                waiter = entry.waiter
                waiter.remaining -= 1
                if not waiter.remaining and waiter is not mine:
                    done.append(waiter)
            finished = not mine.remaining
            if finished:
                self._pass_lead()  # the next group's fsync overlaps the wake-ups below
            try:
                if changed:
                    self._notifier.notify(
                        changed, exclude=self._listener.name if self._listener else None
                    )
                    if self._watches and self._watches.any_of(changed):
                        self.check_watches()
            finally:
                for waiter in done:
                    waiter.event.set()
            if finished:
                return

    def _take_group(self) -> list[_Entry]:
        """The next group from the queue (queue lock held): at most ``max_group`` transactions
        and, beyond the first, about ``_GROUP_BYTES`` of mutations, so the section stays short."""
        queue = self._queue
        group = [queue.popleft()]
        size = group[0].size
        while queue and len(group) < self._max_group and size + queue[0].size <= _GROUP_BYTES:
            entry = queue.popleft()
            size += entry.size
            group.append(entry)
        return group

    def _pass_lead(self) -> None:
        """Make the owner of the oldest queued request the leader, or note that none is."""
        with self._queue_lock:
            if not self._queue:
                self._leading = False
                return
            successor = self._queue[0].waiter
            successor.lead = True
        successor.event.set()

    def _withdraw(self, waiter: _Waiter) -> None:
        """A waiting thread leaves: drop its requests not taken yet (a leader may already be
        writing the others) and pass on the lead if it was just handed to it."""
        with self._queue_lock:
            for entry in [e for e in self._queue if e.waiter is waiter]:
                self._queue.remove(entry)
            promoted = waiter.lead
        if promoted:
            self._pass_lead()

    def _abandon_lead(self, mine: _Waiter, group: list[_Entry], exc: BaseException) -> None:
        """The leading thread is leaving with ``exc``: fail what it owns, wake the group, and
        pass the lead on so that no other thread waits forever."""
        with self._queue_lock:
            for entry in [e for e in self._queue if e.waiter is mine]:
                self._queue.remove(entry)
                entry.outcome = exc
        for entry in group:
            if entry.outcome is _UNSET:
                entry.outcome = exc
            if entry.waiter is not mine:
                entry.waiter.remaining -= 1
                if not entry.waiter.remaining:
                    entry.waiter.event.set()
        self._pass_lead()

    def _commit_group(self, group: list[_Entry]) -> set[bytes] | None:
        """Commit ``group`` in one SQLite transaction (commit lock held); give every entry its
        outcome. The keys whose value changed, or None when nothing was written."""
        if self._closed:
            for entry in group:
                entry.outcome = FileStoreError(f"the database {self.path!r} is closed")
            return None
        conn = self._writer
        moved = self._moved()
        if moved is not None:  # nothing written: nobody else would ever read it
            for entry in group:
                entry.outcome = FDBError(1510, moved)
            return None
        try:
            now = self._clock()
            due = (
                self._unsynced >= self._sync_after and now - self._last_sync >= self._sync_interval
            )
            self._set_sync(conn, due or any(entry.request.sync for entry in group))
            self._begin(conn)
        except FDBError as exc:  # 1038: another process holds the lock; nothing written
            for entry in group:
                entry.outcome = FDBError(exc.code)
            return None
        except sqlite3.Error as exc:
            for entry in group:
                entry.outcome = self._write_error(exc, committing=False)
            return None
        writing: list[tuple[_Entry, int]] = []
        changed: set[bytes] = set()
        committing = False
        try:
            last, mark, pruned_to = conn.execute(_STATE).fetchone()
            checked = [
                e.request.read_version
                for e in group
                if e.request.read_version is not None and e.request.read_conflicts
            ]
            recent: _RecentWrites | None = None
            if checked and max(checked) >= mark:
                oldest = min(rv for rv in checked if rv >= mark)
                # Nothing committed since the oldest read version (the usual case: a step
                # reads and commits within milliseconds): no stored range can conflict.
                stored = conn.execute(_RECENT_CONFLICTS, (oldest,)) if last > oldest else ()
                recent = _RecentWrites(stored)
            version = last
            for entry in group:
                read_version, read_conflicts, write_conflicts, mutations, _ = entry.request
                if read_version is not None and read_conflicts:
                    if read_version < mark:
                        entry.outcome = FDBError(1007)
                        continue
                    assert recent is not None
                    if recent.conflicts(read_version, read_conflicts):
                        entry.outcome = FDBError(1020)
                        continue
                version = max(version + 1, self._now_version())
                rows = self._apply(conn, version, mutations)
                if rows:
                    conn.executemany(_PUT, rows)
                    changed.update(row[0] for row in rows)
                if write_conflicts:
                    merged = _merge(write_conflicts)
                    conn.executemany(_PUT_CONFLICT, [(version, b, e) for b, e in merged])
                    if recent is not None:
                        for begin, end in merged:
                            recent.add(version, begin, end)
                writing.append((entry, version))
            if not writing:
                conn.execute("ROLLBACK")
                return None
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
            for entry in group:  # every member that was to be written (a 1020 stays 1020)
                if entry.outcome is _UNSET:
                    entry.outcome = self._write_error(exc, committing)
            if not isinstance(exc, Exception):
                raise
            return None
        for entry, committed in writing:
            entry.outcome = committed
        self.commit_groups += 1
        if self._synced:
            self.syncs += 1
            self._last_sync = now
            self._unsynced = 0
        else:
            self._unsynced += 1
        self.commits += len(writing)
        return changed

    def _moved(self) -> str | None:
        """Why the file this object writes is no longer the database at its path, or None.

        Someone removed the file, or put another one in its place (a restore, ``mv``), while
        this process had it open. Its commits would then reach only processes that opened the
        old file, and a process that opens the path now would elect its own leader beside
        this one's: so nothing more is committed to the old file, and its leader's refreshes
        fail until its deadline passes.
        """
        try:
            now = _identity(self.path)
        except FileNotFoundError:
            now = None
        except OSError:
            return None  # cannot tell (a directory made unreadable): SQLite's own errors decide
        if now == self._identity:
            return None
        what = "removed" if now is None else "replaced by another file"
        return (
            f"the database file {self.path!r} was {what} after this process opened it; "
            "nothing committed: its commits would reach no process that opens the file now. "
            "Restart this process to use the file at that path"
        )

    def _write_error(self, exc: BaseException, committing: bool) -> BaseException:
        """What a member of a group whose SQLite transaction failed with ``exc`` is told.

        A full disk or an I/O error is 1510 ``io_error`` (not retryable: retrying cannot help
        until someone frees space or fixes the disk) with a message naming the file; another
        failure of COMMIT itself is 1021 (the outcome is unknown); anything else is raised as
        it is.
        """
        if isinstance(exc, sqlite3.Error):
            primary = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
            if primary in (_SQLITE_FULL, _SQLITE_IOERR):
                full = primary == _SQLITE_FULL or _free_bytes(self.path) < _FULL_BELOW_BYTES
                # SQLite reports a write refused for space as SQLITE_FULL, and nothing of that
                # transaction is in the file; an I/O error during COMMIT may hit the final sync.
                unsure = committing and primary != _SQLITE_FULL
                what = "the disk is full" if full else "I/O error"
                outcome = "the commit may or may not be on disk" if unsure else "nothing committed"
                advice = "free space on that file system" if full else "check the disk"
                return FDBError(
                    1510,
                    f"cannot write the database file {self.path!r}: {what} (SQLite: {exc}); "
                    f"{outcome}; {advice}",
                )
            if committing:
                return FDBError(1021)  # the outcome of a failed COMMIT is unknown
        return exc

    def _set_sync(self, conn: sqlite3.Connection, sync: bool) -> None:
        """Make the next COMMIT wait for its fsync (``FULL``) or not (``NORMAL``: in WAL mode the
        commit is then durable once a later commit or checkpoint syncs the WAL)."""
        if sync != self._synced:
            conn.execute(f"PRAGMA synchronous = {'FULL' if sync else 'NORMAL'}")
            self._synced = sync

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
        started: WakeupListener | None = None
        with self._watch_lock:
            if self._listener is None and not self._closed:
                self._listener = started = WakeupListener(
                    wake_directory(self.path),
                    self.check_watches,
                    fallback_interval=self._fallback_interval,
                )
            entry = self._watches.add(Watch(key, seen, callback))
            listener = self._listener
            # Usually published already (a watch re-armed after it fired): a set lookup, not a
            # list of every watched key (a process may watch a thousand).
            keys = None if listener is None or listener.publishes(key) else self._watches.keys()
        if started is not None:
            # Once per process: what processes killed with SIGKILL left in the directory goes.
            self._notifier.sweep(exclude=started.name)
        if listener is not None and keys is not None:
            listener.publish(keys)  # before the value is compared: see .wakeup
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
        limits the check to one key (used when a watch is registered). A full check reads only
        the watched keys written since the last full check (one query for the keys that
        changed, then one per changed watched key), so its cost follows the commits, not the
        number of watches; when that history may have been pruned it reads every watched key.
        """
        with self._watch_lock:
            keys = [only] if only is not None else list(self._watches.keys())
            registered = self._watches.serial
            since = self._watches_checked
        if not keys or self._closed:
            return
        conn = self._reader()
        last = None
        try:
            if only is not None:  # one key: its newest value, in one statement
                row = conn.execute(_GET_LATEST, (only,)).fetchone()
                latest = {only: None if row is None else row[0]}
            else:
                last, _mark, pruned_to = conn.execute(_STATE).fetchone()
                if since is not None and since >= pruned_to:
                    changed = {row[0] for row in conn.execute(_CHANGED_SINCE, (since, last))}
                    keys = [key for key in keys if key in changed]
                latest = {}
                for key in keys:
                    row = conn.execute(_GET_LATEST_AT, (key, last)).fetchone()
                    latest[key] = None if row is None else row[0]
        finally:
            self._release(conn)
        fired: list[Watch] = []
        with self._watch_lock:
            # Advance the mark only when every watch was judged: one registered meanwhile is
            # judged by the next full check, which must then look at these changes too.
            if last is not None and self._watches.serial == registered:
                self._watches_checked = max(last, self._watches_checked or last)
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


def _identity(path: str) -> tuple[int, int]:
    """The device and inode of the file at ``path``: which file it is, whatever its name."""
    info = os.stat(path)
    return info.st_dev, info.st_ino


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
                raise FileStoreError(
                    f"cannot open database file {path!r}: {exc}{_full_disk_note(path)}"
                ) from exc
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
    except BaseException as exc:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise FileStoreError(
                f"cannot set up database file {path!r}: {exc}{_full_disk_note(path)}"
            ) from exc
        raise


def _free_bytes(path: str) -> int:
    """Bytes this process may still write on the file system of ``path`` (large if unknown)."""
    try:
        stat = os.statvfs(os.path.dirname(path))
    except OSError:
        return 1 << 62
    blocks = stat.f_bfree if os.geteuid() == 0 else stat.f_bavail  # root may use the reserve
    return blocks * stat.f_frsize


def _full_disk_note(path: str) -> str:
    """A note for error messages when the file system of ``path`` is (about) full, else ''."""
    free = _free_bytes(path)
    if free >= _FULL_BELOW_BYTES:
        return ""
    return f" (its file system is full: {free} bytes free; free space there)"


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
