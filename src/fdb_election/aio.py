"""Leader election for asyncio services: the same elector, with an asyncio face.

Usage::

    from fdb_election import aio, embedded

    async with aio.Elector(embedded.open(), "billing-cron") as elector:
        if await elector.wait_for_leadership(timeout=30):
            await run_the_job(fence=elector.fence)

or follow the events::

    async for event in elector.events():   # Elected / Demoted / LeaderChanged, in order
        ...

Every database step runs on the database's shared driver thread (the one the thread electors
use), so the event loop never blocks on the database. Callbacks may be plain functions or
coroutine functions; they run on the event loop, one at a time and in order, in a task of
their own, so a slow callback does not delay the lease refresh. What can surprise you:
``is_leader`` turns false at the local deadline even before the ``Demoted`` event is
delivered; protect writes with ``fence(tr)``.

``before_release`` (a plain or a coroutine function) is not a callback: when this process gives
leadership up voluntarily (step-down request, preemption handover, ``stop()``) it runs on the
event loop after local leadership has ended, and the hand-over or resignation that lets the next
leader in commits only after it has finished. It should finish by ``release.deadline``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, Self, Unpack

from fdb_election.election import LeaderElection
from fdb_election.runtime.clock import Clock
from fdb_election.runtime.core import Phase
from fdb_election.runtime.driver import ElectorDriver, Member
from fdb_election.runtime.elector_base import ElectorBase, check_stop_timeout
from fdb_election.runtime.events import Demoted, Elected, ElectorEvent, LeaderChanged, Release
from fdb_election.runtime.factory import build_core
from fdb_election.runtime.settings import (
    ElectorCallbacks,
    ElectorOptions,
    ElectorSettings,
    split_options,
)

__all__ = ["Elector"]

_log = logging.getLogger("fdb_election")
_MAX_WAIT = 3600.0

Callback = Callable[[Any], object]


class Elector(ElectorBase):
    """The asyncio elector; same arguments and rules as :class:`fdb_election.runtime.Elector`.

    ``await start()`` / ``await stop(timeout)`` or ``async with``; ``await
    wait_for_leadership(timeout)``; ``events()`` is an async iterator of the events from the
    moment it is called until the elector stops. It is stepped by the database's shared
    :class:`~fdb_election.runtime.ElectorDriver` (a thread), like the thread elector: database
    calls never block the event loop, and the electors of one database, thread or asyncio,
    commit their steps together.
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
        """The same ``settings``, ``callbacks``, ``driver`` and keyword options as the thread
        elector; callbacks and ``before_release`` may also be coroutine functions."""
        settings, callbacks = split_options(options, settings, callbacks)
        super().__init__(
            build_core(
                db,
                name_or_election,
                settings,
                clock=clock,
                rng=rng,
                before_release=None if callbacks.before_release is None else self._release_on_loop,
            )
        )
        if driver is not None and driver.db is not db:
            raise ValueError("the driver must step electors of the same database")
        self._before_release = callbacks.before_release
        self._callbacks: dict[type, Callback | None] = {
            Elected: callbacks.on_elected,
            Demoted: callbacks.on_demoted,
            LeaderChanged: callbacks.on_leader_change,
        }
        self._driver = driver
        self._member: Member | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._callback_task: asyncio.Task[None] | None = None
        self._callback_queue: asyncio.Queue[ElectorEvent | None] | None = None
        self._changed: asyncio.Condition | None = None
        self._subscribers: list[asyncio.Queue[ElectorEvent | None]] = []
        self._on_step: Callable[[], object] | None = None
        self._notifying: set[asyncio.Future[None]] = set()

    # ------------------------------------------------------------------ life cycle

    async def start(self, *, on_step: Callable[[], object] | None = None) -> Self:
        """Start campaigning; the database's driver steps it from now on (returns self).

        ``on_step()``, if given, is called on the event loop after each step of this elector
        (as the thread elector's is on the driver's thread). It must return at once; what it
        raises is logged on the ``fdb_election`` logger and ignored. It lets a supervisor react
        to what no event reports (:attr:`failure` set, a step error in ``core.last_error``)
        without polling.
        """
        if self._member is not None:
            raise RuntimeError("this Elector was already started; create a new one to run again")
        if on_step is not None and not callable(on_step):
            raise TypeError(f"on_step must be callable or None, got {type(on_step).__name__}")
        self._on_step = on_step
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Condition()
        self._callback_queue = asyncio.Queue()
        self._callback_task = asyncio.create_task(self._run_callbacks())
        if self._driver is None:
            self._driver = ElectorDriver.shared(self._core.db)
        self._member = self._driver.attach(
            self._core, self._from_driver, on_step=self._stepped_threadsafe
        )
        return self

    async def stop(self, timeout: float = 5.0) -> bool:
        """Give up leadership, hand it over or resign, and unregister; True if that committed
        within ``timeout``."""
        check_stop_timeout(timeout)
        member, driver = self._member, self._driver
        if member is None or driver is None:
            return True
        driver.request_stop(member, timeout)
        await asyncio.to_thread(member.done.wait, timeout)
        stopped = self._stopped(timeout)
        await asyncio.to_thread(member.delivered.wait, timeout)
        if self._callback_queue is not None and self._callback_task is not None:
            self._callback_queue.put_nowait(None)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._callback_task), timeout)
        for subscriber in self._subscribers:
            subscriber.put_nowait(None)
        await self._notify_changed()
        return stopped

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ state

    def _running(self) -> bool:
        member, driver = self._member, self._driver
        return member is not None and driver is not None and driver.running(member)

    def healthy(self) -> bool:
        """False once no step has completed for about a lease, when the elector stopped, or
        while its driver's store cannot keep up."""
        driver = self._driver
        return super().healthy() and driver is not None and not driver.saturated

    async def wait_for_leadership(self, timeout: float | None = None) -> bool:
        """Wait until this process leads (True) or ``timeout`` seconds pass (False)."""
        self._refuse_observer_wait()
        changed, member = self._changed, self._member
        if changed is None or member is None:
            raise RuntimeError("start the elector (await start() or async with) before waiting")

        async def until_leading() -> bool:
            async with changed:
                while not self._core.is_leader:
                    if self._core.phase is Phase.STOPPED or member.done.is_set():
                        return False
                    # Leadership can also end or begin between steps (the deadline).
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(changed.wait(), 1.0)
                return True

        try:
            return await asyncio.wait_for(until_leading(), timeout)
        except TimeoutError:
            return self._core.is_leader

    async def events(self) -> AsyncIterator[ElectorEvent]:
        """The events from now on, in order, until the elector stops."""
        subscriber: asyncio.Queue[ElectorEvent | None] = asyncio.Queue()
        self._subscribers.append(subscriber)
        try:
            while True:
                event = await subscriber.get()
                if event is None:
                    return
                yield event
        finally:
            self._subscribers.remove(subscriber)

    # ------------------------------------------------------------------ from the driver

    def _from_driver(self, event: ElectorEvent) -> None:
        """An event, on the driver's callback thread: hand it to the loop, in order."""
        self._call_on_loop(self._queue_event, event)

    def _queue_event(self, event: ElectorEvent) -> None:
        assert self._callback_queue is not None
        self._callback_queue.put_nowait(event)
        for subscriber in self._subscribers:
            subscriber.put_nowait(event)

    def _stepped_threadsafe(self) -> None:
        """After each step, on the driver's thread: wake whoever waits on the loop, and call
        ``on_step`` there."""
        self._call_on_loop(self._stepped_on_loop)

    def _stepped_on_loop(self) -> None:
        # Kept until done: the loop holds only a weak reference to a task.
        task = asyncio.ensure_future(self._notify_changed())
        self._notifying.add(task)
        task.add_done_callback(self._notifying.discard)
        hook = self._on_step
        if hook is not None:
            try:
                hook()
            except Exception:
                _log.exception("elector %s: on_step failed", self.process_id)

    async def _notify_changed(self) -> None:
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()

    def _call_on_loop(self, function: Callable[..., object], *args: object) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop may be closed by now
                loop.call_soon_threadsafe(function, *args)

    def _release_on_loop(self, release: Release) -> None:
        """The core's hook, on its release thread: run ``before_release`` on the loop."""
        hook, loop = self._before_release, self._loop
        if hook is None or loop is None:
            return

        async def run_hook() -> None:
            result = hook(release)
            if inspect.isawaitable(result):
                await result

        try:
            done = asyncio.run_coroutine_threadsafe(run_hook(), loop)
        except RuntimeError:  # the loop is closed: nothing left to run the hook on
            return
        done.result()  # the core logs what the hook raised (cancelled with the loop included)

    async def _run_callbacks(self) -> None:
        queue = self._callback_queue
        assert queue is not None
        while True:
            event = await queue.get()
            if event is None:
                return
            callback = self._callbacks.get(type(event))
            if callback is None:
                continue
            try:
                result = callback(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                _log.exception("elector %s: callback for %r failed", self.process_id, event)
