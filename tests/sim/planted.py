"""Planted bugs, as patches of the code's seams: proof that the simulation checker notices.

Each is a context manager that breaks one rule for the duration of a ``with`` block; none of
them is reachable from shipped code. The election layer:

* ``ballot_not_incremented``: a claim reuses the previous ballot instead of taking a higher one;
* ``lease_not_checked``: a claim ignores the current leader's unexpired lease;
* ``resign_resets_ballot``: resignation forgets the ballot high-water mark (ballots restart);
* ``fence_not_checked``: ``fence`` accepts any ballot and holder.

The elector:

* ``adopt_before_commit``: a claim's result is adopted before (or without) its commit;
* ``skew_ignored``: the leader's local deadline comes from the stored wall-clock expiry;
* ``claim_without_observation``: a follower claims without watching the record for a lease;
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
from datetime import timedelta
from typing import Any
from unittest import mock

from fdb_election.election import LeaderElection, LeaderState, NotLeader, layout, operations
from fdb_election.runtime.core import ElectorCore
from fdb_election.runtime.identity import Registrations
from fdb_election.runtime.observation import LeaderObservation
from fdb_election.sim import scenarios, world
from fdb_election.sim.world import SimProcess, World

# -------------------------------------------------------------------------- the election layer


@contextmanager
def ballot_not_incremented() -> Iterator[None]:
    next_ballot = operations._next_ballot

    def reused(leader: LeaderState | None, floor: int) -> int:
        return max(next_ballot(leader, floor) - 1, 1)

    with mock.patch.object(operations, "_next_ballot", reused):
        yield


@contextmanager
def lease_not_checked() -> Iterator[None]:
    with mock.patch.object(operations, "_may_claim", lambda *_args: True):
        yield


@contextmanager
def resign_resets_ballot() -> Iterator[None]:
    resign = LeaderElection.resign_leadership

    def forgetting(self: LeaderElection, tr: Any, *args: Any, **kwargs: Any) -> bool:
        resigned = resign(self, tr, *args, **kwargs)
        if resigned:
            tr.clear(layout.ballot_key(self.subspace))
        return resigned

    with mock.patch.object(LeaderElection, "resign_leadership", forgetting):
        yield


@contextmanager
def fence_not_checked() -> Iterator[None]:
    def unchecked(self: LeaderElection, tr: Any, *_args: Any, **_kwargs: Any) -> LeaderState:
        record = self.get_leader_raw(tr)
        if record is None:
            raise NotLeader("?", 0, "nobody leads now")
        return record

    with mock.patch.object(LeaderElection, "fence", unchecked):
        yield


# -------------------------------------------------------------------------- the elector


@contextmanager
def adopt_before_commit() -> Iterator[None]:
    before_commit = ElectorCore._before_commit

    def adopting(self: ElectorCore, claimed: LeaderState, start: float, lease: float) -> None:
        before_commit(self, claimed, start, lease)
        self._adopt(claimed, start, lease)

    with mock.patch.object(ElectorCore, "_before_commit", adopting):
        yield


@contextmanager
def skew_ignored() -> Iterator[None]:
    def from_wall_clock(
        self: ElectorCore, state: LeaderState, _start: float, _lease: float
    ) -> float:
        return self.clock.monotonic() + state.lease_expiry_nanos / 1e9 - self.clock.wall()

    with mock.patch.object(ElectorCore, "_deadline_for", from_wall_clock):
        yield


@contextmanager
def claim_without_observation() -> Iterator[None]:
    claim_time = LeaderObservation.claim_time

    def hasty(
        self: LeaderObservation,
        record: LeaderState | None,
        now: float,
        wall: float,
        **kwargs: Any,
    ) -> timedelta | None:
        if record is not None:
            return timedelta(seconds=wall)
        return claim_time(self, record, now, wall, **kwargs)

    with mock.patch.object(LeaderObservation, "claim_time", hasty):
        yield


def _adopt_by_id(self: Registrations, record: LeaderState | None, process_id: str) -> bool:
    return record is not None and record.leader_id == process_id


@contextmanager
def adopts_by_process_id() -> Iterator[None]:
    with mock.patch.object(Registrations, "made", _adopt_by_id):
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
    "ballot_not_incremented": ballot_not_incremented,
    "lease_not_checked": lease_not_checked,
    "resign_resets_ballot": resign_resets_ballot,
    "fence_not_checked": fence_not_checked,
    "adopt_before_commit": adopt_before_commit,
    "skew_ignored": skew_ignored,
    "claim_without_observation": claim_without_observation,
    "adopts_by_process_id": adopts_by_process_id,
    "tenure_ignores_registration": tenure_ignores_registration,
    "guard_ignores_deadline": guard_ignores_deadline,
}
