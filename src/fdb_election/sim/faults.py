"""The fault schedule of one run, drawn from the run's random source before it starts.

A :class:`FaultPlan` is a list of :class:`PlannedFault` (what, to whom, when, for how long) plus
the rates of per-transaction faults inside "flaky" windows. Everything is drawn up front from the
seed's ``random.Random``, so a plan is reproducible and printable. The last fault ends well before
the run does (:attr:`SimConfig.quiet_period`) so that liveness can be judged.

Kinds (``PlannedFault.kind``):

``crash``        the process dies (no resignation, timers and watches gone); restarts ``duration``
                 later as a new elector with the same process id
``pause``        the process is frozen (GC-like) for ``duration``; its clocks keep running; half
                 of the pauses are long enough for the leader to evict the process meanwhile
``stall``        one of the process's elector's transactions freezes in flight (between reading
                 its clock and its read version, before its commit, after committing but before
                 seeing the result, or so after its next claim commits); with ``amount`` > 0 it
                 may be a fenced write of the host's service instead. A stalled read version
                 lasts less than a lease (the transaction does not time out). Half of the
                 stalls also pause whoever leads when the stall begins (``then_pause``): right
                 after its next refresh commits during a late read version (a follower's read
                 comes late while the leader writes its last refresh), or as any other stall
                 ends (a leader hears late of its commit and then freezes)
``wall_step``    the process's wall clock jumps by ``amount`` seconds (an NTP step)
``unavailable``  the database rejects every transaction for ``duration``
``flaky``        for ``duration``, commits fail (1020), report ``commit_unknown_result`` (1021)
                 after succeeding, or stall in flight, at the plan's rates
``config``       an operator writes a new configuration (lease, preemption, enabled); a
                 disabled election is re-enabled ``duration`` later
``resign``       the process stops gracefully (resign + unregister) and restarts ``duration`` later;
                 with ``amount`` > 0 the stop's commit succeeds but reports
                 ``commit_unknown_result`` (1021)
``step_down``    an operator asks the current leader to step down (runtime request key); with
                 ``amount`` > 0 the leader's resignation commit reports 1021 (it did commit)
``priority``     the process's priority becomes ``amount`` (preemption when it is the highest)
``duplicate``    a second host starts with the same process id and is killed ``duration`` later;
                 with ``amount`` > 0 the original is paused that long at the same moment (a hung
                 process and the replacement its supervisor started). An elector that finds its
                 id registered again by the other stops, and is restarted once the twin is gone

``crash``, ``pause``, ``stall``, ``resign`` and ``wall_step`` name a process, but a third of them
each hit whoever leads when the fault is due (``target="leader"``) or a process that runs and does
not lead (``target="follower"``), and half of the resignations hit the leader: the rare
interleavings (a leader stalled after its commit, a follower stalled before its read while the
leader refreshes, a leader's stop of unknown outcome) need the right victim. Stalls and pauses
are drawn more often than the other kinds (:data:`KIND_WEIGHTS`).

Every process also runs CMD the way ``fdb-election run`` does: started while it leads, stopped
by its supervisor (paused with the process) and, independently, by a guard that owns the
deadline and is never paused; a crash stops CMD at once (the guard sees run die).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from fdb_election.sim.clocks import DRIFT_BOUND, draw_rate_error

__all__ = [
    "ELECTORS_PER_DRIVER",
    "FAULT_KINDS",
    "KIND_WEIGHTS",
    "STALL_POINTS",
    "TARGETED",
    "TARGETS",
    "FaultPlan",
    "PlannedFault",
    "SimConfig",
    "plan_faults",
]

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

#: The kinds whose victim is chosen when the fault is due (see ``PlannedFault.target``).
TARGETED = ("crash", "pause", "stall", "resign", "wall_step")
#: Whom a targeted fault hits: the process it names, the leader then, or a follower then.
TARGETS = ("", "leader", "follower")
#: Where a stall freezes a transaction: before its read version, before its commit, after its
#: commit (before its caller hears of it), or after the commit of a transaction that claims.
STALL_POINTS = ("read_version", "commit", "committed", "claim")
#: How often each kind is drawn relative to the others (1 when not listed): stalls and pauses
#: make the interleavings the rules are about (a commit seen late, a read that comes late, a
#: leader frozen past its deadline, a candidate evicted while frozen).
KIND_WEIGHTS = {"stall": 3, "pause": 2, "resign": 2}


#: Electors per driver in a random run: each its own, the sharpest test of the timing rules
#: (2 has ``p1`` and ``p2`` share one, as two elections of one process do).
ELECTORS_PER_DRIVER = 1


@dataclass(frozen=True, slots=True)
class SimConfig:
    """The parameters of a simulated run (all times are virtual seconds).

    ``lease`` and ``heartbeat`` are the election's initial timings; configuration faults pick
    other leases from ``leases``. ``fault_rate`` is the mean number of faults per lease of
    simulated time during the faulty part of the run. ``shrink_leases=False`` makes configuration
    faults never lower the lease (see docs/simulation.md: lowering it while a leader holds a
    longer lease is a known hazard). ``electors_per_driver`` electors share one driver, as the
    electors of one process do (``p1`` and ``p2`` with 2): their due steps run together and
    their transactions are committed together, each with its own outcome.
    """

    processes: int = 3
    duration: float = 120.0
    lease: float = 2.0
    heartbeat: float = 0.6
    leases: tuple[float, ...] = (1.0, 2.0, 3.0)
    jitter: float = 0.1
    fault_rate: float = 1.0
    wall_skew: float = 8.0
    kinds: tuple[str, ...] = FAULT_KINDS
    flaky_fail_rate: float = 0.2
    flaky_unknown_rate: float = 0.15
    flaky_stall_rate: float = 0.05
    shrink_leases: bool = True
    electors_per_driver: int = ELECTORS_PER_DRIVER

    def __post_init__(self) -> None:
        if self.processes < 1:
            raise ValueError(f"processes must be >= 1, got {self.processes}")
        if self.electors_per_driver < 1:
            raise ValueError(f"electors_per_driver must be >= 1, got {self.electors_per_driver}")
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
    """One fault: ``kind`` hits ``process`` (None: the database or the operator) at ``at``.

    ``target`` (for the kinds in :data:`TARGETED`) chooses the victim when the fault is due:
    ``"leader"`` the process that reports ``is_leader`` then, ``"follower"`` one that runs and does
    not; ``process`` when there is none (and when ``target`` is empty). ``then_pause`` (a stall's):
    whoever leads when the stall begins is paused that many seconds, right after its next
    refresh commits during a stalled read version, or as any other stall ends.
    """

    at: float
    kind: str
    process: str | None = None
    duration: float = 0.0
    amount: float = 0.0
    lease: float | None = None
    enabled: bool = True
    preemption: bool = True
    stall_point: str = ""
    target: str = ""
    then_pause: float = 0.0


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
        kind = rng.choices(config.kinds, [KIND_WEIGHTS.get(k, 1) for k in config.kinds])[0]
        who = rng.choice(names)
        fault: PlannedFault
        if kind == "crash":
            fault = PlannedFault(t, kind, who, duration=rng.uniform(0.1, 3.0) * lease)
        elif kind == "resign":
            unknown = 1.0 if rng.random() < 0.5 else 0.0
            fault = PlannedFault(
                t, kind, who, duration=rng.uniform(0.1, 3.0) * lease, amount=unknown
            )
        elif kind == "pause":
            # Half of them GC-like (short), half long enough for an eviction (candidate_timeout
            # is 1.5 leases, and the leader looks once per candidate_timeout).
            span = (0.05, 1.5) if rng.random() < 0.5 else (1.5, 4.0)
            fault = PlannedFault(t, kind, who, duration=rng.uniform(*span) * lease)
        elif kind == "stall":
            point = rng.choice(STALL_POINTS)
            service = 1.0 if rng.random() < 0.25 else 0.0
            # A read version that comes late lasts less than a lease (the transaction does not
            # time out); a commit held up or heard of late may last longer.
            longest = 0.95 if point == "read_version" else 2.0
            then = rng.uniform(1.0, 3.0) * lease if rng.random() < 0.5 else 0.0
            fault = PlannedFault(
                t,
                kind,
                who,
                duration=rng.uniform(0.05, longest) * lease,
                amount=service,
                stall_point=point,
                then_pause=then,
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
            fault = PlannedFault(t, kind, None, amount=1.0 if rng.random() < 0.5 else 0.0)
        elif kind == "duplicate":
            pause = rng.uniform(0.5, 2.5) * lease if rng.random() < 0.5 else 0.0
            fault = PlannedFault(
                t, kind, who, duration=max(pause, rng.uniform(0.5, 3.0) * lease), amount=pause
            )
        else:  # priority
            fault = PlannedFault(t, kind, who, amount=rng.choice((-1, 0, 1, 2, 3)))
        if kind in TARGETED:
            roles = ("", "leader", "leader", "follower") if kind == "resign" else TARGETS
            fault = replace(fault, target=rng.choice(roles))
        if t + fault.duration > last:
            break
        plan.faults.append(fault)
    return plan
