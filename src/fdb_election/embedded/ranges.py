"""Range-read vocabulary: ``KeyValue``, ``KeySelector``, ``FDBRange``, ``StreamingMode``,
``strinc``.

Shaped like the binding's so code written here behaves the same on a cluster: ``KeyValue`` has no
``==`` and no indexing, ``FDBRange`` is iterable (repeatably) but is not a list.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import Any

from fdb_election.embedded.errors import FDBError
from fdb_election.embedded.futures import Attempt

__all__ = ["FDBRange", "KeySelector", "KeyValue", "StreamingMode", "strinc"]


class KeyValue:
    """One row of a range read: ``.key`` and ``.value`` (both ``bytes``); unpacks as a pair.

    Like the binding's, it has no ``__eq__`` and is not subscriptable: compare ``.key``/``.value``.
    """

    __slots__ = ("key", "value")

    def __init__(self, key: bytes, value: bytes) -> None:
        self.key = key
        self.value = value

    def __iter__(self) -> Iterator[bytes]:
        yield self.key
        yield self.value

    def __repr__(self) -> str:
        return f"{self.key!r}: {self.value!r}"


def _binding_key_selector() -> type | None:
    """The official binding's ``KeySelector`` class, when the binding has loaded libfdb_c."""
    impl = sys.modules.get("fdb.impl")
    cls = getattr(impl, "KeySelector", None)
    return cls if isinstance(cls, type) else None


class KeySelector:
    """Names a key relative to another: the last key below ``key`` (at or below when
    ``or_equal``), then ``offset`` keys forward.

    Example::

        tr.get_key(KeySelector.first_greater_than(b"a"))

    Interchangeable with the official binding's ``fdb.KeySelector``: the embedded store takes
    either, and so does a real cluster's binding (it checks ``isinstance(x, KeySelector)``
    against its own class, which this one then passes; ``type(x)`` stays this class). So one
    piece of code can build its selectors with this class and run on both.
    """

    __slots__ = ("key", "offset", "or_equal")

    def _class(self) -> type:
        # Once the binding is loaded (a cluster in this process), report its class, so that the
        # binding's isinstance checks (range bounds, clear, clear_range) accept this selector.
        return _binding_key_selector() or type(self)

    __class__ = property(_class)

    def __init__(self, key: Any, or_equal: bool, offset: int) -> None:
        self.key = key
        self.or_equal = or_equal
        self.offset = offset

    @classmethod
    def last_less_than(cls, key: Any) -> KeySelector:
        """The last key before ``key``."""
        return cls(key, False, 0)

    @classmethod
    def last_less_or_equal(cls, key: Any) -> KeySelector:
        """``key`` if it exists, else the last key before it."""
        return cls(key, True, 0)

    @classmethod
    def first_greater_than(cls, key: Any) -> KeySelector:
        """The first key after ``key``."""
        return cls(key, True, 1)

    @classmethod
    def first_greater_or_equal(cls, key: Any) -> KeySelector:
        """``key`` if it exists, else the first key after it."""
        return cls(key, False, 1)

    def __add__(self, offset: int) -> KeySelector:
        return KeySelector(self.key, self.or_equal, self.offset + offset)

    def __sub__(self, offset: int) -> KeySelector:
        return KeySelector(self.key, self.or_equal, self.offset - offset)

    def __repr__(self) -> str:
        return f"KeySelector({self.key!r}, {self.or_equal!r}, {self.offset!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Explicit, because pickle checks __class__, which may name the binding's class.
        return (KeySelector, (self.key, self.or_equal, self.offset))


def is_key_selector(obj: Any) -> bool:
    """Whether ``obj`` is a key selector: this module's or the official binding's."""
    if isinstance(obj, KeySelector):
        return True
    binding = _binding_key_selector()
    return binding is not None and isinstance(obj, binding)


class StreamingMode:
    """Batch-size hints for range reads; they never change results (``exact`` needs a limit)."""

    want_all = -2
    iterator = -1
    exact = 0
    small = 1
    medium = 2
    large = 3
    serial = 4


class FDBRange:
    """The result of ``tr.get_range``: iterate it (as often as you like) or call ``to_list()``.

    It is not a list: no ``len()`` and no indexing, as in the binding. A failed read raises its
    ``FDBError`` when iterated. Like the binding's, it keeps its transaction alive; a reset or
    cancel of the transaction before the first iteration makes that iteration raise 1025.
    """

    __slots__ = ("_attempt", "_error", "_owner", "_rows")

    def __init__(
        self,
        rows: Sequence[KeyValue],
        error: FDBError | None = None,
        attempt: Attempt | None = None,
        owner: object = None,
    ) -> None:
        self._rows = rows
        self._error = error
        self._attempt = attempt
        self._owner = owner

    def _checked(self) -> Sequence[KeyValue]:
        attempt = self._attempt
        if attempt is not None:
            self._attempt = None
            if attempt.code is not None:
                self._error = FDBError(attempt.code)
                self._rows = ()
        if self._error is not None:
            raise self._error
        return self._rows

    def __iter__(self) -> Iterator[KeyValue]:
        return iter(self._checked())

    def to_list(self) -> list[KeyValue]:
        """All rows as a list."""
        return list(self._checked())


def strinc(key: bytes) -> bytes:
    """The first key after every key that starts with ``key`` (for prefix ranges)."""
    stripped = bytes(key).rstrip(b"\xff")
    if not stripped:
        raise ValueError("Key must contain at least one byte not equal to 0xFF.")
    return stripped[:-1] + bytes((stripped[-1] + 1,))
