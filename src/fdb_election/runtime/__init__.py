"""Electors: leader election a service adopts in five lines (thread driver; asyncio in ``aio``).

Modules: ``settings`` (what an elector is given, validated once), ``core`` (the step, dispatching
to a leader or a follower cycle), the pure parts it decides with: ``tenure`` (this process's own
leadership and deadline), ``observation`` (what it has seen of the leader record, and when that
allows a claim), ``identity`` (its registrations), ``liveness`` and ``leader_duties`` (who
heartbeats, whom to hand over to or evict); ``driver`` (one thread per database that steps all
its electors and commits their steps together), the electors ``elector`` (stepped by a driver;
asyncio in ``fdb_election.aio``) and their shared ``elector_base``; ``clock`` (injectable clocks and
waiting), ``events``, ``stepdown`` (operator step-down requests), ``naming`` (election name →
subspace), ``metrics`` (optional Prometheus), ``http`` (health and leadership over HTTP),
``factory``.
"""

from __future__ import annotations

from fdb_election.runtime.clock import Clock, ManualClock, Sleeper, SystemClock, SystemSleeper
from fdb_election.runtime.core import ElectorCore, PendingCommit, Phase
from fdb_election.runtime.driver import ElectorDriver
from fdb_election.runtime.elector import Elector
from fdb_election.runtime.events import (
    Demoted,
    Departure,
    Elected,
    ElectorEvent,
    LeaderChanged,
    Release,
)
from fdb_election.runtime.factory import build_core, default_process_id
from fdb_election.runtime.naming import election_subspace, resolve_election
from fdb_election.runtime.settings import (
    MIN_LEASE_S,
    ElectorCallbacks,
    ElectorOptions,
    ElectorSettings,
)
from fdb_election.runtime.stepdown import StepDownRequest, request_step_down, step_down_key
from fdb_election.runtime.tenure import DEFAULT_CLOCK_DRIFT, FIXED_MARGIN, safety_margin

__all__ = [
    "DEFAULT_CLOCK_DRIFT",
    "FIXED_MARGIN",
    "MIN_LEASE_S",
    "Clock",
    "Demoted",
    "Departure",
    "Elected",
    "Elector",
    "ElectorCallbacks",
    "ElectorCore",
    "ElectorDriver",
    "ElectorEvent",
    "ElectorOptions",
    "ElectorSettings",
    "LeaderChanged",
    "ManualClock",
    "PendingCommit",
    "Phase",
    "Release",
    "Sleeper",
    "StepDownRequest",
    "SystemClock",
    "SystemSleeper",
    "build_core",
    "default_process_id",
    "election_subspace",
    "request_step_down",
    "resolve_election",
    "safety_margin",
    "step_down_key",
]
