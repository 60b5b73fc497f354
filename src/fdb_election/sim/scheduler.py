"""Virtual time: a single-threaded event queue that the whole simulation runs on.

Nothing in a simulation reads the real clock or starts a thread. Every action (an elector's next
step, a fault, a watch wake-up) is an entry in one queue ordered by virtual time and then by the
order in which it was scheduled, so a run is a pure function of its seed.

Example::

    sched = Scheduler()
    sched.after(1.5, lambda: print("at", sched.now))
    sched.run_until(10.0)

A process that is busy (inside a step that has been stalled "in flight", see
:meth:`Scheduler.run_nested`) is *blocked*: its own entries wait until it is free again, while
everybody else's keep running. That is how the simulator lets the world move on while one process
is frozen between reading its clock and committing.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Scheduler", "Timer"]


@dataclass(order=True, slots=True)
class Timer:
    """One scheduled action; :meth:`cancel` it to drop it from the queue."""

    when: float
    seq: int
    action: Callable[[], None] = field(compare=False)
    owner: str | None = field(compare=False, default=None)
    label: str = field(compare=False, default="")
    cancelled: bool = field(compare=False, default=False)

    def cancel(self) -> None:
        """Drop this action; it will not run."""
        self.cancelled = True


class Scheduler:
    """The virtual clock and the queue of things to do.

    ``now`` is virtual seconds since the start of the run. Time advances only when the queue
    moves to its next entry, or when :meth:`advance_to` is called by a running action (time that
    passes inside a step, e.g. a stalled commit).
    """

    __slots__ = ("_blocked", "_deferred", "_queue", "_seq", "events_run", "now", "on_event")

    def __init__(self) -> None:
        self.now = 0.0
        self._queue: list[Timer] = []
        self._seq = 0
        self._blocked: set[str] = set()
        self._deferred: list[Timer] = []
        self.events_run = 0
        #: Called after every action that ran (the simulator samples invariants there).
        self.on_event: Callable[[], None] | None = None

    def at(
        self, when: float, action: Callable[[], None], *, owner: str | None = None, label: str = ""
    ) -> Timer:
        """Run ``action`` at virtual time ``when`` (or now, if ``when`` is in the past)."""
        self._seq += 1
        timer = Timer(max(when, self.now), self._seq, action, owner, label)
        heapq.heappush(self._queue, timer)
        return timer

    def after(
        self, delay: float, action: Callable[[], None], *, owner: str | None = None, label: str = ""
    ) -> Timer:
        """Run ``action`` ``delay`` seconds from now."""
        if delay < 0:
            raise ValueError(f"delay must be >= 0 seconds, got {delay!r}")
        return self.at(self.now + delay, action, owner=owner, label=label)

    def pending(self) -> int:
        """How many live entries are queued (cancelled ones excluded)."""
        return sum(1 for t in self._queue if not t.cancelled) + len(self._deferred)

    def _pop_runnable(self, until: float) -> Timer | None:
        while self._queue and self._queue[0].when <= until:
            timer = heapq.heappop(self._queue)
            if timer.cancelled:
                continue
            if timer.owner is not None and timer.owner in self._blocked:
                self._deferred.append(timer)
                continue
            return timer
        return None

    def _run(self, timer: Timer) -> None:
        self.now = max(self.now, timer.when)
        self.events_run += 1
        timer.action()
        if self.on_event is not None:
            self.on_event()

    def run_until(self, end: float) -> None:
        """Run every action due at or before ``end``; afterwards ``now == end``."""
        while (timer := self._pop_runnable(end)) is not None:
            self._run(timer)
        self.now = max(self.now, end)

    def run_nested(self, owner: str, until: float) -> None:
        """From inside ``owner``'s action: let the rest of the world run until ``until``.

        ``owner`` is blocked meanwhile (its entries are held back and re-queued afterwards), so
        its own state is never re-entered; watch callbacks and other processes proceed.
        """
        was_blocked = owner in self._blocked
        self._blocked.add(owner)
        try:
            self.run_until(until)
        finally:
            if not was_blocked:
                self._blocked.discard(owner)
                keep = []
                for timer in self._deferred:
                    if timer.owner == owner:
                        heapq.heappush(self._queue, timer)
                    else:
                        keep.append(timer)
                self._deferred = keep
