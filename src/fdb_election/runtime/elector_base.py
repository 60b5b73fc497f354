"""What the thread and the asyncio electors share, written once so the two cannot drift apart.

Both are stepped by a :class:`~.driver.ElectorDriver`; they differ only in how a caller waits (a
thread and ``threading.Condition``, or a coroutine and ``asyncio.Condition``) and where callbacks
run. The state they expose lives here.
"""

from __future__ import annotations

import logging
from typing import Any

from fdb_election.election import LeaderState
from fdb_election.runtime.core import ElectorCore, Phase
from fdb_election.runtime.events import Departure

__all__ = ["ElectorBase", "check_stop_timeout"]

_log = logging.getLogger("fdb_election")


def check_stop_timeout(timeout: object) -> None:
    """Raise ValueError unless ``timeout`` is a number of seconds >= 0 (``stop``'s argument)."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
        raise ValueError(f"timeout must be a number of seconds >= 0, got {timeout!r}")


class ElectorBase:
    """The core's public state, and the loop steps that are the same for both drivers.

    A subclass passes its core to ``__init__`` and says in :meth:`_running` whether its driver
    still steps it.
    """

    def __init__(self, core: ElectorCore) -> None:
        self._core = core

    def _running(self) -> bool:
        """Whether the elector's driver still steps it."""
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
        id; this elector gave up leadership, handed it over (or resigned) and stopped
        campaigning.
        """
        return self._core.failure

    @property
    def departure(self) -> Departure | None:
        """How this elector left the election, once it has stopped (``stop()`` returned True,
        or it stopped on its own): ``successor`` names the record it handed leadership over to,
        ``resigned`` says it cleared the leader key instead; neither when it held no leadership.
        None while it runs, and when ``stop()`` gave up before the commit (its registration
        then waits to be evicted, and a lease it held runs out on its own).
        """
        return self._core.departure

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
