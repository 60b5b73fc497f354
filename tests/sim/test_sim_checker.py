"""Each invariant of the checker on hand-made histories: it passes a good one, fails a bad one."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fdb_election.sim import checker
from fdb_election.sim.history import (
    CandidateRecord,
    Commit,
    ConfigRecord,
    Fault,
    Frozen,
    History,
    LeaderRecord,
    LeadershipChange,
    OpCall,
    ProcessState,
    ResourceRecord,
    ResourceWrite,
    Snapshot,
)

CONFIG = ConfigRecord(10_000_000_000, 3_000_000_000, 15_000_000_000, True, True)
A = CandidateRecord("a", 0, 0, 1)
B = CandidateRecord("b", 0, 0, 2)


def snap(
    leader: LeaderRecord | None,
    mark: int | None = None,
    candidates: tuple[CandidateRecord, ...] = (A, B),
    resource: ResourceRecord | None = None,
) -> Snapshot:
    if mark is None and leader is not None:
        mark = leader.ballot
    return Snapshot(CONFIG, leader, mark, candidates, resource)


def lead(ballot: int, who: str, expiry: int = 10**12) -> LeaderRecord:
    return LeaderRecord(ballot, who, 0, expiry)


def history(*events: object, end: float = 100.0, bound: float = 0.0) -> History:
    h = History(seed=1, processes=("a", "b"), end_time=end, liveness_bound=bound)
    for e in events:
        h.record(e)  # type: ignore[arg-type]
    return h


def names(violations: list[checker.Violation]) -> set[str]:
    return {v.invariant for v in violations}


def commit(t: float, version: int, after: Snapshot, process: str | None = None) -> Commit:
    return Commit(t, version, process, (), after)


def test_ballots_increase_accepts_claims_refreshes_and_resignation() -> None:
    h = history(
        commit(1, 10, snap(lead(1, "a"))),
        commit(2, 20, snap(lead(2, "a"))),
        commit(3, 30, snap(None, mark=2)),
        commit(4, 40, snap(lead(3, "b"))),
    )
    assert checker.check_ballots_increase(h) == []
    assert checker.check_one_holder_per_ballot(h) == []


def test_ballot_reused_after_resignation_is_reported() -> None:
    h = history(
        commit(1, 10, snap(lead(1, "a"))),
        commit(3, 30, snap(None, mark=1)),
        commit(4, 40, snap(lead(1, "b"))),
    )
    found = checker.check_ballots_increase(h)
    assert names(found) == {"ballots_increase"}
    assert "ballot 1" in found[0].message
    assert names(checker.check_one_holder_per_ballot(h)) == {"one_holder_per_ballot"}


def test_refresh_without_new_ballot_is_reported() -> None:
    h = history(
        commit(1, 10, snap(lead(1, "a", expiry=5))),
        commit(2, 20, snap(lead(1, "a", expiry=9))),
    )
    assert names(checker.check_ballots_increase(h)) == {"ballots_increase"}


def test_mark_going_down_is_reported() -> None:
    h = history(commit(1, 10, snap(lead(4, "a"))), commit(2, 20, snap(None, mark=None)))
    assert names(checker.check_ballots_increase(h)) == {"ballots_increase"}


def test_leader_must_be_registered() -> None:
    good = history(commit(1, 10, snap(lead(1, "a"))))
    bad = history(commit(1, 10, snap(lead(1, "a"), candidates=(B,))))
    assert checker.check_leader_registered(good) == []
    assert names(checker.check_leader_registered(bad)) == {"leader_registered"}


def test_lease_must_expire_after_the_claim() -> None:
    claim_wall = 1_700_000_000.0
    claim_ns = int(claim_wall * 1e9)
    ok = Commit(1, 10, "a", (), snap(lead(1, "a", expiry=claim_ns + 5)), None, claim_wall)
    bad = Commit(1, 10, "a", (), snap(lead(1, "a", expiry=claim_ns)), None, claim_wall)
    assert checker.check_lease_after_claim(history(ok)) == []
    assert names(checker.check_lease_after_claim(history(bad))) == {"lease_after_claim"}


def test_adopted_ballot_must_have_been_committed_first() -> None:
    committed = commit(2, 10, snap(lead(1, "a")))
    good = history(committed, LeadershipChange(2, "a", True, 1))
    early = history(LeadershipChange(1, "a", True, 1), committed)
    never = history(committed, LeadershipChange(3, "b", True, 2))
    wrong_holder = history(committed, LeadershipChange(3, "b", True, 1))
    assert checker.check_adopted_ballots_committed(good) == []
    for bad in (early, never, wrong_holder):
        assert names(checker.check_adopted_ballots_committed(bad)) == {"adopted_ballots_committed"}


def test_two_processes_leading_at_once_is_reported() -> None:
    handover = history(
        LeadershipChange(1, "a", True, 1),
        LeadershipChange(5, "a", False, 1),
        LeadershipChange(5, "b", True, 2),
    )
    overlap = history(
        LeadershipChange(1, "a", True, 1),
        LeadershipChange(5, "b", True, 2),
        LeadershipChange(6, "a", False, 1),
    )
    assert checker.check_single_leader(handover) == []
    found = checker.check_single_leader(overlap)
    assert names(found) == {"single_leader"}
    assert found[0].time == 5


def test_fencing_accepts_current_tokens_and_rejects_stale_ones() -> None:
    base = [commit(1, 10, snap(lead(1, "a"))), commit(2, 20, snap(lead(2, "a")))]
    good = history(*base, commit(3, 30, snap(lead(2, "a"), resource=ResourceRecord(1, "a", 1))))
    assert checker.check_fencing(good) == []
    after_takeover = [*base, commit(4, 40, snap(lead(3, "b")))]
    stale = history(
        *after_takeover, commit(5, 50, snap(lead(3, "b"), resource=ResourceRecord(1, "a", 1)))
    )
    assert names(checker.check_fencing(stale)) == {"fencing"}
    backwards = history(
        *after_takeover,
        commit(5, 50, snap(lead(3, "b"), resource=ResourceRecord(3, "b", 1))),
        commit(6, 60, snap(lead(4, "a"), resource=ResourceRecord(4, "a", 2))),
        commit(7, 70, snap(lead(4, "a"), resource=ResourceRecord(3, "a", 3))),
    )
    assert names(checker.check_fencing(backwards)) == {"fencing"}


def test_fencing_reports_accepted_writes_the_resource_never_saw() -> None:
    h = history(commit(1, 10, snap(lead(1, "a"))), ResourceWrite(2, "a", 1, True, 20))
    assert names(checker.check_fencing(h)) == {"fencing"}


def test_liveness_after_the_last_fault() -> None:
    fault = Fault(10, "crash", "a", 12)
    quick = history(fault, LeadershipChange(20, "b", True, 2), end=60, bound=13)
    slow = history(fault, LeadershipChange(40, "b", True, 2), end=60, bound=13)
    lost = history(
        fault,
        LeadershipChange(20, "b", True, 2),
        LeadershipChange(30, "b", False, 2),
        end=60,
        bound=13,
    )
    assert checker.check_liveness(quick) == []
    assert names(checker.check_liveness(slow)) == {"liveness"}
    assert names(checker.check_liveness(lost)) == {"liveness"}
    too_short_to_judge = history(fault, end=20, bound=13)
    assert checker.check_liveness(too_short_to_judge) == []


def test_leaderless_gaps() -> None:
    h = history(
        LeadershipChange(2, "a", True, 1),
        LeadershipChange(4, "a", False, 1),
        LeadershipChange(7, "b", True, 2),
        end=10,
    )
    assert checker.leaderless_gaps(h) == [(0.0, 2), (4, 7)]
    assert checker.leaderless_gaps(h, start=5) == [(5, 7)]


def test_replay_differences_become_violations() -> None:
    h = history(commit(1, 10, snap(lead(1, "a"))))
    found = checker.check_replay(h, replay=lambda _h: [(1.0, "leader: expected None")])
    assert [v.invariant for v in found] == ["replay_matches_store"]


def test_check_sorts_everything_by_time() -> None:
    h = history(
        LeadershipChange(1, "a", True, 7),
        LeadershipChange(5, "b", True, 8),
    )
    found = checker.check(h)
    assert [v.time for v in found] == sorted(v.time for v in found)
    assert {"single_leader", "adopted_ballots_committed"} <= names(found)


def test_op_call_is_plain_data() -> None:
    op = OpCall("try_claim_leadership", "a", 3, 5, result="ballot=1")
    assert op.name == "try_claim_leadership" and op.result == "ballot=1"


# ---------------------------------------------------------------------------- availability
#
# CONFIG: lease 10 s, heartbeat 3 s, candidate_timeout 15 s; jitter and drift 0 in these
# histories, so a process must be registered again within 3 * 2 + 0.05 = 6.05 s and a leader
# must exist within 10 + 3 * 2 + 0.05 = 16.05 s of time that nothing excuses.


def cands(*beats: tuple[str, int]) -> tuple[CandidateRecord, ...]:
    """Candidate records: (process id, heartbeat stamp in seconds)."""
    return tuple(CandidateRecord(pid, 0, beat * 10**9, 1) for pid, beat in beats)


def registry(t: float, *beats: tuple[str, int], by: str | None = None) -> Commit:
    """A commit (by ``by``) after which exactly these candidates are stored."""
    return Commit(t, int(t * 1000), by, (), snap(lead(1, "a"), candidates=cands(*beats)))


def started(*hosts: str) -> list[ProcessState | Commit]:
    """The hosts start at 0 and register (with CONFIG stored)."""
    states: list[ProcessState | Commit] = [ProcessState(0.0, h, "start", h) for h in hosts]
    return [*states, registry(0.05, *((h, 0) for h in hosts))]


def judged(*events: object, end: float = 60.0) -> History:
    return history(*events, end=end, bound=1.0)


def test_an_evicted_process_that_runs_must_register_again() -> None:
    base = [*started("a", "b"), registry(0.1, ("a", 0), ("b", 0))]
    evicted = [Frozen(5.0, "a", 12.0, "pause"), registry(10.0, ("b", 10), by="b")]
    again = judged(*base, *evicted, registry(13.0, ("a", 13), ("b", 13)))
    never = judged(*base, *evicted)
    assert checker.check_registered_again(again) == []
    found = checker.check_registered_again(never)
    assert names(found) == {"registered_again"}
    assert "'a'" in found[0].message and found[0].time == pytest.approx(12.0 + 6.05)


def test_registration_is_not_required_while_something_prevents_it() -> None:
    base = [*started("a", "b"), registry(0.1, ("a", 0), ("b", 0)), registry(10.0, ("b", 10))]
    unavailable = judged(*base, Fault(10.0, "unavailable", None, 60.0))
    stopped = judged(*base, ProcessState(10.0, "a", "stopped", "a"))
    paused = judged(*base, Frozen(9.0, "a", 60.0, "pause"))
    disabled = ConfigRecord(10_000_000_000, 3_000_000_000, 15_000_000_000, False, True)
    off = judged(*base, Commit(10.5, 10_500, None, (), replace(snap(None), config=disabled)))
    for h in (unavailable, stopped, paused, off):
        assert checker.check_registered_again(h) == []
    crashed_pause = judged(
        *base,
        Frozen(9.0, "a", 60.0, "pause"),
        ProcessState(20.0, "a", "crash", "a"),
        ProcessState(25.0, "a", "start", "a"),  # restarted and never registered: not paused
    )
    assert names(checker.check_registered_again(crashed_pause)) == {"registered_again"}


def test_a_live_process_sees_a_leader_within_a_lease_and_two_heartbeats() -> None:
    base = [*started("a", "b"), LeadershipChange(1.0, "a", True, 1)]
    crash = [ProcessState(10.0, "a", "crash", "a"), LeadershipChange(10.0, "a", False, 1)]
    quick = judged(*base, *crash, LeadershipChange(25.0, "b", True, 2))
    slow = judged(*base, *crash, LeadershipChange(40.0, "b", True, 2))
    assert checker.check_leader_again(quick) == []
    found = checker.check_leader_again(slow)
    assert names(found) == {"leader_again"}
    assert found[0].time == pytest.approx(10.0 + 16.05)


def test_leaderless_time_is_excused_by_stalls_faults_and_per_process() -> None:
    base = [*started("a", "b"), LeadershipChange(1.0, "a", True, 1)]
    crash = [ProcessState(10.0, "a", "crash", "a"), LeadershipChange(10.0, "a", False, 1)]
    late = LeadershipChange(40.0, "b", True, 2)
    stall = judged(*base, *crash, Frozen(12.0, "a", 30.0, "stall"), late)  # anyone's stall
    flaky = judged(*base, *crash, Fault(15.0, "flaky", None, 28.0), late)
    paused = judged(*base, *crash, Frozen(8.0, "b", 25.0, "pause"), late)  # b counts from 25
    for h in (stall, flaky, paused):
        assert checker.check_leader_again(h) == [], checker.check_leader_again(h)
    # b is paused until 25, and c, which ran all along, does not see a leader for 30 s.
    other = judged(
        *base, *crash, ProcessState(0.0, "c", "start", "c"), Frozen(8.0, "b", 25.0, "pause"), late
    )
    assert names(checker.check_leader_again(other)) == {"leader_again"}


def test_a_candidate_that_kept_heartbeating_is_never_evicted() -> None:
    beats = [registry(t, ("a", int(t)), ("b", int(t))) for t in (1.0, 4.0, 7.0)]
    early = judged(*started("a", "b"), *beats, registry(9.0, ("b", 9), by="b"))
    found = checker.check_live_not_evicted(early)
    assert names(found) == {"live_not_evicted"}
    assert "'b' evicted 'a'" in found[0].message
    late = judged(*started("a", "b"), *beats, registry(23.0, ("b", 23), by="b"))
    own = judged(*started("a", "b"), *beats, registry(9.0, ("b", 9), by="a"))  # a unregisters
    assert checker.check_live_not_evicted(late) == []
    assert checker.check_live_not_evicted(own) == []
