"""One elector step as a generator that stops at each commit, so a driver can batch commits.

A step is a generator: it yields each transaction it wants committed, the driver commits it and
sends ``None`` back (or throws the commit's error into it), and it returns the seconds until the
next step. :meth:`~.core.ElectorCore.step` commits one at a time; a driver that runs many
electors can take their :class:`PendingCommit` objects and commit them together (group commit),
then resume each with its own outcome.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fdb_election.election import (
    CandidateInfo,
    ElectionConfig,
    LeaderElectionError,
    LeaderState,
)
from fdb_election.election.cycle import ElectionCycle

__all__ = ["Attempt", "PendingCommit", "StepGenerator", "database_error_code", "defer_sync"]

#: A step: yields the transactions it commits (the driver commits each and sends back None, or
#: throws the error), returns the seconds until the next step.
StepGenerator = Generator[Any, None, float]


def defer_sync(tr: Any) -> None:
    """Let ``tr`` commit without waiting for the disk, where the database allows it.

    For commits whose loss in an OS crash is harmless, because every process sharing the file
    dies with it and nobody acted on them beyond this host's processes: heartbeats, refreshes
    of a running tenure, resignations. A claim (a new tenure and fencing token) must sync. Only
    the embedded file store skips anything; a cluster's commits are all durable, and its
    transactions have no such call.
    """
    defer = getattr(tr, "defer_sync", None)
    if defer is not None:
        defer()


@dataclass(slots=True)
class PendingCommit:
    """A step stopped at its commit: commit ``transaction``, then :meth:`ElectorCore.resume_step`.

    ``started`` is when the step began (monotonic), for the step-duration metric.
    """

    transaction: Any
    started: float
    step: StepGenerator


@dataclass(slots=True)
class Attempt:
    """One cycle's transaction and what it read: the configuration, the leader record and, when
    a rule needed them, the candidates."""

    tr: Any
    start: float  # monotonic, before anything was read
    wall: float
    config: ElectionConfig
    cycle: ElectionCycle  # the election's operations on ``tr``, each key read once
    step_down: Any = None  # the step-down request key's snapshot read, when issued early
    record: LeaderState | None = None
    read_done: float = 0.0
    changed: bool = False  # whether ``record`` differs from the one the previous step read
    #: Every registered candidate (one snapshot scan, oldest registration first) and the
    #: monotonic time just after the scan; read at most once per attempt, see
    #: ``ElectorCore._candidates``.
    candidates: tuple[list[CandidateInfo], float] | None = None
    #: A time before ``tr``'s read version was fetched: ``start``, or for a version shared in a
    #: batch, the time the driver gave (see ``begin_step``); None when unknown.
    read_from: float | None = None
    #: The previous cycle's start and the leader record it read, when its read version was its
    #: own (see ``ElectorCore._handed_over_since``).
    read_before: tuple[float, LeaderState | None] | None = None

    @property
    def lease(self) -> float:
        """The lease of the configuration read in this transaction, in seconds."""
        return self.config.lease_duration.total_seconds()

    @property
    def enabled(self) -> bool:
        """Whether elections are enabled in the configuration read here."""
        return self.config.election_enabled

    @property
    def current_time(self) -> timedelta:
        """The wall-clock time of this attempt, as the election layer takes it."""
        return timedelta(seconds=self.wall)


def database_error_code(exc: BaseException) -> int | None:
    """The FoundationDB error code of a database error (real or embedded), else None."""
    if isinstance(exc, LeaderElectionError):
        return None
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) and not isinstance(code, bool) else None
