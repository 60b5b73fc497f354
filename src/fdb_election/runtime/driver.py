"""One thread per database runs the steps of every elector of this process, committing together.

Usage (what the thread ``Elector`` does; users rarely touch a driver)::

    driver = ElectorDriver.shared(db)       # one per database object, started on first use
    member = driver.attach(core, callbacks)
    ...
    driver.request_stop(member, timeout=5)

Hundreds of electors in one process, each with a thread of its own committing every heartbeat,
cost a thread and an fsync per election per heartbeat: the file store does about 270 fsyncs a
second on a typical disk, so past a few hundred elections leases ran out. The driver runs every
due step of its electors together: it starts each step (reads and writes in its own transaction)
up to its commit, then commits all the transactions at once (``commit_many``: on the file store,
one SQLite transaction and one fsync for all of them, each keeping its own conflict check and
outcome; on a cluster, concurrent commits the cluster batches itself), then finishes each step
with its own outcome. Threads and fsyncs follow the number of batches, not of elections.

Steps that come due on their timers wait up to a *batch window* (``batch_window`` of the shortest
heartbeat, 5 % by default, at most 50 ms) so that more of them share a commit; a step woken by a
database watch (a resignation to take over) runs at once.

Fairness and back-pressure: steps of electors that lead (lease refreshes) go first, and a batch
holds at most ``max_batch`` steps, so a store that cannot keep up delays followers' heartbeats
(which tolerate it: ``candidate_timeout`` is several heartbeats) before it delays a refresh.
When a step falls behind its schedule by more than ``lag_limit`` of its heartbeat interval (half a
heartbeat by default), the driver is *saturated*: one
log line per episode, the ``fdb_election_driver_saturated`` gauge, and ``Elector.healthy()``
false until it keeps up again.

What can surprise you: callbacks of all the electors of a driver are delivered by one callback
thread, in order per elector; ``before_release`` hooks run on a thread of their own (one waits
ahead of time while an elector has a hook), so a slow hook (``run`` stopping its command) never
holds up the other electors' refreshes.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fdb_election.runtime.clock import Sleeper, SystemSleeper, host_monotonic
from fdb_election.runtime.core import ElectorCore, PendingCommit, Phase
from fdb_election.runtime.events import ElectorEvent
from fdb_election.runtime.metrics import DriverMetrics
from fdb_election.runtime.release_threads import ReleaseThreads

__all__ = [
    "DEFAULT_MAX_BATCH",
    "SHARED_READ_VERSION_FOR",
    "ElectorDriver",
    "Member",
    "commit_all",
    "shared_read_version",
]

_log = logging.getLogger("fdb_election")

#: Most steps committed together (refreshes first when more are due).
DEFAULT_MAX_BATCH = 512
#: The longest the driver sleeps with nothing due (it is woken by watches and new members).
_MAX_WAIT = 3600.0

_shared: dict[int, ElectorDriver] = {}
_shared_lock = threading.Lock()


#: Seconds for which the steps of a batch read at the read version of an earlier step of it.
SHARED_READ_VERSION_FOR = 0.5


def shared_read_version(tr: Any) -> int | None:
    """The read version of ``tr``, for the other steps of its batch to read at; None when it
    has none that can be shared (its read version failed: the others fetch their own)."""
    try:
        version = tr.get_read_version().wait()
    except Exception:
        return None
    return version if isinstance(version, int) else None


def commit_all(db: Any, transactions: list[Any]) -> list[BaseException | None]:
    """Commit ``transactions`` of ``db`` together; each one's error, or None when it committed.

    Uses ``db.commit_many`` (the embedded store: one group commit) when the database has it;
    otherwise starts every commit before waiting for any (a cluster batches concurrent commits).
    """
    commit_many = getattr(db, "commit_many", None)
    try:
        futures = commit_many(transactions) if commit_many else [tr.commit() for tr in transactions]
    except Exception as exc:  # the call itself failed: every member gets the error
        return [exc] * len(transactions)
    outcomes: list[BaseException | None] = []
    for future in futures:
        try:
            future.wait()
        except Exception as exc:
            outcomes.append(exc)
        else:
            outcomes.append(None)
    return outcomes


@dataclass(eq=False)
class Member:
    """One elector attached to a driver, and what its elector object waits on."""

    core: ElectorCore
    deliver: Callable[[ElectorEvent], object]
    due: float = -math.inf  # monotonic: when its next step is due
    woken: bool = True  # a watch fired (or it just joined): step at once
    busy: bool = False  # a step runs on a thread of its own (a release hook)
    stop_requested: bool = False
    stop_deadline: float = math.inf
    changed: threading.Condition = field(default_factory=threading.Condition)
    done: threading.Event = field(default_factory=threading.Event)
    delivered: threading.Event = field(default_factory=threading.Event)  # its last callback ran
    armed: dict[int, Any] = field(default_factory=dict)
    on_step: Callable[[], object] | None = None
    heartbeat: float = math.inf  # its core's heartbeat after its last step (for the window)


class ElectorDriver:
    """Runs the steps of the electors attached to it, one batch of due steps at a time.

    ``db`` is the database every member uses. ``clock`` is the monotonic clock that schedules
    steps (the members' own clocks decide leadership); ``sleeper`` how the driver waits (tests
    and benchmarks pass one that can freeze it). One thread runs the steps, from the first
    member until the last one leaves; one more delivers callbacks.
    """

    def __init__(
        self,
        db: Any,
        *,
        clock: Callable[[], float] | None = None,
        sleeper: Sleeper | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
        lag_limit: float = 0.5,
        batch_window: float = 0.05,
        name: str = "fdb-election-driver",
    ) -> None:
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch must be a positive int, got {max_batch!r}")
        self.db = db
        self._clock = clock or host_monotonic
        self._sleeper: Sleeper = sleeper or SystemSleeper()
        self.max_batch = max_batch
        self.lag_limit = lag_limit
        self.batch_window = batch_window
        self.name = name
        self._members: list[Member] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._callbacks: queue.SimpleQueue[tuple[Member, ElectorEvent | None]] = queue.SimpleQueue()
        self._callback_thread: threading.Thread | None = None
        self._release_threads = ReleaseThreads(name)
        self._metrics = DriverMetrics(name)
        self._saturated_since: float | None = None
        #: Batches committed, and transactions in them (for tests and benchmarks).
        self.batches = 0
        self.committed = 0

    # ------------------------------------------------------------------ sharing

    @classmethod
    def shared(cls, db: Any) -> ElectorDriver:
        """The driver of ``db`` shared by the electors of this process (created on first use)."""
        with _shared_lock:
            driver = _shared.get(id(db))
            if driver is None or driver.db is not db:
                driver = cls(db)
                _shared[id(db)] = driver
                key = id(db)
                try:
                    weakref.finalize(db, _shared.pop, key, None)
                except TypeError:  # a database without weak references: kept for the process
                    pass
            return driver

    # ------------------------------------------------------------------ members

    def attach(
        self,
        core: ElectorCore,
        deliver: Callable[[ElectorEvent], object],
        *,
        on_step: Callable[[], object] | None = None,
    ) -> Member:
        """Start stepping ``core``; ``deliver(event)`` runs on the driver's callback thread,
        ``on_step()`` (if given) on the driver's thread after each step: it must not block."""
        if core.db is not self.db:
            raise ValueError("an elector must use its driver's database")
        member = Member(core, deliver, on_step=on_step, heartbeat=core.heartbeat)
        with self._lock:
            self._members.append(member)
            self._start_threads()
            if core.has_release_hook:
                self._release_threads.keep_spare(True)
        self._wake.set()
        return member

    def request_stop(self, member: Member, timeout: float) -> None:
        """Make ``member`` resign and unregister; it leaves within ``timeout`` either way."""
        member.stop_deadline = self._clock() + timeout
        member.stop_requested = True
        member.woken = True
        self._wake.set()

    @property
    def saturated(self) -> bool:
        """True while steps fall behind their schedule by more than ``lag_limit``."""
        return self._saturated_since is not None

    def running(self, member: Member) -> bool:
        """Whether ``member`` is still stepped (attached, and the driver thread alive)."""
        thread = self._thread
        return not member.done.is_set() and thread is not None and thread.is_alive()

    def _start_threads(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        if self._callback_thread is None or not self._callback_thread.is_alive():
            self._callback_thread = threading.Thread(
                target=self._run_callbacks, name=f"{self.name}-callbacks", daemon=True
            )
            self._callback_thread.start()

    # ------------------------------------------------------------------ the loop

    def _run(self) -> None:
        try:
            while True:
                self._wake.clear()
                with self._lock:
                    members = list(self._members)
                    if not members:
                        self._thread = None
                        return
                now = self._clock()
                # One pass over the members (a process may have a thousand): the ready ones,
                # the first due, whether a watch fired, the shortest heartbeat.
                ready: list[Member] = []
                first = shortest = math.inf
                woken = False
                for m in members:
                    if m.busy:
                        continue
                    ready.append(m)
                    if m.due < first:
                        first = m.due
                    if m.heartbeat < shortest:
                        shortest = m.heartbeat
                    if m.woken:
                        woken = True
                # Steps due on their timers wait up to a batch window for company (fsyncs
                # follow windows, not elections); a watch that fired is served at once.
                window = self._window(shortest)
                if woken or now >= first + window:
                    due = [m for m in ready if m.woken or m.due <= now]
                    self._note_lag(now, due)
                    self._step_batch(self._prioritised(due)[: self.max_batch])
                    continue
                wait = first + window - now
                self._sleeper.wait(self._wake, min(max(wait, 0.0), _MAX_WAIT))
        except BaseException:
            _log.exception("%s: loop crashed", self.name)
            raise

    def _window(self, shortest: float) -> float:
        """How long a due step may wait for others: ``batch_window`` of the shortest heartbeat
        of the ready members, between 1 and 50 ms (a refresh then comes at most that much
        later); none when no member is ready."""
        if shortest == math.inf or self.batch_window <= 0:
            return 0.0
        return min(max(self.batch_window * shortest, 0.001), 0.05)

    @staticmethod
    def _prioritised(due: list[Member]) -> list[Member]:
        """Leaders' steps (refreshes) first, then the longest overdue."""
        return sorted(due, key=lambda m: (not m.core.is_leader, m.due))

    def _step_batch(self, batch: list[Member]) -> None:
        pending: list[tuple[Member, PendingCommit]] = []
        # A step's read version, shared by the steps after it while it is young: a batch that
        # takes long (a slow cluster) must not read at a version the database calls too old.
        read_version: int | None = None
        read_at = -math.inf
        # Each member's clock before any step of the batch began: before any read version the
        # batch shares was fetched (a successor dates a hand-over it finds by it).
        began = [member.core.clock.monotonic() for member in batch]
        for member, since in zip(batch, began, strict=True):
            member.woken = False
            if member.stop_requested and member.core.phase not in (Phase.STOPPING, Phase.STOPPED):
                member.core.request_stop()
            if member.core.releases_next:
                self._step_alone(member)  # its before_release hook may take a while
                continue
            if self._clock() - read_at > SHARED_READ_VERSION_FOR:
                read_version = None
            result = member.core.begin_step(
                read_version=read_version,
                read_version_since=None if read_version is None else since,
            )
            if isinstance(result, PendingCommit):
                pending.append((member, result))
                if read_version is None:
                    read_version = shared_read_version(result.transaction)
                    read_at = self._clock()
            else:
                self._finish(member, result)
        while pending:
            outcomes = commit_all(self.db, [p.transaction for _, p in pending])
            self.batches += 1
            self.committed += len(pending)
            self._metrics.batch(len(pending))
            resumed: list[tuple[Member, PendingCommit]] = []
            for (member, step), error in zip(pending, outcomes, strict=True):
                result = member.core.resume_step(step, error)
                if isinstance(result, PendingCommit):
                    resumed.append((member, result))
                else:
                    self._finish(member, result)
            pending = resumed

    def _step_alone(self, member: Member) -> None:
        """Run one step of ``member`` on a thread of its own (it calls ``before_release``)."""
        member.busy = True

        def step() -> None:
            try:
                delay = member.core.step()
            except BaseException:
                _log.exception("%s: step of %s crashed", self.name, member.core.process_id)
                delay = member.core.heartbeat
            self._finish(member, delay)
            member.busy = False
            self._wake.set()

        self._release_threads.run(f"elector-{member.core.process_id}-release", step)

    def _finish(self, member: Member, delay: float) -> None:
        """After a step of ``member``: deliver its events, schedule it, let it go when done."""
        core = member.core
        for event in core.take_events():
            self._callbacks.put((member, event))
        with member.changed:
            member.changed.notify_all()
        if member.on_step is not None:
            try:
                member.on_step()
            except Exception:  # the caller's bug must not stop this driver's electors
                _log.exception("elector %s: on_step failed", core.process_id)
        stopped = core.phase is Phase.STOPPED
        gave_up = member.stop_requested and self._clock() >= member.stop_deadline
        if stopped or gave_up:
            with self._lock:
                if member in self._members:
                    self._members.remove(member)
                if core.has_release_hook:
                    hooks = any(m.core.has_release_hook for m in self._members)
                    self._release_threads.keep_spare(hooks)
            self._callbacks.put((member, None))  # its last callbacks are delivered before
            member.done.set()
            with member.changed:
                member.changed.notify_all()
            return
        member.due = self._clock() + delay
        member.heartbeat = core.heartbeat
        self._arm(member)

    def _arm(self, member: Member) -> None:
        armed: dict[int, Any] = {}
        for future in member.core.wake_futures():
            key = id(future)
            if key not in member.armed:
                future.on_ready(lambda *_: self._woken(member))
            armed[key] = future
        member.armed = armed

    def _woken(self, member: Member) -> None:
        member.woken = True
        self._wake.set()

    def _note_lag(self, now: float, due: list[Member]) -> None:
        """Saturation: the most overdue step is later than ``lag_limit`` heartbeats; log once
        an episode."""
        late = [(now - m.due) / m.core.heartbeat for m in due if not m.woken]
        lag = max(late, default=0.0)
        self._metrics.lag(lag)
        if lag > self.lag_limit and self._saturated_since is None:
            self._saturated_since = now
            self._metrics.saturated(True)
            _log.warning(
                "%s: the store cannot keep up: %d elector step(s) due, the oldest %.2f "
                "heartbeats late; "
                "lease refreshes go first (lower the number of elections per database, or "
                "lengthen the heartbeat)",
                self.name,
                len(due),
                lag,
            )
        elif lag <= self.lag_limit / 2 and self._saturated_since is not None:
            _log.info(
                "%s: the store keeps up again after %.2fs",
                self.name,
                now - self._saturated_since,
            )
            self._saturated_since = None
            self._metrics.saturated(False)

    def _run_callbacks(self) -> None:
        while True:
            member, event = self._callbacks.get()
            if event is None:
                member.delivered.set()
                continue
            try:
                member.deliver(event)
            except Exception:
                _log.exception("elector %s: callback for %r failed", member.core.process_id, event)
