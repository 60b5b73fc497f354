"""Leader election for asyncio services: the same elector, driven by a task.

Usage::

    from fdb_election import aio, embedded

    async with aio.Elector(embedded.open(), "billing-cron") as elector:
        if await elector.wait_for_leadership(timeout=30):
            await run_the_job(fence=elector.fence)

or follow the events::

    async for event in elector.events():   # Elected / Demoted / LeaderChanged, in order
        ...

Every database step runs in a worker thread (``asyncio.to_thread``), so the event loop never
blocks on the database. Callbacks may be plain functions or coroutine functions; they run on the
event loop, one at a time and in order, in a task of their own, so a slow callback does not delay
the lease refresh. What can surprise you: ``is_leader`` turns false at the local deadline even
before the ``Demoted`` event is delivered; protect writes with ``fence(tr)``.

``before_release`` (a plain or a coroutine function) is not a callback: when this process gives
leadership up voluntarily (step-down request, preemption handover, ``stop()``) it runs on the
event loop after local leadership has ended, and the resignation that lets the next leader in
commits only after it has finished. It should finish by ``release.deadline``.
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
    moment it is called until the elector stops.
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
        **options: Unpack[ElectorOptions],
    ) -> None:
        """The same ``settings``, ``callbacks`` and keyword options as the thread elector;
        callbacks and ``before_release`` may also be coroutine functions."""
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
        self._before_release = callbacks.before_release
        self._loop: asyncio.AbstractEventLoop | None = None
        self._callbacks: dict[type, Callback | None] = {
            Elected: callbacks.on_elected,
            Demoted: callbacks.on_demoted,
            LeaderChanged: callbacks.on_leader_change,
        }
        self._task: asyncio.Task[None] | None = None
        self._callback_task: asyncio.Task[None] | None = None
        self._callback_queue: asyncio.Queue[ElectorEvent | None] | None = None
        self._wake: asyncio.Event | None = None
        self._changed: asyncio.Condition | None = None
        self._subscribers: list[asyncio.Queue[ElectorEvent | None]] = []
        self._stop_requested = False

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> Self:
        """Start campaigning in a task on the running loop (returns self)."""
        if self._task is not None:
            raise RuntimeError("this Elector was already started; create a new one to run again")
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._changed = asyncio.Condition()
        self._callback_queue = asyncio.Queue()
        self._callback_task = asyncio.create_task(self._run_callbacks())
        self._task = asyncio.create_task(self._run(), name=f"elector-{self.process_id}")
        return self

    async def stop(self, timeout: float = 5.0) -> bool:
        """Give up leadership, resign and unregister; True if that committed within ``timeout``."""
        check_stop_timeout(timeout)
        task = self._task
        if task is None:
            return True
        self._stop_requested = True
        self._set_stop_deadline(timeout)
        if self._wake is not None:
            self._wake.set()
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        stopped = self._stopped(timeout)
        if self._callback_queue is not None and self._callback_task is not None:
            self._callback_queue.put_nowait(None)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._callback_task), timeout)
        for subscriber in self._subscribers:
            subscriber.put_nowait(None)
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
        return self._task is not None and not self._task.done()

    async def wait_for_leadership(self, timeout: float | None = None) -> bool:
        """Wait until this process leads (True) or ``timeout`` seconds pass (False)."""
        self._refuse_observer_wait()
        changed = self._changed
        if changed is None:
            raise RuntimeError("start the elector (await start() or async with) before waiting")

        async def until_leading() -> bool:
            async with changed:
                while not self._core.is_leader:
                    if self._core.phase is Phase.STOPPED:
                        return False
                    await changed.wait()
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

    # ------------------------------------------------------------------ tasks

    def _release_on_loop(self, release: Release) -> None:
        """The core's hook, in the step's worker thread: run ``before_release`` on the loop."""
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

    async def _run(self) -> None:
        core = self._core
        wake = self._wake
        assert wake is not None and self._changed is not None and self._callback_queue is not None
        loop = asyncio.get_running_loop()

        def on_ready(*_: object) -> None:
            with contextlib.suppress(RuntimeError):  # the loop may be closed by now
                loop.call_soon_threadsafe(wake.set)

        try:
            while True:
                wake.clear()
                self._pass_on_stop(self._stop_requested)
                delay = await asyncio.to_thread(core.step)
                for event in core.take_events():
                    self._callback_queue.put_nowait(event)
                    for subscriber in self._subscribers:
                        subscriber.put_nowait(event)
                async with self._changed:
                    self._changed.notify_all()
                if self._loop_done(self._stop_requested):
                    return
                self._arm(on_ready)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), min(delay, _MAX_WAIT))
        finally:
            async with self._changed:
                self._changed.notify_all()

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
