"""Per-process clocks in virtual time: skewed wall clocks, drifting monotonic clocks.

Each simulated process reads its own :class:`ProcessClock` (the runtime's ``Clock`` protocol):

* ``wall()`` = epoch + virtual time + offset + drift, where the offset is seconds (hosts whose
  NTP is off) and can jump while the run goes on (an NTP step), and the drift is a rate error;
* ``monotonic()`` never jumps and advances at ``1 + rate_error`` times virtual time, with
  ``|rate_error| <= DRIFT_BOUND``. That bound is the assumption of the elector's safety
  argument (monotonic clocks of different hosts advance at the same rate within a bound), so the
  simulator never exceeds it.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["DRIFT_BOUND", "WALL_EPOCH", "ProcessClock"]

#: Largest monotonic rate error the simulator gives a process (200 ppm; real quartz is ~50).
DRIFT_BOUND = 2e-4
#: The wall time (seconds since the Unix epoch) at virtual time zero.
WALL_EPOCH = 1_700_000_000.0


class ProcessClock:
    """The clocks of one simulated host; reads virtual time from ``now``.

    Example::

        clock = ProcessClock(lambda: sched.now, wall_offset=-4.0, rate_error=1e-4)
        clock.wall()       # 4 s behind the true time
        clock.monotonic()  # runs 100 ppm fast
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
        """The virtual time at which this monotonic clock reads ``monotonic``."""
        return (monotonic - self._mono_origin) / (1.0 + self.rate_error)

    def true_time_of_wall(self, wall: float) -> float:
        """The virtual time at which this wall clock reads ``wall`` (at the current offset)."""
        return (wall - WALL_EPOCH - self.wall_offset) / (1.0 + self.wall_drift)
