"""Planted bugs for the one-id-one-leader and guard rules, as patches of the code's seams.

Each is a context manager that breaks one rule for the duration of a ``with`` block, so the
tests can prove the simulation checker notices; none of them is reachable from shipped code.

* ``adopts_by_process_id``: an elector treats every leader record that names its process id as
  its own, whoever's registration made it (a restart re-adopts a live predecessor's lease).
* ``tenure_ignores_registration``: a tenure continues through any claim by the same process id,
  so a token a previous run of the id was given still passes ``fence``.
* ``guard_ignores_deadline``: ``run``'s guard never acts on the deadline it is told, so only the
  supervisor (which is paused with its process) stops CMD.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from unittest import mock

from fdb_election.election import LeaderState, operations
from fdb_election.runtime.core import ElectorCore
from fdb_election.sim import scenarios, world
from fdb_election.sim.world import SimProcess, World


def _adopt_by_id(self: ElectorCore, record: LeaderState | None) -> bool:
    return record is not None and record.leader_id == self.process_id


@contextmanager
def adopts_by_process_id() -> Iterator[None]:
    with mock.patch.object(ElectorCore, "_is_mine", _adopt_by_id):
        yield


@contextmanager
def tenure_ignores_registration() -> Iterator[None]:
    held_by = operations._held_by

    def by_id_only(leader: LeaderState | None, process_id: str, _stamp: bytes | None) -> bool:
        return held_by(leader, process_id, None)

    with mock.patch.object(operations, "_held_by", by_id_only):
        yield


class _DeafGuardWorld(World):
    def _guard_deadline(self, proc: SimProcess, incarnation: int, deadline: float | None) -> None:
        proc.guard_deadline = deadline  # heard, never acted on

    def _guard_timer(self, proc: SimProcess, incarnation: int) -> None:
        pass


@contextmanager
def guard_ignores_deadline() -> Iterator[None]:
    with (
        mock.patch.object(world, "World", _DeafGuardWorld),
        mock.patch.object(scenarios, "World", _DeafGuardWorld),
    ):
        yield


#: Every planted bug of this module, by name.
PLANTED: dict[str, Callable[[], AbstractContextManager[Any]]] = {
    "adopts_by_process_id": adopts_by_process_id,
    "tenure_ignores_registration": tenure_ignores_registration,
    "guard_ignores_deadline": guard_ignores_deadline,
}
