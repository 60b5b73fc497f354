"""When ``run`` must stop CMD so that it is dead before another host may lead.

Usage::

    policy = GracePolicy.for_election(lease=10.0, heartbeat=3.0, requested=None)
    policy.stop_at(deadline)            # send SIGTERM no later than this (monotonic)
    policy.kill_at(deadline, now)       # then SIGKILL at this time at the latest

The elector's local leadership deadline (monotonic) is the moment after which another elector may
become leader. ``run`` sends SIGKILL ``kill_margin`` before it, and SIGTERM ``grace`` before that,
so the old CMD has been killed and reaped while this host still certainly holds the lease. While
refreshes succeed the deadline moves forward and ``stop_at`` stays in the future.

The grace period is bounded: SIGTERM must not be sent during normal operation, when the deadline
is as close as it gets just before a refresh (lease - heartbeat), and one failed refresh is
tolerated, so ``grace <= lease - 2 x heartbeat - kill_margin``. A longer requested grace is
rejected with an explanation; without a request the default is clamped to that bound.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_GRACE_S", "GracePolicy", "GraceTooLong"]

DEFAULT_GRACE_S = 5.0
"""The grace period when none is requested (clamped to what the lease allows)."""


class GraceTooLong(ValueError):
    """The requested grace period does not fit inside the election's lease."""


def _fmt(seconds: float) -> str:
    from fdb_election.cli.output import format_seconds

    return format_seconds(seconds)


@dataclass(frozen=True, slots=True)
class GracePolicy:
    """How long CMD gets between SIGTERM and SIGKILL, and how early SIGKILL comes."""

    grace: float
    kill_margin: float

    @staticmethod
    def kill_margin_for(lease: float) -> float:
        """Time kept between SIGKILL and the deadline: 5 % of the lease, at most 0.25 s."""
        return min(0.25, 0.05 * lease)

    @staticmethod
    def max_grace(lease: float, heartbeat: float) -> float:
        """The longest grace period the election's timing allows (may be negative)."""
        return lease - 2 * heartbeat - GracePolicy.kill_margin_for(lease)

    @classmethod
    def for_election(
        cls, *, lease: float, heartbeat: float, requested: float | None
    ) -> GracePolicy:
        """The policy for an election's lease and heartbeat (seconds).

        Raises GraceTooLong when ``requested`` exceeds what the lease allows, or when the
        election's timing leaves no room at all (heartbeat above half the lease).
        """
        if requested is not None and requested < 0:
            raise ValueError(f"the grace period must be >= 0 seconds, got {requested}")
        kill_margin = cls.kill_margin_for(lease)
        limit = cls.max_grace(lease, heartbeat)
        if limit < 0:
            raise GraceTooLong(
                f"the election's heartbeat interval ({_fmt(heartbeat)}) leaves no time to stop "
                f"CMD inside its lease ({_fmt(lease)}): `run` needs lease > 2 x heartbeat + "
                f"{_fmt(kill_margin)}; change it with `fdb-election config set --lease/--heartbeat`"
            )
        if requested is None:
            return cls(grace=min(DEFAULT_GRACE_S, limit), kill_margin=kill_margin)
        if requested > limit:
            raise GraceTooLong(
                f"--grace {_fmt(requested)} is too long for this election: with a lease of "
                f"{_fmt(lease)} and a heartbeat of {_fmt(heartbeat)}, CMD must be dead within "
                f"{_fmt(limit)} of SIGTERM so that it has stopped before another host can take "
                "over (grace <= lease - 2 x heartbeat - kill margin); use a shorter --grace or "
                "a longer lease (`fdb-election config set --lease S --heartbeat S`)"
            )
        return cls(grace=requested, kill_margin=kill_margin)

    def stop_at(self, deadline: float) -> float:
        """The latest moment to send SIGTERM for a leadership deadline ``deadline``."""
        return deadline - self.kill_margin - self.grace

    def kill_at(self, deadline: float | None, term_sent: float) -> float:
        """When to SIGKILL after SIGTERM at ``term_sent``; never later than the deadline allows.

        ``deadline`` None means leadership is already gone: SIGKILL at once.
        """
        if deadline is None:
            return term_sent
        return min(term_sent + self.grace, deadline - self.kill_margin)
