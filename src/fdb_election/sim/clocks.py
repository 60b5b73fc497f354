"""Per-process clocks in virtual time: skewed wall clocks, drifting monotonic clocks.

Each simulated process reads its own :class:`ProcessClock` (the runtime's ``Clock`` protocol):

* ``wall()`` = epoch + virtual time + offset + drift, where the offset is seconds (hosts whose
  NTP is off) and can jump while the run goes on (an NTP step), and the drift is a rate error;
* ``monotonic()`` never jumps and advances at ``1 + rate_error`` times virtual time, with
  ``|rate_error| <= DRIFT_BOUND``.

``DRIFT_BOUND`` is what the elector's default promises, exactly. A leader gives up after
``lease - margin`` on its own clock, with ``margin = lease * clock_drift + 5 ms``; a follower waits
``lease`` on its own. Without the 5 ms (which only covers measurement granularity, and shrinks
relative to long leases), that is safe as long as the follower's clock runs faster than the
leader's by a factor of at most ``1 / (1 - clock_drift)``. Two hosts each off by up to ``d`` in
opposite directions differ by ``(1 + d) / (1 - d)``, so the largest per-host error the margin
defends at every lease is ``d = clock_drift / (2 - clock_drift)``: about ±0.5025 % for the default
``clock_drift = 0.01``, i.e. any two hosts up to 1.01 % apart. :func:`draw_rate_error` picks
either extreme a third of the time each, so that pairs at the full distance are common.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from fdb_election.runtime.tenure import DEFAULT_CLOCK_DRIFT

__all__ = ["DRIFT_BOUND", "WALL_EPOCH", "ProcessClock", "draw_rate_error"]

#: Largest monotonic rate error the simulator gives a process: the per-host error that the
#: default margin (``clock_drift = 0.01``) defends at any lease, ``0.01 / 1.99`` (about 0.5 %).
DRIFT_BOUND = DEFAULT_CLOCK_DRIFT / (2.0 - DEFAULT_CLOCK_DRIFT)
#: The wall time (seconds since the Unix epoch) at virtual time zero.
WALL_EPOCH = 1_700_000_000.0


class ProcessClock:
    """The clocks of one simulated host; reads virtual time from ``now``.

    Example::

        clock = ProcessClock(lambda: sched.now, wall_offset=-4.0, rate_error=1e-3)
        clock.wall()       # 4 s behind the true time
        clock.monotonic()  # runs 0.1 % fast
    """

    __slots__ = ("_mono_origin", "_now", "rate_error", "wall_drift", "wall_offset")

    def __init__(
        self,
        now: Callable[[], float],
        *,
        wall_offset: float = 0.0,
        wall_drift: float = 0.0,
        rate_error: float = 0.0,
        mono_origin: float = 1000.0,
    ) -> None:
        if abs(rate_error) > DRIFT_BOUND:
            raise ValueError(
                f"rate_error must be within ±{DRIFT_BOUND} (the stated drift bound), "
                f"got {rate_error!r}"
            )
        self._now = now
        self.wall_offset = wall_offset
        self.wall_drift = wall_drift
        self.rate_error = rate_error
        self._mono_origin = mono_origin

    def monotonic(self) -> float:
        """Seconds on this host's monotonic clock (arbitrary origin, never jumps)."""
        return self._mono_origin + self._now() * (1.0 + self.rate_error)

    def wall(self) -> float:
        """Seconds since the Unix epoch on this host's (skewed) wall clock."""
        t = self._now()
        return WALL_EPOCH + t + self.wall_offset + t * self.wall_drift

    def step_wall(self, seconds: float) -> None:
        """Jump the wall clock by ``seconds`` (forwards or backwards), like an NTP step."""
        self.wall_offset += seconds

    def true_time_of_monotonic(self, monotonic: float) -> float:
        """The earliest virtual time at which this monotonic clock reads ``monotonic`` or more
        (exactly: a timer set for it finds that time reached, despite rounding)."""
        rate = 1.0 + self.rate_error
        t = (monotonic - self._mono_origin) / rate
        while self._mono_origin + t * rate < monotonic:
            t = math.nextafter(t, math.inf)
        return t

    def true_time_of_wall(self, wall: float) -> float:
        """The virtual time at which this wall clock reads ``wall`` (at the current offset)."""
        return (wall - WALL_EPOCH - self.wall_offset) / (1.0 + self.wall_drift)


def draw_rate_error(rng: random.Random, bound: float = DRIFT_BOUND) -> float:
    """A monotonic rate error within ``±bound``: ``-bound``, ``+bound`` or uniform in between,
    a third of the time each (so two hosts at the full distance apart are common)."""
    pick = rng.random()
    if pick < 1 / 3:
        return -bound
    if pick < 2 / 3:
        return bound
    return rng.uniform(-bound, bound)
