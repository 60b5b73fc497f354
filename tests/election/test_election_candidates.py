"""Configuration and candidate operations against every database backend."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from election_helpers import (
    T0,
    RecordingTransaction,
    at,
    attempt,
    read_raw,
    register,
    register_then_disable,
    run,
    snapshot_all,
)

from fdb_election import tuples
from fdb_election.election import (
    ElectionConfig,
    ElectionDisabled,
    InvalidState,
    LeaderElection,
    NotInitialized,
    ProcessNotFound,
    RegistrationNotCommitted,
    UnregisteredCandidate,
    layout,
)

# ---------------------------------------------------------------------------------------------
# initialize / read_config / write_config


def test_read_config_before_initialize_is_not_initialized(
    db: Any, election: LeaderElection
) -> None:
    with pytest.raises(NotInitialized, match="initialize"):
        run(db, election.read_config)


def test_initialize_stores_the_defaults(db: Any, election: LeaderElection) -> None:
    run(db, election.initialize)
    assert run(db, election.read_config) == ElectionConfig()
    stored = read_raw(db, layout.config_key(election.subspace))
    assert stored == bytes.fromhex("1902540be40018b2d05e0019037e11d6002727")


def test_initialize_is_idempotent_and_keeps_the_first_config(
    db: Any, election: LeaderElection
) -> None:
    custom = ElectionConfig.with_lease_duration(5)
    run(db, lambda tr: election.initialize_with_config(tr, custom))
    run(db, election.initialize)
    run(db, lambda tr: election.initialize_with_config(tr, ElectionConfig(20, 1)))
    assert run(db, election.read_config) == custom


def test_write_config_replaces_the_config_even_before_initialize(
    db: Any, election: LeaderElection
) -> None:
    first = ElectionConfig(allow_preemption=False)
    run(db, lambda tr: election.write_config(tr, first))
    assert run(db, election.read_config) == first
    second = dataclasses.replace(first, election_enabled=False)
    run(db, lambda tr: election.write_config(tr, second))
    assert run(db, election.read_config) == second


def test_config_arguments_must_be_configs(db: Any, election: LeaderElection) -> None:
    with pytest.raises(TypeError, match="config must be an ElectionConfig"):
        run(db, lambda tr: election.write_config(tr, {"lease_duration": 10}))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="config must be an ElectionConfig"):
        run(db, lambda tr: election.initialize_with_config(tr, None))  # type: ignore[arg-type]
    assert snapshot_all(db) == []


# ---------------------------------------------------------------------------------------------
# register_candidate


def test_registration_writes_the_exact_versionstamped_param(
    ready: Any, election: LeaderElection
) -> None:
    # The shared vectors' first candidate: priority 0, heartbeat 1,700,000,000 s.
    recorded: list[RecordingTransaction] = []

    def body(tr: Any) -> Any:
        recording = RecordingTransaction(tr)
        recorded.append(recording)
        election.register_candidate(recording, "worker-1", 0, T0)
        return tr.get_versionstamp()

    stamp = bytes(run(ready, body).wait())
    key = layout.candidate_key(election.subspace, "worker-1")
    assert recorded[-1].versionstamped_values == [
        (key, bytes.fromhex("141c17979cfe362a000033ffffffffffffffffffff00000b000000"))
    ]
    stored = read_raw(ready, key)
    assert stored == bytes.fromhex("141c17979cfe362a000033") + stamp + b"\x00\x00"


def test_registered_candidate_carries_the_commit_versionstamp(
    ready: Any, election: LeaderElection
) -> None:
    stamp = register(ready, election, "worker-1", 5, at(1.5))
    candidate = run(ready, lambda tr: election.get_candidate(tr, "worker-1"))
    assert candidate is not None
    assert candidate.process_id == "worker-1"
    assert candidate.priority == 5
    assert candidate.last_heartbeat_nanos == 1_700_000_001_500_000_000
    assert candidate.versionstamp == stamp


def test_register_before_initialize_is_not_initialized(db: Any, election: LeaderElection) -> None:
    with pytest.raises(NotInitialized):
        run(db, lambda tr: election.register_candidate(tr, "a", 0, T0))
    assert snapshot_all(db) == []


def test_register_while_disabled_is_refused(
    ready: Any, election: LeaderElection, config: ElectionConfig
) -> None:
    disabled = dataclasses.replace(config, election_enabled=False)
    run(ready, lambda tr: election.write_config(tr, disabled))
    with pytest.raises(ElectionDisabled, match="disabled"):
        run(ready, lambda tr: election.register_candidate(tr, "a", 0, T0))
    assert run(ready, lambda tr: election.get_candidate(tr, "a")) is None


def test_registering_again_assigns_a_new_versionstamp(ready: Any, election: LeaderElection) -> None:
    first = register(ready, election, "a")
    second = register(ready, election, "a", when=at(1))
    assert second > first
    candidate = run(ready, lambda tr: election.get_candidate(tr, "a"))
    assert candidate is not None and candidate.versionstamp == second


# ---------------------------------------------------------------------------------------------
# Registration and a read of it in one transaction (improvement 3)


@pytest.mark.parametrize(
    "read_back",
    [
        lambda e, tr: e.heartbeat_candidate(tr, "a", 0, T0),
        lambda e, tr: e.try_claim_leadership(tr, "a", 0, T0),
        lambda e, tr: e.run_election_cycle(tr, "a", 0, T0),
        lambda e, tr: e.get_candidate(tr, "a"),
        lambda e, tr: e.list_candidates(tr, T0),
    ],
    ids=["heartbeat", "claim", "cycle", "get_candidate", "list_candidates"],
)
def test_reading_a_registration_in_its_own_transaction_is_a_clear_error(
    ready: Any, election: LeaderElection, read_back: Any
) -> None:
    def body(tr: Any) -> None:
        election.register_candidate(tr, "a", 0, T0)
        read_back(election, tr)

    with pytest.raises(RegistrationNotCommitted, match="Commit register_candidate") as info:
        attempt(ready, body)
    assert info.value.process_id in ("a", None)
    # Committed on its own, the same sequence works.
    register(ready, election, "a")
    run(ready, lambda tr: read_back(election, tr))


# ---------------------------------------------------------------------------------------------
# heartbeat_candidate


def test_heartbeat_updates_time_and_priority_and_keeps_the_versionstamp(
    ready: Any, election: LeaderElection
) -> None:
    stamp = register(ready, election, "a", 1)
    run(ready, lambda tr: election.heartbeat_candidate(tr, "a", 7, at(3)))
    candidate = run(ready, lambda tr: election.get_candidate(tr, "a"))
    assert candidate is not None
    assert (candidate.priority, candidate.last_heartbeat_nanos) == (7, 1_700_000_003 * 10**9)
    assert candidate.versionstamp == stamp
    stored = read_raw(ready, layout.candidate_key(election.subspace, "a"))
    assert stored == tuples.pack((7, 1_700_000_003 * 10**9, tuples.Versionstamp(stamp[:10], 0)))


def test_heartbeat_of_an_unregistered_process_is_process_not_found(
    ready: Any, election: LeaderElection
) -> None:
    with pytest.raises(ProcessNotFound, match="'ghost'") as info:
        run(ready, lambda tr: election.heartbeat_candidate(tr, "ghost", 0, T0))
    assert info.value.process_id == "ghost"


def test_heartbeat_requires_initialize_and_enabled_elections(
    db: Any, election: LeaderElection, config: ElectionConfig
) -> None:
    with pytest.raises(NotInitialized):
        run(db, lambda tr: election.heartbeat_candidate(tr, "a", 0, T0))
    register_then_disable(db, election, config)
    with pytest.raises(ElectionDisabled):
        run(db, lambda tr: election.heartbeat_candidate(tr, "a", 0, at(1)))


# ---------------------------------------------------------------------------------------------
# unregister_candidate / get_candidate


def test_unregister_removes_the_candidate_and_is_harmless_when_absent(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    run(ready, lambda tr: election.unregister_candidate(tr, "a"))
    assert run(ready, lambda tr: election.get_candidate(tr, "a")) is None
    run(ready, lambda tr: election.unregister_candidate(tr, "a"))
    with pytest.raises(UnregisteredCandidate):
        run(ready, lambda tr: election.try_claim_leadership(tr, "a", 0, T0))


def test_get_candidate_returns_dead_candidates_too(ready: Any, election: LeaderElection) -> None:
    register(ready, election, "a")
    candidate = run(ready, lambda tr: election.get_candidate(tr, "a"))
    assert candidate is not None and not candidate.is_alive(at(3600), 15)


# ---------------------------------------------------------------------------------------------
# list_candidates / evict_dead_candidates


def test_list_candidates_returns_alive_ones_by_registration_order(
    ready: Any, election: LeaderElection
) -> None:
    # Registered in the order c, a, b (not the key order); d registered long ago.
    register(ready, election, "d", when=at(-100))
    register(ready, election, "c", 3, at(0))
    register(ready, election, "a", 1, at(1))
    register(ready, election, "b", 2, at(2))
    listed = run(ready, lambda tr: election.list_candidates(tr, at(10)))
    assert [c.process_id for c in listed] == ["c", "a", "b"]
    assert [c.priority for c in listed] == [3, 1, 2]
    assert [c.versionstamp for c in listed] == sorted(c.versionstamp for c in listed)


def test_list_candidates_uses_the_candidate_timeout(ready: Any, election: LeaderElection) -> None:
    register(ready, election, "a", when=at(0))
    assert len(run(ready, lambda tr: election.list_candidates(tr, at(14.999)))) == 1
    assert run(ready, lambda tr: election.list_candidates(tr, at(15))) == []


def test_read_candidates_returns_dead_ones_too_and_sets_aside_records_that_do_not_decode(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "c", 3, at(0))
    register(ready, election, "d", when=at(-100))  # dead: still registered, still returned
    register(ready, election, "a", 1, at(1))
    bad_value = layout.candidate_key(election.subspace, "b")
    bad_key = election.subspace.pack((layout.CANDIDATES, 7))  # the id is no string
    run(ready, lambda tr: (tr.set(bad_value, b"not a tuple"), tr.set(bad_key, b"")))
    found, unreadable = run(ready, election.read_candidates)
    assert [c.process_id for c in found] == ["c", "d", "a"]  # registration order
    assert sorted(unreadable) == sorted([bad_value, bad_key])
    assert "'b'" in str(unreadable[bad_value])
    with pytest.raises(InvalidState, match="does not decode"):  # the seed's call still refuses
        run(ready, lambda tr: election.list_candidates(tr, at(10)))


def test_list_candidates_requires_initialize(db: Any, election: LeaderElection) -> None:
    with pytest.raises(NotInitialized):
        run(db, lambda tr: election.list_candidates(tr, T0))


def test_evict_dead_candidates_removes_only_timed_out_ones(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "old", when=at(0))
    register(ready, election, "older", when=at(-5))
    register(ready, election, "fresh", when=at(10))
    evicted = run(ready, lambda tr: election.evict_dead_candidates(tr, at(15)))
    assert evicted == 2
    assert run(ready, lambda tr: election.get_candidate(tr, "old")) is None
    assert run(ready, lambda tr: election.get_candidate(tr, "older")) is None
    assert run(ready, lambda tr: election.get_candidate(tr, "fresh")) is not None
    assert run(ready, lambda tr: election.evict_dead_candidates(tr, at(15))) == 0


def test_evict_requires_initialize(db: Any, election: LeaderElection) -> None:
    with pytest.raises(NotInitialized):
        run(db, lambda tr: election.evict_dead_candidates(tr, T0))


def _put_candidates(db: Any, election: LeaderElection, heartbeats: dict[str, float]) -> None:
    """Write candidates directly (fixed stamp), many per transaction: last heartbeat at(s)."""

    def body(tr: Any) -> None:
        for pid, seconds in heartbeats.items():
            nanos = (1_700_000_000 + seconds) * 1_000_000_000
            value = layout.encode_candidate(0, int(nanos), bytes(12))
            tr[layout.candidate_key(election.subspace, pid)] = value

    run(db, body)


def _candidate_ids(db: Any, election: LeaderElection) -> list[str]:
    begin, end = layout.candidates_range(election.subspace)

    def body(tr: Any) -> list[str]:
        return [layout.candidate_process_id(election.subspace, kv.key) for kv in tr[begin:end]]

    return run(db, body)


def test_evict_with_a_limit_removes_at_most_that_many_dead_ones_in_key_order(
    ready: Any, election: LeaderElection
) -> None:
    _put_candidates(ready, election, {"a": 0, "b": 20, "c": 0, "d": 0, "e": 20, "f": 0})

    def evict(limit: int) -> int:
        return run(ready, lambda tr: election.evict_dead_candidates(tr, at(20), limit=limit))

    assert evict(2) == 2
    assert _candidate_ids(ready, election) == ["b", "d", "e", "f"]
    assert evict(1) == 1
    assert _candidate_ids(ready, election) == ["b", "e", "f"]
    assert evict(5) == 1  # fewer dead ones than the limit: all of them
    assert _candidate_ids(ready, election) == ["b", "e"]
    assert evict(1) == 0


def test_evict_with_a_limit_scans_past_many_alive_candidates(
    ready: Any, election: LeaderElection
) -> None:
    # 2,500 alive candidates first in key order (several scan batches), then dead ones.
    alive = {f"alive-{i:05d}": 20 for i in range(2_500)}
    dead = {f"dead-{i:05d}": 0 for i in range(30)}
    _put_candidates(ready, election, {**alive, **dead})
    evicted = run(ready, lambda tr: election.evict_dead_candidates(tr, at(20), limit=25))
    assert evicted == 25
    assert _candidate_ids(ready, election) == sorted(alive) + sorted(dead)[25:]
    assert run(ready, lambda tr: election.evict_dead_candidates(tr, at(20))) == 5


def test_evict_with_a_limit_still_requires_initialize(db: Any, election: LeaderElection) -> None:
    with pytest.raises(NotInitialized):
        run(db, lambda tr: election.evict_dead_candidates(tr, T0, limit=10))


@pytest.mark.parametrize(
    ("limit", "error", "message"),
    [
        (0, ValueError, "limit must be a positive int \\(at least 1\\) or None, got 0"),
        (-3, ValueError, "got -3"),
        (2.0, TypeError, "limit must be a positive int or None, got float"),
        (True, TypeError, "got bool"),
        ("10", TypeError, "got str"),
    ],
)
def test_evict_limit_is_checked_before_anything_is_written(
    ready: Any, election: LeaderElection, limit: Any, error: type[Exception], message: str
) -> None:
    _put_candidates(ready, election, {"a": 0})
    before = snapshot_all(ready)
    with pytest.raises(error, match=message):
        run(ready, lambda tr: election.evict_dead_candidates(tr, at(20), limit=limit))
    assert snapshot_all(ready) == before


def test_elections_are_isolated_by_subspace(ready: Any, election: LeaderElection) -> None:
    other = LeaderElection(("another-election",))
    run(ready, other.initialize)
    register(ready, election, "a")
    assert run(ready, lambda tr: other.list_candidates(tr, T0)) == []


# ---------------------------------------------------------------------------------------------
# Argument validation happens before anything is written

BAD_ARGUMENTS = [
    ("", 0, T0, ValueError, "process_id must be a non-empty str"),
    (5, 0, T0, TypeError, "process_id must be a str"),
    ("x" * 10_000, 0, T0, ValueError, "at most 10000 bytes"),
    ("\udc80", 0, T0, ValueError, "UTF-8"),
    ("a", 2**31, T0, ValueError, "priority must be from -2147483648 to 2147483647"),
    ("a", -(2**31) - 1, T0, ValueError, "priority must be from"),
    ("a", True, T0, TypeError, "priority must be an int"),
    ("a", 1.0, T0, TypeError, "priority must be an int"),
    ("a", 0, -1, ValueError, "current_time must be zero or more"),
    ("a", 0, "now", TypeError, "current_time must be a datetime.timedelta"),
]


@pytest.mark.parametrize(
    ("process_id", "priority", "when", "error", "message"),
    BAD_ARGUMENTS,
    ids=[
        "empty id", "int id", "huge id", "surrogate id", "priority too high", "priority too low",
        "bool priority", "float priority", "negative time", "string time",
    ],
)  # fmt: skip
@pytest.mark.parametrize("operation", ["register", "heartbeat", "claim", "cycle"])
def test_bad_arguments_are_refused_before_any_write(
    ready: Any,
    election: LeaderElection,
    operation: str,
    process_id: Any,
    priority: Any,
    when: Any,
    error: type[Exception],
    message: str,
) -> None:
    method = {
        "register": election.register_candidate,
        "heartbeat": election.heartbeat_candidate,
        "claim": election.try_claim_leadership,
        "cycle": election.run_election_cycle,
    }[operation]
    before = snapshot_all(ready)
    with pytest.raises(error, match=message):
        run(ready, lambda tr: method(tr, process_id, priority, when))
    assert snapshot_all(ready) == before


def test_longest_allowed_process_id_registers(ready: Any, election: LeaderElection) -> None:
    overhead = len(layout.candidate_key(election.subspace, "x")) - 1
    process_id = "x" * (10_000 - overhead)
    register(ready, election, process_id)
    assert run(ready, lambda tr: election.get_candidate(tr, process_id)) is not None
    with pytest.raises(ValueError, match="would be 10001 bytes"):
        run(ready, lambda tr: election.unregister_candidate(tr, process_id + "x"))
