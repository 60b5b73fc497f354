"""The elector's decisions, one database step at a time, with no threads and no sleeping.

:class:`ElectorCore` is driven from outside: a driver (the thread :class:`~.elector.Elector`, the
asyncio ``fdb_election.aio.Elector`` or the deterministic simulator) calls :meth:`ElectorCore.step`,
which runs ONE transaction attempt and returns how many seconds the core wants to wait before the
next step. The driver also wakes the core early when one of :meth:`ElectorCore.wake_futures`
(database watches) becomes ready. Time comes only from the injected clock, randomness only from the
injected ``random.Random``, so the simulator can run this same code in virtual time.

Safety rules (the reasoning is in docs/elector.md):

* Local leadership ends at a deadline on the MONOTONIC clock: the start of the last attempt whose
  claim or refresh COMMITTED, plus the lease, minus a margin covering clock drift
  (``lease * clock_drift + 5 ms``). A failed commit or one of unknown outcome (1021) is never
  adopted.
* A follower claims over another leader only after it has seen the SAME leader record (every
  refresh increments the ballot, so an unchanged record means no refresh) for a full lease on its
  own monotonic clock, counted from just after the read that first returned it. The stored expiry
  must also have passed; when the local wall clock lags behind it, the claim is made at
  ``current_time = stored expiry + 1 µs`` so a skewed wall clock can neither block nor hasten it.
  The "full lease" is the longest of the configured lease, the lease the record was written with
  (recorded next to it by every claim and refresh) and, when that is unknown (a record written by
  another implementation), the longest configured lease seen since the record was first read:
  lowering ``lease_duration`` never shortens the wait below the lease the leader actually holds.
  The seed's ``run_election_cycle`` is not used: it would claim on the wall clock alone.
* Priority preemption is a handover: the incumbent steps down (local leadership ends first, then
  it resigns) when a strictly higher-priority candidate has been seen heartbeating during the
  tenure and the config allows preemption; a preemptor never claims over a live lease. The
  leader looks for one with a snapshot scan inside its claim or refresh transaction (no extra
  transaction, no conflicts). Liveness is judged by heartbeat stamps changing between the
  leader's scans on its monotonic clock (:mod:`.liveness`), never by comparing wall clocks: a
  crashed candidate (which the seed deems alive for ``candidate_timeout``) never preempts, and
  the leader evicts, in a transaction of its own once per ``candidate_timeout``, only candidates
  it has seen silent for that long. Followers that see an empty leader key let a live
  higher-priority candidate claim first (they wait two heartbeats).
* Leadership belongs to one registration of the process id, not to the id alone. Every elector
  registers anew when it starts and remembers the versionstamps of its own registrations; it
  refreshes, resigns or fences only a leader record carrying one of them. A record that names
  its id but another registration (an earlier run of the process, or another process using the
  same id) is treated like any other process's: waited out for a full lease. An elector whose
  heartbeat finds its candidate registered again by someone else (``DuplicateProcessId``) gives
  up local leadership, resigns its own tenure and stops: the newer registration wins the id.
* A resignation ends local leadership before it is committed, which is what makes claiming an
  empty leader key at once safe. Operators ask a leader to step down through a request key
  (:mod:`.stepdown`) that the leader watches and honours by resigning itself.
* With elections disabled the seed refuses heartbeats and claims but not refreshes: the leader
  keeps refreshing, everyone else only observes, and nobody evicts or preempts.
* Between the end of local leadership and a voluntary resignation (step-down request, preemption,
  stop) the ``before_release`` hook runs, in the step, and the resignation commits only after it
  returns: the service can finish what must not overlap the next leader while the unrefreshed
  lease still keeps everyone else out.
"""

from __future__ import annotations

import enum
import logging
import math
import random
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from fdb_election import _mutations
from fdb_election.election import CandidateInfo, ElectionConfig, LeaderElection, LeaderState, layout
from fdb_election.election.errors import (
    DuplicateProcessId,
    LeaderElectionError,
    NotInitialized,
    NotLeader,
    ProcessNotFound,
    UnregisteredCandidate,
)
from fdb_election.runtime.clock import Clock
from fdb_election.runtime.events import Demoted, Elected, ElectorEvent, LeaderChanged, Release
from fdb_election.runtime.liveness import HeartbeatObserver
from fdb_election.runtime.metrics import ElectorMetrics
from fdb_election.runtime.stepdown import StepDownRequest, read_step_down, step_down_key

__all__ = [
    "DEFAULT_CLOCK_DRIFT",
    "FIXED_MARGIN",
    "ElectorCore",
    "Phase",
    "safety_margin",
]

