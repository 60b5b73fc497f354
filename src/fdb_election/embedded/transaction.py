"""``Transaction``: the binding's transaction semantics on top of any storage backend.

Everything a client library does lives here, once: the read version, read-your-writes (sets,
clears, range clears and atomic ops merged into reads), exact read and write conflict ranges,
deferred write errors, size limits, timeouts, ``on_error`` backoff and reset, versionstamps and
watches. A backend (:mod:`.storage`) only stores versions and detects conflicts.

Example::

    tr = db.create_transaction()
    while True:
        try:
            counter = tr[b"n"]
            n = int(counter) if counter.present() else 0
            tr[b"n"] = b"%d" % (n + 1)
            tr.commit().wait()
            break
        except FDBError as e:
            tr.on_error(e).wait()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from sortedcontainers import SortedList

from fdb_election.embedded.atomic_methods import AtomicMethods
from fdb_election.embedded.errors import FDBError
from fdb_election.embedded.futures import Attempt, FutureInt64, FutureVoid, Key, Value
from fdb_election.embedded.mutations import (
    CLEAR_RANGE,
    SET_VALUE,
    VALUE_SIZE_LIMIT,
    Mutation,
    MutationType,
    apply_atomic,
    versionstamp_offset,
)
from fdb_election.embedded.options import TransactionOptions
from fdb_election.embedded.ranges import (
    FDBRange,
    KeySelector,
    KeyValue,
    StreamingMode,
    is_key_selector,
    strinc,
)
from fdb_election.embedded.storage import CommitOutcome, CommitRequest, KeyRange

if TYPE_CHECKING:
    from fdb_election.embedded.database import Database

__all__ = ["KEY_SIZE_LIMIT", "Transaction", "TransactionRead"]

#: Largest key, in bytes (2102 above it); system keys may be longer.
KEY_SIZE_LIMIT: Final = 10_000
_SYSTEM_KEY_SIZE_LIMIT: Final = 30_000
_NORMAL_KEY_END: Final = b"\xff"
_SYSTEM_KEY_END: Final = b"\xff\xff"
_INITIAL_BACKOFF: Final = 0.01
#: Codes ``on_error`` retries with exponential backoff.
_BACKOFF_RETRYABLE: Final = frozenset({1020, 1021, 1037, 1038, 1042, 1051, 1078, 1213, 1223})
#: Codes ``on_error`` retries after a short fixed delay.
_SHORT_RETRYABLE: Final = frozenset({1007, 1009})

_ACTIVE: Final = 0
_COMMITTED: Final = 1  # commit() was called: everything is 2017 until reset / on_error
_CANCELLED: Final = 2  # cancel() or a failed on_error: everything is 1025 until reset

_VS_KEY: Final = int(MutationType.SET_VERSIONSTAMPED_KEY)
_VS_VALUE: Final = int(MutationType.SET_VERSIONSTAMPED_VALUE)
_MISSING: Any = object()
#: Below this many written keys, range operations scan them; from it on they use a sorted index.
_INDEX_FROM: Final = 64


def to_key(key: Any) -> bytes:
    """``key`` as bytes: ``bytes`` or an object with ``as_foundationdb_key()`` (else TypeError)."""
    if type(key) is bytes:
        return key
    convert = getattr(key, "as_foundationdb_key", None)
    if convert is not None:
        key = convert()
    if isinstance(key, bytes):
        return bytes(key)
    raise TypeError("Key must be of type bytes")


def to_value(value: Any) -> bytes:
    """``value`` as bytes: ``bytes`` or ``as_foundationdb_value()`` (else TypeError)."""
    if type(value) is bytes:
        return value
    convert = getattr(value, "as_foundationdb_value", None)
    if convert is not None:
        value = convert()
    if isinstance(value, bytes):
        return bytes(value)
    raise TypeError("Value must be of type bytes")


def _key_after(key: bytes) -> bytes:
    return key + b"\x00"


class _Pending:
    """Own atomic ops on a key whose stored value this transaction has not seen."""

    __slots__ = ("ops",)

    def __init__(self, op: int, param: bytes) -> None:
        self.ops = [(op, param)]

    def apply(self, base: bytes | None) -> bytes | None:
        for op, param in self.ops:
            base = apply_atomic(op, base, param)
        return base


class _Watch:
    """A watch created by this transaction and not yet handed to the backend."""

    __slots__ = ("future", "key", "seen")

    def __init__(self, key: bytes, seen: bytes | None, future: FutureVoid) -> None:
        self.key = key
        self.seen = seen
        self.future = future


class TransactionRead:
    """The read API shared by a :class:`Transaction` and its ``snapshot`` view."""

    __slots__ = ()

    #: Whether reads through this object are snapshot reads.
    _snap = False

    @property
    def _tr(self) -> Transaction:
        """The transaction whose state the reads use."""
        raise NotImplementedError

    @property
    def db(self) -> Database:
        """The database this transaction belongs to."""
        return self._tr._db

    def get(self, key: Any) -> Value:
        """The value of ``key`` as a lazy :class:`Value` (errors are raised at first use)."""
        return self._tr._read(to_key(key), self._snap)

    def get_key(self, key_selector: KeySelector) -> Key:
        """The key ``key_selector`` resolves to (``b''`` / ``b'\\xff'`` past either end).

        Like the binding, it takes any object with ``key``, ``or_equal`` and ``offset`` (this
        package's :class:`KeySelector` or ``fdb.KeySelector``)."""
        selector = (to_key(key_selector.key), bool(key_selector.or_equal), key_selector.offset)
        return self._tr._get_key(selector, self._snap)

    def get_range(
        self,
        begin: Any,
        end: Any,
        limit: int = 0,
        reverse: bool = False,
        streaming_mode: int = StreamingMode.iterator,
    ) -> FDBRange:
        """Rows with ``begin <= key < end`` (keys or :class:`KeySelector`); ``limit=0`` = all."""
        return self._tr._get_range(begin, end, limit, reverse, streaming_mode, self._snap)

    def get_range_startswith(self, prefix: Any, *args: Any, **kwargs: Any) -> FDBRange:
        """Rows whose key starts with ``prefix``."""
        prefix = to_key(prefix)
        return self.get_range(prefix, strinc(prefix), *args, **kwargs)

    def get_read_version(self) -> FutureInt64:
        """The transaction's read version (fetched now if no read has fetched it yet)."""
        return self._tr._get_read_version()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            return self.get_range(key.start, key.stop, reverse=(key.step == -1))
        return self.get(key)


class _Snapshot(TransactionRead):
    """``tr.snapshot``: the same transaction, reading without read conflict ranges."""

    __slots__ = ("_parent",)
    _snap = True

    def __init__(self, tr: Transaction) -> None:
        self._parent = tr

    @property
    def _tr(self) -> Transaction:
        return self._parent


#: Transaction options that only set an attribute: option name -> attribute.
_OPTION_ATTRIBUTES: Final = {
    "retry_limit": "_retry_limit",
    "max_retry_delay": "_max_retry_delay",
    "size_limit": "_size_limit",
    "snapshot_ryw": "_snapshot_ryw",
    "no_conflict_next": "_no_conflict_next",
    "system_read": "_system_read",
    "system_write": "_system_write",
    "bypass_unreadable": "_bypass_unreadable",
}


class Transaction(TransactionRead, AtomicMethods):
    """One optimistic transaction: buffered writes, a consistent snapshot, commit or retry.

    Obtain it from ``db.create_transaction()``. Nothing is written until ``commit().wait()``
    succeeds; on an :class:`FDBError`, ``on_error(e).wait()`` backs off and resets it for another
    attempt (or re-raises when the error is not retryable).
    """

    __slots__ = (
        "_attempt",
        "_backoff",
        "_bypass_unreadable",
        "_cleared",
        "_committed_version",
        "_db",
        "_deadline",
        "_deferred",
        "_max_retry_delay",
        "_mutations",
        "_no_conflict_next",
        "_point_reads",
        "_read_conflicts",
        "_retries",
        "_retry_limit",
        "_rv",
        "_rv_deadline",
        "_ryw",
        "_size",
        "_size_limit",
        "_snapshot_ryw",
        "_stamp",
        "_start",
        "_state",
        "_store",
        "_sync",
        "_system_read",
        "_system_write",
        "_timeout_ms",
        "_unindexed",
        "_unreadable_keys",
        "_unreadable_ranges",
        "_watches",
        "_write_conflicts",
        "_write_index",
        "_writes",
    )

    def __init__(self, db: Database) -> None:
        self._db = db
        self._store = db._store
        self._attempt: Attempt | None = None
        self._stamp: Key | None = None
        self._watches: list[_Watch] = []
        self._full_reset()

    @property
    def _tr(self) -> Transaction:
        return self

    # Built on demand (not stored) so a dropped transaction is freed at once, without a cycle.
    @property
    def options(self) -> TransactionOptions:
        """Transaction options (``tr.options.set_timeout(ms)``, ...)."""
        return TransactionOptions(self._apply_option)

    @property
    def snapshot(self) -> TransactionRead:
        """This transaction, read with snapshot isolation (no read conflict ranges)."""
        return _Snapshot(self)

    # -- state ------------------------------------------------------------------------------

    def _full_reset(self) -> None:
        defaults = self._db._defaults
        self._start = self._db._clock()
        self._retries = 0
        self._backoff = _INITIAL_BACKOFF
        self._retry_limit = defaults.retry_limit
        self._max_retry_delay = defaults.max_retry_delay
        self._set_timeout(defaults.timeout_ms)
        self._reset_attempt()

    def _reset_attempt(self) -> None:
        """Forget this attempt (writes, reads, conflicts, read version, non-persistent options)."""
        self._state = _ACTIVE
        self._rv: int | None = None
        # When the read version's 5 s run out, for a backend that does not refuse old read
        # versions by itself (the file store); None when it does or no read version was fetched.
        self._rv_deadline: float | None = None
        self._writes: dict[bytes, Any] = {}
        # Sorted keys of _writes, built when a range operation first needs it in a big
        # transaction; keys written since are queued in _unindexed (possibly repeated).
        self._write_index: SortedList | None = None
        self._unindexed: list[bytes] = []
        self._cleared: list[KeyRange] = []
        self._mutations: list[Mutation] = []
        self._read_conflicts: list[KeyRange] = []
        self._write_conflicts: list[KeyRange] = []
        self._size = 0
        self._unreadable_keys: set[bytes] | None = None
        self._unreadable_ranges: list[KeyRange] | None = None
        self._deferred: FDBError | None = None
        self._committed_version = -1
        self._abandon(1025)
        # Shared by this attempt's store reads: abandoning it fails the ones not yet used.
        self._attempt = Attempt()
        self._stamp = None
        self._watches = []
        # What the store answered for each key read at this attempt's read version, when the
        # transaction itself enforces the read version's age (the file store): a key read again
        # (the election reads its configuration and leader key twice a step) costs no query.
        self._point_reads: dict[bytes, Any] | None = (
            {} if self._db._read_version_lifetime is not None else None
        )
        self._size_limit = self._db._defaults.size_limit
        self._sync = True
        self._ryw = True
        self._snapshot_ryw = True
        self._no_conflict_next = False
        self._system_read = False
        self._system_write = False
        self._bypass_unreadable = False

    def __del__(self) -> None:
        # A transaction dropped before commit fails what still waits on it (1025), as
        # FoundationDB does when the binding destroys its transaction.
        try:
            self._abandon(1025)
        except AttributeError:  # __init__ did not finish
            pass

    def _abandon(self, code: int, reads: bool = True) -> None:
        """Fail what still waits on this attempt: its versionstamp, uncommitted watches and
        (``reads``) the store reads not used yet (a cluster would still be answering them)."""
        if reads:
            attempt = self._attempt
            if attempt is not None:
                attempt.code = code
        stamp = self._stamp
        if stamp is not None:
            stamp._set_error(FDBError(code))
        watches = self._watches
        if watches:
            for watch in watches:
                watch.future._set_error(FDBError(code))
            watches.clear()

    def _apply_option(self, name: str, value: Any) -> None:
        """Set what ``tr.options`` decided (checked there; see ``options.Apply``)."""
        if name == "defer":
            self._defer(value)
        elif name == "timeout":
            self._set_timeout(value)
        elif name == "disable_ryw":
            self._disable_ryw()
        elif name in _OPTION_ATTRIBUTES:
            setattr(self, _OPTION_ATTRIBUTES[name], value)
        else:
            raise ValueError(f"unknown transaction option {name!r}")

    def _set_timeout(self, ms: int) -> None:
        self._timeout_ms = ms
        self._deadline = self._start + ms / 1000.0 if ms > 0 else None

    def _defer(self, code: int) -> None:
        """Remember a write error; the next future-returning call or commit raises it."""
        if self._deferred is None:
            self._deferred = FDBError(code)

    def _disable_ryw(self) -> None:
        if self._rv is not None or self._mutations or self._writes:
            self._defer(2000)
        self._ryw = False

    def _usable(self) -> FDBError | None:
        """The error every operation must report now, or None when the transaction is usable."""
        if self._state:
            return FDBError(1025 if self._state == _CANCELLED else 2017)
        if self._deadline is not None and self._db._clock() >= self._deadline:
            return FDBError(1031)
        return self._deferred

    def _read_version(self) -> int:
        """The read version for a read: fetched at the first one; 1007 once over 5 s old."""
        rv = self._rv
        if rv is None:
            rv = self._fetch_read_version()
        elif self._rv_deadline is not None and self._too_old():
            raise FDBError(1007)
        return rv

    def _fetch_read_version(self) -> int:
        hook = self._db._fault_hook
        if hook is not None:
            code = hook("read_version", self)
            if code is not None:
                raise FDBError(code)
        rv = self._rv = self._store.read_version()
        lifetime = self._db._read_version_lifetime
        if lifetime is not None:
            self._rv_deadline = self._db._clock() + lifetime
        return rv

    def _too_old(self) -> bool:
        """Whether the read version is over 5 s old (only known here for the file store)."""
        return self._rv_deadline is not None and self._db._clock() > self._rv_deadline

    # -- reads ------------------------------------------------------------------------------

    def _read_end(self) -> bytes:
        return _SYSTEM_KEY_END if self._system_read else _NORMAL_KEY_END

    def _is_unreadable(self, key: bytes) -> bool:
        if self._bypass_unreadable:
            return False
        keys = self._unreadable_keys
        if keys is not None and key in keys:
            return True
        ranges = self._unreadable_ranges
        return ranges is not None and any(b <= key < e for b, e in ranges)

    def _range_unreadable(self, begin: bytes, end: bytes) -> bool:
        if self._bypass_unreadable:
            return False
        keys = self._unreadable_keys
        if keys is not None and any(begin <= k < end for k in keys):
            return True
        ranges = self._unreadable_ranges
        return ranges is not None and any(b < end and begin < e for b, e in ranges)

    def _own(self, key: bytes) -> Any:
        """This transaction's knowledge of ``key``: bytes/None, a :class:`_Pending`, or _MISSING."""
        entry = self._writes.get(key, _MISSING)
        if entry is _MISSING and self._cleared:
            for begin, end in self._cleared:
                if begin <= key < end:
                    return None
        return entry

    def _written_keys(self, begin: bytes, end: bytes) -> list[bytes]:
        """Keys of ``_writes`` in ``[begin, end)``, in order, without scanning them all."""
        writes = self._writes
        if len(writes) < _INDEX_FROM:
            return sorted(k for k in writes if begin <= k < end)
        index = self._write_index
        if index is None:
            index = self._write_index = SortedList(writes)
        elif self._unindexed:
            index.update({k for k in self._unindexed if k not in index})
        self._unindexed.clear()
        return list(index.irange(begin, end, inclusive=(True, False)))

    def _written(self, key: bytes) -> None:
        """Note that ``key`` was just put in ``_writes`` (for the sorted index, once built)."""
        if self._write_index is not None:
            self._unindexed.append(key)

    def _read(self, key: bytes, snapshot: bool) -> Value:
        error = self._usable()
        if error is not None:
            return Value(None, error)
        if key >= self._read_end():
            return Value(None, FDBError(2004))
        if len(key) > (_SYSTEM_KEY_SIZE_LIMIT if key >= b"\xff" else KEY_SIZE_LIMIT):
            return Value(None)
        if (self._unreadable_keys or self._unreadable_ranges) and self._is_unreadable(key):
            return Value(None, FDBError(1036))
        own: Any = _MISSING
        if self._ryw and (not snapshot or self._snapshot_ryw):
            own = self._own(key)
            if own is not _MISSING and type(own) is not _Pending:
                return Value(own)  # answered by our own set/clear: no read conflict
        try:
            version = self._read_version()
            cache = self._point_reads
            value = cache.get(key, _MISSING) if cache is not None else _MISSING
            if value is _MISSING:
                value = self._store.get(key, version)
                if cache is not None:
                    cache[key] = value
        except FDBError as e:
            return Value(None, e)
        if not snapshot:
            self._add_read_conflict(key, _key_after(key))
        if own is not _MISSING:
            value = own.apply(value)
        return Value(value, None, self._attempt)

    def _add_read_conflict(self, begin: bytes, end: bytes) -> None:
        """Record ``[begin, end)`` minus what our own sets and clears already determine."""
        if not self._ryw or (not self._writes and not self._cleared):
            self._read_conflicts.append((begin, end))
            self._size += len(begin) + len(end)
            return
        writes = self._writes
        if len(end) == len(begin) + 1 and end[-1] == 0 and end.startswith(begin):
            # One key (every point read): a dict lookup and the cleared ranges, not a scan.
            entry = writes.get(begin, _MISSING)
            if (entry is not _MISSING and type(entry) is not _Pending) or any(
                b <= begin < e for b, e in self._cleared
            ):
                return
            self._read_conflicts.append((begin, end))
            self._size += len(begin) + len(end)
            return
        excluded = [
            (k, _key_after(k))
            for k in self._written_keys(begin, end)
            if type(writes[k]) is not _Pending
        ]
        excluded.extend(
            (max(b, begin), min(e, end)) for b, e in self._cleared if b < end and begin < e
        )
        excluded.sort()
        position = begin
        for skip_begin, skip_end in excluded:
            if skip_begin > position:
                self._read_conflicts.append((position, skip_begin))
                self._size += len(position) + len(skip_begin)
            if skip_end > position:
                position = skip_end
        if position < end:
            self._read_conflicts.append((position, end))
            self._size += len(position) + len(end)

    def _merged_rows(
        self, begin: bytes, end: bytes, limit: int, reverse: bool, snapshot: bool
    ) -> list[tuple[bytes, bytes]]:
        """Rows of ``[begin, end)`` as this transaction sees them (stored + own writes)."""
        rv = self._read_version()
        use_own = self._ryw and (not snapshot or self._snapshot_ryw)
        if use_own and self._cleared:
            touched = any(b < end and begin < e for b, e in self._cleared)
        else:
            touched = False
        own_keys = self._written_keys(begin, end) if use_own else []
        if not touched and not own_keys:
            return self._store.get_range(begin, end, rv, limit, reverse)
        merged: dict[bytes, bytes | None] = dict(self._store.get_range(begin, end, rv, 0, False))
        for b, e in self._cleared:
            if b < end and begin < e:
                for key in [k for k in merged if b <= k < e]:
                    merged[key] = None
        for key in own_keys:
            entry = self._writes[key]
            merged[key] = entry.apply(merged.get(key)) if type(entry) is _Pending else entry
        rows = [(k, v) for k, v in sorted(merged.items(), reverse=reverse) if v is not None]
        return rows[:limit] if limit else rows

    def _bound(self, bound: Any, snapshot: bool) -> bytes:
        """A range bound as a key: a plain key, or a key selector resolved in this view."""
        if type(bound) is bytes:
            return bound
        if not is_key_selector(bound):
            return to_key(bound)
        key = to_key(bound.key)
        if not bound.or_equal and bound.offset == 1:
            return key  # first_greater_or_equal(k) bounds a range just as k does
        return self._resolve((key, bool(bound.or_equal), bound.offset), snapshot)

    def _resolve(self, selector: tuple[bytes, bool, int], snapshot: bool) -> bytes:
        """The key a selector ``(key, or_equal, offset)`` names in this transaction's view."""
        key, or_equal, offset = selector
        read_end = self._read_end()
        if offset >= 1:
            start = _key_after(key) if or_equal else key
            start = min(start, read_end)
            rows = self._merged_rows(start, read_end, offset, False, snapshot)
            result = rows[offset - 1][0] if len(rows) >= offset else read_end
            if not snapshot:
                self._add_read_conflict(
                    start, _key_after(result) if result < read_end else read_end
                )
            return result
        stop = _key_after(key) if or_equal else key
        stop = min(stop, read_end)
        rows = self._merged_rows(b"", stop, 1 - offset, True, snapshot)
        result = rows[-offset][0] if len(rows) >= 1 - offset else b""
        if not snapshot:
            self._add_read_conflict(result, stop)
        return result

    def _get_key(self, selector: tuple[bytes, bool, int], snapshot: bool) -> Key:
        error = self._usable()
        if error is not None:
            return Key(None, error)
        try:
            key = self._resolve(selector, snapshot)
        except FDBError as e:
            return Key(None, e)
        if key > self._read_end():
            return Key(None, FDBError(2004))
        return Key(key, None, self._attempt)

    def _get_range(
        self, begin: Any, end: Any, limit: int, reverse: bool, mode: int, snapshot: bool
    ) -> FDBRange:
        if not isinstance(limit, int):
            raise TypeError(f"limit must be an int (0 = no limit), not {type(limit).__name__}")
        error = self._usable()
        if error is not None:
            return FDBRange((), error)
        if limit < 0:
            return FDBRange((), FDBError(2012))
        if mode == StreamingMode.exact and limit == 0:
            return FDBRange((), FDBError(2210))
        try:
            begin_key = b"" if begin is None else self._bound(begin, snapshot)
            end_key = self._read_end() if end is None else self._bound(end, snapshot)
            read_end = self._read_end()
            if begin_key > read_end or end_key > read_end:
                return FDBRange((), FDBError(2004))
            if begin_key >= end_key:
                return FDBRange(())
            if self._range_unreadable(begin_key, end_key):
                return FDBRange((), FDBError(1036))
            rows = self._merged_rows(begin_key, end_key, limit, reverse, snapshot)
        except FDBError as e:
            return FDBRange((), e)
        if not snapshot:
            if limit and len(rows) == limit:
                if reverse:
                    self._add_read_conflict(rows[-1][0], end_key)
                else:
                    self._add_read_conflict(begin_key, _key_after(rows[-1][0]))
            else:
                self._add_read_conflict(begin_key, end_key)
        return FDBRange([KeyValue(k, v) for k, v in rows], None, self._attempt, self)

    def _get_read_version(self) -> FutureInt64:
        error = self._usable()
        if error is not None:
            return FutureInt64(None, error)
        if self._rv is not None:  # known already: no age check (a cluster just returns it)
            return FutureInt64(self._rv)
        try:
            version = self._fetch_read_version()
        except FDBError as e:
            return FutureInt64(None, e)
        return FutureInt64(version, None, self._attempt)

    def set_read_version(self, version: int) -> None:
        """Read at ``version`` instead of the latest (too new: 1009 at the first read)."""
        if not isinstance(version, int):
            raise TypeError(f"version must be an int, not {type(version).__name__}")
        self._rv = version
        self._rv_deadline = None  # its age is not known here (the store may still refuse it)

    # -- writes -----------------------------------------------------------------------------

    def _writable(self, key: bytes) -> bool:
        """Validate a written key, deferring 2004 / 2102; True when the write may proceed."""
        if key >= (_SYSTEM_KEY_END if self._system_write else _NORMAL_KEY_END):
            self._defer(2004)
            return False
        if len(key) > (_SYSTEM_KEY_SIZE_LIMIT if key >= b"\xff" else KEY_SIZE_LIMIT):
            self._defer(2102)
            return False
        return True

    def _write_conflict(self, begin: bytes, end: bytes) -> None:
        if self._no_conflict_next:
            self._no_conflict_next = False
            return
        self._write_conflicts.append((begin, end))
        self._size += len(begin) + len(end)

    def set(self, key: Any, value: Any) -> None:
        """Set ``key`` to ``value`` when the transaction commits."""
        key = to_key(key)
        value = to_value(value)
        if self._state or not self._writable(key):
            return
        if len(value) > VALUE_SIZE_LIMIT:
            self._defer(2103)
            return
        self._writes[key] = value
        if self._write_index is not None:
            self._unindexed.append(key)
        self._mutations.append((SET_VALUE, key, value))
        self._size += len(key) + len(value)
        self._write_conflict(key, _key_after(key))
        if self._watches:
            self._trigger_watches(key, key, value, True)

    def clear(self, key: Any) -> None:
        """Remove ``key`` (a missing or over-long key is silently fine); a key selector is
        first resolved with :meth:`get_key`, as the binding does."""
        if type(key) is not bytes and is_key_selector(key):
            key = self.get_key(key)
        key = to_key(key)
        if self._state:
            return
        if key >= (_SYSTEM_KEY_END if self._system_write else _NORMAL_KEY_END):
            self._defer(2004)
            return
        if len(key) > KEY_SIZE_LIMIT:
            return
        end = _key_after(key)
        self._writes[key] = None
        if self._write_index is not None:
            self._unindexed.append(key)
        self._mutations.append((CLEAR_RANGE, key, end))
        self._size += len(key) + len(end)
        self._write_conflict(key, end)
        if self._watches:
            self._trigger_watches(key, key, None, True)

    def clear_range(self, begin: Any, end: Any) -> None:
        """Remove every key in ``[begin, end)`` (``None`` = the start / end of the keyspace);
        key selectors are first resolved with :meth:`get_key`, as the binding does."""
        if type(begin) is not bytes and is_key_selector(begin):
            begin = self.get_key(begin)
        if type(end) is not bytes and is_key_selector(end):
            end = self.get_key(end)
        begin = b"" if begin is None else to_key(begin)
        end = _NORMAL_KEY_END if end is None else to_key(end)
        if self._state:
            return
        limit = _SYSTEM_KEY_END if self._system_write else _NORMAL_KEY_END
        if begin > end:
            self._defer(2005)
            return
        if begin > limit or end > limit:
            self._defer(2004)
            return
        if begin == end:
            return
        for key in self._written_keys(begin, end):
            self._writes[key] = None
        self._cleared.append((begin, end))
        self._mutations.append((CLEAR_RANGE, begin, end))
        self._size += len(begin) + len(end)
        self._write_conflict(begin, end)
        if self._watches:
            self._trigger_watches(begin, end, None, True)

    def clear_range_startswith(self, prefix: Any) -> None:
        """Remove every key that starts with ``prefix``."""
        prefix = to_key(prefix)
        self.clear_range(prefix, strinc(prefix))

    def _atomic(self, op: int, key: Any, param: Any) -> None:
        key = to_key(key)
        param = to_value(param)
        if self._state:
            return
        if op == _VS_KEY:
            self._versionstamped_key(key, param)
            return
        if not self._writable(key):
            return
        if len(param) > VALUE_SIZE_LIMIT:
            self._defer(2103)
            return
        if op == _VS_VALUE:
            if versionstamp_offset(param) is None:
                self._defer(2000)
                return
            if self._unreadable_keys is None:
                self._unreadable_keys = set()
            self._unreadable_keys.add(key)
            self._writes[key] = param[:-4]
            self._written(key)
            value: Any = _MISSING
        else:
            own = self._own(key)
            if own is _MISSING:
                value = self._writes[key] = _Pending(op, param)
                self._written(key)
            elif type(own) is _Pending:
                own.ops.append((op, param))
                value = own
            else:
                value = self._writes[key] = apply_atomic(op, own, param)
                self._written(key)
        self._mutations.append((op, key, param))
        self._size += len(key) + len(param)
        self._write_conflict(key, _key_after(key))
        if self._watches:
            known = value is None or type(value) is bytes
            self._trigger_watches(key, key, value if known else None, known)

    def _versionstamped_key(self, key: bytes, param: bytes) -> None:
        pos = versionstamp_offset(key)
        if pos is None:
            self._defer(2000)
            return
        body = key[:-4]
        if not self._writable(body):
            return
        if len(param) > VALUE_SIZE_LIMIT:
            self._defer(2103)
            return
        low_stamp = b"\x00" * 10 if self._rv is None else self._rv.to_bytes(8, "big") + b"\x00\x00"
        low = body[:pos] + low_stamp + body[pos + 10 :]
        high = _key_after(body[:pos] + b"\xff" * 10 + body[pos + 10 :])
        if self._unreadable_ranges is None:
            self._unreadable_ranges = []
        self._unreadable_ranges.append((low, high))
        self._mutations.append((_VS_KEY, key, param))
        self._size += len(key) + len(param)
        self._write_conflict(low, high)

    # -- conflict ranges --------------------------------------------------------------------

    def _conflict_range(self, begin: Any, end: Any) -> tuple[bytes, bytes] | None:
        begin = to_key(begin)
        end = to_key(end)
        if begin > end:
            raise FDBError(2005)
        limit = _SYSTEM_KEY_END if self._system_read or self._system_write else _NORMAL_KEY_END
        if begin > limit or end > limit:
            raise FDBError(2004)
        return (begin, end) if begin < end else None

    def add_read_conflict_range(self, begin: Any, end: Any) -> None:
        """Make the commit conflict with writes to ``[begin, end)`` (inverted: 2005 now)."""
        rng = self._conflict_range(begin, end)
        if rng is not None and not self._state:
            self._add_read_conflict(*rng)

    def add_read_conflict_key(self, key: Any) -> None:
        """``add_read_conflict_range(key, key + b'\\x00')``."""
        key = to_key(key)
        self.add_read_conflict_range(key, _key_after(key))

    def add_write_conflict_range(self, begin: Any, end: Any) -> None:
        """Make transactions that read ``[begin, end)`` conflict with this one's commit."""
        rng = self._conflict_range(begin, end)
        if rng is not None and not self._state:
            self._write_conflicts.append(rng)
            self._size += len(rng[0]) + len(rng[1])

    def add_write_conflict_key(self, key: Any) -> None:
        """``add_write_conflict_range(key, key + b'\\x00')``."""
        key = to_key(key)
        self.add_write_conflict_range(key, _key_after(key))

    # -- watches ----------------------------------------------------------------------------

    def watch(self, key: Any) -> FutureVoid:
        """A future that becomes ready when ``key`` changes (active once this commits)."""
        key = to_key(key)
        error = self._usable()
        if error is None and not self._ryw:
            error = FDBError(1034)
        if error is None:
            if key >= self._read_end():
                error = FDBError(2004)
            elif len(key) > KEY_SIZE_LIMIT:
                error = FDBError(2102)
        if error is not None:
            return FutureVoid(None, error)
        current = self._read(key, False)
        try:
            seen = current.value
        except FDBError as e:
            return FutureVoid(None, e)
        future: FutureVoid = FutureVoid._pending()
        if not self._db._reserve_watch(future):
            return FutureVoid(None, FDBError(1032))
        self._watches.append(_Watch(key, seen, future))
        return future

    def _trigger_watches(self, begin: bytes, end: bytes, value: bytes | None, known: bool) -> None:
        """Fire this transaction's own watches that a write just changed."""
        fired = [
            w
            for w in self._watches
            if (w.key == begin or begin <= w.key < end) and (not known or w.seen != value)
        ]
        for watch in fired:
            self._watches.remove(watch)
            watch.future._set()

    def _activate_watches(self) -> None:
        store = self._store
        for watch in self._watches:
            future = watch.future
            handle = store.watch(watch.key, watch.seen, future._fire)
            if not future.is_ready():
                future._canceller = _unwatcher(store, handle)
        self._watches = []

    # -- commit -----------------------------------------------------------------------------

    def get_versionstamp(self) -> Key:
        """A future for this transaction's 10-byte versionstamp, ready after a successful
        commit. Call it before ``commit()`` (after: 2017; read-only transaction: 2021).

        Like every call that returns a future, it reports a pending deferred write error (a
        too-long key gives 2102 here). A commit that fails leaves it with 2020; one refused for
        a deferred error leaves it pending until the transaction is reset, cancelled or dropped
        (then 1025)."""
        error = self._usable()
        if error is not None:
            return Key(None, error)
        if self._stamp is None:
            self._stamp = Key._pending()
        return self._stamp

    def get_committed_version(self) -> int:
        """The version this transaction committed at (-1 before commit and when read-only)."""
        return self._committed_version

    def get_approximate_size(self) -> FutureInt64:
        """Bytes this transaction would send at commit (writes and conflict ranges)."""
        return FutureInt64(self._size)

    def commit(self) -> FutureVoid:
        """Commit; ``.wait()`` raises the error (1020 on conflict, 1007 if too old, ...).

        On the file store, commits made at the same time by several threads of this process
        are written together, with one fsync (group commit); each keeps its own outcome.
        """
        refused = self._start_commit()
        if refused is not None:
            return refused
        try:
            version = self._store.commit(
                self._rv,
                self._read_conflicts,
                self._write_conflicts,
                self._mutations,
                sync=self._sync,
            )
        except FDBError as e:
            return self._failed(e)
        return self._committed(version)

    def defer_sync(self) -> None:
        """Let this attempt's commit be acknowledged before it is on disk (an extension of the
        embedded store; FoundationDB's binding has no such call).

        On the file store the commit then skips its fsync: it reaches the disk with the next commit
        that syncs, from any process (commits reach the disk in order, so a synced commit makes
        every earlier one durable too), at the next checkpoint, or when the process has left a few
        deferred groups unsynced for a while (the store's ``sync_after`` and ``sync_interval``),
        whichever comes first. A crash of the process loses nothing; an OS crash or power loss
        may lose it, together with every later commit that was not synced either, never an
        earlier one. Use it for writes whose loss after a reboot is harmless, such as heartbeats;
        the electors use it for heartbeats, refreshes and resignations (see docs/embedded.md).
        The memory store ignores it. ``on_error`` and ``reset()`` undo it, like the options that
        do not persist.
        """
        self._sync = False

    def _start_commit(self) -> FutureVoid | None:
        """The first half of :meth:`commit`: None when the store must now commit (what
        :meth:`_commit_request` gives), else the commit's future, decided without the store
        (refused, read-only, too large, too old, injected fault)."""
        error = self._usable()
        if error is not None:
            # Refused before it starts, as the binding's client library does: the transaction
            # is not "committing" (no 2017 afterwards). A deferred write error leaves the
            # versionstamp and watches waiting; an expired timeout fails them.
            if error.code == 1031 and self._state == _ACTIVE:
                self._abandon(1031, reads=False)
            return FutureVoid(None, error)
        self._state = _COMMITTED
        self._attempt = None  # a commit first waits for every read: they all keep their results
        if not self._mutations and not self._write_conflicts:
            self._committed_version = -1
            if self._stamp is not None:
                self._stamp._set_error(FDBError(2021))
            self._activate_watches()
            return FutureVoid()
        if self._size > self._size_limit:
            return self._failed(FDBError(2101))
        hook = self._db._fault_hook
        if hook is not None:
            code = hook("commit", self)
            if code is not None:
                return self._failed(FDBError(code))
        if self._read_conflicts and self._too_old():
            return self._failed(FDBError(1007))  # as FoundationDB's resolver: only with reads
        return None

    def _commit_request(self) -> CommitRequest:
        """What the store commits for this transaction (after :meth:`_start_commit`)."""
        return CommitRequest(
            self._rv, self._read_conflicts, self._write_conflicts, self._mutations, self._sync
        )

    def _finish_commit(self, outcome: CommitOutcome) -> FutureVoid:
        """The second half of :meth:`commit` for a store outcome: a version or an error."""
        if isinstance(outcome, FDBError):
            return self._failed(outcome)
        if isinstance(outcome, BaseException):
            raise outcome  # not a database condition (the database was closed): as before
        return self._committed(outcome)

    def _committed(self, version: int) -> FutureVoid:
        """Report a commit the store made at ``version``: versionstamp, watches, future."""
        self._committed_version = version
        hook = self._db._fault_hook
        if hook is not None:
            code = hook("committed", self)
            if code is not None:
                return self._failed(FDBError(code))
        if self._stamp is not None:
            self._stamp._set(version.to_bytes(8, "big") + b"\x00\x00")
        self._activate_watches()
        return FutureVoid()

    def _failed(self, error: FDBError) -> FutureVoid:
        if self._stamp is not None:
            self._stamp._set_error(FDBError(2020))
        for watch in self._watches:
            watch.future._set_error(FDBError(error.code, error.detail))
        self._watches = []
        return FutureVoid(None, error)

    # -- retry ------------------------------------------------------------------------------

    def on_error(self, error: FDBError | int) -> FutureVoid:
        """Back off and reset for a retry when ``error`` is retryable; otherwise re-raise it
        (from ``.wait()``) and cancel the transaction until ``reset()``.

        Accepts an ``FDBError`` (embedded or the binding's) or an ``int`` code.
        """
        if isinstance(error, int):
            code = error
            original: BaseException = FDBError(code)
        else:
            code = int(error.code)
            original = error
        if self._state == _CANCELLED:
            return FutureVoid(None, FDBError(1025))
        if self._deadline is not None and self._db._clock() >= self._deadline:
            return FutureVoid(None, FDBError(1031))
        if code in _SHORT_RETRYABLE:
            delay = min(_INITIAL_BACKOFF, self._max_retry_delay)
        elif code in _BACKOFF_RETRYABLE:
            backoff = min(self._backoff, self._max_retry_delay)
            delay = backoff * self._db._rng.random()
            self._backoff = min(backoff * 2, self._max_retry_delay)
        else:
            self._cancel(1025)
            return FutureVoid(None, original)
        if self._retry_limit != -1 and self._retries >= self._retry_limit:
            self._cancel(1025)
            return FutureVoid(None, original)
        self._retries += 1
        if delay > 0:
            self._db._sleep(delay)
        self._reset_attempt()
        return FutureVoid()

    def _cancel(self, code: int) -> None:
        self._state = _CANCELLED
        self._abandon(code)

    def reset(self) -> None:
        """Start over: a fresh transaction (retry count, timeout clock and options too)."""
        self._full_reset()

    def cancel(self) -> None:
        """Abandon the transaction: every pending and later use raises 1025 until ``reset()``."""
        self._cancel(1025)


def _unwatcher(store: Any, handle: Any) -> Callable[[], None]:
    def unwatch() -> None:
        store.unwatch(handle)

    return unwatch
