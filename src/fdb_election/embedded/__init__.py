"""The embedded FoundationDB-compatible store: the binding's API with no server.

Example::

    from fdb_election import embedded

    db = embedded.open()                  # in memory, for this process
    tr = db.create_transaction()
    tr[b"k"] = b"v"
    tr.commit().wait()
    assert db[b"k"] == b"v"

Code written against it runs unchanged on a real FoundationDB cluster: it implements the part of
the official Python binding's API that fdb-election uses, with FoundationDB's semantics (what
that part is: docs/architecture.md, "The store contract"; what was checked against a real
cluster and what still differs: docs/embedded.md). Values are lazy ``Value`` futures, ranges are
``FDBRange`` iterables, errors are ``FDBError`` with FoundationDB's codes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Final

from fdb_election.embedded import predicates
from fdb_election.embedded.database import Database
from fdb_election.embedded.errors import FDBError, FileStoreError
from fdb_election.embedded.futures import Future, FutureInt64, FutureVoid, Key, Value
from fdb_election.embedded.memory import MemoryStorage
from fdb_election.embedded.ranges import FDBRange, KeySelector, KeyValue, StreamingMode, strinc
from fdb_election.embedded.transaction import Transaction

__all__ = [
    "SUPPORTS_FILES",
    "Database",
    "FDBError",
    "FDBRange",
    "FileStoreError",
    "Future",
    "FutureInt64",
    "FutureVoid",
    "Key",
    "KeySelector",
    "KeyValue",
    "StreamingMode",
    "Transaction",
    "Value",
    "open",
    "predicates",
    "strinc",
]

#: Whether ``open(path)`` is available (the SQLite file store flips this).
SUPPORTS_FILES: Final = True


def open(
    path: str | None = None,
    *,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
    rng: random.Random | None = None,
    allow_network_filesystem: bool | None = None,
) -> Database:
    """Open an embedded database: in memory when ``path`` is None, else one SQLite file that
    processes on this host share (created with mode 0600; see :mod:`.sqlite`).

    A file on a file system that other hosts mount too (NFS, SMB, CephFS, ...) is refused with
    :class:`FileStoreError`: processes on two hosts could both lead. ``allow_network_filesystem``
    (default: the environment variable ``FDB_ELECTION_ALLOW_NETWORK_FS=1``) opens it anyway,
    for when every process that opens it runs on this host.

    ``clock`` (monotonic seconds), ``sleep`` and ``rng`` replace real time and randomness, e.g.
    for deterministic simulation; they default to ``time.monotonic``, ``time.sleep`` and a fresh
    ``random.Random()``.
    """
    clock = clock if clock is not None else time.monotonic
    sleep = sleep if sleep is not None else time.sleep
    if path is not None:
        from fdb_election.embedded.sqlite import SQLiteStorage

        storage = SQLiteStorage(path, allow_network_filesystem=allow_network_filesystem)
        return Database(storage, clock=clock, sleep=sleep, rng=rng)
    return Database(MemoryStorage(clock), clock=clock, sleep=sleep, rng=rng)