#: Default bound on how much two hosts' monotonic clocks may disagree in rate (1 %).
DEFAULT_CLOCK_DRIFT = 0.01
#: Seconds added to the drift margin: scheduling and measurement slack.
FIXED_MARGIN = 0.005
#: First retry delay after a failed step; doubles per consecutive failure.
_FIRST_BACKOFF = 0.01
#: Most dead candidates one eviction transaction removes (bounded transaction size, 2101).
_EVICTION_BATCH = 1_000
#: Registration versionstamps an elector remembers as its own (it registers again only after
#: being evicted; a leader record made with an older one is no longer refreshed).
_OWN_REGISTRATIONS = 16
#: The user version of a candidate's versionstamp (the registration's incomplete stamp).
_REGISTRATION_USER_VERSION = b"\x00\x00"

_log = logging.getLogger("fdb_election")


def safety_margin(lease: float, clock_drift: float) -> float:
    """Seconds a leader gives up at the end of each lease: ``lease * clock_drift + 5 ms``."""
    return lease * clock_drift + FIXED_MARGIN


class Phase(enum.Enum):
    """Where an elector is in its life."""

    INIT = "init"  #: make sure the election has a configuration
    REGISTER = "register"  #: register as a candidate (its own transaction)
    RUN = "run"  #: heartbeat, follow, claim, refresh
    STOPPING = "stopping"  #: resign and unregister
    STOPPED = "stopped"  #: nothing more to do


