"""``Database``: creates transactions and offers the binding's one-shot convenience methods.

Each convenience method (``db[key]``, ``db.set``, ``db.get_range``, ...) runs in its own retried
transaction and returns plain values: ``bytes``/``None`` and lists, never futures.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from fdb_election.embedded.atomic_methods import AtomicMethods
from fdb_election.embedded.errors import FDBError
from fdb_election.embedded.futures import FutureVoid, Value
from fdb_election.embedded.options import (
    DEFAULT_MAX_WATCHES,
    SIZE_LIMIT_MAX,
    DatabaseOptions,
)
from fdb_election.embedded.ranges import KeySelector, KeyValue, StreamingMode
from fdb_election.embedded.storage import MVCC_WINDOW, VERSIONS_PER_SECOND, CommitRequest, Storage
from fdb_election.embedded.transaction import Transaction

__all__ = ["Database", "FaultHook"]

#: ``hook(event, tr) -> error code or None``; see :meth:`Database.set_fault_hook`.
FaultHook = Callable[[str, Transaction], "int | None"]

T = TypeVar("T")


@dataclass
class _TransactionDefaults:
    """What ``db.options`` sets for every new transaction (and ``tr.reset()`` restores)."""

    timeout_ms: int = 0
    retry_limit: int = -1
    max_retry_delay: float = 1.0
    size_limit: int = SIZE_LIMIT_MAX


class Database(AtomicMethods):
    """An embedded FoundationDB-compatible database; open one with ``embedded.open()``.

    Example::

        db = embedded.open()
        db[b"hello"] = b"world"
        assert db[b"hello"] == b"world"

    Time and randomness are parameters: ``clock`` (monotonic seconds) drives versions (in
    memory), the 5 s transaction window (a read version older than 5 s of it gives 1007, on both
    stores) and timeouts; ``sleep`` and ``rng`` drive ``on_error`` backoff. A simulator passes
    virtual ones.
    """

    def __init__(
        self,
        store: Storage,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        # A backend whose versions do not follow ``clock`` cannot tell a read version's age;
        # transactions then time it themselves with ``clock``.
        self._read_version_lifetime: float | None = (
            None if store.enforces_lifetime else MVCC_WINDOW / VERSIONS_PER_SECOND
        )
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._defaults = _TransactionDefaults()
        self._fault_hook: FaultHook | None = None
        self._max_watches = DEFAULT_MAX_WATCHES
        self._watch_count = 0
        self._watch_lock = threading.Lock()
        self.options = DatabaseOptions(self._apply_option)

    def _apply_option(self, name: str, value: Any) -> None:
        """Set what ``db.options`` decided (checked there)."""
        if name == "max_watches":
            self._max_watches = value
        elif name in ("timeout_ms", "retry_limit", "max_retry_delay", "size_limit"):
            setattr(self._defaults, name, value)
        else:
            raise ValueError(f"unknown database option {name!r}")

    def create_transaction(self) -> Transaction:
        """A new transaction on this database."""
        return Transaction(self)

    def commit_many(self, transactions: Iterable[Transaction]) -> list[FutureVoid]:
        """Commit several transactions of this database together; one future each, in order.

        Example::

            futures = db.commit_many([tr1, tr2, tr3])
            for tr, future in zip([tr1, tr2, tr3], futures):
                try:
                    future.wait()
                except FDBError as e:
                    tr.on_error(e).wait()  # this one failed alone; retry it

        Each transaction gets exactly the outcome its own ``tr.commit()`` would have had, had
        they committed one after another in this order: its own conflict check (against what
        committed before its read version, earlier members of the call included: a member that
        read a key an earlier member writes gets 1020, the others commit), its own commit
        version (strictly increasing in this order, so versionstamps are distinct and ordered),
        its own versionstamp and watches. On the file store the group is one SQLite transaction
        with one fsync, which is the point: the number of fsyncs follows the number of calls,
        not of transactions. Every future is ready when this returns, and none reports success
        before the fsync that covers it (a group whose every member called
        ``defer_sync`` may skip that fsync). A failure of the write itself (a full disk: 1510) is
        the outcome of every member that was to be written.

        A transaction that cannot start its commit (already committed: 2017; too large: 2101;
        ...) gets that error in its future, as from ``tr.commit()``; the others go on.

        FoundationDB's binding has no such call: on a cluster, call ``tr.commit()`` on each
        transaction first and then wait for the futures; the cluster's commit proxies batch
        concurrent commits themselves. :func:`fdb_election.transactional.commit_many` does the
        right thing for either kind of database.
        """
        transactions = list(transactions)
        futures: list[FutureVoid | None] = [None] * len(transactions)
        pending: list[tuple[int, Transaction]] = []
        requests: list[CommitRequest] = []
        for tr in transactions:
            if not isinstance(tr, Transaction) or tr._db is not self:
                raise ValueError(
                    f"commit_many takes transactions created by this database, not {tr!r}"
                )
        for index, tr in enumerate(transactions):
            refused = tr._start_commit()
            if refused is not None:
                futures[index] = refused
            else:
                pending.append((index, tr))
                requests.append(tr._commit_request())
        outcomes = self._store.commit_batch(requests) if requests else []
        unexpected: BaseException | None = None
        for (index, tr), outcome in zip(pending, outcomes, strict=True):
            try:
                futures[index] = tr._finish_commit(outcome)
            except BaseException as exc:  # e.g. the database was closed: after the others
                futures[index] = FutureVoid(None, exc)
                unexpected = unexpected or exc
        if unexpected is not None:
            raise unexpected
        return [f for f in futures if f is not None]

    @property
    def path(self) -> str | None:
        """The absolute path of the file this database lives in, None for one in memory."""
        path = getattr(self._store, "path", None)
        return path if isinstance(path, str) else None

    def set_fault_hook(self, hook: FaultHook | None) -> None:
        """Inject failures (embedded store only; for simulators and tests of callers).

        ``hook(event, tr)`` is called with ``event``:

        * ``"read_version"`` when a transaction fetches its read version: a returned code makes
          that read fail with ``FDBError(code)``;
        * ``"commit"`` before a read-write commit is applied: a code makes the commit fail with
          it and nothing is written;
        * ``"committed"`` after the commit is durable: a code (typically 1021
          ``commit_unknown_result``) is reported to the caller although the data is committed.

        Return ``None`` for no fault; pass ``None`` to remove the hook.
        """
        self._fault_hook = hook

    def close(self) -> None:
        """Release the backend; the database is not used afterwards."""
        self._store.close()

    def _reserve_watch(self, future: FutureVoid) -> bool:
        with self._watch_lock:
            if self._watch_count >= self._max_watches:
                return False
            self._watch_count += 1
        future.on_ready(self._release_watch)
        return True

    def _release_watch(self, _future: Any) -> None:
        with self._watch_lock:
            self._watch_count -= 1

    # -- one-shot transactions ---------------------------------------------------------------

    def _run(self, body: Callable[[Transaction], T]) -> T:
        tr = self.create_transaction()
        while True:
            try:
                result = body(tr)
                tr.commit().wait()
                return result
            except FDBError as e:
                tr.on_error(e).wait()

    def get(self, key: Any) -> bytes | None:
        """The value of ``key`` as ``bytes`` or ``None``."""
        return self._run(lambda tr: tr.get(key).value)

    def get_key(self, key_selector: KeySelector) -> bytes:
        """The key a selector resolves to, as ``bytes``."""
        return self._run(lambda tr: bytes(tr.get_key(key_selector)))

    def get_range(
        self,
        begin: Any,
        end: Any,
        limit: int = 0,
        reverse: bool = False,
        streaming_mode: int = StreamingMode.want_all,
    ) -> list[KeyValue]:
        """Rows of ``[begin, end)`` as a list of :class:`KeyValue`."""
        return self._run(
            lambda tr: tr.get_range(begin, end, limit, reverse, streaming_mode).to_list()
        )

    def get_range_startswith(self, prefix: Any, *args: Any, **kwargs: Any) -> list[KeyValue]:
        """Rows whose key starts with ``prefix``, as a list."""
        return self._run(lambda tr: tr.get_range_startswith(prefix, *args, **kwargs).to_list())

    def set(self, key: Any, value: Any) -> None:
        """Set ``key`` to ``value`` in its own transaction."""
        self._run(lambda tr: tr.set(key, value))

    def clear(self, key: Any) -> None:
        """Remove ``key``."""
        self._run(lambda tr: tr.clear(key))

    def clear_range(self, begin: Any, end: Any) -> None:
        """Remove every key in ``[begin, end)``."""
        self._run(lambda tr: tr.clear_range(begin, end))

    def clear_range_startswith(self, prefix: Any) -> None:
        """Remove every key starting with ``prefix``."""
        self._run(lambda tr: tr.clear_range_startswith(prefix))

    def get_and_watch(self, key: Any) -> tuple[Value, FutureVoid]:
        """The current value and a watch on ``key``, from one transaction."""
        return self._run(lambda tr: (tr.get(key), tr.watch(key)))

    def set_and_watch(self, key: Any, value: Any) -> FutureVoid:
        """Set ``key`` and watch it for the next change."""

        def body(tr: Transaction) -> FutureVoid:
            tr.set(key, value)
            return tr.watch(key)

        return self._run(body)

    def clear_and_watch(self, key: Any) -> FutureVoid:
        """Clear ``key`` and watch it for the next change."""

        def body(tr: Transaction) -> FutureVoid:
            tr.clear(key)
            return tr.watch(key)

        return self._run(body)

    def _atomic(self, op: int, key: Any, param: Any) -> None:
        self._run(lambda tr: tr._atomic(op, key, param))

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            return self.get_range(key.start, key.stop, reverse=(key.step == -1))
        return self.get(key)
