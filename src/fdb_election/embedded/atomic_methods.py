"""The binding's write-only conveniences, written once for ``Transaction`` and ``Database``.

Every atomic operation is ``_atomic(op, key, param)`` with its ``MutationType``, and item
assignment and deletion are ``set``, ``clear`` and ``clear_range``: a transaction buffers them,
the database runs each in a transaction of its own.
"""

from __future__ import annotations

from typing import Any

from fdb_election.embedded.mutations import MutationType

__all__ = ["AtomicMethods"]


class AtomicMethods:
    """``add`` ... ``set_versionstamped_value``, their deprecated spellings, ``x[k] = v`` and
    ``del x[k]`` / ``del x[a:b]``, over the methods a subclass provides."""

    __slots__ = ()

    def _atomic(self, op: int, key: Any, param: Any) -> None:
        raise NotImplementedError

    def set(self, key: Any, value: Any) -> None:
        """Set ``key`` to ``value`` (provided by the subclass)."""
        raise NotImplementedError

    def clear(self, key: Any) -> None:
        """Remove ``key`` (provided by the subclass)."""
        raise NotImplementedError

    def clear_range(self, begin: Any, end: Any) -> None:
        """Remove every key in ``[begin, end)`` (provided by the subclass)."""
        raise NotImplementedError

    def add(self, key: Any, param: Any) -> None:
        """Atomic little-endian add of ``param`` (e.g. ``struct.pack('<q', 1)``)."""
        self._atomic(MutationType.ADD, key, param)

    def bit_and(self, key: Any, param: Any) -> None:
        """Atomic bitwise AND."""
        self._atomic(MutationType.BIT_AND, key, param)

    def bit_or(self, key: Any, param: Any) -> None:
        """Atomic bitwise OR."""
        self._atomic(MutationType.BIT_OR, key, param)

    def bit_xor(self, key: Any, param: Any) -> None:
        """Atomic bitwise XOR."""
        self._atomic(MutationType.BIT_XOR, key, param)

    def max(self, key: Any, param: Any) -> None:
        """Atomic unsigned little-endian maximum."""
        self._atomic(MutationType.MAX, key, param)

    def min(self, key: Any, param: Any) -> None:
        """Atomic unsigned little-endian minimum."""
        self._atomic(MutationType.MIN, key, param)

    def byte_max(self, key: Any, param: Any) -> None:
        """Atomic lexicographic maximum."""
        self._atomic(MutationType.BYTE_MAX, key, param)

    def byte_min(self, key: Any, param: Any) -> None:
        """Atomic lexicographic minimum."""
        self._atomic(MutationType.BYTE_MIN, key, param)

    def compare_and_clear(self, key: Any, param: Any) -> None:
        """Atomically clear ``key`` if its value equals ``param``."""
        self._atomic(MutationType.COMPARE_AND_CLEAR, key, param)

    def append_if_fits(self, key: Any, param: Any) -> None:
        """Atomically append ``param`` unless the value would exceed 100,000 bytes."""
        self._atomic(MutationType.APPEND_IF_FITS, key, param)

    def set_versionstamped_key(self, key: Any, param: Any) -> None:
        """Set a key whose 10-byte placeholder (offset in the last 4 bytes, little-endian)
        becomes this transaction's versionstamp."""
        self._atomic(MutationType.SET_VERSIONSTAMPED_KEY, key, param)

    def set_versionstamped_value(self, key: Any, param: Any) -> None:
        """Set ``key`` to ``param`` with its placeholder replaced by the versionstamp."""
        self._atomic(MutationType.SET_VERSIONSTAMPED_VALUE, key, param)

    # The binding's deprecated spellings.
    and_ = bit_and
    or_ = bit_or
    xor = bit_xor

    def __setitem__(self, key: Any, value: Any) -> None:
        self.set(key, value)

    def __delitem__(self, key: Any) -> None:
        if isinstance(key, slice):
            self.clear_range(key.start, key.stop)
        else:
            self.clear(key)
