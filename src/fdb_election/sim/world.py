"""The simulated world: N electors, one in-memory store, faults, all in virtual time.

:func:`run_seed` builds a :class:`World` from a seed and a :class:`~.faults.SimConfig`, runs it,
and checks its history. Everything random comes from ``random.Random(seed)`` (which processes
are eager followers, see :class:`AlwaysProbing`, from a source of its own seeded alike); the
store, the electors' clocks and their timers all read the scheduler's virtual time, so a seed
replays exactly. The electors are the runtime's own
:class:`~fdb_election.runtime.core.ElectorCore`, the same code the thread and asyncio drivers
run.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from fdb.subspace_impl import Subspace

from fdb_election import embedded
from fdb_election.cli.grace import GracePolicy
from fdb_election.election import CandidateInfo, ElectionConfig, LeaderElection, LeaderState
from fdb_election.election.cycle import ElectionCycle, ElectionKeys
from fdb_election.election.times import to_nanos
from fdb_election.runtime import driver as elector_driver
from fdb_election.runtime.core import ElectorCore, PendingCommit, Phase
from fdb_election.runtime.events import Release
from fdb_election.runtime.refresh_alignment import RefreshAlignment
from fdb_election.runtime.settings import ElectorSettings
from fdb_election.runtime.stepdown import request_step_down
from fdb_election.sim.checker import Violation, check, leaderless_gaps
from fdb_election.sim.clocks import DRIFT_BOUND, ProcessClock, draw_rate_error
from fdb_election.sim.faults import (
    ELECTORS_PER_DRIVER,
    FAULT_KINDS,
    FaultPlan,
    PlannedFault,
    SimConfig,
    plan_faults,
)
from fdb_election.sim.history import (
    CmdChange,
    Commit,
    Fault,
    Frozen,
    History,
    LeadershipChange,
    Note,
    OpCall,
    ProcessState,
    ResourceRecord,
    ResourceWrite,
    Snapshot,
)
from fdb_election.sim.model import result_text
from fdb_election.sim.observe import (
    config_record,
    decode_resource,
    encode_resource,
    read_snapshot,
    stamp_version,
)
from fdb_election.sim.scheduler import Scheduler

__all__ = ["Outcome", "RecordingCycle", "RecordingElection", "World", "run_seed", "run_world"]

#: FoundationDB error codes the simulator injects.
NOT_COMMITTED = 1020
COMMIT_UNKNOWN_RESULT = 1021
TIMED_OUT = 1031


class RecordingElection(LeaderElection):
    """A ``LeaderElection`` that reports every state-changing call to the world.

    The calls run unchanged (``super()``); the recorder gets the transaction and an
    :class:`~.history.OpCall` with the arguments and the result (or the error's class name).
    """

    __slots__ = ("_record",)

    def __init__(self, subspace: Any, record: Callable[[Any, OpCall], None]) -> None:
        super().__init__(subspace)
        self._record = record

    def _call(self, tr: Any, op: OpCall, call: Callable[..., Any], *args: Any) -> Any:
        try:
            value = call(self, tr, *args)
        except Exception as exc:
            self._record(tr, _with_result(op, result_text(exc)))
            raise
        self._record(tr, _with_result(op, result_text(value)))
        return value

    def initialize_with_config(self, tr: Any, config: ElectionConfig) -> None:
        op = OpCall("initialize_with_config", config=config_record(config))
        self._call(tr, op, LeaderElection.initialize_with_config, config)

    def write_config(self, tr: Any, config: ElectionConfig) -> None:
        op = OpCall("write_config", config=config_record(config))
        self._call(tr, op, LeaderElection.write_config, config)

    def register_candidate(self, tr: Any, process_id: str, priority: int, now: Any) -> None:
        op = OpCall("register_candidate", process_id, priority, _ns(now))
        self._call(tr, op, LeaderElection.register_candidate, process_id, priority, now)

    def heartbeat_candidate(
        self,
        tr: Any,
        process_id: str,
        priority: int,
        now: Any,
        *,
        registration: bytes | None = None,
    ) -> None:
        op = OpCall(
            "heartbeat_candidate", process_id, priority, _ns(now), stamp=_stamp(registration)
        )
        call = partial(LeaderElection.heartbeat_candidate, registration=registration)
        self._call(tr, op, call, process_id, priority, now)

    def unregister_candidate(self, tr: Any, process_id: str) -> None:
        op = OpCall("unregister_candidate", process_id)
        self._call(tr, op, LeaderElection.unregister_candidate, process_id)

    def evict_dead_candidates(self, tr: Any, now: Any, *, limit: int | None = None) -> int:
        op = OpCall("evict_dead_candidates", now_ns=_ns(now), limit=limit)
        result: int = self._call(
            tr, op, partial(LeaderElection.evict_dead_candidates, limit=limit), now
        )
        return result

    def try_claim_leadership(
        self, tr: Any, process_id: str, priority: int, now: Any
    ) -> LeaderState | None:
        op = OpCall("try_claim_leadership", process_id, priority, _ns(now))
        result: LeaderState | None = self._call(
            tr, op, LeaderElection.try_claim_leadership, process_id, priority, now
        )
        return result

    def refresh_lease(
        self,
        tr: Any,
        process_id: str,
        now: Any,
        *,
        versionstamp: bytes | None = None,
        new_tenure: bool = False,
    ) -> LeaderState | None:
        op = OpCall(
            "refresh_lease",
            process_id,
            now_ns=_ns(now),
            stamp=_stamp(versionstamp),
            new_tenure=new_tenure,
        )
        call = partial(
            LeaderElection.refresh_lease, versionstamp=versionstamp, new_tenure=new_tenure
        )
        result: LeaderState | None = self._call(tr, op, call, process_id, now)
        return result

    def resign_leadership(
        self, tr: Any, process_id: str, *, versionstamp: bytes | None = None
    ) -> bool:
        op = OpCall("resign_leadership", process_id, stamp=_stamp(versionstamp))
        call = partial(LeaderElection.resign_leadership, versionstamp=versionstamp)
        result: bool = self._call(tr, op, call, process_id)
        return result

    def hand_over_leadership(
        self,
        tr: Any,
        process_id: str,
        successor: str,
        now: Any,
        *,
        versionstamp: bytes | None = None,
    ) -> LeaderState | None:
        op = OpCall(
            "hand_over_leadership",
            process_id,
            now_ns=_ns(now),
            stamp=_stamp(versionstamp),
            successor=successor,
        )
        call = partial(LeaderElection.hand_over_leadership, versionstamp=versionstamp)
        result: LeaderState | None = self._call(tr, op, call, process_id, successor, now)
        return result

    def get_leader_raw(self, tr: Any) -> LeaderState | None:
        result: LeaderState | None = self._call(
            tr, OpCall("get_leader_raw"), LeaderElection.get_leader_raw
        )
        return result

    def note_observed_ballot(self, tr: Any, ballot: int) -> None:
        op = OpCall("note_observed_ballot", ballot=ballot)
        self._call(tr, op, LeaderElection.note_observed_ballot, ballot)

    def cycle(self, tr: Any, process_id: str) -> ElectionCycle:
        return RecordingCycle(tr, self._keys, process_id, self._candidate_key, self._record)


class RecordingCycle(ElectionCycle):
    """An ``ElectionCycle`` that reports its operations as the seed calls they stand for."""

    __slots__ = ("_record",)

    def __init__(
        self,
        tr: Any,
        keys: ElectionKeys,
        process_id: str,
        candidate_key: Callable[[str], bytes],
        record: Callable[[Any, OpCall], None],
    ) -> None:
        super().__init__(tr, keys, process_id, candidate_key)
        self._record = record

    def _call(self, op: OpCall, call: Callable[[], Any]) -> Any:
        try:
            value = call()
        except Exception as exc:
            self._record(self.tr, _with_result(op, result_text(exc)))
            raise
        self._record(self.tr, _with_result(op, result_text(value)))
        return value

    def heartbeat(
        self, priority: int, current_time: Any, *, registration: bytes | None = None
    ) -> None:
        op = OpCall(
            "heartbeat_candidate",
            self.process_id,
            priority,
            _ns(current_time),
            stamp=_stamp(registration),
        )
        self._call(
            op, partial(super().heartbeat, priority, current_time, registration=registration)
        )

    def try_claim(self, priority: int, current_time: Any) -> LeaderState | None:
        op = OpCall("try_claim_leadership", self.process_id, priority, _ns(current_time))
        result: LeaderState | None = self._call(
            op, partial(super().try_claim, priority, current_time)
        )
        return result

    def refresh(
        self,
        current_time: Any,
        *,
        versionstamp: bytes | None = None,
        new_tenure: bool = False,
    ) -> LeaderState | None:
        op = OpCall(
            "refresh_lease",
            self.process_id,
            now_ns=_ns(current_time),
            stamp=_stamp(versionstamp),
            new_tenure=new_tenure,
        )
        call = partial(
            super().refresh, current_time, versionstamp=versionstamp, new_tenure=new_tenure
        )
        result: LeaderState | None = self._call(op, call)
        return result

    def leader(self) -> LeaderState | None:
        result: LeaderState | None = self._call(OpCall("get_leader_raw"), super().leader)
        return result

    def resign(self, *, versionstamp: bytes | None = None) -> bool:
        op = OpCall("resign_leadership", self.process_id, stamp=_stamp(versionstamp))
        result: bool = self._call(op, partial(super().resign, versionstamp=versionstamp))
        return result

    def hand_over(
        self,
        successor: str,
        current_time: Any,
        *,
        versionstamp: bytes | None = None,
        scanned: CandidateInfo | None = None,
    ) -> LeaderState | None:
        op = OpCall(
            "hand_over_leadership",
            self.process_id,
            now_ns=_ns(current_time),
            stamp=_stamp(versionstamp),
            successor=successor,
        )
        call = partial(
            super().hand_over,
            successor,
            current_time,
            versionstamp=versionstamp,
            scanned=scanned,
        )
        result: LeaderState | None = self._call(op, call)
        return result

    def note_observed_ballot(self, ballot: int) -> None:
        op = OpCall("note_observed_ballot", ballot=ballot)
        self._call(op, partial(super().note_observed_ballot, ballot))


def _with_result(op: OpCall, result: str) -> OpCall:
    return replace(op, result=result)


def _stamp(versionstamp: bytes | None) -> int | None:
    """A registration versionstamp as the history records it (its commit version)."""
    return None if versionstamp is None else stamp_version(versionstamp)


def _ns(current_time: Any) -> int:
    return to_nanos(current_time, "current_time")


#: The share of processes whose electors are eager followers (see ``AlwaysProbing``).
EAGER_SHARE = 1 / 2


class AlwaysProbing(RefreshAlignment):
    """A follower's refresh alignment whose every plan probes: it watches the leader key, so
    every refresh wakes it and it reads the record at once. The elector's own alignment gets
    there after planned reads that miss; here it stays there."""

    __slots__ = ()

    def plan(
        self,
        holder: tuple[str, bytes],
        began: float,
        heartbeat: float,
        wall: float,
        monotonic: float,
        longest: float,
    ) -> float | None:
        self.missed = True  # as after a miss: the next plan probes again
        return super().plan(holder, began, heartbeat, wall, monotonic, longest)


@dataclass(slots=True)
class SimProcess:
    """One simulated host running ``fdb-election run``: an elector (replaced by a new one after
    a crash), the supervisor that starts CMD while it leads, and the guard that stops CMD by
    the deadline on its own. ``process_id`` is the elector's id (a twin host shares its
    original's, see the ``duplicate`` fault)."""

    name: str
    clock: ProcessClock
    rng: random.Random
    priority: int
    process_id: str = ""
    twin_of: str | None = None
    core: ElectorCore | None = None
    timer: Any = None
    paused_until: float = 0.0
    restart_after: float | None = None
    step_wall: float | None = None
    hooked: dict[int, Any] = field(default_factory=dict)
    last_ballot: int | None = None
    last_stamp: int = 0  # the registration (stamp version) last_ballot was issued to
    earlier: tuple[int, int] | None = None  # (ballot, stamp) of the previous tenure it saw
    superseded: bool = False  # its elector gave the id up to a twin and has not restarted
    stopping: bool = False  # its elector was asked to stop (or is giving its id up)
    incarnation: int = 0
    cmd_running: bool = False
    guard_deadline: float | None = None  # the monotonic deadline the guard was last given
    guard_timer: Any = None
    supervisor_timer: Any = None
    driver: str = ""  # the driver this elector shares with others ("" : its own)
    busy: bool = False  # it is inside a step (its own, or its driver's batch)
    woken: bool = False  # its next step is a wake-up, not a timer coming due
    ready: bool = False  # due, waiting for its driver's batch
    again: bool = False  # a wake-up came while busy: step again after the batch
    eager: bool = False  # its electors read the leader record at every refresh (see World)

    def __post_init__(self) -> None:
        if not self.process_id:
            self.process_id = self.name


@dataclass(slots=True)
class Outcome:
    """The result of one seed: its history, the violations, and figures for the summary."""

    seed: int
    config: SimConfig
    history: History
    violations: list[Violation]
    faults: Counter[str]
    leadership_changes: int
    failovers: list[float]
    events: int
    scenario: str | None = None
    #: Commits of several electors' transactions at once, and the transactions in them.
    batches: int = 0
    batched: int = 0

    def replay_command(self) -> str:
        """The command line that replays this seed (exact for configurations the CLI builds)."""
        if self.scenario is not None:
            return f"python -m fdb_election.sim --scenario {self.scenario}"
        c = self.config
        parts = [
            f"python -m fdb_election.sim --replay {self.seed} --processes {c.processes}",
            f"--hours {c.duration / 3600!r} --lease {c.lease!r}",
        ]
        if set(c.kinds) != set(FAULT_KINDS):
            parts.append(f"--faults {','.join(c.kinds) or ','}")
        if not c.shrink_leases:
            parts.append("--no-shrink-leases")
        if c.electors_per_driver != ELECTORS_PER_DRIVER:
            parts.append(f"--electors-per-driver {c.electors_per_driver}")
        return " ".join(parts)

    def report(self, last: int = 40) -> str:
        """The violations, the replay command and the trace leading to the first violation."""
        lines = [f"seed {self.seed}: {len(self.violations)} violation(s)"]
        lines += [f"  {v}" for v in self.violations[:10]]
        lines.append(f"  replay: {self.replay_command()}")
        before = self.violations[0].time if self.violations else None
        lines.append(f"  last events{' before the first violation' if before else ''}:")
        lines += [f"    {line}" for line in self.history.trace(last, before)]
        return "\n".join(lines)


class World:
    """Everything of one simulated run. Build, :meth:`run`, then read :attr:`history`."""

    def __init__(self, seed: int, config: SimConfig | None = None) -> None:
        self.seed = seed
        self.config = config or SimConfig()
        self.rng = random.Random(seed)
        self.sched = Scheduler()
        self.db = embedded.open(
            clock=lambda: self.sched.now,
            sleep=self._sleep,
            rng=random.Random(self.rng.getrandbits(64)),
        )
        self.db.set_fault_hook(self._hook)
        self.subspace = Subspace(("sim", "election"))
        self.resource_key = bytes(Subspace(("sim", "resource")).pack(()))
        self.names = [f"p{i}" for i in range(1, self.config.processes + 1)]
        self.history = History(
            seed=seed,
            processes=tuple(self.names),
            end_time=self.config.duration,
            liveness_bound=self.config.liveness_bound,
            drift_bound=DRIFT_BOUND,
            jitter=self.config.jitter,
        )
        self.plan: FaultPlan = plan_faults(self.rng, self.config, self.names, DRIFT_BOUND)
        self.election_config = self._config(self.config.lease, True, True)
        # What run computes when it starts: SIGTERM grace + kill_margin before the deadline.
        self.policy = GracePolicy.for_election(
            lease=self.config.lease, heartbeat=self.config.heartbeat, requested=None
        )
        self.processes: dict[str, SimProcess] = {}
        for name in self.names:
            clock = ProcessClock(
                lambda: self.sched.now,
                wall_offset=self.plan.wall_offsets[name],
                wall_drift=self.plan.wall_drifts[name],
                rate_error=self.plan.rate_errors[name],
                mono_origin=self.rng.uniform(100.0, 10_000.0),
            )
            self.processes[name] = SimProcess(
                name, clock, random.Random(self.rng.getrandbits(64)), self.plan.priorities[name]
            )
        # Eager followers, drawn from a stream of their own so that every seed keeps its fault
        # plan: a leader's deadline a few milliseconds too late (a timing slip) shows only when
        # a follower read its last refresh at once, and counts its lease from there. Followers
        # time their reads for just after a refresh is due, plus a slack of 20 ms or more; an
        # eager one watches every refresh, as one whose planned reads keep missing does.
        eager = random.Random(f"eager followers of seed {seed}")
        for name in self.names:
            self.processes[name].eager = eager.random() < EAGER_SHARE
        per = self.config.electors_per_driver
        if per > 1:
            for i, name in enumerate(self.names):
                self.processes[name].driver = f"driver-{i // per + 1}"
        self.operator = RecordingElection(self.subspace, self._record_op)
        self._pending: dict[int, tuple[Any, str | None, list[OpCall]]] = {}
        # While a batch commits: the stalls after a member's commit, run once all are observed.
        self._batch_stalls: list[Callable[[], None]] | None = None
        self._window_end: dict[str, float] = {}  # driver -> when its due members step
        self._driver_timer: dict[str, Any] = {}  # driver -> the timer of its next batch
        self._in_batch: set[str] = set()  # drivers whose thread is in a batch
        self._held: dict[str, float] = {}  # driver -> until when a stall holds its thread
        self.batches = 0  # commit_many calls with more than one transaction
        self.batched = 0  # the transactions in them
        self._current: list[SimProcess] = []
        self._observing = False
        self._operating = False
        self._leading: dict[str, bool] = dict.fromkeys(self.names, False)
        self._unavailable_until = -math.inf
        self._flaky_until = -math.inf
        self._stalls: dict[str, PlannedFault] = {}
        self._quiet_from = self.config.duration - self.config.quiet_period
        self._last_snapshot: Snapshot | None = None
        # Process ids whose next resignation commit succeeds but reports 1021 (resign and
        # step_down faults with amount > 0).
        self._unknown_resign: set[str] = set()
        self._servicing: set[str] = set()  # hosts whose service (not elector) runs a transaction
        self._stalled_until: list[float] = []  # the ends of the stalls running now, nested
        self._pause_after_refresh: dict[str, float] = {}  # host -> pause after its next refresh

    # ------------------------------------------------------------------ set-up

    def _config(self, lease: float, enabled: bool, preemption: bool) -> ElectionConfig:
        ratio = self.config.heartbeat / self.config.lease
        return ElectionConfig(
            lease_duration=lease,
            heartbeat_interval=lease * ratio,
            candidate_timeout=lease * 1.5,
            election_enabled=enabled,
            allow_preemption=preemption,
        )

    @staticmethod
    def _sleep(_seconds: float) -> None:
        """Retry backoff inside the store takes no virtual time (electors do not use it)."""

    # ------------------------------------------------------------------ the run

    def run(self) -> History:
        """Run the whole simulation; the recorded history (also in :attr:`history`)."""
        for name in self.names:
            self.sched.at(self.rng.uniform(0.0, self.config.heartbeat), partial(self._start, name))
            self._schedule_service(self.processes[name])
        for fault in self.plan.faults:
            self.sched.at(fault.at, partial(self._apply, fault))
        self.sched.at(self._quiet_from, self._quiet)
        self.sched.on_event = self._sample
        self.sched.run_until(self.config.duration)
        self.history.final = self._read_state()
        return self.history

    def _start(self, name: str) -> None:
        proc = self.processes[name]
        proc.incarnation += 1
        proc.superseded = False
        incarnation = proc.incarnation
        election = RecordingElection(self.subspace, self._record_op)
        settings = ElectorSettings(
            process_id=proc.process_id,
            priority=proc.priority,
            config=self.election_config,
            jitter=self.config.jitter,
            metrics=False,
        )
        proc.core = ElectorCore(
            self.db,
            election,
            settings,
            clock=proc.clock,
            rng=proc.rng,
            name="sim",
            before_release=lambda release: self._release(proc, incarnation, release),
        )
        if proc.eager:
            proc.core._alignment = AlwaysProbing()
        proc.core.set_deadline_listener(
            lambda deadline: self._guard_deadline(proc, incarnation, deadline)
        )
        as_id = f" as {proc.process_id}" if proc.process_id != name else ""
        eager = ", an eager follower" if proc.eager else ""
        self._note(
            name, f"starts{as_id} (incarnation {incarnation}, priority {proc.priority}{eager})"
        )
        self._state(proc, "start")
        held = self._held.get(proc.driver, 0.0) if proc.driver else 0.0
        if held > self.sched.now:  # joins a driver whose thread is stuck in a stall
            self._freeze(proc, held, "stall of its driver")
        self._schedule_step(proc, 0.0, woken=True)

    def _schedule_step(
        self, proc: SimProcess, delay: float, *, at: float | None = None, woken: bool = False
    ) -> None:
        """Step ``proc`` after ``delay`` seconds of its own monotonic clock (which may run fast
        or slow), or at virtual time ``at``. ``woken``: a wake-up (a watch fired, a stop was
        asked), which a shared driver serves at once instead of waiting for company."""
        if proc.timer is not None:
            proc.timer.cancel()
            proc.timer = None
        if math.isinf(delay):
            return
        if at is None and delay <= 0:
            at = self.sched.now
        elif at is None:
            at = proc.clock.true_time_of_monotonic(proc.clock.monotonic() + delay)
        proc.woken = woken
        proc.timer = self.sched.at(at, lambda: self._step(proc), owner=proc.name, label="step")

    def _step(self, proc: SimProcess) -> None:
        proc.timer = None
        if proc.busy:
            proc.again = True  # inside a step already: stepped again once it is done
            return
        core = proc.core
        if core is None:
            return
        if self.sched.now < proc.paused_until:
            self._schedule_step(proc, 0.0, at=proc.paused_until)
            return
        if proc.driver:
            proc.ready = True
            self._driver_due(proc.driver, woken=proc.woken)
            return
        self._current.append(proc)
        proc.step_wall = proc.clock.wall()
        earlier = self._pending_of(proc.name)
        proc.busy = True
        try:
            delay = core.step()
        finally:
            proc.busy = False
            self._current.pop()
            self._forget_pending(proc.name, keep=earlier)
        self._after_step(proc, core, delay)
        self._step_again(proc)

    def _driver_due(self, driver: str, woken: bool = False) -> None:
        """A member of ``driver`` is due: step its due members together, as the driver does:
        at once for a wake-up, else once the first has waited a batch window for company
        (and never while another member's transaction holds the driver's thread)."""
        if driver in self._in_batch:
            return  # its thread is in a batch: the due members step once that is done
        now = self.sched.now
        members = [p for p in self.processes.values() if p.driver == driver]
        held = self._held.get(driver, 0.0)
        first = self._window_end.get(driver)
        if first is None:
            heartbeat = min((p.core.heartbeat for p in members if p.core is not None), default=0)
            first = now + min(max(0.05 * heartbeat, 0.001), 0.05)
            self._window_end[driver] = first
        when = max(held, now if woken else first)
        if now < when:
            timer = self._driver_timer.get(driver)
            if timer is None or timer.when > when:
                if timer is not None:
                    timer.cancel()
                self._driver_timer[driver] = self.sched.at(
                    when, partial(self._driver_timer_fired, driver), label=f"{driver} batch"
                )
            return
        timer = self._driver_timer.pop(driver, None)
        if timer is not None:
            timer.cancel()
        del self._window_end[driver]
        batch = []
        for p in members:
            if not p.ready or p.busy:
                continue
            p.ready = False
            if p.core is None:
                continue
            if now < p.paused_until:  # this elector alone is paused: it steps when it wakes
                self._schedule_step(p, 0.0, at=p.paused_until)
                continue
            batch.append(p)
        # Leaders' refreshes first, as the driver orders them.
        batch.sort(key=lambda p: p.core is None or not p.core.is_leader)
        if batch:
            self._step_together(batch)

    def _driver_timer_fired(self, driver: str) -> None:
        self._driver_timer.pop(driver, None)
        self._driver_due(driver)

    def _step_together(self, batch: list[SimProcess]) -> None:
        """The driver's way: every step up to its commit, one ``commit_many``, each on."""
        pending: list[tuple[SimProcess, ElectorCore, PendingCommit]] = []
        earlier = {proc.name: self._pending_of(proc.name) for proc in batch}
        driver = batch[0].driver
        self._in_batch.add(driver)
        for proc in batch:
            proc.busy = True
        try:
            read_version: int | None = None  # the first step's, shared as the driver does
            began = {
                proc.name: proc.core.clock.monotonic() for proc in batch if proc.core is not None
            }
            for proc in batch:
                core = proc.core
                if core is None:
                    continue
                proc.step_wall = proc.clock.wall()
                if core.releases_next:  # the driver runs such a step alone, commit and all
                    self._after_step(proc, core, self._as(proc, core.step))
                    continue
                result = self._as(
                    proc,
                    partial(
                        core.begin_step,
                        read_version=read_version,
                        read_version_since=None if read_version is None else began[proc.name],
                    ),
                )
                if isinstance(result, PendingCommit):
                    pending.append((proc, core, result))
                    if read_version is None:
                        read_version = elector_driver.shared_read_version(result.transaction)
                else:
                    self._after_step(proc, core, result)
            while pending:
                # Another driver's batch may commit inside a stall of this one's.
                outer, self._batch_stalls = self._batch_stalls, []
                if len(pending) > 1:
                    self.batches += 1
                    self.batched += len(pending)
                try:
                    outcomes = elector_driver.commit_all(
                        self.db, [step.transaction for _, _, step in pending]
                    )
                finally:
                    stalls, self._batch_stalls = self._batch_stalls, outer
                for stall in stalls:
                    stall()
                resumed = []
                for (proc, core, step), error in zip(pending, outcomes, strict=True):
                    result = self._as(proc, partial(core.resume_step, step, error))
                    if isinstance(result, PendingCommit):
                        resumed.append((proc, core, result))
                    else:
                        self._after_step(proc, core, result)
                pending = resumed
        finally:
            for proc in batch:
                proc.busy = False
                self._forget_pending(proc.name, keep=earlier[proc.name])
            self._in_batch.discard(driver)
            for proc in batch:
                self._step_again(proc)
            if any(p.ready for p in self.processes.values() if p.driver == driver):
                self._driver_due(driver)

    def _step_again(self, proc: SimProcess) -> None:
        """A wake-up came while ``proc`` was stepping: serve it now."""
        if proc.again:
            proc.again = False
            if proc.core is not None and proc.timer is None:
                self._schedule_step(proc, 0.0, woken=True)

    def _as(self, proc: SimProcess, call: Callable[[], Any]) -> Any:
        """Run ``call`` as ``proc`` (its transactions' faults and commits are attributed to it)."""
        self._current.append(proc)
        try:
            return call()
        finally:
            self._current.pop()

    def _after_step(self, proc: SimProcess, core: ElectorCore, delay: float) -> None:
        if core is not proc.core:
            return  # crashed while stalled in this step
        if core.phase is Phase.STOPPING and not proc.stopping:
            self._state(proc, "stopping")  # giving its id up to another registration
        for event in core.take_events():
            self._note(proc.name, type(event).__name__ + _event_text(event))
        self._supervise(proc)
        if core.last_error is not None and delay > 0 and core.phase is not Phase.STOPPED:
            error = core.last_error
            code = getattr(error, "code", None)
            self._note(proc.name, f"step error {code if code else type(error).__name__}")
            core.last_error = None
        if core.phase is Phase.STOPPED:
            proc.core = None
            self._state(proc, "stopped")
            self._cancel_watches(proc)
            self._cancel_run_timers(proc)
            if core.failure is not None:
                proc.superseded = True
                self._note(proc.name, f"stopped: {type(core.failure).__name__}")
                if proc.twin_of is None:  # its supervisor restarts it once the twin is gone
                    delay = self.rng.uniform(0.1, 1.0) * self.config.lease
                    self.sched.after(delay, lambda: self._restart_when_alone(proc))
                return
            if proc.restart_after is not None:
                delay_restart, proc.restart_after = proc.restart_after, None
                self.sched.after(delay_restart, lambda: self._start(proc.name))
            return
        self._hook_watches(proc, core)
        self._schedule_step(proc, delay)

    def _hook_watches(self, proc: SimProcess, core: ElectorCore) -> None:
        live = {id(f): f for f in core.wake_futures()}
        for key in list(proc.hooked):
            if key not in live:
                del proc.hooked[key]
        for key, future in live.items():
            if key in proc.hooked:
                continue
            proc.hooked[key] = future
            incarnation = proc.incarnation
            future.on_ready(lambda _f, p=proc, i=incarnation: self._wake(p, i))

    def _wake(self, proc: SimProcess, incarnation: int) -> None:
        if proc.core is None or proc.incarnation != incarnation:
            return
        if proc.timer is not None and proc.timer.when <= self.sched.now:
            return
        self._schedule_step(proc, 0.0)

    def _cancel_watches(self, proc: SimProcess) -> None:
        for future in proc.hooked.values():
            if not future.is_ready():
                future.cancel()
        proc.hooked.clear()

    # ------------------------------------------------------------------ the protected resource

    def _schedule_service(self, proc: SimProcess) -> None:
        delay = self.rng.uniform(0.3, 0.7) * self.config.heartbeat
        self.sched.after(delay, lambda: self._service(proc), owner=proc.name, label="service")

    def _service(self, proc: SimProcess) -> None:
        """The host's own work: fenced writes while it leads, and stale ones now and then.

        A stale write is fenced with a token a client kept (by process id and ballot only):
        the last one this host was given, also after its elector gave the id up to a twin, and
        while leading again, the one of its previous tenure (an earlier claim by this elector,
        or by a previous run of its process id), half the time.
        """
        self._schedule_service(proc)
        core = proc.core
        if self.sched.now < proc.paused_until:
            return
        if core is not None and core.is_leader:
            leader = core.leader
            stamp = stamp_version(leader.versionstamp) if leader is not None else 0
            if proc.last_ballot is not None and (proc.last_ballot, proc.last_stamp) != (
                core.ballot,
                stamp,
            ):
                proc.earlier = (proc.last_ballot, proc.last_stamp)  # a new tenure began
            proc.last_ballot = core.ballot
            proc.last_stamp = stamp
            self._fenced_write(proc, core)
            if proc.earlier is not None and self.rng.random() < 0.5:
                self._fenced_write(proc, core, token=proc.earlier)
        elif (
            proc.last_ballot is not None
            and (core is not None or proc.superseded)
            and self.rng.random() < 0.2
        ):
            self._fenced_write(proc, core, token=(proc.last_ballot, proc.last_stamp))

    def _fenced_write(
        self,
        proc: SimProcess,
        core: ElectorCore | None,
        *,
        token: tuple[int, int] | None = None,
    ) -> None:
        """Write the resource in one transaction with a fence check: the elector's own, or
        one with a ``token`` a client kept, given as (ballot, registration stamp)."""
        if token is not None:
            ballot, stamp = token
        elif core is not None and core.ballot is not None and core.leader is not None:
            ballot, stamp = core.ballot, stamp_version(core.leader.versionstamp)
        else:
            return
        self._current.append(proc)
        self._servicing.add(proc.name)
        # The service's write has its own start; the elector's step may be waiting in a stalled
        # batch commit, and its commit must still be judged by when that step started.
        step_wall, proc.step_wall = proc.step_wall, proc.clock.wall()
        tr = self.db.create_transaction()
        try:
            if token is not None or core is None:
                self.operator.fence(tr, proc.process_id, ballot)
            else:
                core.fence(tr)
            current = tr.get(self.resource_key)
            writes = decode_resource(bytes(current)).writes if current.present() else 0
            record = ResourceRecord(ballot, proc.process_id, writes + 1, stamp)
            tr.set(self.resource_key, encode_resource(record))
            op = OpCall("fenced_write", proc.process_id, ballot, result="None", stamp=stamp)
            self._record_op(tr, op)
            tr.commit().wait()
        except Exception as exc:
            code = getattr(exc, "code", None)
            error = str(code) if code is not None else type(exc).__name__
            self.history.record(
                ResourceWrite(self.sched.now, proc.name, ballot, False, None, error)
            )
        else:
            version = tr.get_committed_version()
            self.history.record(ResourceWrite(self.sched.now, proc.name, ballot, True, version))
        finally:
            self._servicing.discard(proc.name)
            self._current.pop()
            proc.step_wall = step_wall
            # Only this transaction: the elector's own may be waiting in a batch commit.
            entry = self._pending.get(id(tr))
            if entry is not None and entry[0] is tr:
                del self._pending[id(tr)]

    # ------------------------------------------------------------------ recording

    def _record_op(self, tr: Any, op: OpCall) -> None:
        entry = self._pending.get(id(tr))
        if entry is None or entry[0] is not tr:
            owner = self._current[-1].name if self._current and not self._operating else None
            entry = (tr, owner, [])
            self._pending[id(tr)] = entry
        entry[2].append(op)

    def _pending_of(self, owner: str) -> set[int]:
        """The transactions of ``owner`` with election operations not yet committed."""
        return {key for key, entry in self._pending.items() if entry[1] == owner}

    def _forget_pending(self, owner: str, keep: set[int]) -> None:
        """Forget the uncommitted transactions a step of ``owner`` left behind, but not those
        in ``keep``: a step that runs while an earlier one of the same elector is stalled in
        its commit must not take that commit's operations with it."""
        for key in self._pending_of(owner) - keep:
            del self._pending[key]

    def _read_state(self, version: int | None = None) -> Snapshot:
        """The stored state, as of ``version`` when given (the members of a batch commit all
        commit before the first one is observed), else the latest."""
        self._observing = True
        try:
            tr = self.db.create_transaction()
            if version is not None and version >= 0:
                tr.set_read_version(version)
            return read_snapshot(tr, self.operator, self.resource_key)
        finally:
            self._observing = False

    def _owner(self, tr: Any) -> SimProcess | None:
        """The process a transaction belongs to: the one that ran its first election operation
        (a batch commits several processes' transactions at once), else the current one."""
        entry = self._pending.get(id(tr))
        if entry is not None and entry[0] is tr and entry[1] is not None:
            return self.processes.get(entry[1])
        return self._current[-1] if self._current else None

    def _observe_commit(self, tr: Any, reported: int | None, owner: SimProcess | None) -> None:
        version = tr.get_committed_version()
        entry = self._pending.pop(id(tr), None)
        ops = tuple(entry[2]) if entry is not None and entry[0] is tr else ()
        proc = owner if not self._operating else None
        snapshot = self._read_state(version)
        if not ops and snapshot == self._last_snapshot:
            return  # a commit outside the election (nothing of ours changed)
        self._last_snapshot = snapshot
        self.history.record(
            Commit(
                self.sched.now,
                version,
                proc.name if proc is not None else None,
                ops,
                snapshot,
                reported,
                proc.step_wall if proc is not None else None,
            )
        )

    def _note(self, process: str | None, text: str) -> None:
        self.history.record(Note(self.sched.now, process, text))

    def _state(self, proc: SimProcess, state: str) -> None:
        """Record that ``proc``'s elector started, is stopping, stopped or crashed."""
        proc.stopping = state == "stopping"
        self.history.record(ProcessState(self.sched.now, proc.name, state, proc.process_id))

    def _freeze(self, proc: SimProcess, until: float, why: str) -> None:
        self.history.record(Frozen(self.sched.now, proc.name, until, why))

    def _sample(self) -> None:
        """After every event: record who started or stopped reporting ``is_leader``."""
        rises = []
        for name in self.names:
            proc = self.processes[name]
            core = proc.core
            leading = core is not None and core.is_leader
            as_id = proc.process_id if proc.process_id != name else None
            if leading != self._leading[name]:
                self._leading[name] = leading
                if leading:
                    rises.append((name, core.ballot if core is not None else None, as_id))
                else:
                    change = LeadershipChange(self.sched.now, name, False, process_id=as_id)
                    self.history.record(change)
        for name, ballot, as_id in rises:
            self.history.record(LeadershipChange(self.sched.now, name, True, ballot, as_id))

    # ------------------------------------------------------------------ faults

    def _hook(self, event: str, tr: Any) -> int | None:
        """The store's fault hook: observe commits, inject errors and in-flight stalls."""
        if self._observing:
            return None
        reported = None
        entry = self._pending.get(id(tr))
        ops = entry[2] if entry is not None and entry[0] is tr else []
        owner = self._owner(tr)
        if event == "committed":
            # Observe first: the commit is durable now, whatever happens to its caller next.
            flaky = self.sched.now < self._flaky_until and not self._operating
            if flaky and self.rng.random() < self.config.flaky_unknown_rate:
                reported = COMMIT_UNKNOWN_RESULT
            if self._resigns_unknown(ops):
                reported = COMMIT_UNKNOWN_RESULT
            self._observe_commit(tr, reported, owner)
            self._maybe_pause_after_refresh(ops)
        if self._operating:
            return reported  # the operator's own writes are out of band: no faults
        proc = owner
        if proc is not None:
            stall = self._stalls.get(proc.name)
            if stall is not None and self._stalls_here(stall, proc, event, ops):
                del self._stalls[proc.name]
                if event == "committed" and self._batch_stalls is not None:
                    # Inside a batch commit every member is observed first (in version
                    # order); the stall after the commit comes once they all are.
                    self._batch_stalls.append(partial(self._stall, proc, stall, event))
                else:
                    self._stall(proc, stall, event)
        now = self.sched.now
        if event == "read_version":
            if now < self._unavailable_until:
                return TIMED_OUT
            return None
        if event == "commit":
            if now < self._unavailable_until:
                return self.rng.choice((TIMED_OUT, COMMIT_UNKNOWN_RESULT))
            if now < self._flaky_until and self.rng.random() < self.config.flaky_fail_rate:
                return NOT_COMMITTED
            return None
        return reported

    def _stall(self, proc: SimProcess, stall: PlannedFault, event: str) -> None:
        """Freeze ``proc``'s transaction in flight for ``stall`` while the world runs on."""
        start = self.sched.now
        # Stalls nest (the world runs on inside one): one that starts inside another
        # ends with it at the latest, or the outer one would last as long as the inner.
        until = min([start + stall.duration, *self._stalled_until])
        self.history.record(Fault(start, "stall", proc.name, until, f"at {stall.stall_point}"))
        self._freeze(proc, until, "stall")
        if proc.driver and proc.busy:  # stuck in its driver's thread: no member steps
            self._held[proc.driver] = max(self._held.get(proc.driver, 0.0), until)
            for other in self.processes.values():
                if other is not proc and other.driver == proc.driver and other.core is not None:
                    self._freeze(other, until, "stall of its driver")
        leader = self._leader_host()
        if stall.then_pause > 0 and leader is not None:
            if event == "read_version":
                self._pause_after_refresh[leader.name] = stall.then_pause
            else:
                pause = partial(self._pause, leader, stall.then_pause, "after a stall")
                self.sched.at(until, pause)
        self._stalled_until.append(until)
        # The world runs on: a commit in it is no member of the batch being committed here.
        batch_stalls, self._batch_stalls = self._batch_stalls, None
        try:
            self.sched.run_nested(proc.name, until)
        finally:
            self._batch_stalls = batch_stalls
            self._stalled_until.pop()
            if leader is not None:
                self._pause_after_refresh.pop(leader.name, None)

    def _stalls_here(
        self, stall: PlannedFault, proc: SimProcess, event: str, ops: list[OpCall]
    ) -> bool:
        """Whether ``proc``'s planned ``stall`` freezes its transaction (which ran ``ops``) at
        this ``event``."""
        if proc.name in self._servicing and stall.amount <= 0:
            return False  # for the elector's transactions only
        if stall.stall_point != "claim":
            return stall.stall_point == event
        return event == "committed" and any(
            op.name == "try_claim_leadership" and op.result.startswith("ballot=") for op in ops
        )

    def _leader_host(self) -> SimProcess | None:
        """The host reporting ``is_leader`` now, if any."""
        return next((p for name, p in self.processes.items() if self._leading[name]), None)

    def _maybe_pause_after_refresh(self, ops: list[OpCall]) -> None:
        """A stall's companion: the leader freezes right after its next refresh commits."""
        proc = self._current[-1] if self._current else None
        if proc is None or proc.name not in self._pause_after_refresh:
            return
        if any(op.name == "refresh_lease" and op.result.startswith("ballot=") for op in ops):
            seconds = self._pause_after_refresh.pop(proc.name)
            self._pause(proc, seconds, "right after its refresh, during a late read")

    def _pause(self, proc: SimProcess, seconds: float, detail: str = "") -> None:
        if proc.core is None:
            return
        until = self.sched.now + seconds
        proc.paused_until = max(proc.paused_until, until)
        self._freeze(proc, until, "pause")
        self.history.record(Fault(self.sched.now, "pause", proc.name, until, detail))

    def _resigns_unknown(self, ops: list[OpCall]) -> bool:
        """Whether a transaction that ran ``ops``, about to report its commit, is a resignation
        or stop that must report 1021 (a ``resign`` or ``step_down`` fault asked for one)."""
        proc = self._current[-1] if self._current else None
        if proc is None or proc.process_id not in self._unknown_resign:
            return False
        if not any(
            op.name in ("resign_leadership", "hand_over_leadership", "unregister_candidate")
            for op in ops
        ):
            return False
        self._unknown_resign.discard(proc.process_id)
        self._note(proc.name, "its resignation commits but reports 1021 (the fault asked)")
        return True

    def _victim(self, fault: PlannedFault) -> SimProcess | None:
        """The process a fault hits: the one it names, or the leader / a follower now."""
        named = self.processes[fault.process] if fault.process is not None else None
        if not fault.target:
            return named
        hosts = [self.processes[n] for n in self.names if self.processes[n].twin_of is None]
        if fault.target == "leader":
            chosen = [p for p in hosts if self._leading[p.name]]
        else:
            chosen = [p for p in hosts if p.core is not None and not self._leading[p.name]]
        return self.rng.choice(chosen) if chosen else named

    def _apply(self, fault: PlannedFault) -> None:
        now = self.sched.now
        proc = self._victim(fault)
        until = now + fault.duration
        detail = ""
        if fault.kind == "crash" and proc is not None:
            if proc.core is None:
                return
            self._crash(proc)
            self.sched.after(fault.duration, lambda: self._start(proc.name))
        elif fault.kind == "pause" and proc is not None:
            proc.paused_until = max(proc.paused_until, until)
            self._freeze(proc, until, "pause")
        elif fault.kind == "stall" and proc is not None:
            self._stalls[proc.name] = fault
            return  # recorded when it actually happens
        elif fault.kind == "wall_step" and proc is not None:
            proc.clock.step_wall(fault.amount)
            detail = f"{fault.amount:+.3f} s"
        elif fault.kind == "unavailable":
            self._unavailable_until = max(self._unavailable_until, until)
        elif fault.kind == "flaky":
            self._flaky_until = max(self._flaky_until, until)
            if self.rng.random() < self.config.flaky_stall_rate * 10:
                victim = self.rng.choice(self.names)
                point = self.rng.choice(("read_version", "commit", "committed"))
                self._stalls[victim] = PlannedFault(
                    now, "stall", victim, self.rng.uniform(0.05, 1.5) * fault.duration, 0, None,
                    True, True, point,
                )  # fmt: skip
        elif fault.kind == "config":
            assert fault.lease is not None
            config = self._config(fault.lease, fault.enabled, fault.preemption)
            self._operator_write(config)
            detail = f"lease={fault.lease} enabled={fault.enabled} preemption={fault.preemption}"
            if not fault.enabled:
                enabled = self._config(fault.lease, True, fault.preemption)
                self.sched.after(fault.duration, lambda: self._operator_write(enabled))
        elif fault.kind == "resign" and proc is not None:
            if proc.core is None or proc.restart_after is not None:
                return
            proc.restart_after = fault.duration
            proc.core.request_stop()
            self._state(proc, "stopping")
            if fault.amount > 0:
                self._unknown_resign.add(proc.process_id)
                detail = "its stop's commit reports 1021"
            self._schedule_step(proc, 0.0, woken=True)
        elif fault.kind == "step_down":
            leader = self._read_state().leader
            if leader is None:
                return
            self._operating = True
            try:
                request_step_down(self.db, LeaderElection(self.subspace), leader.leader_id)
            finally:
                self._operating = False
            detail = f"asked {leader.leader_id} to step down"
            if fault.amount > 0:
                self._unknown_resign.add(leader.leader_id)
                detail += "; its resignation's commit reports 1021"
        elif fault.kind == "duplicate" and proc is not None:
            detail = self._duplicate(proc, fault)
            if not detail:
                return
        elif fault.kind == "priority" and proc is not None:
            proc.priority = int(fault.amount)
            if proc.core is not None:
                proc.core.priority = proc.priority
            detail = f"priority -> {proc.priority}"
        else:
            return
        self.history.record(
            Fault(now, fault.kind, fault.process if proc is None else proc.name, until, detail)
        )

    def _crash(self, proc: SimProcess) -> None:
        if proc.timer is not None:
            proc.timer.cancel()
            proc.timer = None
        self._cancel_watches(proc)
        proc.core = None
        proc.paused_until = 0.0
        proc.restart_after = None
        self._unknown_resign.discard(proc.process_id)
        self._state(proc, "crash")
        self._cancel_run_timers(proc)
        self._cmd(proc, False, "crash")  # the guard sees run die and stops CMD at once

    def _duplicate(self, proc: SimProcess, fault: PlannedFault) -> str:
        """Start a twin host with ``proc``'s process id; it is killed ``fault.duration`` later.

        Returns the fault's detail, or "" when it does not apply (``proc`` is a twin, not
        running, or already has a running twin).
        """
        twin_name = f"{proc.name}'"
        twin = self.processes.get(twin_name)
        if proc.twin_of is not None or proc.core is None or (twin and twin.core is not None):
            return ""
        if twin is None:
            clock = ProcessClock(
                lambda: self.sched.now,
                wall_offset=self.rng.uniform(-self.config.wall_skew, self.config.wall_skew),
                wall_drift=self.rng.uniform(-1e-3, 1e-3),
                rate_error=draw_rate_error(self.rng),
                mono_origin=self.rng.uniform(100.0, 10_000.0),
            )
            twin = SimProcess(
                twin_name,
                clock,
                random.Random(self.rng.getrandbits(64)),
                proc.priority,
                process_id=proc.process_id,
                twin_of=proc.name,
            )
            self.processes[twin_name] = twin
            self.names.append(twin_name)
            self._leading[twin_name] = False
            self.history.processes = (*self.history.processes, twin_name)
            self._schedule_service(twin)
        twin.priority = proc.priority
        self._start(twin_name)
        self.sched.after(fault.duration, lambda: self._retire(twin))
        if fault.amount > 0:
            proc.paused_until = max(proc.paused_until, self.sched.now + fault.amount)
            self._freeze(proc, self.sched.now + fault.amount, "pause")
            return f"{twin_name} runs as {proc.process_id}; {proc.name} paused {fault.amount:.3f} s"
        return f"{twin_name} runs as {proc.process_id}"

    def _retire(self, twin: SimProcess) -> None:
        """The end of a twin: killed (if it has not stopped on its own)."""
        if twin.core is not None:
            self._crash(twin)
            self._note(twin.name, "killed (the duplicate is removed)")

    def _restart_when_alone(self, proc: SimProcess) -> None:
        """Restart an elector that gave its id up, once no twin runs with that id."""
        if proc.core is not None:
            return
        twin = self.processes.get(f"{proc.name}'")
        if twin is not None and twin.core is not None:
            self.sched.after(0.5 * self.config.lease, lambda: self._restart_when_alone(proc))
            return
        self._start(proc.name)

    # ------------------------------------------------------------------ run: CMD, supervisor, guard

    def _cmd(self, proc: SimProcess, running: bool, cause: str = "") -> None:
        if proc.cmd_running != running:
            proc.cmd_running = running
            self.history.record(CmdChange(self.sched.now, proc.name, running, cause))

    def _supervise(self, proc: SimProcess) -> None:
        """run's loop: CMD runs while leading and out of risk (the process is not paused)."""
        core = proc.core
        if core is None:
            return
        if self.sched.now < proc.paused_until:
            self._supervisor_at(proc, proc.paused_until)
            return
        deadline = core.deadline if core.is_leader else None
        if deadline is None:
            self._cmd(proc, False, "supervisor")
            return
        stop_at = self.policy.stop_at(deadline)
        if proc.clock.monotonic() >= stop_at:
            self._cmd(proc, False, "supervisor")
            return
        self._cmd(proc, True)
        self._supervisor_at(proc, proc.clock.true_time_of_monotonic(stop_at))

    def _supervisor_at(self, proc: SimProcess, when: float) -> None:
        if proc.supervisor_timer is not None:
            proc.supervisor_timer.cancel()
        incarnation = proc.incarnation
        proc.supervisor_timer = self.sched.at(
            when, lambda: self._supervisor_timer(proc, incarnation), label="supervisor"
        )

    def _supervisor_timer(self, proc: SimProcess, incarnation: int) -> None:
        proc.supervisor_timer = None
        if proc.incarnation == incarnation:
            self._supervise(proc)

    def _release(self, proc: SimProcess, incarnation: int, _release: Release) -> None:
        """The elector's before_release hook: run stops CMD before the resignation commits."""
        if proc.incarnation == incarnation:
            self._cmd(proc, False, "supervisor")

    def _guard_deadline(self, proc: SimProcess, incarnation: int, deadline: float | None) -> None:
        """The elector told the guard of a new deadline: it kills CMD ``kill_margin`` before.

        The guard is its own process: it is not paused with run, nor stalled with its steps.
        """
        if proc.incarnation != incarnation:
            return
        proc.guard_deadline = deadline
        if proc.guard_timer is not None:
            proc.guard_timer.cancel()
            proc.guard_timer = None
        if deadline is None:
            self._cmd(proc, False, "guard")  # leadership ended: stopped at once
            return
        kill_at = proc.clock.true_time_of_monotonic(deadline - self.policy.kill_margin)
        proc.guard_timer = self.sched.at(
            kill_at, lambda: self._guard_timer(proc, incarnation), label="guard"
        )

    def _guard_timer(self, proc: SimProcess, incarnation: int) -> None:
        proc.guard_timer = None
        deadline = proc.guard_deadline
        if proc.incarnation != incarnation or deadline is None:
            return
        if proc.clock.monotonic() >= deadline - self.policy.kill_margin:
            self._cmd(proc, False, "guard")

    def _cancel_run_timers(self, proc: SimProcess) -> None:
        for timer in (proc.guard_timer, proc.supervisor_timer):
            if timer is not None:
                timer.cancel()
        proc.guard_timer = proc.supervisor_timer = None
        proc.guard_deadline = None

    def _operator_write(self, config: ElectionConfig) -> None:
        self._operating = True
        try:
            tr = self.db.create_transaction()
            self.operator.write_config(tr, config)
            tr.commit().wait()
        finally:
            self._operating = False

    def _quiet(self) -> None:
        """The end of the faulty part: disarm stalls, no more flaky or unavailable time."""
        self._stalls.clear()
        self._flaky_until = min(self._flaky_until, self.sched.now)
        self._unavailable_until = min(self._unavailable_until, self.sched.now)


def _event_text(event: Any) -> str:
    fields = getattr(event, "__dataclass_fields__", None)
    if not fields:
        return ""
    parts = []
    for name in fields:
        value = getattr(event, name)
        if isinstance(value, LeaderState):
            value = f"{value.leader_id}@{value.ballot}"
        parts.append(f"{name}={value}")
    return "(" + ", ".join(parts) + ")"


def run_seed(seed: int, config: SimConfig | None = None) -> Outcome:
    """Simulate one seed and check it."""
    return run_world(World(seed, config))


def run_world(world: World, scenario: str | None = None) -> Outcome:
    """Run a built world and check it.

    Build the :class:`World` first when a run needs scripted faults (append them to
    ``world.plan.faults``); ``scenario`` names the script for the replay command.
    """
    seed = world.seed
    history = world.run()
    violations = check(history)
    faults = Counter(f.kind for f in history.faults())
    rises = [e for e in history.events if isinstance(e, LeadershipChange) and e.is_leader]
    gaps = leaderless_gaps(history)
    failovers = [end - begin for begin, end in gaps[1:] if end < history.end_time]
    return Outcome(
        seed=seed,
        config=world.config,
        history=history,
        violations=violations,
        faults=faults,
        leadership_changes=len(rises),
        failovers=failovers,
        events=world.sched.events_run,
        scenario=scenario,
        batches=world.batches,
        batched=world.batched,
    )
