"""The fault schedule of one run, drawn from the run's random source before it starts.

A :class:`FaultPlan` is a list of :class:`PlannedFault` (what, to whom, when, for how long) plus
the rates of per-transaction faults inside "flaky" windows. Everything is drawn up front from the
seed's ``random.Random``, so a plan is reproducible and printable. The last fault ends well before
the run does (:attr:`SimConfig.quiet_period`) so that liveness can be judged.

Kinds (``PlannedFault.kind``):

``crash``        the process dies (no resignation, timers and watches gone); restarts ``duration``
                 later as a new elector with the same process id
``pause``        the process is frozen (GC-like) for ``duration``; its clocks keep running
``stall``        one of the process's transactions freezes in flight (between reading its clock
                 and committing, or after committing but before seeing the result)
``wall_step``    the process's wall clock jumps by ``amount`` seconds (an NTP step)
``unavailable``  the database rejects every transaction for ``duration``
``flaky``        for ``duration``, commits fail (1020), report ``commit_unknown_result`` (1021)
                 after succeeding, or stall in flight, at the plan's rates
``config``       an operator writes a new configuration (lease, preemption, enabled); a
                 disabled election is re-enabled ``duration`` later
``resign``       the process stops gracefully (resign + unregister) and restarts ``duration`` later
``step_down``    an operator asks the current leader to step down (runtime request key)
``priority``     the process's priority becomes ``amount`` (preemption when it is the highest)
``duplicate``    a second host starts with the same process id and is killed ``duration`` later;
                 with ``amount`` > 0 the original is paused that long at the same moment (a hung
                 process and the replacement its supervisor started). An elector that finds its
                 id registered again by the other stops, and is restarted once the twin is gone

Every process also runs CMD the way ``fdb-election run`` does: started while it leads, stopped
by its supervisor (paused with the process) and, independently, by a guard that owns the
deadline and is never paused; a crash stops CMD at once (the guard sees run die).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from fdb_election.sim.clocks import DRIFT_BOUND, draw_rate_error

__all__ = ["FAULT_KINDS", "FaultPlan", "PlannedFault", "SimConfig", "plan_faults"]

FAULT_KINDS = (
    "crash",
    "pause",
    "stall",
    "wall_step",
    "unavailable",
    "flaky",
    "config",
    "resign",
    "step_down",
    "priority",
    "duplicate",
)


@dataclass(frozen=True, slots=True)
class SimConfig:
    """The parameters of a simulated run (all times are virtual seconds).

    ``lease`` and ``heartbeat`` are the election's initial timings; configuration faults pick
    other leases from ``leases``. ``fault_rate`` is the mean number of faults per lease of
    simulated time during the faulty part of the run. ``shrink_leases=False`` makes configuration
    faults never lower the lease (see docs/simulation.md: lowering it while a leader holds a
    longer lease is a known hazard).
    """

    processes: int = 3
    duration: float = 120.0
    lease: float = 2.0
    heartbeat: float = 0.6
    leases: tuple[float, ...] = (1.0, 2.0, 3.0)
    jitter: float = 0.1
    fault_rate: float = 0.5
    wall_skew: float = 8.0
    kinds: tuple[str, ...] = FAULT_KINDS
    flaky_fail_rate: float = 0.2
    flaky_unknown_rate: float = 0.15
    flaky_stall_rate: float = 0.05
    shrink_leases: bool = True

    def __post_init__(self) -> None:
        if self.processes < 1:
            raise ValueError(f"processes must be >= 1, got {self.processes}")
        if not self.heartbeat < self.lease:
            raise ValueError(f"heartbeat ({self.heartbeat}) must be below lease ({self.lease})")
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(
                f"unknown fault kind(s) {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}"
            )
        if self.duration <= self.quiet_period:
            raise ValueError(
                f"duration must exceed the quiet period at the end ({self.quiet_period:.1f} s), "
                f"got {self.duration}"
            )

    @property
    def max_lease(self) -> float:
        """The longest lease any configuration of the run uses."""
        return max((self.lease, *self.leases))

    @property
    def max_heartbeat(self) -> float:
        """The longest heartbeat interval any configuration of the run uses."""
        return max(self.heartbeat, *(lease * self.heartbeat / self.lease for lease in self.leases))

    @property
    def liveness_bound(self) -> float:
        """How long the election may be leaderless after the last fault: lease + heartbeat +
        jitter (of the largest configuration), plus one more heartbeat for a preemption
        handover, plus the drift allowance (a lease on a clock running ``DRIFT_BOUND`` slow)."""
        lease = self.max_lease / (1.0 - DRIFT_BOUND)
        return lease + self.max_heartbeat * (2 + self.jitter) + 0.05

    @property
    def quiet_period(self) -> float:
        """Fault-free time at the end of every run, so liveness can be judged."""
        return 3 * self.liveness_bound


@dataclass(frozen=True, slots=True)
class PlannedFault:
    """One fault: ``kind`` hits ``process`` (None: the database or the operator) at ``at``."""

    at: float
    kind: str
    process: str | None = None
    duration: float = 0.0
    amount: float = 0.0
    lease: float | None = None
    enabled: bool = True
    preemption: bool = True
    stall_point: str = ""


@dataclass(slots=True)
class FaultPlan:
    """The faults of one run, in time order, and the per-process clock set-up."""

    faults: list[PlannedFault] = field(default_factory=list)
    wall_offsets: dict[str, float] = field(default_factory=dict)
    wall_drifts: dict[str, float] = field(default_factory=dict)
    rate_errors: dict[str, float] = field(default_factory=dict)
    priorities: dict[str, int] = field(default_factory=dict)


def plan_faults(rng: random.Random, config: SimConfig, names: list[str], drift: float) -> FaultPlan:
    """Draw the clocks and the faults of one run from ``rng``."""
    plan = FaultPlan()
    for name in names:
        plan.wall_offsets[name] = rng.uniform(-config.wall_skew, config.wall_skew)
        plan.wall_drifts[name] = rng.uniform(-1e-3, 1e-3)
        plan.rate_errors[name] = draw_rate_error(rng, drift)
        plan.priorities[name] = rng.choice((0, 0, 0, 1, 2))
    if not config.kinds:
        return plan
    last = config.duration - config.quiet_period
    t = rng.uniform(0.5, 2.0) * config.lease
    lease = config.lease
    while True:
        t += rng.expovariate(config.fault_rate / config.lease)
        kind = rng.choice(config.kinds)
        who = rng.choice(names)
        fault: PlannedFault
        if kind in ("crash", "resign"):
            fault = PlannedFault(t, kind, who, duration=rng.uniform(0.1, 3.0) * lease)
        elif kind == "pause":
            fault = PlannedFault(t, kind, who, duration=rng.uniform(0.05, 2.5) * lease)
        elif kind == "stall":
            point = rng.choice(("read_version", "commit", "committed"))
            fault = PlannedFault(
                t, kind, who, duration=rng.uniform(0.05, 2.0) * lease, stall_point=point
            )
        elif kind == "wall_step":
            fault = PlannedFault(t, kind, who, amount=rng.uniform(-10.0, 10.0))
        elif kind == "unavailable":
            fault = PlannedFault(t, kind, None, duration=rng.uniform(0.1, 1.5) * lease)
        elif kind == "flaky":
            fault = PlannedFault(t, kind, None, duration=rng.uniform(1.0, 5.0) * lease)
        elif kind == "config":
            choices = [x for x in config.leases if config.shrink_leases or x >= lease] or [lease]
            new_lease = rng.choice(choices)
            enabled = rng.random() > 0.2
            fault = PlannedFault(
                t,
                kind,
                None,
                duration=0.0 if enabled else rng.uniform(0.2, 2.0) * lease,
                lease=new_lease,
                enabled=enabled,
                preemption=rng.random() > 0.3,
            )
            lease = new_lease
        elif kind == "step_down":
            fault = PlannedFault(t, kind, None)
        elif kind == "duplicate":
            pause = rng.uniform(0.5, 2.5) * lease if rng.random() < 0.5 else 0.0
            fault = PlannedFault(
                t, kind, who, duration=max(pause, rng.uniform(0.5, 3.0) * lease), amount=pause
            )
        else:  # priority
            fault = PlannedFault(t, kind, who, amount=rng.choice((-1, 0, 1, 2, 3)))
        if t + fault.duration > last:
            break
        plan.faults.append(fault)
    return plan
