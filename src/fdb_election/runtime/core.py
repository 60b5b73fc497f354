"""The elector's decisions, one database step at a time, with no threads and no sleeping.

:class:`ElectorCore` is driven from outside: a driver (the thread :class:`~.elector.Elector`, the
asyncio ``fdb_election.aio.Elector`` or the deterministic simulator) calls :meth:`ElectorCore.step`,
which runs ONE transaction attempt and returns how many seconds the core wants to wait before the
next step. A driver that commits many electors' transactions together uses :meth:`begin_step`
and :meth:`resume_step` instead: the step stops at its commit and goes on with the outcome. The
driver also wakes the core early when one of :meth:`ElectorCore.wake_futures` (database watches)
becomes ready. Time comes only from the injected clock, randomness only from the injected
``random.Random``, so the simulator can run this same code in virtual time.

What the core decides is kept in three pure objects: :class:`~.tenure.LocalTenure` (this process's
own leadership and its deadline), :class:`~.observation.LeaderObservation` (what it has seen of
the leader record, and when that allows a claim) and :class:`~.identity.Registrations` (which runs
of the process id are this elector). :class:`~.leader_duties.LeaderDuties` scans the candidates.

Safety rules (the reasoning is in docs/elector.md):

* Local leadership ends at a deadline on the MONOTONIC clock: the start of the last attempt whose
  claim or refresh COMMITTED, plus the lease, minus a margin covering clock drift. A failed commit
  or one of unknown outcome (1021) is never adopted.
* A follower claims over another leader only after it has seen the SAME leader record unchanged
  for a full lease on its own monotonic clock (see :mod:`.observation`); the seed's
  ``run_election_cycle`` is not used: it would claim on the wall clock alone.
* Priority preemption is a handover: the incumbent steps down (local leadership ends first, then
  it hands over to the preemptor) when a strictly higher-priority candidate has been seen
  heartbeating during the tenure and the config allows preemption (see :mod:`.leader_duties`).
* Giving leadership up ends local leadership before anything is committed. The commit then
  writes the claim of the best live candidate (a hand-over), or clears the leader key when there
  is none, which is what makes claiming an empty leader key at once safe. A successor takes a
  tenure handed to it up without a commit, counting its deadline from the start of its step
  before, whose own read did not see the hand-over. Operators ask a leader to step down through
  a request key (:mod:`.stepdown`) that the leader watches and honours itself.
* Leadership belongs to one registration of the process id, not to the id alone: a record that
  names the id but another registration is waited out like anyone's; an elector whose heartbeat
  finds its id registered again by someone else (``DuplicateProcessId``) hands over and stops.
* With elections disabled the seed refuses heartbeats and claims but not refreshes: the leader
  keeps refreshing, everyone else only observes, and nobody evicts or preempts.
* Between the end of local leadership and a voluntary hand-over or resignation (step-down
  request, preemption, stop) the ``before_release`` hook runs, in the step, and the commit comes
  only after it returns.
"""

from __future__ import annotations

import enum
import logging
import math
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fdb_election.election import CandidateInfo, ElectionConfig, LeaderElection, LeaderState, layout
from fdb_election.election.cycle import ElectionCycle
from fdb_election.election.errors import (
    DuplicateProcessId,
    InvalidState,
    LeaderElectionError,
    NotInitialized,
    NotLeader,
    ProcessNotFound,
    UnregisteredCandidate,
)
from fdb_election.election.rules import alive
from fdb_election.election.times import to_nanos
from fdb_election.runtime.clock import Clock
from fdb_election.runtime.events import (
    Demoted,
    Departure,
    Elected,
    ElectorEvent,
    LeaderChanged,
    Release,
)
from fdb_election.runtime.identity import Registrations
from fdb_election.runtime.leader_duties import (
    EVICTION_BATCH,
    LeaderDuties,
    Scan,
    highest_above,
    successor,
)
from fdb_election.runtime.metrics import ElectorMetrics
from fdb_election.runtime.observation import LeaderObservation
from fdb_election.runtime.refresh_alignment import RefreshAlignment
from fdb_election.runtime.settings import ElectorSettings, config_problem
from fdb_election.runtime.step import (
    Attempt,
    PendingCommit,
    StepGenerator,
    database_error_code,
    defer_sync,
)
from fdb_election.runtime.stepdown import read_step_down, step_down_key
from fdb_election.runtime.tenure import (
    DEFAULT_CLOCK_DRIFT,
    FIXED_MARGIN,
    LocalTenure,
    safety_margin,
)
from fdb_election.runtime.watches import Watches

__all__ = [
    "DEFAULT_CLOCK_DRIFT",
    "FIXED_MARGIN",
    "ElectorCore",
    "PendingCommit",
    "Phase",
    "safety_margin",
]

#: First retry delay after a failed step; doubles per consecutive failure.
_FIRST_BACKOFF = 0.01

_log = logging.getLogger("fdb_election")


class Phase(enum.Enum):
    """Where an elector is in its life."""

    INIT = "init"  #: make sure the election has a configuration
    REGISTER = "register"  #: register as a candidate (its own transaction)
    RUN = "run"  #: heartbeat, follow, claim, refresh
    STOPPING = "stopping"  #: resign and unregister
    STOPPED = "stopped"  #: nothing more to do


