"""The database watches an elector keeps, by purpose, and the futures a driver waits on.

A follower watches what tells it that leadership changed hands (the succession key, or the
leader key for a record of another implementation), a leader the step-down request key. A watch
that has fired is replaced by the next step's; one still pending on the same key is kept
(watches are not free on a cluster).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Watches"]


class Watches:
    """At most one pending watch per purpose (``"leader"``, ``"step_down"``)."""

    __slots__ = ("_by_purpose",)

    def __init__(self) -> None:
        self._by_purpose: dict[str, tuple[bytes, Any]] = {}  # purpose -> (key, watch future)

    def futures(self) -> list[Any]:
        """The watch futures whose readiness should wake the elector."""
        return [future for _key, future in self._by_purpose.values()]

    def pending(self, purpose: str, key: bytes | None = None) -> bool:
        """Whether a watch for ``purpose`` (on ``key``, if given) is in place and has not fired
        (nor failed)."""
        current = self._by_purpose.get(purpose)
        return (
            current is not None and (key is None or current[0] == key) and not current[1].is_ready()
        )

    def fired(self, purpose: str) -> bool:
        """Whether the watch for ``purpose`` is ready: its key changed (or the watch failed)."""
        current = self._by_purpose.get(purpose)
        return current is not None and current[1].is_ready()

    def watch(self, tr: Any, purpose: str, key: bytes) -> None:
        """Watch ``key`` in ``tr`` for ``purpose``, unless a pending watch already does; a
        watch for ``purpose`` on another key is cancelled first."""
        if self.pending(purpose, key):
            return
        self.drop(purpose)
        self._by_purpose[purpose] = (key, tr.watch(key))

    def drop(self, purpose: str) -> None:
        """Stop watching for ``purpose`` (a pending watch is cancelled)."""
        current = self._by_purpose.pop(purpose, None)
        if current is not None and not current[1].is_ready():
            current[1].cancel()

    def drop_all(self) -> None:
        """Cancel every watch."""
        for purpose in list(self._by_purpose):
            self.drop(purpose)
