"""The reference model and the replay check, on hand-made histories."""

from __future__ import annotations

from fdb_election.sim.history import (
    CandidateRecord,
    Commit,
    ConfigRecord,
    History,
    LeaderRecord,
    OpCall,
    Snapshot,
)
from fdb_election.sim.model import ElectionModel, ModelError, replay, result_text

CONFIG = ConfigRecord(10_000_000_000, 3_000_000_000, 15_000_000_000, True, True)
SECOND = 1_000_000_000


def registered(*pids: str) -> ElectionModel:
    model = ElectionModel(config=CONFIG)
    for i, pid in enumerate(pids):
        model.register_candidate(pid, 0, 0, version=i + 1)
    return model


def test_claim_rules() -> None:
    model = registered("a", "b")
    first = model.try_claim_leadership("a", 0, 0)
    assert first == LeaderRecord(1, "a", 0, 10 * SECOND, 1)
    assert model.try_claim_leadership("b", 0, 5 * SECOND) is None  # lease still valid
    second = model.try_claim_leadership("b", 1, 5 * SECOND)
    assert second == LeaderRecord(2, "b", 1, 15 * SECOND, 2)
    third = model.try_claim_leadership("a", 0, 15 * SECOND)
    assert third == LeaderRecord(3, "a", 0, 25 * SECOND, 1)


def test_a_new_registration_of_the_leader_id_waits_for_the_lease() -> None:
    model = registered("a")
    model.try_claim_leadership("a", 0, 0)
    model.register_candidate("a", 0, 1 * SECOND, version=7)  # a restart with the same id
    assert model.try_claim_leadership("a", 0, 5 * SECOND) is None
    assert model.refresh_lease("a", 5 * SECOND, stamp=7) is None
    assert model.resign_leadership("a", stamp=7) is False
    with_stamp = model.apply(OpCall("heartbeat_candidate", "a", 0, 0, stamp=1), 8)
    assert with_stamp == "!DuplicateProcessId"
    claimed = model.try_claim_leadership("a", 0, 10 * SECOND)
    assert claimed == LeaderRecord(2, "a", 0, 20 * SECOND, 7)


def test_ballot_survives_resignation() -> None:
    model = registered("a", "b")
    model.try_claim_leadership("a", 0, 0)
    assert model.resign_leadership("a") is True
    assert model.resign_leadership("a") is False
    assert model.try_claim_leadership("b", 0, 0) == LeaderRecord(2, "b", 0, 10 * SECOND, 2)


def test_errors_are_named_like_the_election_errors() -> None:
    model = ElectionModel()
    try:
        model.try_claim_leadership("a", 0, 0)
    except ModelError as exc:
        assert result_text(exc) == "!NotInitialized"
    model = registered("a")
    assert model.apply(OpCall("try_claim_leadership", "zz", 0, 0), 1) == "!UnregisteredCandidate"
    assert model.apply(OpCall("heartbeat_candidate", "zz", 0, 0), 1) == "!ProcessNotFound"


def test_replay_accepts_a_faithful_history_and_reports_a_wrong_one() -> None:
    a = CandidateRecord("a", 0, 0, 10)
    good_after = Snapshot(CONFIG, LeaderRecord(1, "a", 0, 10 * SECOND, 10), 1, (a,))
    ops = (
        OpCall("initialize_with_config", config=CONFIG, result="None"),
        OpCall("register_candidate", "a", 0, 0, result="None"),
        OpCall("try_claim_leadership", "a", 0, 0, result="ballot=1"),
    )
    history = History(seed=0, processes=("a",))
    history.record(Commit(1.0, 10, "a", ops, good_after))
    assert replay(history) == []

    bad_after = Snapshot(CONFIG, LeaderRecord(1, "a", 0, 10 * SECOND, 10), None, (a,))
    bad = History(seed=0, processes=("a",))
    bad.record(Commit(1.0, 10, "a", ops, bad_after))
    problems = replay(bad)
    assert len(problems) == 1 and "mark" in problems[0][1]

    wrong_result = History(seed=0, processes=("a",))
    lying = (*ops[:2], OpCall("try_claim_leadership", "a", 0, 0, result="None"))
    wrong_result.record(Commit(1.0, 10, "a", lying, good_after))
    assert "the model says ballot=1" in replay(wrong_result)[0][1]
