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
* ``margin_without_lease_part``: the safety margin is the fixed 5 ms only, not scaled with the
  lease (harmless while clocks agree; two leaders once they drift as far as documented).
* ``deadline_from_commit_return``: the deadline counts from when the commit returned, not from
  the start of the attempt.
* ``observation_before_read``: a follower counts its observation of a record from the start of
  its attempt, before the read that returned the record.
* ``stop_demotes_after_commit``: a graceful stop gives local leadership up only once its
  resignation is known to have committed (a 1021 that did commit leaves it leading).
* ``fence_ignores_tenure_start``: ``fence`` accepts a ballot of an earlier tenure of the
  process that holds the record now.
* ``hand_over_dated_by_its_read``: a successor counts a tenure handed over to it from the start
  of the step that found it, which may come long after the hand-over committed, instead of the
  start of the step before.

Availability (nothing unsafe; the liveness invariants must see them):

* ``evicted_never_registers``: an elector evicted while it runs retries its heartbeat forever
  instead of registering again;
* ``lease_wait_summed``: a follower waits the configured lease PLUS the recorded one (instead
  of the longer of the two) before presuming the leader gone;
* ``liveness_tracker_slip``: the leader's heartbeat tracker keeps the time of a candidate's
  first sighting when its stamp changes, so live candidates look silent and are evicted.

The shared driver (only electors that share one see it):

* ``batch_reports_all_committed``: the driver's batch commit reports every transaction of a
  batch committed, whatever became of each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from typing import Any
from unittest import mock

from fdb_election.election import (
    CandidateInfo,
    ElectionCycle,
    LeaderElection,
    LeaderState,
    NotLeader,
    layout,
    rules,
)
from fdb_election.runtime import driver, liveness, tenure
from fdb_election.runtime.core import ElectorCore
from fdb_election.runtime.identity import Registrations
from fdb_election.runtime.liveness import HeartbeatObserver
from fdb_election.runtime.observation import LeaderObservation
from fdb_election.runtime.step import Attempt, StepGenerator
from fdb_election.sim import scenarios, world
from fdb_election.sim.world import SimProcess, World

# -------------------------------------------------------------------------- the election layer


@contextmanager
def ballot_not_incremented() -> Iterator[None]:
    next_ballot = rules.next_ballot

    def reused(leader: LeaderState | None, floor: int) -> int:
        return max(next_ballot(leader, floor) - 1, 1)

    with mock.patch.object(rules, "next_ballot", reused):
        yield


@contextmanager
def lease_not_checked() -> Iterator[None]:
    with mock.patch.object(rules, "may_claim", lambda *_args: True):
        yield


@contextmanager
def resign_resets_ballot() -> Iterator[None]:
    resign = ElectionCycle.resign

    def forgetting(self: ElectionCycle, *args: Any, **kwargs: Any) -> bool:
        resigned = resign(self, *args, **kwargs)
        if resigned:
            self.tr.clear(self._keys.ballot)
        return resigned

    with mock.patch.object(ElectionCycle, "resign", forgetting):
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
    held_by = rules.held_by

    def by_id_only(leader: LeaderState | None, process_id: str, _stamp: bytes | None) -> bool:
        return held_by(leader, process_id, None)

    with mock.patch.object(rules, "held_by", by_id_only):
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


@contextmanager
def fence_ignores_tenure_start() -> Iterator[None]:
    refusal = rules.fence_refusal

    def lenient(
        leader: LeaderState,
        leader_value: bytes,
        tenure_value: bytes | None,
        process_id: str,
        ballot: int,
        versionstamp: bytes | None,
        now_ns: int | None,
    ) -> str | None:
        if tenure_value is not None:
            ballot = max(ballot, layout.decode_tenure(tenure_value).first_ballot)
        return refusal(leader, leader_value, tenure_value, process_id, ballot, versionstamp, now_ns)

    with mock.patch.object(rules, "fence_refusal", lenient):
        yield


@contextmanager
def margin_without_lease_part() -> Iterator[None]:
    with mock.patch.object(tenure, "safety_margin", lambda _lease, _drift: tenure.FIXED_MARGIN):
        yield


@contextmanager
def deadline_from_commit_return() -> Iterator[None]:
    def from_return(self: ElectorCore, _state: LeaderState, _start: float, lease: float) -> float:
        return self._tenure.deadline_for(self.clock.monotonic(), lease)

    with mock.patch.object(ElectorCore, "_deadline_for", from_return):
        yield


