"""Leader election for a service, in five lines, stepped by a background thread.

Usage::

    from fdb_election import embedded
    from fdb_election.runtime import Elector

    with Elector(embedded.open(), "billing-cron", on_elected=print) as elector:
        if elector.wait_for_leadership(timeout=30):
            run_the_job(fence=elector.fence)

Every elector of one database in a process is stepped by that database's shared
:class:`~.driver.ElectorDriver`: one thread that commits the due steps of all of them together
(one fsync for many on the file store), so a process can lead hundreds of elections.

What can surprise you: ``is_leader`` turns false on its own when a refresh has not committed
in time (a local deadline, slightly shorter than the lease) even if no callback ran yet; callbacks
run on the driver's callback thread, one at a time, in order, so a slow callback never delays the
refresh but may run after the state it reports has already changed (and delays the callbacks of
the other electors of the database). Protect writes with ``fence(tr)`` rather than by checking
``is_leader`` first. To finish work before the next leader can start when leadership is given up
voluntarily, pass ``before_release`` (it runs on a thread of its own and holds the hand-over or
resignation back until it returns).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self, Unpack

from fdb_election.election import LeaderElection
from fdb_election.runtime.clock import Clock
from fdb_election.runtime.core import Phase
from fdb_election.runtime.driver import ElectorDriver, Member
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


class Elector(ElectorBase):
    """Campaigns for (or, as an observer, follows) the leadership of one election.

    ``name_or_election`` is an election name (subspace ``("fdb-election", name)``) or a
    ``LeaderElection``. The election is initialized with ``config`` if it has no configuration
    yet; otherwise the stored configuration is used. After ``start()`` the elector registers,
    then runs a step every heartbeat interval (with ``jitter``), and at once when the leader key
    changes. ``stop()`` gives up leadership, hands it over to the best live candidate (or
    resigns when there is none) and unregisters, within ``timeout``.

    Callbacks receive the event (:class:`~.events.Elected`, :class:`~.events.Demoted`,
    :class:`~.events.LeaderChanged`) on the driver's callback thread.

    ``before_release(release)`` is different: it is called on a thread of its own when this
    process gives leadership up voluntarily (a step-down request, a preemption handover,
    ``stop()``), after local leadership has ended and before the hand-over or resignation
    commits, and it is waited for. It should return by ``release.deadline`` (see
    :class:`~.events.Release`); while it runs this elector takes no other step, and
    ``stop(timeout)`` counts its time.

    ``driver``: the :class:`~.driver.ElectorDriver` that steps this elector; by default the one
    shared by every elector of ``db`` in this process.
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
        driver: ElectorDriver | None = None,
        **options: Unpack[ElectorOptions],
    ) -> None:
        """``options`` are the fields of :class:`ElectorSettings` and :class:`ElectorCallbacks`
        as keywords (``process_id``, ``priority``, ``config``, ``jitter``, ``observer``,
        ``clock_drift``, ``metrics``, ``on_elected``, ``on_demoted``, ``on_leader_change``,
        ``before_release``); given with ``settings``/``callbacks``, the keywords win."""
        settings, callbacks = split_options(options, settings, callbacks)
        if driver is not None and not isinstance(driver, ElectorDriver):
            raise TypeError(f"driver must be an ElectorDriver or None, got {type(driver).__name__}")
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
        if driver is not None and driver.db is not db:
            raise ValueError("the driver must step electors of the same database")
        self._callbacks = callbacks
        self._driver = driver
        self._member: Member | None = None

    # ------------------------------------------------------------------ life cycle

    def start(self, *, on_step: Callable[[], object] | None = None) -> Self:
        """Start campaigning (returns self); the driver steps it from now on.

        ``on_step()``, if given, is called on the driver's thread after each step of this
        elector. It must return at once (it holds up every elector of the driver); what it
        raises is logged on the ``fdb_election`` logger and ignored. It is for a
        supervisor that reacts to what no event reports, such as :attr:`failure` being set or
        the step errors in ``core.last_error``, without polling.
        """
        if self._member is not None:
            raise RuntimeError("this Elector was already started; create a new one to run again")
        if on_step is not None and not callable(on_step):
            raise TypeError(f"on_step must be callable or None, got {type(on_step).__name__}")
        if self._driver is None:
            self._driver = ElectorDriver.shared(self._core.db)
        self._member = self._driver.attach(self._core, self._deliver, on_step=on_step)
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        """Give up leadership, hand it over or resign, and unregister; True when that committed
        within ``timeout``.

        Local leadership ends before the hand-over (to the best live candidate, see
        docs/elector.md) or the resignation is committed. If the database does not
        answer in time, the elector is let go after ``timeout`` seconds and the candidate record
        is left to be evicted (``candidate_timeout``). Callbacks for what happened until then
        have run when it returns.
        """
        check_stop_timeout(timeout)
        member, driver = self._member, self._driver
        if member is None or driver is None:
            return True
        driver.request_stop(member, timeout)
        member.done.wait(timeout)
        stopped = self._stopped(timeout)
        member.delivered.wait(timeout)
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
        member, driver = self._member, self._driver
        return member is not None and driver is not None and driver.running(member)

    def healthy(self) -> bool:
        """False once no step has completed for about a lease, when the elector stopped, or
        while its driver's store cannot keep up (see :mod:`.driver`)."""
        driver = self._driver
        return super().healthy() and driver is not None and not driver.saturated

    def wait_for_leadership(self, timeout: float | None = None) -> bool:
        """Block until this process leads (True) or ``timeout`` seconds pass (False)."""
        self._refuse_observer_wait()
        member = self._member
        if member is None:
            raise RuntimeError("start the elector before waiting for leadership")
        clock = self._core.clock
        end = None if timeout is None else clock.monotonic() + timeout
        with member.changed:
            while not self._core.is_leader:
                if self._core.phase is Phase.STOPPED or member.done.is_set():
                    return False
                remaining = None if end is None else end - clock.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                # Leadership can also end or begin between steps (the deadline): look again.
                member.changed.wait(remaining if remaining is not None else 1.0)
            return True

    def _deliver(self, event: ElectorEvent) -> None:
        """Hand ``event`` to its callback (on the driver's callback thread)."""
        callbacks = self._callbacks
        if isinstance(event, Elected):
            if callbacks.on_elected is not None:
                callbacks.on_elected(event)
        elif isinstance(event, Demoted):
            if callbacks.on_demoted is not None:
                callbacks.on_demoted(event)
        elif callbacks.on_leader_change is not None:
            callbacks.on_leader_change(event)
