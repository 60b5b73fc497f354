"""Electors: leader election a service adopts in five lines (thread driver; asyncio in ``aio``).

Modules: ``clock`` (injectable clocks and waiting), ``core`` (the decisions, one database step at
a time), ``elector`` (the thread driver), ``events``, ``stepdown`` (operator step-down requests),
``naming`` (election name → subspace), ``metrics`` (optional Prometheus), ``factory``.
"""

from __future__ import annotations

from fdb_election.runtime.clock import Clock, ManualClock, Sleeper, SystemClock, SystemSleeper
from fdb_election.runtime.core import (
    DEFAULT_CLOCK_DRIFT,
    FIXED_MARGIN,
    ElectorCore,
    Phase,
    safety_margin,
)
from fdb_election.runtime.elector import Elector
from fdb_election.runtime.events import Demoted, Elected, ElectorEvent, LeaderChanged, Release
from fdb_election.runtime.factory import build_core, default_process_id
from fdb_election.runtime.naming import election_subspace, resolve_election
from fdb_election.runtime.stepdown import StepDownRequest, request_step_down, step_down_key

__all__ = [
    "DEFAULT_CLOCK_DRIFT",
    "FIXED_MARGIN",
    "Clock",
    "Demoted",
    "Elected",
    "Elector",
    "ElectorCore",
    "ElectorEvent",
    "LeaderChanged",
    "ManualClock",
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
