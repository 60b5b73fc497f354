"""Time and waiting for the electors, as parameters.

Every decision of the elector that involves time goes through a :class:`Clock`, and every wait
through a :class:`Sleeper`, so that tests and the deterministic simulator can run the same code in
virtual time. Two clocks are used on purpose:

* ``monotonic()`` decides local leadership (deadlines, how long a leader record has been seen
  unchanged). It never jumps, and it is the only clock the safety argument relies on. The real
  one is :func:`host_monotonic`: on Linux ``CLOCK_BOOTTIME``, which unlike ``time.monotonic()``
  (``CLOCK_MONOTONIC``) goes on counting while the machine is suspended or hibernated, so a
  leader whose host slept finds its deadline passed as it wakes, instead of believing it still
  holds what was left of its lease while another host leads.
* ``wall()`` (seconds since the Unix epoch) is what the stored records carry (heartbeats, lease
  expiry), because other processes compare them; it may be skewed by seconds between hosts.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Protocol, runtime_checkable

__all__ = [
    "HOST_CLOCK_ID",
    "Clock",
    "ManualClock",
    "Sleeper",
    "SystemClock",
    "SystemSleeper",
    "host_monotonic",
]


def _boot_clock() -> int | None:
    """``CLOCK_BOOTTIME`` where this process can read it (Linux), else None."""
    clock: int | None = getattr(time, "CLOCK_BOOTTIME", None)
    if clock is None or not sys.platform.startswith("linux"):
        return None
    try:
        time.clock_gettime(clock)
    except OSError:  # a sandbox that does not offer it
        return None
    return clock


#: The clock id :func:`host_monotonic` reads (``CLOCK_BOOTTIME``), None where it is not used.
HOST_CLOCK_ID: int | None = _boot_clock()


def host_monotonic() -> float:
    """Seconds on the clock that leadership deadlines are measured on, the same in every
    process of the host: ``CLOCK_BOOTTIME`` on Linux (monotonic, and counting the time the
    machine was suspended), else ``time.monotonic()``. ``run``, its guard and the electors all
    read this one, so a deadline one of them computes means the same to the others."""
    if HOST_CLOCK_ID is not None:
        return time.clock_gettime(HOST_CLOCK_ID)
    return time.monotonic()


@runtime_checkable
class Clock(Protocol):
    """The two clocks an elector reads."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (the origin is arbitrary)."""
        ...

    def wall(self) -> float:
        """Seconds since the Unix epoch, as ``time.time()``; may be skewed between hosts."""
        ...


class SystemClock:
    """The real clocks: :func:`host_monotonic` and ``time.time``."""

    __slots__ = ()

    def monotonic(self) -> float:
        """:func:`host_monotonic` (``CLOCK_BOOTTIME`` on Linux)."""
        return host_monotonic()

    def wall(self) -> float:
        """``time.time()``."""
        return time.time()


class ManualClock:
    """A clock that moves only when told to: for tests and simulation.

    ``wall_offset`` shifts the wall clock against a shared timeline, which is how tests give two
    electors wall clocks that disagree by seconds while their monotonic clocks agree::

        clock = ManualClock(start=100.0)
        skewed = clock.skewed(wall_offset=-5.0)   # same time, wall clock 5 s behind
        clock.advance(1.5)                        # both see 1.5 s pass
    """

    __slots__ = ("_base", "_lock", "_now", "wall_epoch", "wall_offset")

    def __init__(
        self, start: float = 0.0, *, wall_epoch: float = 1_700_000_000.0, wall_offset: float = 0.0
    ) -> None:
        self._now = [float(start)]
        self._base = self
        self._lock = threading.Lock()
        self.wall_epoch = wall_epoch
        self.wall_offset = wall_offset

    def monotonic(self) -> float:
        """The timeline's current time (``start`` plus every ``advance``)."""
        return self._base._now[0]

    def wall(self) -> float:
        """``wall_epoch`` plus the monotonic time plus this clock's ``wall_offset``."""
        return self.wall_epoch + self._base._now[0] + self.wall_offset

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (for every clock sharing this timeline)."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards: advance({seconds!r}) needs >= 0")
        with self._base._lock:
            self._base._now[0] += seconds

    def skewed(self, wall_offset: float) -> ManualClock:
        """A clock on the same timeline whose wall clock is ``wall_offset`` seconds off."""
        other = ManualClock(wall_epoch=self.wall_epoch, wall_offset=self.wall_offset + wall_offset)
        other._base = self._base
        return other

    def __call__(self) -> float:
        """The monotonic time, so the clock can be passed where a callable is expected."""
        return self.monotonic()


class Sleeper(Protocol):
    """How a driver waits: until an event is set or a timeout passes."""

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        """Block until ``event`` is set (True) or ``timeout`` seconds pass (False)."""
        ...


class SystemSleeper:
    """Waits on the real clock (``threading.Event.wait``)."""

    __slots__ = ()

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        """``event.wait(timeout)``: True when the event was set, False on timeout."""
        return event.wait(timeout)
