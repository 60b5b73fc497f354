"""Transaction and database options, type-strict like the binding's generated setters.

Integer options must be ``int`` (anything else fails in ``struct.pack``, as in the binding);
string options take ``str`` or ``bytes``; flag options take no argument. Values out of range
become a deferred 2006 on a transaction and an immediate ``FDBError(2006)`` on a database.

The setters check values and hand the result to the transaction or database they belong to
through one ``apply(name, value)`` function it gives them (``Apply``); they never touch its state.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Final

from fdb_election.embedded.errors import FDBError

__all__ = ["Apply", "DatabaseOptions", "TransactionOptions"]

#: How an option reaches its owner: ``apply(name, value)``. Transaction names: ``timeout``
#: (ms), ``retry_limit``, ``max_retry_delay`` (s), ``size_limit``, ``disable_ryw``,
#: ``snapshot_ryw`` (bool), ``no_conflict_next``, ``system_read``, ``system_write``,
#: ``bypass_unreadable`` and ``defer`` (an error code to report later). Database names:
#: ``timeout_ms``, ``retry_limit``, ``max_retry_delay`` (s), ``size_limit``, ``max_watches``.
Apply = Callable[[str, Any], None]

INT_MAX: Final = 2**31 - 1
#: Largest (and default) transaction size, in bytes.
SIZE_LIMIT_MAX: Final = 10_000_000
SIZE_LIMIT_MIN: Final = 32
#: Default and largest number of unfired watches per database.
DEFAULT_MAX_WATCHES: Final = 10_000
MAX_WATCHES_LIMIT: Final = 1_000_000


def _int(value: int) -> int:
    struct.pack("<q", value)  # the binding's check: struct.error for anything but an int
    return int(value)


def _text(value: str | bytes) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    raise TypeError(f"option value must be str or bytes, not {type(value).__name__}")


class TransactionOptions:
    """``tr.options``: ``set_timeout``, ``set_retry_limit``, ``set_max_retry_delay``,
    ``set_size_limit`` and the flags below (the binding's names; no-argument flags take none).

    ``timeout``, ``retry_limit`` and ``max_retry_delay`` survive ``on_error``; the others are
    reset by it.
    """

    __slots__ = ("_apply",)

    def __init__(self, apply: Apply) -> None:
        self._apply = apply

    # -- persistent ---------------------------------------------------------------------------

    def set_timeout(self, milliseconds: int) -> None:
        """Cancel the transaction with 1031 this long after its creation or last ``reset()``
        (0 disables)."""
        ms = _int(milliseconds)
        if not 0 <= ms <= INT_MAX:
            self._apply("defer", 2006)
            return
        self._apply("timeout", ms)

    def set_retry_limit(self, retries: int) -> None:
        """Let ``on_error`` retry at most this many times (-1: no limit)."""
        n = _int(retries)
        if not -1 <= n <= INT_MAX:
            self._apply("defer", 2006)
            return
        self._apply("retry_limit", n)

    def set_max_retry_delay(self, milliseconds: int) -> None:
        """Cap the ``on_error`` backoff (default 1000 ms)."""
        ms = _int(milliseconds)
        if not 0 <= ms <= INT_MAX:
            self._apply("defer", 2006)
            return
        self._apply("max_retry_delay", ms / 1000.0)

    # -- reset by on_error --------------------------------------------------------------------

    def set_size_limit(self, size: int) -> None:
        """Fail the commit with 2101 above this many bytes (32..10,000,000)."""
        n = _int(size)
        if not SIZE_LIMIT_MIN <= n <= SIZE_LIMIT_MAX:
            self._apply("defer", 2006)
            return
        self._apply("size_limit", n)

    def set_read_your_writes_disable(self) -> None:
        """Reads ignore this transaction's writes; must precede every read and write."""
        self._apply("disable_ryw", None)

    def set_snapshot_ryw_enable(self) -> None:
        """Snapshot reads see this transaction's writes (the default)."""
        self._apply("snapshot_ryw", True)

    def set_snapshot_ryw_disable(self) -> None:
        """Snapshot reads ignore this transaction's writes."""
        self._apply("snapshot_ryw", False)

    def set_next_write_no_write_conflict_range(self) -> None:
        """The next write adds no write conflict range."""
        self._apply("no_conflict_next", True)

    def set_access_system_keys(self) -> None:
        """Allow reads and writes of keys in ``[\\xff, \\xff\\xff)``."""
        self._apply("system_read", True)
        self._apply("system_write", True)

    def set_read_system_keys(self) -> None:
        """Allow reads of keys in ``[\\xff, \\xff\\xff)``."""
        self._apply("system_read", True)

    def set_bypass_unreadable(self) -> None:
        """Read keys written by versionstamped operations (their unstamped form) instead of 1036."""
        self._apply("bypass_unreadable", True)

    # -- accepted; no effect on one machine ---------------------------------------------------

    def set_causal_read_risky(self) -> None:
        """Accepted for compatibility; reads here are always causal."""

    def set_causal_write_risky(self) -> None:
        """Accepted for compatibility."""

    def set_priority_batch(self) -> None:
        """Accepted for compatibility; there is no rate keeper here."""

    def set_priority_system_immediate(self) -> None:
        """Accepted for compatibility."""

    def set_lock_aware(self) -> None:
        """Accepted for compatibility; the embedded database is never locked."""

    def set_read_lock_aware(self) -> None:
        """Accepted for compatibility."""

    def set_report_conflicting_keys(self) -> None:
        """Accepted for compatibility; conflicting keys are not reported."""

    def set_log_transaction(self) -> None:
        """Accepted for compatibility."""

    def set_used_during_commit_protection_disable(self) -> None:
        """Accepted for compatibility."""

    def set_tag(self, tag: str | bytes) -> None:
        """Accepted for compatibility (no throttling here)."""
        _text(tag)

    def set_auto_throttle_tag(self, tag: str | bytes) -> None:
        """Accepted for compatibility."""
        _text(tag)

    def set_debug_transaction_identifier(self, identifier: str | bytes) -> None:
        """Accepted for compatibility."""
        _text(identifier)

    def set_transaction_logging_max_field_length(self, length: int) -> None:
        """Accepted for compatibility."""
        _int(length)


class DatabaseOptions:
    """``db.options``: defaults for new transactions and the watch limit.

    There is no ``set_timeout`` here (as in the binding): use ``set_transaction_timeout``.
    """

    __slots__ = ("_apply",)

    def __init__(self, apply: Apply) -> None:
        self._apply = apply

    @staticmethod
    def _checked(value: int, low: int, high: int) -> int:
        n = _int(value)
        if not low <= n <= high:
            raise FDBError(2006)
        return n

    def set_transaction_timeout(self, milliseconds: int) -> None:
        """Default ``set_timeout`` of every new transaction (0: none)."""
        self._apply("timeout_ms", self._checked(milliseconds, 0, INT_MAX))

    def set_transaction_retry_limit(self, retries: int) -> None:
        """Default ``set_retry_limit`` of every new transaction (-1: none)."""
        self._apply("retry_limit", self._checked(retries, -1, INT_MAX))

    def set_transaction_max_retry_delay(self, milliseconds: int) -> None:
        """Default ``set_max_retry_delay`` of every new transaction."""
        self._apply("max_retry_delay", self._checked(milliseconds, 0, INT_MAX) / 1000.0)

    def set_transaction_size_limit(self, size: int) -> None:
        """Default ``set_size_limit`` of every new transaction."""
        self._apply("size_limit", self._checked(size, SIZE_LIMIT_MIN, SIZE_LIMIT_MAX))

    def set_transaction_causal_read_risky(self) -> None:
        """Accepted for compatibility."""

    def set_max_watches(self, count: int) -> None:
        """Most unfired watches at once (default 10,000; at most 1,000,000); more give 1032."""
        self._apply("max_watches", self._checked(count, 0, MAX_WATCHES_LIMIT))
