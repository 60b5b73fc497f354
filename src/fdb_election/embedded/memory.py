"""The in-memory multi-version backend (one process, many threads).

Each key keeps a short history of ``(version, value-or-None)``; a reader at version ``v`` sees the
newest entry at or below ``v``, so a transaction keeps its snapshot while others commit. Recent
commits' write conflict ranges are kept for conflict checks. Both are pruned once older than
:data:`MVCC_WINDOW`, so memory stays bounded under a steady workload. One short lock guards reads
and commits; nothing is held between calls.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import NamedTuple

from sortedcontainers import SortedList

from fdb_election.embedded.errors import FDBError
from fdb_election.embedded.mutations import (
    CLEAR_RANGE,
    SET_VALUE,
    Mutation,
    MutationType,
    apply_atomic,
    substitute_versionstamp,
    versionstamp_bytes,
)
from fdb_election.embedded.storage import (
    MVCC_WINDOW,
    VERSIONS_PER_SECOND,
    CommitOutcome,
    CommitRequest,
    KeyRange,
)
from fdb_election.embedded.watch_registry import Watch, WatchRegistry

__all__ = ["MemoryStorage"]

_SET_VERSIONSTAMPED_KEY = int(MutationType.SET_VERSIONSTAMPED_KEY)
_SET_VERSIONSTAMPED_VALUE = int(MutationType.SET_VERSIONSTAMPED_VALUE)

# The first version handed out; any positive number works.
_INITIAL_VERSION = 1


class _CommitRecord(NamedTuple):
    """What a commit changed, kept until it leaves the window (then used for pruning)."""

    version: int
    mutated: list[bytes]
    point_conflicts: list[bytes]


class MemoryStorage:
    """:class:`~fdb_election.embedded.storage.Storage` in memory; ``clock`` gives seconds."""

    enforces_lifetime = True  # versions follow the clock

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._epoch = clock()
        self._lock = threading.Lock()
        self._high = _INITIAL_VERSION  # highest version handed out (read or commit)
        self._committed = _INITIAL_VERSION  # latest commit version
        self._data: dict[bytes, list[tuple[int, bytes | None]]] = {}
        self._keys = SortedList()
        # Conflict history: last write version per point key, and ranged writes in commit order.
        self._point_writes: dict[bytes, int] = {}
        self._point_write_keys = SortedList()
        self._range_writes: deque[tuple[int, bytes, bytes]] = deque()
        self._history: deque[_CommitRecord] = deque()
        self._watches = WatchRegistry()
        self._closed = False

    # -- versions ---------------------------------------------------------------------------

    def _clock_version(self) -> int:
        return _INITIAL_VERSION + int((self._clock() - self._epoch) * VERSIONS_PER_SECOND)

    def _check_version(self, version: int) -> None:
        """Raise 1007 / 1009 for a version outside the readable window (lock held)."""
        now = max(self._clock_version(), self._high)
        if now - version > MVCC_WINDOW:
            raise FDBError(1007)
        if version > self._high:
            raise FDBError(1009)

    def read_version(self) -> int:
        with self._lock:
            version = max(self._clock_version(), self._committed)
            if version > self._high:
                self._high = version
            return version

    # -- reads ------------------------------------------------------------------------------

    @staticmethod
    def _at(history: list[tuple[int, bytes | None]], version: int) -> bytes | None:
        for entry_version, value in reversed(history):
            if entry_version <= version:
                return value
        return None

    def get(self, key: bytes, version: int) -> bytes | None:
        with self._lock:
            self._check_version(version)
            history = self._data.get(key)
            if history is None:
                return None
            last_version, value = history[-1]
            if last_version <= version:
                return value
            return self._at(history, version)

    def get_range(
        self, begin: bytes, end: bytes, version: int, limit: int, reverse: bool
    ) -> list[tuple[bytes, bytes]]:
        rows: list[tuple[bytes, bytes]] = []
        if begin >= end:
            return rows
        with self._lock:
            self._check_version(version)
            data = self._data
            at = self._at
            for key in self._keys.irange(begin, end, (True, False), reverse):
                value = at(data[key], version)
                if value is not None:
                    rows.append((key, value))
                    if len(rows) == limit:
                        break
        return rows

    # -- commits ----------------------------------------------------------------------------

    def _conflicts(self, read_version: int, read_conflicts: Sequence[KeyRange]) -> bool:
        point_writes = self._point_writes
        ranged = self._range_writes
        for begin, end in read_conflicts:
            if begin >= end:  # an empty range conflicts with nothing
                continue
            if len(end) == len(begin) + 1 and end[-1] == 0 and end.startswith(begin):
                written = point_writes.get(begin)
                if written is not None and written > read_version:
                    return True
            else:
                for key in self._point_write_keys.irange(begin, end, (True, False)):
                    if point_writes[key] > read_version:
                        return True
            for written, range_begin, range_end in reversed(ranged):
                if written <= read_version:
                    break
                if range_begin < end and begin < range_end:
                    return True
        return False

    def _latest(self, key: bytes) -> bytes | None:
        history = self._data.get(key)
        return history[-1][1] if history else None

    def _apply(self, mutations: Sequence[Mutation], stamp: bytes) -> dict[bytes, bytes | None]:
        """The new value of every key the mutations touch (None = cleared)."""
        changed: dict[bytes, bytes | None] = {}
        for op, key, param in mutations:
            if op == SET_VALUE:
                changed[key] = param
            elif op == CLEAR_RANGE:
                if len(param) == len(key) + 1 and param[-1] == 0 and param.startswith(key):
                    changed[key] = None
                    continue
                for existing in self._keys.irange(key, param, (True, False)):
                    changed[existing] = None
                for pending in [k for k in changed if key <= k < param]:
                    changed[pending] = None
            elif op == _SET_VERSIONSTAMPED_KEY:
                changed[substitute_versionstamp(key, stamp)] = param
            elif op == _SET_VERSIONSTAMPED_VALUE:
                changed[key] = substitute_versionstamp(param, stamp)
            else:
                existing_value = changed[key] if key in changed else self._latest(key)
                changed[key] = apply_atomic(op, existing_value, param)
        return changed

    def commit(
        self,
        read_version: int | None,
        read_conflicts: Sequence[KeyRange],
        write_conflicts: Sequence[KeyRange],
        mutations: Sequence[Mutation],
        *,
        sync: bool = True,  # nothing here reaches a disk
    ) -> int:
        fired: list[Watch] = []
        with self._lock:
            version = self._commit_locked(
                read_version, read_conflicts, write_conflicts, mutations, fired
            )
        for watch in fired:
            watch.callback()
        return version

    def commit_batch(self, requests: Sequence[CommitRequest]) -> list[CommitOutcome]:
        """Commit a group under one acquisition of the lock: members in order, each with its own
        conflict check (against earlier members too), version and outcome."""
        fired: list[Watch] = []
        outcomes: list[CommitOutcome] = []
        with self._lock:
            for request in requests:
                try:
                    outcomes.append(
                        self._commit_locked(
                            request.read_version,
                            request.read_conflicts,
                            request.write_conflicts,
                            request.mutations,
                            fired,
                        )
                    )
                except FDBError as e:
                    outcomes.append(e)
        for watch in fired:
            watch.callback()
        return outcomes

    def _commit_locked(
        self,
        read_version: int | None,
        read_conflicts: Sequence[KeyRange],
        write_conflicts: Sequence[KeyRange],
        mutations: Sequence[Mutation],
        fired: list[Watch],
    ) -> int:
        """One commit, lock held; the watches it fires are added to ``fired``."""
        if read_version is not None and read_conflicts:
            # Like FoundationDB's resolver: too old only matters with read conflicts.
            if max(self._clock_version(), self._high) - read_version > MVCC_WINDOW:
                raise FDBError(1007)
            if self._conflicts(read_version, read_conflicts):
                raise FDBError(1020)
        version = max(self._clock_version(), self._high + 1)
        changed = self._apply(mutations, versionstamp_bytes(version))
        self._high = self._committed = version
        data = self._data
        mutated: list[bytes] = []
        for key, value in changed.items():
            history = data.get(key)
            if history is None:
                if value is None:
                    continue
                data[key] = [(version, value)]
                self._keys.add(key)
            elif value is None and history[-1][1] is None:
                continue
            else:
                history.append((version, value))
            mutated.append(key)
            if self._watches:
                fired.extend(self._watches.take_changed(key, value))
        point_conflicts: list[bytes] = []
        for begin, end in write_conflicts:
            if begin >= end:  # an empty range conflicts with nothing
                continue
            if len(end) == len(begin) + 1 and end[-1] == 0 and end.startswith(begin):
                if begin not in self._point_writes:
                    self._point_write_keys.add(begin)
                self._point_writes[begin] = version
                point_conflicts.append(begin)
            else:
                self._range_writes.append((version, begin, end))
        self._history.append(_CommitRecord(version, mutated, point_conflicts))
        self._prune(version - MVCC_WINDOW)
        return version

    def _prune(self, horizon: int) -> None:
        """Forget conflict history and value versions no reader inside the window can need."""
        history = self._history
        while history and history[0].version < horizon:
            record = history.popleft()
            for key in record.point_conflicts:
                if self._point_writes.get(key) == record.version:
                    del self._point_writes[key]
                    self._point_write_keys.remove(key)
            for key in record.mutated:
                self._trim(key, horizon)
        ranged = self._range_writes
        while ranged and ranged[0][0] < horizon:
            ranged.popleft()

    def _trim(self, key: bytes, horizon: int) -> None:
        versions = self._data.get(key)
        if versions is None:
            return
        keep_from = 0
        for index, (version, _value) in enumerate(versions):
            if version <= horizon:
                keep_from = index
            else:
                break
        if keep_from:
            del versions[:keep_from]
        if len(versions) == 1 and versions[0][1] is None and versions[0][0] <= horizon:
            del self._data[key]
            self._keys.remove(key)

    # -- watches ----------------------------------------------------------------------------

    def watch(self, key: bytes, seen: bytes | None, callback: Callable[[], None]) -> Watch:
        handle = Watch(key, seen, callback)
        with self._lock:
            if self._latest(key) == seen:
                return self._watches.add(handle)
        callback()
        return handle

    def unwatch(self, handle: object) -> None:
        with self._lock:
            self._watches.remove(handle)

    # -- introspection ----------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Sizes of the internal structures (for tests of pruning and for diagnostics)."""
        with self._lock:
            return {
                "keys": len(self._data),
                "versions": sum(len(h) for h in self._data.values()),
                "commit_records": len(self._history),
                "point_conflicts": len(self._point_writes),
                "range_conflicts": len(self._range_writes),
                "watches": len(self._watches),
            }

    def close(self) -> None:
        self._closed = True
