"""The watches a storage backend keeps, by key: one bookkeeping for the memory and file backends.

A backend decides when to look at a key's newest value; the registry says which watches that
value fires and forgets them, so each callback runs at most once.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Watch", "WatchRegistry"]


class Watch:
    """One watch: call ``callback`` once when ``key``'s value is no longer ``seen``.

    ``serial`` orders registrations (set by :meth:`WatchRegistry.add`; 0 until then).
    """

    __slots__ = ("callback", "key", "seen", "serial")

    def __init__(self, key: bytes, seen: bytes | None, callback: Callable[[], None]) -> None:
        self.key = key
        self.seen = seen
        self.callback = callback
        self.serial = 0


class WatchRegistry:
    """Registered watches by key. Not locked: the backend holds its own lock around each call."""

    def __init__(self) -> None:
        self._by_key: dict[bytes, list[Watch]] = {}
        self.serial = 0  #: the serial of the latest registration

    def add(self, watch: Watch) -> Watch:
        """Register ``watch`` with the next serial; returns it."""
        self.serial += 1
        watch.serial = self.serial
        self._by_key.setdefault(watch.key, []).append(watch)
        return watch

    def remove(self, handle: object) -> None:
        """Forget ``handle`` (harmless if it fired, was removed, or is not a :class:`Watch`)."""
        if not isinstance(handle, Watch):
            return
        watches = self._by_key.get(handle.key)
        if watches and handle in watches:
            watches.remove(handle)
            if not watches:
                del self._by_key[handle.key]

    def take_changed(
        self, key: bytes, value: bytes | None, registered: int | None = None
    ) -> list[Watch]:
        """Forget and return the watches on ``key`` that ``value`` fires (``seen`` differs).

        With ``registered``, only watches whose serial is at most that are judged: a later one
        may have seen a newer value than ``value``.
        """
        watches = self._by_key.get(key)
        if not watches:
            return []
        fired = [
            w for w in watches if w.seen != value and (registered is None or w.serial <= registered)
        ]
        if fired:
            keep = [w for w in watches if w not in fired]
            if keep:
                self._by_key[key] = keep
            else:
                del self._by_key[key]
        return fired

    def any_of(self, keys: set[bytes]) -> bool:
        """Whether any of ``keys`` has a watch."""
        by_key = self._by_key
        if len(keys) < len(by_key):
            return any(key in by_key for key in keys)
        return any(key in keys for key in by_key)

    def keys(self) -> list[bytes]:
        """The keys that have watches."""
        return list(self._by_key)

    def __bool__(self) -> bool:
        return bool(self._by_key)

    def __len__(self) -> int:
        """How many watches are registered."""
        return sum(len(watches) for watches in self._by_key.values())
