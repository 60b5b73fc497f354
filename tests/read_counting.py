"""Transactions that count their reads: per key, and in round trips as a cluster client waits
for them. For tests of how much a step or an operation reads, on any backend."""

from __future__ import annotations

from collections import Counter
from typing import Any


class RoundTrips:
    """A pipelined client's round trips: reads issued before a wait are answered together."""

    def __init__(self) -> None:
        self.batch = 0  # the batch that new reads join
        self.count = 0

    def wait_for(self, batch: int) -> None:
        if batch >= self.batch:  # not answered yet: one round trip answers everything issued
            self.count += 1
            self.batch += 1


class _Pending:
    """A read's value, available once the client has waited for the round trip it joined."""

    def __init__(self, trips: RoundTrips, value: Any) -> None:
        self._trips, self._value, self._batch = trips, value, trips.batch

    def present(self) -> bool:
        self._trips.wait_for(self._batch)
        return bool(self._value.present())

    def wait(self) -> _Pending:
        self._trips.wait_for(self._batch)
        return self

    def __bytes__(self) -> bytes:
        self._trips.wait_for(self._batch)
        return bytes(self._value)


class _CountingView:
    """``get`` counted per key and deferred to a round trip; ``get_range`` is a round trip."""

    def __init__(self, view: Any, trips: RoundTrips, reads: Counter[bytes]) -> None:
        self._view, self._trips, self._reads = view, trips, reads

    def get(self, key: bytes) -> _Pending:
        self._reads[bytes(key)] += 1
        return _Pending(self._trips, self._view.get(key))

    def get_range(self, *args: Any, **kwargs: Any) -> Any:
        self._trips.wait_for(self._trips.batch)  # iterated at once: a round trip of its own
        return self._view.get_range(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._view, name)


class CountingTransaction(_CountingView):
    """A real transaction whose point reads are counted by key (``reads``, and
    ``snapshot_reads`` for ``snapshot``) and whose read round trips are counted in ``trips``."""

    def __init__(self, tr: Any) -> None:
        self.trips = RoundTrips()
        self.reads: Counter[bytes] = Counter()
        self.snapshot_reads: Counter[bytes] = Counter()
        super().__init__(tr, self.trips, self.reads)
        self.snapshot = _CountingView(tr.snapshot, self.trips, self.snapshot_reads)


class CountingDatabase:
    """A database whose transactions are :class:`CountingTransaction`s (kept in order)."""

    def __init__(self, db: Any) -> None:
        self._db = db
        self.transactions: list[CountingTransaction] = []

    def create_transaction(self) -> CountingTransaction:
        tr = CountingTransaction(self._db.create_transaction())
        self.transactions.append(tr)
        return tr

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)
