"""The storage-backend interface behind the embedded store's transactions.

A backend is a multi-version key-value store with optimistic conflict detection. It knows nothing
about transactions: read-your-writes, conflict-range bookkeeping, options, retries, deferred errors
and limits live once, in :mod:`fdb_election.embedded.transaction`, and every backend (memory,
SQLite file) gets them for free.

Versions are integers that advance about 1,000,000 per second of the backend's clock and strictly
increase per commit. A backend must keep every version readable for :data:`MVCC_WINDOW` versions
after it was current, and may forget older ones (reads and commits at them fail with 1007).

Commits come one at a time (:meth:`Storage.commit`) or as a group (:meth:`Storage.commit_batch`):
a group is checked and applied as if its members committed one after another, in order, each
with its own conflict check, outcome and version; a backend that writes to disk makes the whole
group durable at once (the file store: one SQLite transaction, one fsync), and may skip the fsync
when no member asks for it (``CommitRequest.sync``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, NamedTuple, Protocol

from fdb_election.embedded.mutations import Mutation

__all__ = [
    "MVCC_WINDOW",
    "VERSIONS_PER_SECOND",
    "CommitOutcome",
    "CommitRequest",
    "KeyRange",
    "Storage",
    "WatchHandle",
]

#: How many versions a read version stays usable (FoundationDB's 5-second window).
MVCC_WINDOW: Final = 5_000_000
#: Version growth per second of the backend clock.
VERSIONS_PER_SECOND: Final = 1_000_000

#: A half-open key range ``[begin, end)``.
KeyRange = tuple[bytes, bytes]


class CommitRequest(NamedTuple):
    """What a transaction hands the backend to commit (the arguments of :meth:`Storage.commit`)."""

    read_version: int | None
    read_conflicts: Sequence[KeyRange]
    write_conflicts: Sequence[KeyRange]
    mutations: Sequence[Mutation]
    #: False: the commit may be acknowledged before it is on disk (``Transaction.defer_sync``).
    sync: bool = True


#: The answer for one member of :meth:`Storage.commit_batch`: its commit version, or the error
#: its commit raises (an ``FDBError`` such as 1020, or e.g. ``FileStoreError`` once closed).
CommitOutcome = int | BaseException


class WatchHandle(Protocol):
    """What :meth:`Storage.watch` returns; only the backend looks inside."""


class Storage(Protocol):
    """A multi-version store; every method is thread-safe and returns quickly.

    No method may block waiting for another transaction: a client that stops in the middle of a
    transaction must never hold anything another client needs.
    """

    #: True when the backend's versions follow the database's clock, so that it refuses a read
    #: version older than :data:`MVCC_WINDOW` itself (1007). False when a version's age is not
    #: known to it: transactions then time their read version with the database's clock.
    enforces_lifetime: bool

    def read_version(self) -> int:
        """A version at which every commit acknowledged so far is visible; later commits get a
        strictly larger version."""
        ...

    def get(self, key: bytes, version: int) -> bytes | None:
        """The value of ``key`` at ``version`` (None when absent).

        Raises ``FDBError(1007)`` when ``version`` is older than the window and
        ``FDBError(1009)`` when it is newer than any version handed out.
        """
        ...

    def get_range(
        self, begin: bytes, end: bytes, version: int, limit: int, reverse: bool
    ) -> list[tuple[bytes, bytes]]:
        """Present rows with ``begin <= key < end`` at ``version``, ascending (descending when
        ``reverse``), at most ``limit`` of them (0 = all). Same errors as :meth:`get`."""
        ...

    def commit(
        self,
        read_version: int | None,
        read_conflicts: Sequence[KeyRange],
        write_conflicts: Sequence[KeyRange],
        mutations: Sequence[Mutation],
        *,
        sync: bool = True,
    ) -> int:
        """Atomically check conflicts and apply ``mutations`` in order; return the commit version.

        With ``sync`` False a backend that writes to disk may return before the commit is
        durable: a process crash must not lose it, an OS crash may (with every later commit
        that was not synced either, never an earlier one).

        Raises ``FDBError(1020)`` when a write conflict range of a transaction committed after
        ``read_version`` intersects ``read_conflicts``; ``FDBError(1007)`` when ``read_version``
        is older than the window. ``read_version`` None means a blind write (never conflicts).
        Versionstamped mutations get the 10-byte stamp ``versionstamp_bytes(commit_version)``.
        Nothing is written when an error is raised.
        """
        ...

    def commit_batch(self, requests: Sequence[CommitRequest]) -> list[CommitOutcome]:
        """Commit a group: each member as :meth:`commit` would, in order, one outcome each.

        A member is checked against everything committed after its read version, earlier
        members of the group included, so a member that read what an earlier one wrote gets
        1020 alone while the others commit. Members that commit get strictly increasing
        versions in group order. Nobody's outcome is returned before the whole group is
        durable (unless no member asks for ``sync``); a failure of the group's write itself
        (1021, 1038, 1510) is every committing member's outcome.
        """
        ...

    def watch(self, key: bytes, seen: bytes | None, callback: Callable[[], None]) -> WatchHandle:
        """Call ``callback()`` once, from any thread, when ``key``'s value differs from ``seen``
        (at once if it already does). A change and change back may be missed."""
        ...

    def unwatch(self, handle: WatchHandle) -> None:
        """Forget a watch; its callback will not be called (harmless if already fired)."""
        ...

    def close(self) -> None:
        """Release resources; the backend is not used afterwards."""
        ...