class ElectorCore:
    """One elector's state machine; every database step is one transaction attempt.

    Usage (what a driver does)::

        core = ElectorCore(db, LeaderElection(subspace), ElectorSettings(process_id="a"),
                           clock=SystemClock(), rng=random.Random())
        while core.phase is not Phase.STOPPED:
            delay = core.step()
            for event in core.take_events():
                ...  # Elected / Demoted / LeaderChanged
            wait(delay, or until any of core.wake_futures() is ready)

    ``settings.process_id`` must be set (the factory generates one). ``request_stop()`` makes
    the following steps give up leadership, resign and unregister. ``before_release(release)``,
    if given, is called inside ``step`` after a voluntary end of leadership and before its
    resignation commits (see :class:`~.events.Release`). Not thread-safe: one driver calls
    ``step``; other threads may read the properties.
    """

    def __init__(
        self,
        db: Any,
        election: LeaderElection,
        settings: ElectorSettings,
        *,
        clock: Clock,
        rng: random.Random,
        name: str | None = None,
        metrics: ElectorMetrics | None = None,
        before_release: Callable[[Release], object] | None = None,
    ) -> None:
        if settings.process_id is None:
            raise ValueError("settings.process_id must be set (build_core generates one)")
        self.db = db
        self.election = election
        self.settings = settings
        self.process_id: str = settings.process_id
        self.priority = settings.priority
        self.observer = settings.observer
        self.clock = clock
        self.rng = rng
        self.name = name or repr(election)
        self._before_release = before_release
        self._metrics = metrics or ElectorMetrics(self.name, self.process_id, enabled=False)
        # Packed once: every step reads or watches them.
        self._leader_key = layout.leader_key(election.subspace)
        self._step_down_key = step_down_key(election.subspace)
        self._succession_key = layout.succession_key(election.subspace)

        self.phase = Phase.INIT
        self.config: ElectionConfig | None = None
        self._registered = False
        self._registrations = Registrations()
        self._tenure = LocalTenure(settings.clock_drift)
        self._observation = LeaderObservation()
        self._alignment = RefreshAlignment()
        # The holder (id, registration) whose tenure the succession key was last found to announce.
        self._announced_by: tuple[str, bytes] | None = None
        self._duties = LeaderDuties(election, self.process_id)
        #: Why the elector stopped on its own (another elector registered the same id), if so.
        self.failure: DuplicateProcessId | None = None
        #: What the stop step committed (hand-over, resignation or neither); None until then.
        self.departure: Departure | None = None
        self._foreign_record: LeaderState | None = None  # a record of our id, not ours (warned)
        self._reported_leader: LeaderState | None = None
        self._resign_pending: str | None = None  # reason, while a resignation must be committed
        self._preempted_by: str | None = None  # the preemptor the pending resignation is for
        self._next_eviction = -math.inf  # monotonic: the leader evicts dead candidates from then
        self._failing_duties: set[str] = set()  # duties failing for a reason retries cannot fix
        self._unreadable_seen: set[bytes] = set()  # candidate records warned about (undecodable)

        self._events: list[ElectorEvent] = []
        self._watches = Watches()
        self._shared_read_version: int | None = None  # for the step's first transaction
        self._shared_since: float | None = None  # before the shared read version was fetched
        # The start of the last cycle whose read version was its own, and the leader record
        # that read returned: a commit that wrote another record came after that start.
        self._last_read: tuple[float, LeaderState | None] | None = None
        self._failures = 0
        self.last_success: float | None = None
        self.last_error: BaseException | None = None
        #: Why the last tenure ended (the reason of its ``Demoted`` event); None while it runs
        #: or before any. Set before the deadline listener hears of the end, so that listener's
        #: side (``run``'s loop) can say why.
        self.last_demotion_reason: str | None = None

    # ------------------------------------------------------------------ public state

    @property
    def is_leader(self) -> bool:
        """True only before the local deadline of a committed claim or refresh."""
        return self._tenure.leads(self.clock.monotonic())

    @property
    def deadline(self) -> float | None:
        """Monotonic time at which local leadership ends, or None when not leading."""
        return self._tenure.deadline

    @property
    def ballot(self) -> int | None:
        """The fencing token: the ballot of the current tenure's claim, None when not leading."""
        return self._tenure.ballot if self.is_leader else None

    @property
    def leader(self) -> LeaderState | None:
        """The leader record as last seen, or None (nobody, or not refreshed for a full lease)."""
        if self.is_leader:
            return self._tenure.state
        record = self._observation.record
        mine = self._registrations.made(record, self.process_id)
        return self._observation.view(self.clock.monotonic(), self.lease, mine=mine)

    @property
    def registration(self) -> bytes | None:
        """The versionstamp of this elector's current registration (None before it registers)."""
        return self._registrations.current

    @property
    def lease(self) -> float:
        """The lease in seconds of the configuration in use (the default before it is read)."""
        return self._config_in_use().lease_duration.total_seconds()

    @property
    def heartbeat(self) -> float:
        """The heartbeat interval in seconds of the configuration in use."""
        return self._config_in_use().heartbeat_interval.total_seconds()

    def healthy(self) -> bool:
        """False once no step has succeeded for a lease (the loop is wedged or the DB is down)."""
        if self.phase is Phase.STOPPED:
            return False
        if self.last_success is None:
            return self._failures < 3
        return self.clock.monotonic() - self.last_success < self.lease

    def take_events(self) -> list[ElectorEvent]:
        """The events produced since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    def wake_futures(self) -> list[Any]:
        """Watches whose readiness should trigger an early step (the driver waits on them)."""
        return self._watches.futures()

    def election_leader_key(self) -> bytes:
        """The key of the leader record (watched by followers and observers)."""
        return self._leader_key

    def request_stop(self) -> None:
        """Make the next steps end leadership, resign and unregister."""
        if self.phase is Phase.INIT:
            self.departure = Departure()  # it never joined: nothing to commit
            self.phase = Phase.STOPPED
            self._watches.drop_all()
        elif self.phase is not Phase.STOPPED:
            self.phase = Phase.STOPPING

    def check_deadline(self) -> None:
        """Emit ``Demoted`` if the local deadline has passed (also done by every step)."""
        deadline = self._tenure.deadline
        if deadline is not None and self.clock.monotonic() >= deadline:
            self._end_leadership("lease deadline passed without a committed refresh")

    def fence(self, tr: Any) -> None:
        """Check in ``tr`` that this process still holds its tenure (see ``election.fence``).

        The check names this elector's registration too, so another run of the same process id
        never passes it.
        """
        ballot = self.ballot
        state = self._tenure.state
        if ballot is None or state is None:
            last = self._tenure.last_ballot or 0
            raise NotLeader(self.process_id, last, "this elector is not leading")
        self.election.fence(tr, self.process_id, ballot, versionstamp=state.versionstamp)

    @property
    def has_release_hook(self) -> bool:
        """Whether giving leadership up calls a ``before_release`` hook."""
        return self._before_release is not None

    @property
    def releases_next(self) -> bool:
        """Whether the next step calls ``before_release`` (and may take as long as it does)."""
        if self._before_release is None:
            return False
        if self.phase is Phase.STOPPING:
            return self._tenure.release is not None or self.is_leader
        return self._resign_pending is not None and self._tenure.release is not None

    def set_deadline_listener(self, listener: Callable[[float | None], object] | None) -> None:
        """Call ``listener(deadline)`` on every change of the local deadline (None: ended).

        It runs on the stepping thread, at once: before a claim or refresh that could lower the
        deadline commits, and before anything else learns of a change. For a watchdog outside
        the process that must stop work by the deadline (``run``'s guard); it must not block.
        """
        self._tenure.set_listener(listener)

    # ------------------------------------------------------------------ driving a step

    def step(self) -> float:
        """Run one step, committing its transactions; the seconds until the next step."""
        pending = self.begin_step()
        while isinstance(pending, PendingCommit):
            try:
                pending.transaction.commit().wait()
            except Exception as exc:
                pending = self.resume_step(pending, exc)
            else:
                pending = self.resume_step(pending, None)
        return pending

    def begin_step(
        self, *, read_version: int | None = None, read_version_since: float | None = None
    ) -> float | PendingCommit:
        """Start a step: its delay when it needs no commit, else the commit it is waiting for.

        ``read_version``: a read version for the step's first transaction, instead of one of
        its own (a driver that begins many steps together shares the first one's: on a cluster,
        one round trip fewer per step). It must be one this process obtained in this step's
        batch. An older read version only makes reads older, which the rules tolerate: the
        observation counts from when a read returned, and a claim or refresh of a record that
        changed since that version fails its commit with a conflict.
        ``read_version_since``: a time of this core's monotonic clock read before that version
        was fetched (the driver reads it as the batch begins). Without it, a read at a shared
        version tells nothing about when a hand-over the step finds was committed, and such a
        hand-over is taken up by a refresh (see ``_handed_over_since``).
        """
        self.check_deadline()
        if self.phase is Phase.STOPPED:
            return math.inf
        self._shared_read_version = read_version
        self._shared_since = read_version_since
        try:
            return self._advance(self._action()(), self.clock.monotonic(), None)
        finally:
            self._shared_read_version = None
            self._shared_since = None

    def resume_step(
        self, pending: PendingCommit, error: BaseException | None
    ) -> float | PendingCommit:
        """Go on with a step once its commit succeeded (``error`` None) or failed."""
        return self._advance(pending.step, pending.started, error)

    def _advance(
        self, step: StepGenerator, started: float, error: BaseException | None
    ) -> float | PendingCommit:
        try:
            transaction = step.send(None) if error is None else step.throw(error)
        except StopIteration as done:
            delay = float(done.value)
            self._failures = 0
            self.last_success = self.clock.monotonic()
        except Exception as exc:
            delay = self._failed(exc)
        else:
            return PendingCommit(transaction, started, step)
        self._metrics.step_duration(self.clock.monotonic() - started)
        self._report_leader_view()
        return self._bounded_by_deadline(delay)

    def _action(self) -> Callable[[], StepGenerator]:
        if self.phase is Phase.INIT:
            return self._initialize
        if self.phase is Phase.REGISTER:
            return self._register
        if self.phase is Phase.STOPPING:
            return self._stop
        if self._resign_pending is not None:
            return self._resign
        return self._cycle

    # ------------------------------------------------------------------ set-up and shutdown steps

    def _initialize(self) -> StepGenerator:
        tr = self._transaction()
        try:
            config = self.election.read_config(tr)
        except NotInitialized:
            if self.settings.config is None and self.observer:
                raise
            config = self.settings.config or ElectionConfig()
            self.election.initialize_with_config(tr, config)
            yield tr
        self._use_config(config)
        self.phase = Phase.RUN if self.observer else Phase.REGISTER
        _log.debug("%s: config %s", self._context(), config)
        return 0.0

    def _register(self) -> StepGenerator:
        tr = self._transaction()
        pid = self.process_id
        earlier = None if self._registered else self.election.get_candidate(tr, pid)
        self.election.register_candidate(tr, pid, self.priority, self._wall())
        stamp = tr.get_versionstamp()
        yield tr
        self._registrations.add(bytes(stamp.wait()))
        self._registered = True
        self.phase = Phase.RUN
        _log.info("%s: registered as a candidate (priority %d)", self._context(), self.priority)
        if earlier is not None and not self._registrations.owns(earlier.versionstamp):
            _log.info(
                "%s: took over process id %r from an earlier registration (an earlier run of "
                "this process, or another process using the same id, which will stop); its "
                "leadership, if any, is waited out for a lease",
                self._context(),
                pid,
            )
        return 0.0

    def _stop(self) -> StepGenerator:
        """Give leadership up (the hook runs first), hand it over or resign, and unregister
        this registration."""
        self._end_leadership("stopping", voluntary=True)
        self._run_release_hook()
        tr = self._transaction()
        cycle = self.election.cycle(tr, self.process_id)
        cycle.read_resignation(candidate=not self.observer, hand_over=not self.observer)
        request = tr.snapshot.get(self._step_down_key)  # with the others: one round trip
        record = cycle.leader()
        mine = self._registrations.made(record, self.process_id)
        handed: LeaderState | None = None
        resigned = False
        if mine and record is not None:
            changed, handed = self._give_up(tr, cycle, record)
            resigned = changed and handed is None
            self._clear_own_step_down_request(tr, request)
        if not self.observer:
            # Only this elector's own registration: a newer one of the same id stays.
            candidate = cycle.candidate()
            if candidate is not None and self._registrations.owns(candidate.versionstamp):
                self.election.unregister_candidate(tr, self.process_id)
        if handed is None:
            defer_sync(tr)  # a resignation, an unregistration: the successor's claim syncs it
        yield tr
        self._registered = False
        self.departure = Departure(successor=handed, resigned=resigned)  # before the phase says
        self.phase = Phase.STOPPED
        if mine:
            self._observation.observe(handed, self.clock.monotonic())
        self._watches.drop_all()
        if self.failure is not None:
            _log.error("%s: stopped: %s", self._context(), self.failure)
        elif handed is not None:
            _log.info(
                "%s: stopped (handed leadership over to %r, ballot %d, and unregistered)",
                self._context(),
                handed.leader_id,
                handed.ballot,
            )
        else:
            _log.info("%s: stopped (resigned and unregistered)", self._context())
        return math.inf

    def _resign(self) -> StepGenerator:
        """Commit a hand-over or resignation after local leadership was already given up (and
        the hook ran)."""
        self._run_release_hook()
        tr = self._transaction()
        cycle = self.election.cycle(tr, self.process_id)
        cycle.read_resignation(hand_over=True)
        request = tr.snapshot.get(self._step_down_key)  # with the others: one round trip
        record = cycle.leader()
        handed: LeaderState | None = None
        resigned = False
        if record is not None and self._registrations.made(record, self.process_id):
            resigned, handed = self._give_up(tr, cycle, record)
        self._clear_own_step_down_request(tr, request)
        if handed is None:
            defer_sync(tr)  # the successor's claim syncs it
        yield tr
        if handed is not None:
            outcome = f"; handed over to {handed.leader_id!r} (ballot {handed.ballot})"
        elif not resigned:
            outcome = "; the leader key no longer named this process"
        else:
            outcome = ""
        _log.info("%s: resigned (%s)%s", self._context(), self._resign_pending, outcome)
        self._resign_pending = None
        self._preempted_by = None
        self._observation.hold_off_until = self.clock.monotonic() + self.heartbeat
        if resigned:
            self._observation.observe(handed, self.clock.monotonic())
        return 0.0

    # ------------------------------------------------------------------ the cycle

    def _cycle(self) -> StepGenerator:
        """One heartbeat: read, then the observer's, the leader's or the follower's cycle."""
        start, wall = self.clock.monotonic(), self.clock.wall()
        # Before the transaction's read version is fetched: its start, or for a version shared
        # in a batch, the time the driver gave (unknown without one).
        read_from: float | None = start
        if self._shared_read_version is not None:
            since = self._shared_since
            read_from = None if since is None else min(since, start)
        tr = self._transaction()
        cycle = self.election.cycle(tr, self.process_id)
        if self.observer:
            cycle.read_cycle(candidate=False)
        elif self._may_write_leader(start):
            cycle.read_all()
        else:
            cycle.read_cycle()
        # A leader whose watch on step-down requests is not in place yet (its first refresh)
        # reads the request key: with the rest, in the same round trip. So does a follower
        # woken by a change of leadership: it may find a tenure handed over to it.
        step_down = None
        if (self.is_leader or self._watches.fired("leader")) and not self._watches.pending(
            "step_down"
        ):
            step_down = tr.snapshot.get(self._step_down_key)
        config = cycle.config()
        self._use_config(config)
        attempt = Attempt(tr, start, wall, config, cycle, step_down=step_down, read_from=read_from)
        # Elections disabled: the seed refuses heartbeats and claims but lets the leader
        # refresh, so leadership is frozen rather than lost; nobody heartbeats, claims, evicts
        # or preempts until they are enabled again.
        if not self.observer and attempt.enabled:
            registered_again = self._heartbeat(attempt)
            if registered_again is not None:
                return registered_again
        self._read_leader(attempt)
        delay = self._next_heartbeat()
        if self.observer:
            recorded = None
            if attempt.record is not None:
                recorded = attempt.cycle.leader_lease_ns()
                delay = self._next_heartbeat(later=True)
            delay = self._watch_leadership(attempt, recorded, delay)
            yield tr
            return delay
        if self._registrations.made(attempt.record, self.process_id):
            return (yield from self._leader_cycle(attempt, delay))
        return (yield from self._follower_cycle(attempt, delay))

    def _may_write_leader(self, now: float) -> bool:
        """Whether this cycle is likely to refresh or claim, so that it reads the ballot keys
        together with the rest (one round trip on a cluster, instead of two): when it leads,
        when its watch on leadership fired, or when as far as it knows nobody leads."""
        return (
            self.is_leader
            or self._watches.fired("leader")
            or self._observation.view(now, self.lease, mine=False) is None
        )

    def _read_leader(self, attempt: Attempt) -> None:
        """Read the leader record into ``attempt`` and note it: seen since just after the read.

        Not since the attempt started: a read version that comes late may return a refresh
        committed after the start, and the follower's wait must not begin before that refresh.
        """
        previous = self._observation.record
        attempt.record = attempt.cycle.leader()
        attempt.read_done = self.clock.monotonic()
        attempt.changed = attempt.record != previous
        self._observation.observe(attempt.record, attempt.read_done)
        attempt.read_before = self._last_read
        self._last_read = None if attempt.read_from is None else (attempt.read_from, attempt.record)

    def _heartbeat(self, attempt: Attempt) -> float | None:
        """Heartbeat in ``attempt``; a delay when the step must end here instead."""
        try:
            attempt.cycle.heartbeat(
                self.priority,
                attempt.current_time,
                registration=self._registrations.current,
            )
        except DuplicateProcessId as exc:
            return self._superseded(exc)
        except ProcessNotFound:
            return self._register_again()
        return None

    def _register_again(self) -> float:
        """The heartbeat found no registration: evicted (e.g. paused past candidate_timeout, or
        by an operator). Register again at once: a candidate that is not registered can never
        lead, and the leader would never hand over to it."""
        self._registered = False
        self.phase = Phase.REGISTER
        _log.warning("%s: no longer registered; registering again", self._context())
        return 0.0

    def _leader_cycle(self, attempt: Attempt, delay: float) -> StepGenerator:
        """The record is this elector's: honour a step-down request, or refresh it.

        This also re-adopts a claim whose commit reported 1021 but happened, and a record whose
        local deadline passed before a refresh committed: nobody else can have claimed since
        (the observation rule). Such a refresh starts a new tenure (see :meth:`_renews_tenure`).
        """
        record = attempt.record
        assert record is not None
        # 1. A step-down request for this tenure ends leadership now; the next step runs the
        #    release hook, then resigns (this transaction, a heartbeat only, is dropped). While
        #    the watch on the request key has not fired, the key holds what the last read found:
        #    nothing for this tenure (a tenure's ballot only grows), so it is not read again.
        request = None
        if not self._watches.pending("step_down"):
            request = read_step_down(
                attempt.tr,
                self.election.subspace,
                key=self._step_down_key,
                issued=attempt.step_down,
            )
        if request is not None and request.applies_to(self.process_id, self._tenure.ballot or 0):
            reason = f"step-down requested by {request.requested_by}"
            self._end_leadership(reason, voluntary=True)
            self._resign_pending = reason
            return 0.0
        # 2. A tenure another commit began for this elector (a leader that handed over to it,
        #    or its own claim whose outcome was unknown): taken up without a commit of its own
        #    when the read before tells that the commit came after a known time.
        #    Nothing is committed: the heartbeat waits for the first refresh, due before
        #    half the remaining lease has passed.
        if not self.is_leader:
            since = self._handed_over_since(attempt)
            if since is not None:
                self._adopt(record, *since)
                if self.is_leader:
                    self._watches.drop("leader")
                    deadline = self._tenure.deadline or 0.0
                    return min(delay, (deadline - self.clock.monotonic()) / 2)
        # 3. Refresh: a new ballot and lease, in the same tenure while this elector leads.
        renew = self._renews_tenure()
        claimed = attempt.cycle.refresh(
            attempt.current_time,
            versionstamp=record.versionstamp,
            new_tenure=renew,
        )
        # 4. Watch for step-down requests, not for our own refreshes.
        self._watches.watch(attempt.tr, "step_down", self._step_down_key)
        self._watches.drop("leader")
        # 5. Commit, adopt, then the leader's duties.
        return (yield from self._commit_claim(attempt, claimed, delay, continues=not renew))

    def _handed_over_since(self, attempt: Attempt) -> tuple[float, float] | None:
        """When this elector may count a tenure it did not commit from, and its lease.

        ``attempt`` read a record of this elector's registration that starts a tenure (the
        tenure record says so) and that the previous cycle's read did not return. The commit
        that wrote it therefore came after that read's read version, which was taken after the
        previous cycle started: any other process saw the record, and began waiting out its
        lease, later than that start. So a deadline counted from it is as safe as one counted
        from the start of an own claim. None when that leaves less than a heartbeat (a refresh
        is better then), or when the previous read tells nothing (none, a shared read version,
        the same record).
        """
        before = attempt.read_before
        record = attempt.record
        if before is None or record is None or before[1] == record:
            return None
        tenure = attempt.cycle.tenure()
        if tenure is None or tenure.first_ballot != record.ballot or tenure.lease_ns is None:
            return None
        lease = min(tenure.lease_ns / 1e9, attempt.lease)
        remaining = self._tenure.deadline_for(before[0], lease) - self.clock.monotonic()
        if remaining <= self.heartbeat:
            return None
        return before[0], lease

    def _give_up(
        self, tr: Any, cycle: ElectionCycle, record: LeaderState
    ) -> tuple[bool, LeaderState | None]:
        """Hand ``record`` over, or resign it when there is nobody to hand it to: whether the
        leader key was changed, and the successor's record after a hand-over (whose commit
        must sync: it gives out a fencing token)."""
        handed = self._hand_over(tr, cycle, record)
        if handed is not None:
            return True, handed
        return cycle.resign(versionstamp=record.versionstamp), None

    def _hand_over(self, tr: Any, cycle: ElectionCycle, record: LeaderState) -> LeaderState | None:
        """Instead of resigning ``record``, write the claim of the best live candidate (see
        :func:`.leader_duties.successor`): None when there is none (then resign).

        The successor takes the tenure up without a commit of its own (see
        :meth:`_handed_over_since`), so a graceful hand-over costs one synced commit instead of
        a resignation and a claim. Liveness is judged by heartbeats less than two heartbeat
        intervals old on the wall clock: a successor that died just after its last heartbeat
        (or whose clock runs ahead) costs a lease, as a crashed leader does.
        """
        config = cycle.config()
        if not config.election_enabled:
            return None  # nobody may claim: the key is cleared, as the seed does
        try:
            candidates, _scanned_at = self._duties.scan(tr, self.clock.monotonic)
        except LeaderElectionError:
            return None  # the scan failed: resign, and the followers claim
        now = self._wall()
        within_ns = min(2 * config.heartbeat_interval_ns, config.candidate_timeout_ns)
        now_ns = to_nanos(now, "current_time")
        best = None
        if self._preempted_by is not None:  # seen heartbeating on this clock: the better choice
            preemptor = [c for c in candidates if c.process_id == self._preempted_by]
            best = successor(preemptor, self.process_id, now_ns, within_ns)
        if best is None:
            best = successor(candidates, self.process_id, now_ns, within_ns)
        if best is None:
            return None
        # Not preempted by it again until its heartbeat is seen again: one that never takes
        # the tenure up (paused, dead) must not be handed it lease after lease.
        self._duties.handing_over(best.process_id, self.clock.monotonic())
        return cycle.hand_over(best.process_id, now, versionstamp=record.versionstamp, scanned=best)

    def _renews_tenure(self) -> bool:
        """Whether a refresh of this elector's own record starts a new tenure.

        It does when this elector does not count itself leader now: its deadline passed before
        a refresh committed (``Demoted`` was or will be emitted), or a claim's outcome was
        unknown. The tokens of a tenure that ended must not pass ``fence`` again once the
        record is taken up: the service may still run work of the old tenure while it starts
        the new one's.
        """
        return not self.is_leader

    def _follower_cycle(self, attempt: Attempt, delay: float) -> StepGenerator:
        """The record is not this elector's: claim when the observation rule allows."""
        record = attempt.record
        # 1. A local leader whose record is gone or replaced leads no more.
        if self.is_leader:
            who = "nobody" if record is None else repr(record.leader_id)
            self._end_leadership(f"the leader key names {who}")
        self._warn_foreign_record(record)
        # 2. How long this record must stay unchanged: the lease it was written with.
        recorded: int | None = None
        if record is not None:
            recorded = attempt.cycle.leader_lease_ns()
            self._observation.note_lease(recorded, attempt.lease)
            if recorded is None:
                # Written by another implementation (the Rust recipe), which raises no ballot
                # mark: note its ballot so that our claims go above it. Records this library
                # wrote raised the mark themselves.
                attempt.cycle.note_observed_ballot(record.ballot)
            delay = self._next_heartbeat(later=True)
        # 3. Claim when the rules allow; otherwise come back when they could.
        claimed: LeaderState | None = None
        claim_at = self._claim_time(attempt) if attempt.enabled else None
        hint = math.inf
        if claim_at is not None:
            claimed = attempt.cycle.try_claim(self.priority, claim_at)
        elif attempt.enabled:
            hint = self._wait_hint(attempt)
        # 4. Watch for leadership changing hands. Unless refreshes fire that watch (a record
        #    of another implementation), the next heartbeat comes just after a refresh is due.
        #    A claim watches nothing: if it commits, this elector's own refreshes follow (and
        #    arming a watch would only delay it); if it fails, the next step comes soon.
        if claimed is None:
            delay = min(self._watch_leadership(attempt, recorded, delay), hint)
        else:
            self._watches.drop("leader")
        self._watches.drop("step_down")
        # 5. Commit, and adopt a claim.
        return (yield from self._commit_claim(attempt, claimed, delay))

    def _commit_claim(
        self,
        attempt: Attempt,
        claimed: LeaderState | None,
        delay: float,
        *,
        continues: bool = False,
    ) -> StepGenerator:
        """The one commit-and-adopt path of a cycle, for claims, refreshes and heartbeats.

        ``continues``: ``claimed`` continues the tenure this elector leads in. If that tenure
        ended locally while the commit was in flight (its deadline passed), the refresh is not
        adopted: the next step, at once, takes the record up again in a new tenure.
        """
        preemptor: CandidateInfo | None = None
        if (
            claimed is not None
            and attempt.config.allow_preemption
            and attempt.enabled
            and (not continues or self._duties.scan_due(attempt.start, every=attempt.lease))
        ):
            preemptor = self._preemptor(attempt)  # acted on only after the commit
        if claimed is not None and self._eviction_due(self.clock.monotonic()):
            self._scanned(attempt, "eviction scan")  # the pass after the commit chooses from it
        if claimed is not None:
            # The deadline uses the lease read in THIS transaction, the one the record was
            # written with; it caps the current deadline before the commit too, in case the
            # outcome is unknown (1021) after the lease was lowered.
            self._before_commit(claimed, attempt.start, attempt.lease)
        if claimed is None or continues:
            defer_sync(attempt.tr)  # a heartbeat, or a refresh: no new fencing token
        yield attempt.tr
        if claimed is None:
            return delay
        if continues and not self.is_leader:
            return 0.0
        self._adopt(claimed, attempt.start, attempt.lease)
        if self.is_leader:
            self._watches.drop("leader")  # its own refreshes would fire it
            yield from self._maintain(preemptor, attempt.candidates)
        return 0.0 if self._resign_pending is not None else delay

    def _watch_leadership(self, attempt: Attempt, recorded: int | None, later: float) -> float:
        """Watch what tells this process that leadership changed hands; the delay until the
        next heartbeat: ``later``, or just after the leader's next refresh is due.

        The succession key when this library wrote the record (``recorded``, its lease, is
        known) and announced the tenure there (see ``LeaderElection.leadership_key``): only
        claims and resignations change it, so a refresh wakes nobody, and the heartbeat is
        timed for the refresh (see :mod:`.refresh_alignment`). Otherwise the leader key (its
        refreshes wake this process), which is also how the alignment probes. The announcement
        is looked up once per tenure: while the watch on the succession key is pending, the
        tenure it was armed for goes on.
        """
        record = attempt.record
        holder: tuple[str, bytes] | None = None
        began: float | None = None
        if record is not None and recorded is not None:
            holder = (record.leader_id, record.versionstamp)
            began = (record.lease_expiry_nanos - recorded) / 1e9
        self._alignment.observed(attempt.start, attempt.changed, holder, began, attempt.wall)
        planned: float | None = None
        if (
            holder is not None
            and began is not None
            and (
                (
                    holder == self._announced_by
                    and self._watches.pending("leader", self._succession_key)
                )
                or attempt.cycle.leadership_key() == self._succession_key
            )
        ):
            heartbeat = attempt.config.heartbeat_interval.total_seconds()
            timeout = attempt.config.candidate_timeout.total_seconds()
            planned = self._alignment.plan(
                holder,
                began,
                heartbeat,
                self.clock.wall(),
                self.clock.monotonic(),
                longest=max(later, min(1.5 * heartbeat, timeout / 2)),
            )
        self._announced_by = holder if planned is not None else None
        key = self._leader_key if planned is None else self._succession_key
        self._watches.watch(attempt.tr, "leader", key)
        return later if planned is None else planned

    # ------------------------------------------------------------------ follower rules

    def _claim_time(self, attempt: Attempt) -> timedelta | None:
        """When the local rules allow a claim in this transaction: the ``current_time`` to pass."""

        def higher_priority_waiting() -> bool:
            # The seed's wall-clock liveness: used only to let a higher priority claim first.
            now_ns = to_nanos(attempt.current_time, "current_time")
            live = (c for c in self._candidates(attempt) if alive(c, now_ns, attempt.config))
            return highest_above(live, self.process_id, self.priority) is not None

        return self._observation.claim_time(
            attempt.record,
            attempt.read_done,
            attempt.wall,
            heartbeat=self.heartbeat,
            config_lease=self.lease,
            higher_priority_waiting=higher_priority_waiting,
        )

    def _wait_hint(self, attempt: Attempt) -> float:
        """How long until the local rules could allow a claim."""
        return self._observation.wait_hint(
            attempt.record,
            attempt.read_done,
            heartbeat=self.heartbeat,
            config_lease=self.lease,
            next_heartbeat=self._next_heartbeat,
        )

    def _warn_foreign_record(self, record: LeaderState | None) -> None:
        """Say once per record that it names this process id but another registration."""
        if record is None or record.leader_id != self.process_id:
            return
        if self._registrations.made(record, self.process_id) or self._foreign_record == record:
            return
        self._foreign_record = record
        _log.warning(
            "%s: the leader record (ballot %d) names this process id but another registration "
            "of it (an earlier run of this process, or another process using the same id); "
            "waiting out its lease before claiming",
            self._context(),
            record.ballot,
        )

    def _superseded(self, exc: DuplicateProcessId) -> float:
        """Another elector registered this process id after us: give the id up and stop.

        Local leadership ends at once (voluntarily: ``before_release`` runs, e.g. ``run`` stops
        CMD, before anyone else may lead); the stop step then hands this elector's own tenure,
        if it still holds one, over to another process id (or resigns it), and leaves the newer
        registration.
        """
        self.failure = exc
        reason = f"process id {self.process_id!r} registered again by another elector"
        self._end_leadership(reason, voluntary=True)
        self._resign_pending = None
        self.phase = Phase.STOPPING
        return 0.0

    def _use_config(self, config: ElectionConfig) -> None:
        """Adopt the configuration just read; warn once per change about one that works against
        the election (stored through the seed API or by another implementation: the CLI and
        the Elector refuse to write one)."""
        if config == self.config:
            return
        self.config = config
        problem = config_problem(
            config.lease_duration_ns / 1e9,
            config.heartbeat_interval_ns / 1e9,
            config.candidate_timeout_ns / 1e9,
        )
        if problem is not None:
            option = problem.field.replace("_duration", "").replace("_interval", "")
            _log.warning(
                "%s: the stored configuration works against the election: %s (field %s); "
                "change it (fdb-election config set --%s)",
                self._context(),
                problem.message,
                problem.field,
                option.replace("_", "-"),
            )

    # ------------------------------------------------------------------ leader duties

    def _deadline_for(self, state: LeaderState, attempt_start: float, lease: float) -> float:
        """The deadline a committed claim or refresh of ``state`` earns."""
        return self._tenure.deadline_for(attempt_start, lease)

    def _before_commit(self, claimed: LeaderState, attempt_start: float, lease: float) -> None:
        """Before committing ``claimed``: lead no longer than that record allows.

        Followers count from their first read of the record being written, with the lease it
        records. If the commit's outcome is unknown (1021) the record may exist while the
        deadline stays at the last KNOWN commit's, which after ``lease_duration`` was lowered
        came from a longer lease and could outlast the followers' wait.
        """
        self._tenure.cap(self._tenure.deadline_for(attempt_start, lease))

    def _adopt(self, state: LeaderState, attempt_start: float, lease: float) -> None:
        """A claim or refresh committed: lead until attempt start + lease - margin."""
        deadline = self._deadline_for(state, attempt_start, lease)
        now = self.clock.monotonic()
        if now >= deadline:
            return  # the commit took longer than the lease: nothing to adopt
        if self._tenure.deadline is None:
            self.last_demotion_reason = None  # a tenure begins: no end of it to tell of yet
        newly = self._tenure.adopt(state, deadline, now)
        self._observation.wrote(state, attempt_start, lease)
        if newly:
            self._report_leader_view()
            self._events.append(Elected(state.ballot, state, at=self.clock.monotonic()))
            self._metrics.transition("elected")
            self._metrics.leadership(True, state.ballot)
            _log.info("%s: elected (ballot %d, lease %.3fs)", self._context(), state.ballot, lease)

    def _candidates(self, attempt: Attempt) -> list[CandidateInfo]:
        """Every registered candidate, scanned at most once per attempt (a snapshot read).

        A claim of an empty key asks whether a higher priority waits, then (the claim made)
        looks for a preemptor, then may evict: one scan serves all three. Nothing the attempt
        writes in between is a candidate key, so a second scan would return the same list.
        """
        if attempt.candidates is None:
            attempt.candidates = self._duties.scan(attempt.tr, self.clock.monotonic)
            self._warn_unreadable(self._duties.unreadable)
        return attempt.candidates[0]

    def _warn_unreadable(self, unreadable: dict[bytes, InvalidState]) -> None:
        """Warn once about each candidate record that does not decode while it stays so."""
        for key, error in unreadable.items():
            if key not in self._unreadable_seen:
                _log.warning(
                    "%s: ignoring a candidate record that does not decode: it never counts as "
                    "a higher priority and is never evicted by a leader "
                    "(`fdb-election evict --unreadable` removes it): %s",
                    self._context(),
                    error,
                )
        self._unreadable_seen = set(unreadable)

    def _preemptor(self, attempt: Attempt) -> CandidateInfo | None:
        """The leader's preemptor: a higher priority seen heartbeating (see ``leader_duties``).

        A scan that fails (say, a candidate value that does not decode) finds none: that costs
        a preemption, where failing the claim or refresh would cost the leadership itself.
        """
        if not self._scanned(attempt, "preemptor scan"):
            return None
        return self._duties.preemptor(
            attempt.tr,
            self.clock.monotonic,
            scanned=attempt.candidates,
            priority=self.priority,
            leading=lambda: self.is_leader,
            within=self._config_in_use().candidate_timeout.total_seconds(),
            since=self._tenure.began if self.is_leader else math.inf,
        )

    def _maintain(self, preemptor: CandidateInfo | None, scanned: Scan | None) -> StepGenerator:
        """Leader duties after a committed claim or refresh: hand over, or evict now and then.

        ``preemptor`` was found by the claim or refresh transaction's own scan, ``scanned``
        (when that transaction scanned). Eviction needs a transaction that writes (and may
        conflict), so it runs once per ``candidate_timeout``; a candidate silent for that long
        by this process's monotonic clock is evicted at the pass after, so within two timeouts
        of its last heartbeat this process saw. A claim or refresh with a pass due scans the
        candidates in its own transaction (``scanned``), and the pass chooses from that scan
        (reading each candidate it evicts again): it takes a transaction only to evict.
        """
        if preemptor is not None:
            self._duties.handing_over(preemptor.process_id, self.clock.monotonic())
            self._end_leadership(
                f"preempted by {preemptor.process_id!r} "
                f"(priority {preemptor.priority} > {self.priority})",
                voluntary=True,
            )
            self._resign_pending = f"handing over to {preemptor.process_id!r}"
            self._preempted_by = preemptor.process_id
            return 0.0
        config = self.config
        now = self.clock.monotonic()
        if config is None or scanned is None or not self._eviction_due(now):
            return 0.0  # (due since the commit began: the next refresh scans for it)
        silent = self._duties.silent(
            scanned,
            self.clock.monotonic,
            leading=lambda: self.is_leader,
            timeout=config.candidate_timeout.total_seconds(),
        )
        evicted = len(silent)
        if silent:
            try:
                tr = self._transaction()
                self._duties.evict(tr, silent)
                yield tr
            except Exception as exc:  # housekeeping failures only delay eviction (next time)
                self._duty_failed(exc, "eviction")
                return 0.0
        self._duty_done("eviction")
        if evicted < EVICTION_BATCH:  # else more may be left: another batch next heartbeat
            self._next_eviction = now + config.candidate_timeout.total_seconds()
        if evicted:
            _log.info("%s: evicted %d dead candidate(s)", self._context(), evicted)
        return 0.0

    def _scanned(self, attempt: Attempt, purpose: str) -> bool:
        """Whether ``attempt`` has its candidate scan, made now if need be. A scan that fails
        is noted and costs only ``purpose`` (a preemption, an eviction pass): the claim or
        refresh goes on."""
        try:
            self._candidates(attempt)
        except Exception as exc:
            self._duty_failed(exc, purpose)
            return False
        self._duty_done(purpose)
        return True

    def _duty_failed(self, exc: BaseException, duty: str) -> None:
        """Note a failed leader duty (a scan, an eviction pass); leadership goes on.

        A database error (a conflict, a timeout) is retried by the next refresh and only
        counted. Any other error, such as a candidate record that does not decode, fails the
        duty at every refresh until someone repairs the data: that is logged as a warning once,
        until the duty succeeds again, so an operator learns of it without a warning a second.
        """
        self._note_error(exc, duty)
        if database_error_code(exc) is not None or duty in self._failing_duties:
            return
        self._failing_duties.add(duty)
        _log.warning(
            "%s: %s failed and is skipped until it succeeds; this process keeps its "
            "leadership meanwhile: %s",
            self._context(),
            duty,
            exc,
        )

    def _duty_done(self, duty: str) -> None:
        """A leader duty succeeded: end its failing episode, if any, with a log line."""
        if duty in self._failing_duties:
            self._failing_duties.discard(duty)
            _log.info("%s: %s succeeds again", self._context(), duty)

    def _eviction_due(self, now: float) -> bool:
        """Whether a leader's eviction pass is due at ``now`` (never while elections are
        disabled: nobody can heartbeat then, so nobody is judged dead)."""
        config = self.config
        return config is not None and config.election_enabled and now >= self._next_eviction

    def _end_leadership(self, reason: str, *, voluntary: bool = False) -> None:
        if self._tenure.deadline is not None:
            self.last_demotion_reason = reason  # before end() calls the deadline listener
        ballot = self._tenure.end(self.clock.monotonic(), reason, voluntary=voluntary)
        if ballot is None:
            return
        self._events.append(Demoted(ballot, reason))
        self._metrics.transition("demoted")
        self._metrics.leadership(False, None)
        level = logging.INFO if voluntary else logging.WARNING
        _log.log(level, "%s: demoted (ballot %d): %s", self._context(), ballot, reason)

    def _run_release_hook(self) -> None:
        """Call ``before_release`` once for a pending voluntary release (before resigning)."""
        release = self._tenure.take_release()
        if release is None or self._before_release is None:
            return
        try:
            self._before_release(release)
        except Exception:
            _log.exception(
                "%s: before_release hook failed; giving leadership up anyway", self._context()
            )
        overrun = self.clock.monotonic() - release.deadline
        if overrun > 0:
            _log.warning(
                "%s: before_release returned %.3fs after the released lease's deadline: another "
                "elector may have been elected while it ran",
                self._context(),
                overrun,
            )

    def _clear_own_step_down_request(self, tr: Any, issued: Any) -> None:
        """Clear a step-down request addressed to this process; ``issued``: the snapshot read
        of the request key."""
        request = read_step_down(tr, self.election.subspace, key=self._step_down_key, issued=issued)
        if request is not None and request.process_id == self.process_id:
            tr.clear(self._step_down_key)

    # ------------------------------------------------------------------ plumbing

    def _config_in_use(self) -> ElectionConfig:
        return self.config or self.settings.config or ElectionConfig()

    def _transaction(self) -> Any:
        tr = self.db.create_transaction()
        # Bound every attempt: a step blocked for a lease is useless anyway.
        tr.options.set_timeout(max(1, int(self.lease * 1000)))
        # Only the step's first transaction reads at a shared version (see begin_step).
        version, self._shared_read_version = self._shared_read_version, None
        self._shared_since = None
        if version is not None:
            tr.set_read_version(version)
        return tr

    def _wall(self) -> timedelta:
        return timedelta(seconds=self.clock.wall())

    def _next_heartbeat(self, *, later: bool = False) -> float:
        """A heartbeat interval with jitter: up to ``jitter`` shorter, or (``later``) longer.

        The leader refreshes at most a heartbeat apart, sooner by up to the jitter; a follower
        of a live leader waits at least a heartbeat (or until just after the leader's next
        refresh is due, see :meth:`_watch_leadership`).
        """
        spread = self.settings.jitter * self.rng.random()
        return self.heartbeat * (1.0 + spread if later else 1.0 - spread)

    def _bounded_by_deadline(self, delay: float) -> float:
        deadline = self._tenure.deadline
        if deadline is not None:
            delay = min(delay, max(0.0, deadline - self.clock.monotonic()))
        return max(0.0, delay)

    def _failed(self, exc: Exception) -> float:
        self._failures += 1
        self._note_error(exc, self.phase.value)
        if isinstance(exc, UnregisteredCandidate) and self.phase is Phase.RUN:
            self._registered = False
            self.phase = Phase.REGISTER
            return 0.0
        if database_error_code(exc) is None and not isinstance(exc, LeaderElectionError):
            # A bug or bad input, not a database condition: surface it, but keep the loop alive.
            _log.exception("%s: unexpected error in step", self._context())
        backoff = min(self.heartbeat / 2, _FIRST_BACKOFF * 2 ** min(self._failures - 1, 16))
        return float(backoff * (0.5 + 0.5 * self.rng.random()))

    def _note_error(self, exc: BaseException, where: str) -> None:
        self.last_error = exc
        code = database_error_code(exc)
        kind = str(code) if code is not None else type(exc).__name__
        self._metrics.error(kind)
        _log.debug("%s: %s step failed: %r", self._context(), where, exc)

    def _report_leader_view(self) -> None:
        view = self.leader
        previous = self._reported_leader
        previous_id = None if previous is None else previous.leader_id
        view_id = None if view is None else view.leader_id
        if view_id != previous_id:
            self._events.append(LeaderChanged(previous_id, view))
            _log.info("%s: leader is now %s", self._context(), view_id or "nobody")
        self._reported_leader = view

    def _context(self) -> str:
        ballot = self._tenure.ballot
        return (
            f"[election={self.name} process={self.process_id}"
            f"{'' if ballot is None else f' ballot={ballot}'}]"
        )
