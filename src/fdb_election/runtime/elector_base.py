"""What the thread and the asyncio electors share, written once so the two cannot drift apart.

Both drive the same :class:`~.core.ElectorCore`; they differ only in how they wait (a thread and
``threading.Event``, or a task and ``asyncio.Event``) and how they deliver callbacks. The state
they expose, the stop rules and the arming of database watches live here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fdb_election.election import LeaderState
from fdb_election.runtime.core import ElectorCore, Phase

__all__ = ["ElectorBase", "check_stop_timeout"]

_log = logging.getLogger("fdb_election")


def check_stop_timeout(timeout: object) -> None:
    """Raise ValueError unless ``timeout`` is a number of seconds >= 0 (``stop``'s argument)."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
        raise ValueError(f"timeout must be a number of seconds >= 0, got {timeout!r}")


class ElectorBase:
    """The core's public state, and the loop steps that are the same for both drivers.

    A subclass passes its core to ``__init__``, runs the loop, and says in :meth:`_running`
    whether its loop (thread or task) is alive.
    """

    def __init__(self, core: ElectorCore) -> None:
        self._core = core
        self._armed: dict[int, Any] = {}
        self._stop_deadline = float("inf")

    def _running(self) -> bool:
        """Whether the driver's loop (thread or task) is alive."""
        raise NotImplementedError

    @property
    def process_id(self) -> str:
        """This elector's process id (its candidate key)."""
        return self._core.process_id

    @property
    def is_leader(self) -> bool:
        """True only while this process leads (a local, monotonic deadline; see the module doc)."""
        return self._core.is_leader

    @property
    def ballot(self) -> int | None:
        """Fencing token of the current tenure (the claim's ballot), None when not leading."""
        return self._core.ballot

    @property
    def leader(self) -> LeaderState | None:
        """The current leader record as this process sees it, or None."""
        return self._core.leader

    @property
    def failure(self) -> BaseException | None:
        """Why the elector stopped on its own, or None.

        Today one cause: another elector registered the same process id after this one
        (:class:`~fdb_election.election.DuplicateProcessId`). The newer registration keeps the
        id; this elector gave up leadership, resigned and stopped campaigning.
        """
        return self._core.failure

    @property
    def core(self) -> ElectorCore:
        """The decision core (for inspection and tests)."""
        return self._core

    def healthy(self) -> bool:
        """False once the loop has not completed a step for about a lease, or has stopped."""
        return self._running() and self._core.healthy()

    def fence(self, tr: Any) -> None:
        """Make ``tr`` commit only while this tenure holds (raises ``NotLeader`` otherwise).

        It reads the leader record in ``tr`` (without snapshot), so a change of leadership
        before the commit makes the commit conflict. With the asyncio elector, call it where
        blocking is fine (a transaction function run with ``asyncio.to_thread``).
        """
        self._core.fence(tr)

    def _refuse_observer_wait(self) -> None:
        """An observer never leads: waiting for leadership would wait forever."""
        if self._core.observer:
            raise RuntimeError("an observer elector never leads; do not wait for leadership")

    def _set_stop_deadline(self, timeout: float) -> None:
        """``stop(timeout)`` was called now: the loop gives up retrying after ``timeout``."""
        self._stop_deadline = self._core.clock.monotonic() + timeout

    def _pass_on_stop(self, stop_requested: bool) -> None:
        """Before a step: turn a pending ``stop()`` into the core's stop request (once)."""
        if stop_requested and self._core.phase not in (Phase.STOPPING, Phase.STOPPED):
            self._core.request_stop()

    def _loop_done(self, stop_requested: bool) -> bool:
        """After a step: True when the core has stopped, or ``stop()`` has stopped waiting.

        Past the stop deadline the loop ends rather than retry forever in the background.
        """
        if self._core.phase is Phase.STOPPED:
            return True
        return stop_requested and self._core.clock.monotonic() >= self._stop_deadline

    def _arm(self, on_ready: Callable[..., object]) -> None:
        """Make ``on_ready`` wake the loop when a watch the core asks for is ready (armed once)."""
        armed: dict[int, Any] = {}
        for future in self._core.wake_futures():
            key = id(future)
            if key not in self._armed:
                future.on_ready(on_ready)
            armed[key] = future
        self._armed = armed

    def _stopped(self, timeout: float) -> bool:
        """Whether the core has stopped; logs a warning when ``stop(timeout)`` ran out first."""
        stopped = self._core.phase is Phase.STOPPED
        if not stopped:
            _log.warning(
                "elector %s did not stop within %.3gs (last error: %r)",
                self.process_id,
                timeout,
                self._core.last_error,
            )
        return stopped
