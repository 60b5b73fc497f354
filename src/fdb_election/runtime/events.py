"""What an elector tells the service: elected, demoted, leader changed, and how it left.

The elector core produces these in order; the thread driver hands them to callbacks and the
asyncio driver to an async iterator. The order is part of the contract:

* ``Demoted`` is emitted the moment local leadership ends, before anything else is reported
  about the transition, so a consumer never sees two leaders at once in the stream;
* ``LeaderChanged`` naming this process comes before its ``Elected``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fdb_election.election import LeaderState

__all__ = ["Demoted", "Departure", "Elected", "ElectorEvent", "LeaderChanged", "Release"]


@dataclass(frozen=True, slots=True)
class Elected:
    """This process now leads; ``ballot`` is the fencing token of the tenure.

    ``at`` is when leadership began (the elector clock's monotonic seconds: right after the claim
    committed), which can be earlier than when a callback receives the event. With the real
    clock, compare it with :func:`~fdb_election.runtime.clock.host_monotonic`, not
    ``time.monotonic()``: on Linux it is the boot clock, which counts time the host slept.
    """

    ballot: int
    leader: LeaderState
    at: float = field(default=0.0, compare=False)


@dataclass(frozen=True, slots=True)
class Demoted:
    """This process stopped leading; ``reason`` says why (deadline, preempted, stopping, ...)."""

    ballot: int
    reason: str


@dataclass(frozen=True, slots=True)
class LeaderChanged:
    """The leader this process sees changed: ``leader`` is the new record, or None for nobody."""

    previous_id: str | None
    leader: LeaderState | None

    @property
    def leader_id(self) -> str | None:
        """The new leader's process id, or None when nobody leads."""
        return None if self.leader is None else self.leader.leader_id


#: Any event an elector reports (what ``aio.Elector.events()`` yields).
ElectorEvent = Elected | Demoted | LeaderChanged


@dataclass(frozen=True, slots=True)
class Release:
    """What a ``before_release`` hook is told: a tenure is being given up voluntarily.

    Local leadership (``ballot``) has already ended; the resignation that lets the next leader in
    at once commits only after the hook returns. ``deadline`` (monotonic seconds, the elector's
    clock) is when the old tenure's local deadline would have passed: until then the unrefreshed
    lease keeps every other elector out, so work the hook finishes before it cannot overlap the
    next leader. ``reason`` says why (step-down request, preemption, stopping).
    """

    ballot: int
    reason: str
    deadline: float


@dataclass(frozen=True, slots=True)
class Departure:
    """How an elector left its election: what its stop step committed.

    ``successor``: the claim it wrote for the candidate it handed leadership over to (that
    candidate leads at once). ``resigned``: it cleared the leader key instead, because no other
    candidate was heartbeating or elections are disabled (the next claim may come at once).
    Neither: it held no leadership record when it stopped.
    """

    successor: LeaderState | None = None
    resigned: bool = False
