"""Leader election for a service, in five lines, on a background thread.

Usage::

    from fdb_election import embedded
    from fdb_election.runtime import Elector

    with Elector(embedded.open(), "billing-cron", on_elected=print) as elector:
        if elector.wait_for_leadership(timeout=30):
            run_the_job(fence=elector.fence)

What can surprise you: ``is_leader`` turns false on its own when a refresh has not committed
in time (a local deadline, slightly shorter than the lease) even if no callback ran yet; callbacks
run on a separate thread, one at a time, in order, so a slow callback never delays the refresh
but may run after the state it reports has already changed. Protect writes with
``fence(tr)`` rather than by checking ``is_leader`` first. To finish work before the next leader
can start when leadership is given up voluntarily, pass ``before_release`` (it runs on the
elector's own thread and holds the resignation back until it returns).
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from types import TracebackType
from typing import Any, Self, Unpack

from fdb_election.election import LeaderElection
from fdb_election.runtime.clock import Clock, Sleeper, SystemSleeper
from fdb_election.runtime.core import Phase
from fdb_election.runtime.elector_base import ElectorBase, check_stop_timeout
from fdb_election.runtime.events import Demoted, Elected, ElectorEvent
from fdb_election.runtime.factory import build_core
from fdb_election.runtime.settings import (
    ElectorCallbacks,
    ElectorOptions,
    ElectorSettings,
    split_options,
)

__all__ = ["Elector"]

_log = logging.getLogger("fdb_election")

#: The longest a driver waits without stepping when the core asks for "never" (stopped).
_MAX_WAIT = 3600.0


class Elector(ElectorBase):
    """Campaigns for (or, as an observer, follows) the leadership of one election.

    ``name_or_election`` is an election name (subspace ``("fdb-election", name)``) or a
    ``LeaderElection``. The election is initialized with ``config`` if it has no configuration
    yet; otherwise the stored configuration is used. After ``start()`` the elector registers,
    then runs a step every heartbeat interval (with ``jitter``), and at once when the leader key
    changes. ``stop()`` gives up leadership, resigns and unregisters, within ``timeout``.

    Callbacks receive the event (:class:`~.events.Elected`, :class:`~.events.Demoted`,
    :class:`~.events.LeaderChanged`) on the elector's callback thread.

    ``before_release(release)`` is different: it is called on the elector's own thread when this
    process gives leadership up voluntarily (a step-down request, a preemption handover,
    ``stop()``), after local leadership has ended and before the resignation commits, and it is
    waited for. It should return by ``release.deadline`` (see :class:`~.events.Release`); while
    it runs the elector does nothing else, and ``stop(timeout)`` counts its time.
    """

    def __init__(
        self,
        db: Any,
        name_or_election: str | LeaderElection,
        *,
        settings: ElectorSettings | None = None,
        callbacks: ElectorCallbacks | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        sleeper: Sleeper | None = None,
        **options: Unpack[ElectorOptions],
    ) -> None:
        """``options`` are the fields of :class:`ElectorSettings` and :class:`ElectorCallbacks`
        as keywords (``process_id``, ``priority``, ``config``, ``jitter``, ``observer``,
        ``clock_drift``, ``metrics``, ``on_elected``, ``on_demoted``, ``on_leader_change``,
        ``before_release``); given with ``settings``/``callbacks``, the keywords win."""
        settings, callbacks = split_options(options, settings, callbacks)
        super().__init__(
            build_core(
                db,
                name_or_election,
                settings,
                clock=clock,
                rng=rng,
                before_release=callbacks.before_release,
            )
        )
        self._sleeper: Sleeper = sleeper or SystemSleeper()
        self._callbacks_of = callbacks
        self._wake = threading.Event()
        self._stop_requested = threading.Event()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._callbacks: queue.SimpleQueue[ElectorEvent | None] = queue.SimpleQueue()
        self._callback_thread: threading.Thread | None = None

    # ------------------------------------------------------------------ life cycle

    def start(self) -> Self:
        """Start campaigning in a background thread (returns self)."""
        if self._thread is not None:
            raise RuntimeError("this Elector was already started; create a new one to run again")
        self._callback_thread = threading.Thread(
            target=self._run_callbacks, name=f"elector-callbacks-{self.process_id}", daemon=True
        )
        self._thread = threading.Thread(
            target=self._run, name=f"elector-{self.process_id}", daemon=True
        )
        self._callback_thread.start()
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        """Give up leadership, resign and unregister; True when that committed within ``timeout``.

        Local leadership ends before the resignation is committed. If the database does not
        answer in time, the thread is abandoned after ``timeout`` seconds and the candidate
        record is left to be evicted (``candidate_timeout``).
        """
        check_stop_timeout(timeout)
        if self._thread is None:
            return True
        self._set_stop_deadline(timeout)
        self._stop_requested.set()
        self._wake.set()
        self._thread.join(timeout)
        stopped = self._stopped(timeout)
        if self._callback_thread is not None:
            self._callbacks.put(None)
            if self._callback_thread is not threading.current_thread():
                self._callback_thread.join(timeout)
        return stopped

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ state

    def _running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def wait_for_leadership(self, timeout: float | None = None) -> bool:
        """Block until this process leads (True) or ``timeout`` seconds pass (False)."""
        self._refuse_observer_wait()
        clock = self._core.clock
        end = None if timeout is None else clock.monotonic() + timeout
        with self._changed:
            while not self._core.is_leader:
                if self._core.phase is Phase.STOPPED:
                    return False
                remaining = None if end is None else end - clock.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    # ------------------------------------------------------------------ threads

    def _run(self) -> None:
        core = self._core
        try:
            while True:
                self._wake.clear()
                self._pass_on_stop(self._stop_requested.is_set())
                delay = core.step()
                for event in core.take_events():
                    self._callbacks.put(event)
                with self._changed:
                    self._changed.notify_all()
                if self._loop_done(self._stop_requested.is_set()):
                    return
                self._arm(self._on_watch)
                self._sleeper.wait(self._wake, min(delay, _MAX_WAIT))
        except BaseException:
            _log.exception("elector %s: loop crashed", core.process_id)
            raise
        finally:
            with self._changed:
                self._changed.notify_all()

    def _on_watch(self, *_: object) -> None:
        self._wake.set()

    def _run_callbacks(self) -> None:
        while True:
            event = self._callbacks.get()
            if event is None:
                return
            callbacks = self._callbacks_of
            try:
                if isinstance(event, Elected):
                    if callbacks.on_elected is not None:
                        callbacks.on_elected(event)
                elif isinstance(event, Demoted):
                    if callbacks.on_demoted is not None:
                        callbacks.on_demoted(event)
                elif callbacks.on_leader_change is not None:
                    callbacks.on_leader_change(event)
            except Exception:
                _log.exception("elector %s: callback for %r failed", self.process_id, event)