def _database_error_code(exc: BaseException) -> int | None:
    """The FoundationDB error code of a database error (real or embedded), else None."""
    if isinstance(exc, LeaderElectionError):
        return None
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _wall_td(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


class ElectorCore:
    """One elector's state machine; every database step is one transaction attempt.

    Usage (what a driver does)::

        core = ElectorCore(db, LeaderElection(subspace), process_id="a", clock=SystemClock(),
                           rng=random.Random())
        while core.phase is not Phase.STOPPED:
            delay = core.step()
            for event in core.take_events():
                ...  # Elected / Demoted / LeaderChanged
            wait(delay, or until any of core.wake_futures() is ready)

    ``request_stop()`` makes the following steps give up leadership, resign and unregister.
    ``before_release(release)``, if given, is called inside ``step`` after a voluntary end of
    leadership and before its resignation commits (see :class:`~.events.Release`); it should
    return by ``release.deadline``. Not thread-safe: one driver calls ``step``; other threads may
    read the properties.
    """

    def __init__(
        self,
        db: Any,
        election: LeaderElection,
        *,
        process_id: str,
        clock: Clock,
        rng: random.Random,
        priority: int = 0,
        config: ElectionConfig | None = None,
        jitter: float = 0.1,
        observer: bool = False,
        clock_drift: float = DEFAULT_CLOCK_DRIFT,
        name: str | None = None,
        metrics: ElectorMetrics | None = None,
        before_release: Callable[[Release], object] | None = None,
    ) -> None:
        if not isinstance(process_id, str) or not process_id:
            raise ValueError(f"process_id must be a non-empty str, got {process_id!r}")
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise TypeError(f"priority must be an int, got {type(priority).__name__}")
        if not -(2**31) <= priority < 2**31:
            raise ValueError(
                f"priority must be a signed 32-bit int (-2**31..2**31-1), got {priority}"
            )
        if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not 0 <= jitter < 1:
            raise ValueError(f"jitter must be a fraction in [0, 1), got {jitter!r}")
        if (
            isinstance(clock_drift, bool)
            or not isinstance(clock_drift, int | float)
            or not 0 <= clock_drift < 0.5
        ):
            raise ValueError(f"clock_drift must be a fraction in [0, 0.5), got {clock_drift!r}")
        if config is not None and not isinstance(config, ElectionConfig):
            raise TypeError(
                f"config must be an ElectionConfig or None, got {type(config).__name__}"
            )
        if before_release is not None and not callable(before_release):
            raise TypeError(
                f"before_release must be callable or None, got {type(before_release).__name__}"
            )
        self.db = db
        self.election = election
        # Packed once: every step reads or watches them.
        self._leader_key = layout.leader_key(election.subspace)
        self._step_down_key = step_down_key(election.subspace)
        self.process_id = process_id
        self.priority = priority
        self.observer = observer
        self.clock = clock
        self.rng = rng
        self.jitter = float(jitter)
        self.clock_drift = float(clock_drift)
        self.name = name or repr(election)
        self._initial_config = config
        self._before_release = before_release
        self._metrics = metrics or ElectorMetrics(self.name, process_id, enabled=False)
        self._log = _log

        self.phase = Phase.INIT
        self.config: ElectionConfig | None = None
        self._stop_requested = False
        self._registered = False
        # Versionstamps of this elector's own registrations, newest last: the identity of this
        # run of the process id (see the module doc).
        self._registrations: list[bytes] = []
        # Why the elector stopped on its own (another elector registered the same id), if so.
        self.failure: DuplicateProcessId | None = None
        self._foreign_record: LeaderState | None = None  # a record of our id, not ours (warned)

        # Local leadership: only while monotonic() < _deadline.
        self._deadline: float | None = None
        self._deadline_listener: Callable[[float | None], object] | None = None
        self._tenure_ballot: int | None = None
        self._own_state: LeaderState | None = None
        self._last_ballot: int | None = None

        # What this process has seen of the leader key.
        self._observed: LeaderState | None = None
        self._observed_since: float | None = None  # monotonic, just after the first read of it
        # Seconds the observed record must stay unchanged before it is presumed dead (the lease
        # it was written with, or the longest configured lease seen since it was first read).
        self._observed_lease: float | None = None
        self._observed_lease_recorded = False  # whether _observed_lease came from the record
        self._observed_empty_since: float | None = None
        self._reported_leader: LeaderState | None = None
        self._hold_off_until = (
            -math.inf
        )  # no claim on an empty key before this (after stepping down)
        self._resign_pending: str | None = None  # reason, while a resignation must be committed
        self._release: Release | None = None  # a voluntary release whose hook has not run yet
        self._next_eviction = -math.inf  # monotonic: the leader evicts dead candidates from then
        # Candidates' heartbeat stamps as this process's leader scans saw them, on the
        # monotonic clock: who may preempt (seen heartbeating) and who is evicted (silent for
        # a candidate_timeout), whatever the wall clocks say.
        self._liveness = HeartbeatObserver()

        self._events: list[ElectorEvent] = []
        self._watches: dict[str, Any] = {}
        self._failures = 0
        self.last_success: float | None = None
        self.last_error: BaseException | None = None

    # ------------------------------------------------------------------ public state

    @property
    def is_leader(self) -> bool:
        """True only before the local deadline of a committed claim or refresh."""
        deadline = self._deadline
        return deadline is not None and self.clock.monotonic() < deadline

    @property
    def deadline(self) -> float | None:
        """Monotonic time at which local leadership ends, or None when not leading."""
        return self._deadline

    @property
    def ballot(self) -> int | None:
        """The fencing token: the ballot of the current tenure's claim, None when not leading."""
        return self._tenure_ballot if self.is_leader else None

    @property
    def leader(self) -> LeaderState | None:
        """The leader record as last seen, or None (nobody, or not refreshed for a full lease)."""
        if self.is_leader:
            return self._own_state
        return self._view(self.clock.monotonic())

    @property
    def lease(self) -> float:
        """The lease in seconds of the configuration in use (the default before it is read)."""
        config = self.config or self._initial_config or ElectionConfig()
        return config.lease_duration.total_seconds()

    @property
    def heartbeat(self) -> float:
        """The heartbeat interval in seconds of the configuration in use."""
        config = self.config or self._initial_config or ElectionConfig()
        return config.heartbeat_interval.total_seconds()

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
        return list(self._watches.values())

    def request_stop(self) -> None:
        """Make the next steps end leadership, resign and unregister."""
        self._stop_requested = True
        if self.phase is Phase.INIT:
            self.phase = Phase.STOPPED
            self._cancel_watches()
        elif self.phase is not Phase.STOPPED:
            self.phase = Phase.STOPPING

    def check_deadline(self) -> None:
        """Emit ``Demoted`` if the local deadline has passed (also done by every step)."""
        if self._deadline is not None and self.clock.monotonic() >= self._deadline:
            self._drop_leadership("lease deadline passed without a committed refresh")

    def fence(self, tr: Any) -> None:
        """Check in ``tr`` that this process still holds its tenure (see ``election.fence``).

        The check names this elector's registration too, so another run of the same process id
        never passes it.
        """
        ballot = self.ballot
        state = self._own_state
        if ballot is None or state is None:
            raise NotLeader(self.process_id, self._last_ballot or 0, "this elector is not leading")
        self.election.fence(tr, self.process_id, ballot, versionstamp=state.versionstamp)

    def set_deadline_listener(self, listener: Callable[[float | None], object] | None) -> None:
        """Call ``listener(deadline)`` on every change of the local deadline (None: ended).

        It runs on the stepping thread, at once: before a claim or refresh that could lower the
        deadline commits, and before anything else learns of a change. For a watchdog outside
        the process that must stop work by the deadline (``run``'s guard); it must not block.
        """
        self._deadline_listener = listener

    def _set_deadline(self, deadline: float | None) -> None:
        if deadline == self._deadline:
            return
        self._deadline = deadline
        listener = self._deadline_listener
        if listener is not None:
            try:
                listener(deadline)
            except Exception:
                self._log.exception("%s: the deadline listener failed", self._context())

    @property
    def registration(self) -> bytes | None:
        """The versionstamp of this elector's current registration (None before it registers)."""
        return self._registrations[-1] if self._registrations else None

    def _is_mine(self, record: LeaderState | None) -> bool:
        """Whether ``record`` was made by this elector (its id and one of its registrations)."""
        return (
            record is not None
            and record.leader_id == self.process_id
            and record.versionstamp in self._registrations
        )

    # ------------------------------------------------------------------ the step

    def step(self) -> float:
        """Run one transaction attempt; return the seconds until the core wants the next step."""
        self.check_deadline()
        if self.phase is Phase.STOPPED:
            return math.inf
        started = self.clock.monotonic()
        action: Callable[[], float]
        if self.phase is Phase.INIT:
            action = self._step_init
        elif self.phase is Phase.REGISTER:
            action = self._step_register
        elif self.phase is Phase.STOPPING:
            action = self._step_stop
        elif self._resign_pending is not None:
            action = self._step_resign
        else:
            action = self._step_cycle
        try:
            delay = action()
        except Exception as exc:
            delay = self._failed(exc)
        else:
            self._failures = 0
            self.last_success = self.clock.monotonic()
        self._metrics.step_duration(self.clock.monotonic() - started)
        self._report_leader_view()
        return self._bounded_by_deadline(delay)

    # ------------------------------------------------------------------ steps

    def _step_init(self) -> float:
        tr = self._transaction()
        try:
            config = self.election.read_config(tr)
        except NotInitialized:
            if self._initial_config is None and self.observer:
                raise
            config = self._initial_config or ElectionConfig()
            self.election.initialize_with_config(tr, config)
            tr.commit().wait()
        self._use_config(config)
        self.phase = Phase.RUN if self.observer else Phase.REGISTER
        self._log.debug("%s: config %s", self._context(), config)
        return 0.0

    def _step_register(self) -> float:
        tr = self._transaction()
        earlier = self.election.get_candidate(tr, self.process_id) if not self._registered else None
        self.election.register_candidate(tr, self.process_id, self.priority, self._wall())
        stamp = tr.get_versionstamp()
        tr.commit().wait()
        self._registrations.append(bytes(stamp.wait()) + _REGISTRATION_USER_VERSION)
        del self._registrations[:-_OWN_REGISTRATIONS]
        self._registered = True
        self.phase = Phase.RUN
        self._log.info(
            "%s: registered as a candidate (priority %d)", self._context(), self.priority
        )
        if earlier is not None and not self._is_mine_stamp(earlier.versionstamp):
            self._log.info(
                "%s: took over process id %r from an earlier registration (an earlier run of "
                "this process, or another process using the same id, which will stop); its "
                "leadership, if any, is waited out for a lease",
                self._context(),
                self.process_id,
            )
        return 0.0

    def _is_mine_stamp(self, versionstamp: bytes) -> bool:
        return versionstamp in self._registrations

    def _step_stop(self) -> float:
        self._drop_leadership("stopping", voluntary=True)
        self._run_release_hook()
        tr = self._transaction()
        record = self.election.get_leader_raw(tr)
        mine = self._is_mine(record)
        if mine and record is not None:
            self.election.resign_leadership(tr, self.process_id, versionstamp=record.versionstamp)
            self._clear_own_step_down_request(tr)
        if not self.observer:
            # Only this elector's own registration: a newer one of the same id stays.
            candidate = self.election.get_candidate(tr, self.process_id)
            if candidate is not None and self._is_mine_stamp(candidate.versionstamp):
                self.election.unregister_candidate(tr, self.process_id)
        tr.commit().wait()
        self._registered = False
        self.phase = Phase.STOPPED
        if mine:
            self._observe(None, self.clock.monotonic())
        self._cancel_watches()
        if self.failure is not None:
            self._log.error("%s: stopped: %s", self._context(), self.failure)
        else:
            self._log.info("%s: stopped (resigned and unregistered)", self._context())
        return math.inf

    def _step_resign(self) -> float:
        """Commit a resignation after local leadership was already given up (and the hook ran)."""
        self._run_release_hook()
        tr = self._transaction()
        record = self.election.get_leader_raw(tr)
        resigned = (
            record is not None
            and self._is_mine(record)
            and self.election.resign_leadership(
                tr, self.process_id, versionstamp=record.versionstamp
            )
        )
        self._clear_own_step_down_request(tr)
        tr.commit().wait()
        self._log.info(
            "%s: resigned (%s)%s",
            self._context(),
            self._resign_pending,
            "" if resigned else "; the leader key no longer named this process",
        )
        self._resign_pending = None
        self._hold_off_until = self.clock.monotonic() + self.heartbeat
        if resigned:
            self._observe(None, self.clock.monotonic())
        return 0.0

    def _step_cycle(self) -> float:
        attempt_start = self.clock.monotonic()
        wall = self.clock.wall()
        tr = self._transaction()
        config = self.election.read_config(tr)
        self._use_config(config)
        lease = config.lease_duration.total_seconds()
        # Elections disabled: the seed refuses heartbeats and claims but lets the leader
        # refresh, so leadership is frozen rather than lost; nobody heartbeats, claims, evicts
        # or preempts until they are enabled again.
        enabled = config.election_enabled
        if not self.observer and enabled:
            try:
                self.election.heartbeat_candidate(
                    tr,
                    self.process_id,
                    self.priority,
                    _wall_td(wall),
                    registration=self.registration,
                )
            except DuplicateProcessId as exc:
                return self._superseded(exc)
            except ProcessNotFound:
                # Evicted (e.g. paused past candidate_timeout): register again, then continue.
                self._registered = False
                self.phase = Phase.REGISTER
                self._log.warning("%s: no longer registered; registering again", self._context())
                return 0.0
        record = self.election.get_leader_raw(tr)
        read_done = self.clock.monotonic()
        self._observe(record, read_done)

        claimed: LeaderState | None = None
        step_down: StepDownRequest | None = None
        delay = self._next_heartbeat()
        if self.observer:
            self._watch(tr, "leader", self.election_leader_key())
        elif record is not None and self._is_mine(record):
            # The stored leader is this process: refresh (also re-adopts a claim whose commit
            # reported 1021 but happened; nobody else can have claimed since, see module doc).
            step_down = read_step_down(tr, self.election.subspace, key=self._step_down_key)
            if step_down is not None and step_down.applies_to(
                self.process_id, self._tenure_ballot or 0
            ):
                # Leadership ends now; the next step runs the release hook, then resigns and
                # clears the request (this transaction, with only a heartbeat, is dropped).
                self._drop_leadership(
                    f"step-down requested by {step_down.requested_by}", voluntary=True
                )
                self._resign_pending = f"step-down requested by {step_down.requested_by}"
                return 0.0
            claimed = self.election.refresh_lease(
                tr, self.process_id, _wall_td(wall), versionstamp=record.versionstamp
            )
            self._watch(tr, "step_down", self._step_down_key)
            self._unwatch("leader")
        else:
            if self.is_leader:
                who = "nobody" if record is None else repr(record.leader_id)
                self._drop_leadership(f"the leader key names {who}")
            self._warn_foreign_record(record)
            if record is not None:
                self._note_record_lease(self.election.leader_lease_ns(tr), lease)
                # Its refreshes wake this follower through the watch, and each wake-up
                # heartbeats: a timer that runs out just after the next refresh saves a wake-up.
                delay = self._next_heartbeat(later=True)
            claim_at = self._claim_time(tr, record, read_done, wall) if enabled else None
            if claim_at is not None:
                claimed = self.election.try_claim_leadership(
                    tr, self.process_id, self.priority, claim_at
                )
            elif enabled:
                delay = min(delay, self._wait_hint(record, read_done))
            self._watch(tr, "leader", self.election_leader_key())
            self._unwatch("step_down")
        preemptor: CandidateInfo | None = None
        if claimed is not None and config.allow_preemption and enabled:
            preemptor = self._heartbeating_preemptor(tr)  # acted on only after commit
        # The deadline uses ``lease`` read from the configuration in THIS transaction, the same
        # value try_claim_leadership/refresh_lease wrote the lease with and recorded next to it;
        # it is capped by it before the commit too, in case the outcome is unknown (1021).
        if claimed is not None:
            self._cap_deadline(attempt_start, lease)
        if claimed is not None and _mutations.enabled("adopt_before_commit"):  # mutation point
            self._adopt(claimed, attempt_start, lease)
        tr.commit().wait()
        if claimed is not None:
            self._adopt(claimed, attempt_start, lease)
            if self.is_leader:
                self._unwatch("leader")  # its own refreshes would fire it
                self._maintain(preemptor)
            if self._resign_pending is not None:
                return 0.0
        return delay

    def _superseded(self, exc: DuplicateProcessId) -> float:
        """Another elector registered this process id after us: give the id up and stop.

        Local leadership ends at once; the stop step then resigns this elector's own tenure (if
        it still holds one) and leaves the newer registration alone.
        """
        self.failure = exc
        # Voluntary: ``before_release`` runs (e.g. ``run`` stops CMD) before the resignation
        # lets the newer registration in at once.
        self._drop_leadership(
            f"process id {self.process_id!r} registered again by another elector", voluntary=True
        )
        self._resign_pending = None
        self._stop_requested = True
        self.phase = Phase.STOPPING
        return 0.0

    def _warn_foreign_record(self, record: LeaderState | None) -> None:
        """Say once per record that it names this process id but another registration."""
        if record is None or record.leader_id != self.process_id or self._is_mine(record):
            return
        if self._foreign_record != record:
            self._foreign_record = record
            self._log.warning(
                "%s: the leader record (ballot %d) names this process id but another "
                "registration of it (an earlier run of this process, or another process "
                "using the same id); waiting out its lease before claiming",
                self._context(),
                record.ballot,
            )

    # ------------------------------------------------------------------ follower rules

    def _use_config(self, config: ElectionConfig) -> None:
        """Adopt the configuration just read; warn once per change about one that works against
        the election (stored through the seed API or by another implementation: the CLI and
        the Elector refuse to write one)."""
        if config == self.config:
            return
        self.config = config
        if config.candidate_timeout_ns <= config.heartbeat_interval_ns:
            self._log.warning(
                "%s: the stored candidate_timeout (%s) is not above the heartbeat_interval (%s): "
                "live candidates will be evicted between heartbeats; raise it "
                "(fdb-election config set --candidate-timeout)",
                self._context(),
                config.candidate_timeout,
                config.heartbeat_interval,
            )

    def _claim_time(
        self, tr: Any, record: LeaderState | None, now: float, wall: float
    ) -> timedelta | None:
        """When the local rules allow a claim in this transaction: the ``current_time`` to pass."""
        if record is None:
            if now < self._hold_off_until:
                return None
            since = self._observed_empty_since if self._observed_empty_since is not None else now
            if now < since + 2 * self.heartbeat and self._higher_priority_candidate(tr, wall):
                return None  # let the live higher-priority candidate take it first
            return _wall_td(wall)
        if _mutations.enabled("claim_without_observation"):  # mutation point
            return _wall_td(wall)
        if self._observed_since is None or now < self._observed_since + self._presumed_dead_after():
            return None
        # Unchanged for a full lease on our clock. The seed also wants the stored expiry passed
        # on the wall clock it is given: never pass an earlier time than expiry + 1 µs.
        expiry = timedelta(microseconds=-(-record.lease_expiry_nanos // 1000) + 1)
        return max(_wall_td(wall), expiry)

    def _wait_hint(self, record: LeaderState | None, now: float) -> float:
        """How long until the local rules could allow a claim."""
        if record is None:
            since = self._observed_empty_since if self._observed_empty_since is not None else now
            return max(0.0, max(self._hold_off_until, since + 2 * self.heartbeat) - now)
        if self._observed_since is None:
            return self._next_heartbeat()
        return max(0.0, self._observed_since + self._presumed_dead_after() - now)

    def _note_record_lease(self, recorded_ns: int | None, config_lease: float) -> None:
        """Update how long the observed record must stay unchanged (see ``_presumed_dead_after``).

        ``recorded_ns`` is the lease the record was written with (None: unknown), read in the
        same transaction as the record; ``config_lease`` the configured lease read there too.
        """
        if recorded_ns is not None:
            self._observed_lease = max(recorded_ns / 1e9, self._observed_lease or 0.0)
            self._observed_lease_recorded = True
        elif not self._observed_lease_recorded:
            # Unknown (written by another implementation): the longest lease configured since
            # the record was first read. A lease lowered BEFORE that read is not covered.
            self._observed_lease = max(config_lease, self._observed_lease or 0.0)

    def _presumed_dead_after(self) -> float:
        """Seconds of unchanged observation after which the observed leader is presumed gone."""
        return max(self.lease, self._observed_lease or 0.0)

    def _higher_priority_candidate(self, tr: Any, wall: float) -> bool:
        return self._preemptor(tr, wall) is not None

    def _preemptor(self, tr: Any, wall: float) -> CandidateInfo | None:
        """The live candidate of the highest priority above ours, if any (one snapshot scan)."""
        return self._highest_above_own(self.election.list_candidates(tr.snapshot, _wall_td(wall)))

    def _highest_above_own(self, candidates: Iterable[CandidateInfo]) -> CandidateInfo | None:
        """The other candidate of the highest priority above this process's, if any."""
        best: CandidateInfo | None = None
        for candidate in candidates:
            if candidate.priority > (self.priority if best is None else best.priority) and (
                candidate.process_id != self.process_id
            ):
                best = candidate
        return best

    def _heartbeating_preemptor(self, tr: Any) -> CandidateInfo | None:
        """The leader's preemptor: the highest-priority candidate above ours seen heartbeating.

        A candidate that crashed still counts as alive by the seed's wall-clock rule until
        ``candidate_timeout``; stepping down for it would hand leadership to nobody (and again
        after every claim) until it is evicted. So a candidate qualifies only when this process
        saw its heartbeat stamp change within the last ``candidate_timeout`` of its own
        monotonic clock (see :mod:`.liveness`).
        """
        candidates = self._scan_candidates(tr)
        now = self.clock.monotonic()
        within = self._candidate_timeout()
        return self._highest_above_own(
            candidate
            for candidate in candidates
            if self._liveness.heartbeating(candidate.process_id, now, within)
        )

    def _scan_candidates(self, tr: Any) -> list[CandidateInfo]:
        """Every registered candidate (snapshot read), recorded in the heartbeat observer."""
        # A current time before every heartbeat: nobody is judged dead by the wall clock here.
        candidates = self.election.list_candidates(tr.snapshot, timedelta(0))
        # Only scans while leading are a heartbeat apart: a change seen across a time when this
        # process did not lead says nothing about whether the candidate runs now.
        self._liveness.observe(candidates, self.clock.monotonic(), count_changes=self.is_leader)
        return candidates

    def _candidate_timeout(self) -> float:
        config = self.config or self._initial_config or ElectionConfig()
        return config.candidate_timeout.total_seconds()

    def _observe(self, record: LeaderState | None, read_done: float) -> None:
        if record != self._observed or (record is None and self._observed_empty_since is None):
            self._observed = record
            self._observed_since = read_done if record is not None else None
            self._observed_empty_since = read_done if record is None else None
            self._observed_lease = None
            self._observed_lease_recorded = False

    def _view(self, now: float) -> LeaderState | None:
        record = self._observed
        if record is None or self._observed_since is None:
            return record
        if not self._is_mine(record) and now >= self._observed_since + self._presumed_dead_after():
            return None  # not refreshed for a full lease: presumed gone
        return record

    # ------------------------------------------------------------------ leader duties

    def _adopt(self, state: LeaderState, attempt_start: float, lease: float) -> None:
        """A claim or refresh committed: lead until attempt start + lease - margin."""
        deadline = attempt_start + lease - safety_margin(lease, self.clock_drift)
        if _mutations.enabled("skew_ignored"):  # mutation point: deadline from the wall clock
            deadline = self.clock.monotonic() + state.lease_expiry_nanos / 1e9 - self.clock.wall()
        if self.clock.monotonic() >= deadline:
            return  # the commit took longer than the lease: nothing to adopt
        newly = not self.is_leader
        if newly:
            self._release = None  # a new tenure: an earlier release has nothing left to hold
        self._set_deadline(deadline)
        self._own_state = state
        self._observed = state
        self._observed_since = attempt_start
        self._observed_lease = lease
        self._observed_lease_recorded = True
        if newly:
            self._tenure_ballot = state.ballot
            self._last_ballot = state.ballot
            self._report_leader_view()
            self._events.append(Elected(state.ballot, state, at=self.clock.monotonic()))
            self._metrics.transition("elected")
            self._metrics.leadership(True, state.ballot)
            self._log.info(
                "%s: elected (ballot %d, lease %.3fs)", self._context(), state.ballot, lease
            )

    def _maintain(self, preemptor: CandidateInfo | None) -> None:
        """Leader duties after a committed claim or refresh: hand over, or evict now and then.

        ``preemptor`` was found by the claim or refresh transaction's own scan. Eviction needs a
        transaction that writes (and may conflict), so it runs once per ``candidate_timeout``;
        a candidate silent for that long by this process's monotonic clock is evicted at the
        pass after, so within two timeouts of its last heartbeat this process saw.
        """
        if preemptor is not None:
            self._drop_leadership(
                f"preempted by {preemptor.process_id!r} "
                f"(priority {preemptor.priority} > {self.priority})",
                voluntary=True,
            )
            self._resign_pending = f"handing over to {preemptor.process_id!r}"
            return
        config = self.config
        now = self.clock.monotonic()
        if config is None or not config.election_enabled or now < self._next_eviction:
            return  # disabled: nobody can heartbeat, so nobody is judged dead
        try:
            evicted = self._evict_silent_candidates()
        except Exception as exc:  # housekeeping failures only delay eviction (retried next time)
            self._note_error(exc, "eviction")
            return
        if evicted < _EVICTION_BATCH:  # else more may be left: another batch next heartbeat
            self._next_eviction = now + config.candidate_timeout.total_seconds()
        if evicted:
            self._log.info("%s: evicted %d dead candidate(s)", self._context(), evicted)

    def _evict_silent_candidates(self) -> int:
        """Unregister candidates whose heartbeat stamp this process has seen unchanged for a
        whole ``candidate_timeout`` (at most ``_EVICTION_BATCH``); return how many.

        Each is re-read without snapshot and cleared only if still unchanged, so a heartbeat
        that commits meanwhile makes this transaction conflict rather than evict a live one.
        """
        tr = self._transaction()
        candidates = self._scan_candidates(tr)
        now = self.clock.monotonic()
        timeout = self._candidate_timeout()
        silent = [
            candidate
            for candidate in candidates
            if candidate.process_id != self.process_id
            and self._liveness.silent_for(candidate.process_id, now) >= timeout
        ][:_EVICTION_BATCH]
        for candidate in silent:
            if self.election.get_candidate(tr, candidate.process_id) == candidate:
                self.election.unregister_candidate(tr, candidate.process_id)
        if silent:
            tr.commit().wait()
        return len(silent)

    def _cap_deadline(self, attempt_start: float, lease: float) -> None:
        """Before committing a record with ``lease``: lead no longer than that record allows.

        Followers count from their first read of the record being written, with the lease it
        records. If the commit's outcome is unknown (1021) the record may exist while the
        deadline stays at the last KNOWN commit's, which after ``lease_duration`` was lowered
        came from a longer lease and could outlast the followers' wait. A no-op unless the lease
        was lowered (this attempt starts after the last known one did).
        """
        if self._deadline is not None:
            cap = attempt_start + lease - safety_margin(lease, self.clock_drift)
            self._set_deadline(min(self._deadline, cap))

    def _drop_leadership(self, reason: str, *, voluntary: bool = False) -> None:
        if self._deadline is None:
            return
        ballot = self._tenure_ballot or 0
        if voluntary and self.clock.monotonic() < self._deadline:
            self._release = Release(ballot, reason, self._deadline)
        self._set_deadline(None)
        self._tenure_ballot = None
        self._own_state = None
        self._events.append(Demoted(ballot, reason))
        self._metrics.transition("demoted")
        self._metrics.leadership(False, None)
        level = logging.INFO if voluntary else logging.WARNING
        self._log.log(level, "%s: demoted (ballot %d): %s", self._context(), ballot, reason)

    def _run_release_hook(self) -> None:
        """Call ``before_release`` once for a pending voluntary release (before resigning)."""
        release, self._release = self._release, None
        if release is None or self._before_release is None:
            return
        try:
            self._before_release(release)
        except Exception:
            self._log.exception("%s: before_release hook failed; resigning", self._context())
        overrun = self.clock.monotonic() - release.deadline
        if overrun > 0:
            self._log.warning(
                "%s: before_release returned %.3fs after the released lease's deadline: another "
                "elector may have been elected while it ran",
                self._context(),
                overrun,
            )

    def _clear_own_step_down_request(self, tr: Any) -> None:
        request = read_step_down(tr, self.election.subspace, key=self._step_down_key)
        if request is not None and request.process_id == self.process_id:
            tr.clear(self._step_down_key)

    # ------------------------------------------------------------------ plumbing

    def election_leader_key(self) -> bytes:
        """The key of the leader record (watched by followers and observers)."""
        return self._leader_key

    def _transaction(self) -> Any:
        tr = self.db.create_transaction()
        # Bound every attempt: a step blocked for a lease is useless anyway.
        timeout_ms = max(1, int(self.lease * 1000))
        tr.options.set_timeout(timeout_ms)
        return tr

    def _wall(self) -> timedelta:
        return _wall_td(self.clock.wall())

    def _next_heartbeat(self, *, later: bool = False) -> float:
        """A heartbeat interval with jitter: up to ``jitter`` shorter, or (``later``) longer.

        The leader refreshes at most a heartbeat apart; a follower of a live leader waits at
        least a heartbeat, so the leader's next refresh (seen through the watch) comes first
        and the follower wakes up once per refresh instead of twice.
        """
        spread = self.jitter * self.rng.random()
        return self.heartbeat * (1.0 + spread if later else 1.0 - spread)

    def _bounded_by_deadline(self, delay: float) -> float:
        if self._deadline is not None:
            delay = min(delay, max(0.0, self._deadline - self.clock.monotonic()))
        return max(0.0, delay)

    def _watch(self, tr: Any, purpose: str, key: bytes) -> None:
        current = self._watches.get(purpose)
        if current is not None and not current.is_ready():
            return
        self._watches[purpose] = tr.watch(key)

    def _unwatch(self, purpose: str) -> None:
        watch = self._watches.pop(purpose, None)
        if watch is not None and not watch.is_ready():
            watch.cancel()

    def _cancel_watches(self) -> None:
        for purpose in list(self._watches):
            self._unwatch(purpose)

    def _failed(self, exc: Exception) -> float:
        self._failures += 1
        self._note_error(exc, self.phase.value)
        if isinstance(exc, UnregisteredCandidate) and self.phase is Phase.RUN:
            self._registered = False
            self.phase = Phase.REGISTER
            return 0.0
        if _database_error_code(exc) is None and not isinstance(exc, LeaderElectionError):
            # A bug or bad input, not a database condition: surface it, but keep the loop alive.
            self._log.exception("%s: unexpected error in step", self._context())
        backoff = min(self.heartbeat / 2, _FIRST_BACKOFF * 2 ** min(self._failures - 1, 16))
        return float(backoff * (0.5 + 0.5 * self.rng.random()))

    def _note_error(self, exc: BaseException, where: str) -> None:
        self.last_error = exc
        code = _database_error_code(exc)
        kind = str(code) if code is not None else type(exc).__name__
        self._metrics.error(kind)
        self._log.debug("%s: %s step failed: %r", self._context(), where, exc)

    def _report_leader_view(self) -> None:
        view = self.leader
        previous = self._reported_leader
        previous_id = None if previous is None else previous.leader_id
        view_id = None if view is None else view.leader_id
        if view_id != previous_id:
            self._events.append(LeaderChanged(previous_id, view))
            self._log.info("%s: leader is now %s", self._context(), view_id or "nobody")
        self._reported_leader = view

    def _context(self) -> str:
        ballot = self._tenure_ballot
        return (
            f"[election={self.name} process={self.process_id}"
            f"{'' if ballot is None else f' ballot={ballot}'}]"
        )