@contextmanager
def observation_before_read() -> Iterator[None]:
    def from_start(self: ElectorCore, attempt: Attempt) -> None:
        attempt.record = self.election.get_leader_raw(attempt.tr)
        attempt.read_done = self.clock.monotonic()
        self._observation.observe(attempt.record, attempt.start)

    with mock.patch.object(ElectorCore, "_read_leader", from_start):
        yield


@contextmanager
def stop_demotes_after_commit() -> Iterator[None]:
    stop = ElectorCore._stop

    def demote_late(self: ElectorCore) -> StepGenerator:
        held = self._tenure
        kept = (held.deadline, held.ballot, held.state)
        step = stop(self)  # gives local leadership up, runs the hook, builds the transaction
        tr = next(step)
        if kept[0] is not None:  # ... and the slip takes leadership back until the commit
            held.deadline, held.ballot, held.state = kept
        try:
            yield tr
        except BaseException as exc:
            step.throw(exc)  # the stop fails (1020, 1021): still leading
            raise
        self._end_leadership("stopping", voluntary=True)
        try:
            step.send(None)
        except StopIteration as done:
            return float(done.value)
        raise AssertionError("the stop step commits once")

    with mock.patch.object(ElectorCore, "_stop", demote_late):
        yield


@contextmanager
def hand_over_dated_by_its_read() -> Iterator[None]:
    since = ElectorCore._handed_over_since

    def from_this_step(self: ElectorCore, attempt: Attempt) -> tuple[float, float] | None:
        found = since(self, attempt)
        return None if found is None else (attempt.start, found[1])

    with mock.patch.object(ElectorCore, "_handed_over_since", from_this_step):
        yield


# -------------------------------------------------------------------------- availability


@contextmanager
def evicted_never_registers() -> Iterator[None]:
    def keep_heartbeating(self: ElectorCore) -> float:
        return self._next_heartbeat()

    with mock.patch.object(ElectorCore, "_register_again", keep_heartbeating):
        yield


@contextmanager
def lease_wait_summed() -> Iterator[None]:
    def summed(self: LeaderObservation, config_lease: float) -> float:
        return config_lease + (self.lease or 0.0)

    with mock.patch.object(LeaderObservation, "presumed_dead_after", summed):
        yield


@contextmanager
def liveness_tracker_slip() -> Iterator[None]:
    def first_sighting_kept(
        self: HeartbeatObserver,
        candidates: Iterable[CandidateInfo],
        now: float,
        *,
        count_changes: bool = True,
    ) -> None:
        seen = {}
        for candidate in candidates:
            earlier = self._seen.get(candidate.process_id)
            stamp = candidate.last_heartbeat_nanos
            if earlier is None:
                seen[candidate.process_id] = liveness._Sighting(stamp, now, changed=False)
            elif earlier.stamp != stamp:  # the slip: since stays at the first sighting
                seen[candidate.process_id] = liveness._Sighting(
                    stamp, earlier.since, changed=count_changes
                )
            else:
                seen[candidate.process_id] = earlier
        self._seen = seen

    with mock.patch.object(HeartbeatObserver, "observe", first_sighting_kept):
        yield


#: Every planted bug of this module, by name.
@contextmanager
def batch_reports_all_committed() -> Iterator[None]:
    commit_all = driver.commit_all

    def all_committed(db: Any, transactions: list[Any]) -> list[BaseException | None]:
        commit_all(db, transactions)
        return [None] * len(transactions)

    with mock.patch.object(driver, "commit_all", all_committed):
        yield


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
    "fence_ignores_tenure_start": fence_ignores_tenure_start,
    "margin_without_lease_part": margin_without_lease_part,
    "deadline_from_commit_return": deadline_from_commit_return,
    "observation_before_read": observation_before_read,
    "stop_demotes_after_commit": stop_demotes_after_commit,
    "hand_over_dated_by_its_read": hand_over_dated_by_its_read,
    "evicted_never_registers": evicted_never_registers,
    "lease_wait_summed": lease_wait_summed,
    "liveness_tracker_slip": liveness_tracker_slip,
    "batch_reports_all_committed": batch_reports_all_committed,
}
