"""This elector's own leadership: the local deadline, the tenure it belongs to, and its release.

Pure state, no I/O: the core feeds it what committed and when, and asks it whether this process
leads at a given monotonic time. Every change of the deadline is passed to an optional listener at
once (``run``'s guard process learns the deadline that way).

The deadline of a committed claim or refresh is *the start of that attempt + lease - margin*,
where the margin is ``lease * clock_drift + 5 ms``. A follower waits a full lease on its own
monotonic clock before taking over, so this is safe while the follower's clock runs faster than
the leader's by a factor of at most ``1 / (1 - clock_drift)``, whatever the lease (the 5 ms only
adds slack for timer and scheduling granularity): with the default ``clock_drift = 0.01``, any
two hosts whose monotonic clocks run at rates up to 1 % apart, e.g. each within ±0.5 % of true
time. The simulator gives every host a rate error anywhere within ``±clock_drift / (2 -
clock_drift)`` (±0.5025 %) to prove it. A tenure is one uninterrupted leadership; its ballot (the
fencing token) is the ballot of the claim that began it (or of the refresh that took the record
up again after the deadline had passed).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from fdb_election.election import LeaderState
from fdb_election.runtime.events import Release

__all__ = ["DEFAULT_CLOCK_DRIFT", "FIXED_MARGIN", "LocalTenure", "safety_margin"]

#: Default bound on how much two hosts' monotonic clocks may disagree in rate: the margin covers
#: a follower's clock running up to ``1 / (1 - 0.01)`` times as fast as the leader's (1.01 %).
DEFAULT_CLOCK_DRIFT = 0.01
#: Seconds added to the drift margin: scheduling and measurement slack.
FIXED_MARGIN = 0.005

_log = logging.getLogger("fdb_election")


def safety_margin(lease: float, clock_drift: float) -> float:
    """Seconds a leader gives up at the end of each lease: ``lease * clock_drift + 5 ms``.

    The lease-proportional part is what makes the margin hold for clocks ``clock_drift`` apart at
    any lease: the fixed 5 ms alone covers 0.25 % at a 2 s lease and 0.05 % at 10 s.
    """
    return lease * clock_drift + FIXED_MARGIN


class LocalTenure:
    """Whether, and until when, this process leads (monotonic seconds).

    ``deadline`` is None when not leading. ``began`` is when the current (or last) tenure was
    adopted, on the monotonic clock. ``ballot`` is the current tenure's fencing token,
    ``state`` the leader record last written by this process, ``last_ballot`` the token of the
    latest tenure (kept after it ended, for error messages). ``release`` is a voluntary end of
    leadership whose ``before_release`` hook has not run yet.
    """

    __slots__ = (
        "_listener",
        "ballot",
        "began",
        "clock_drift",
        "deadline",
        "last_ballot",
        "release",
        "state",
    )

    def __init__(self, clock_drift: float) -> None:
        self.clock_drift = clock_drift
        self.deadline: float | None = None
        self.ballot: int | None = None
        self.state: LeaderState | None = None
        self.last_ballot: int | None = None
        self.began = math.inf  # when the current tenure was adopted (monotonic)
        self.release: Release | None = None
        self._listener: Callable[[float | None], object] | None = None

    def leads(self, now: float) -> bool:
        """Whether this process leads at monotonic time ``now``."""
        deadline = self.deadline
        return deadline is not None and now < deadline

    def deadline_for(self, attempt_start: float, lease: float) -> float:
        """The deadline a claim or refresh started at ``attempt_start`` earns once committed."""
        return attempt_start + lease - safety_margin(lease, self.clock_drift)

    def set_listener(self, listener: Callable[[float | None], object] | None) -> None:
        """Call ``listener(deadline)`` at once on every change of the deadline (None: ended)."""
        self._listener = listener

    def adopt(self, state: LeaderState, deadline: float, now: float) -> bool:
        """A claim or refresh with ``deadline`` committed (seen at ``now``); True when a new
        tenure begins (this process did not lead at ``now``)."""
        newly = not self.leads(now)
        if newly:
            self.release = None  # a new tenure: an earlier release has nothing left to hold
            self.began = now
            self.ballot = state.ballot
            self.last_ballot = state.ballot
        self.state = state
        self._set(deadline)  # last: the listener sees the tenure complete
        return newly

    def cap(self, deadline: float) -> None:
        """Lead no longer than ``deadline`` (before committing a record with a lower lease)."""
        if self.deadline is not None:
            self._set(min(self.deadline, deadline))

    def end(self, now: float, reason: str, *, voluntary: bool) -> int | None:
        """End local leadership now; the tenure's ballot, or None when not leading.

        A voluntary end before the deadline leaves a :class:`Release` for the hook.
        """
        deadline = self.deadline
        if deadline is None:
            return None
        ballot = self.ballot or 0
        if voluntary and now < deadline:
            self.release = Release(ballot, reason, deadline)
        self._set(None)
        self.ballot = None
        self.state = None
        return ballot

    def take_release(self) -> Release | None:
        """The pending voluntary release (once)."""
        release, self.release = self.release, None
        return release

    def _set(self, deadline: float | None) -> None:
        if deadline == self.deadline:
            return
        self.deadline = deadline
        listener = self._listener
        if listener is not None:
            try:
                listener(deadline)
            except Exception:
                _log.exception("the deadline listener failed")
