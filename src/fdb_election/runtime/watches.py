"""The database watches an elector keeps, by purpose, and the futures a driver waits on.

A follower watches the leader key (a refresh or a resignation wakes it), a leader the step-down
request key. A watch that has fired is replaced by the next step's; one still pending is kept
(watches are not free on a cluster).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Watches"]


class Watches:
    """At most one pending watch per purpose (``"leader"``, ``"step_down"``)."""

    __slots__ = ("_by_purpose",)

    def __init__(self) -> None:
        self._by_purpose: dict[str, Any] = {}

    def futures(self) -> list[Any]:
        """The watch futures whose readiness should wake the elector."""
        return list(self._by_purpose.values())

    def pending(self, purpose: str) -> bool:
        """Whether a watch for ``purpose`` is in place and has not fired (nor failed)."""
        current = self._by_purpose.get(purpose)
        return current is not None and not current.is_ready()

    def watch(self, tr: Any, purpose: str, key: bytes) -> None:
        """Watch ``key`` in ``tr`` for ``purpose``, unless a pending watch already does."""
        if self.pending(purpose):
            return
        self._by_purpose[purpose] = tr.watch(key)

    def drop(self, purpose: str) -> None:
        """Stop watching for ``purpose`` (a pending watch is cancelled)."""
        watch = self._by_purpose.pop(purpose, None)
        if watch is not None and not watch.is_ready():
            watch.cancel()

    def drop_all(self) -> None:
        """Cancel every watch."""
        for purpose in list(self._by_purpose):
            self.drop(purpose)
