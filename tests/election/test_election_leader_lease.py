"""leader_lease_ns(): the lease the current leader record was written with, kept in the tenure."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from election_helpers import at, read_raw, register, run, write_raw

from fdb_election import tuples
from fdb_election.election import ElectionConfig, InvalidState, LeaderElection, LeaderState, layout

SECOND = 1_000_000_000


def lease_ns(db: Any, election: LeaderElection) -> int | None:
    return run(db, election.leader_lease_ns)


def set_lease(db: Any, election: LeaderElection, config: ElectionConfig, seconds: int) -> None:
    lowered = ElectionConfig(
        lease_duration=seconds,
        heartbeat_interval=1,
        candidate_timeout=config.candidate_timeout,
        election_enabled=config.election_enabled,
        allow_preemption=config.allow_preemption,
    )
    run(db, lambda tr: election.write_config(tr, lowered))


@pytest.fixture
def leader(ready: Any, election: LeaderElection) -> LeaderState:
    register(ready, election, "a")
    state = run(ready, lambda tr: election.try_claim_leadership(tr, "a", 0, at(0)))
    assert state is not None
    return state  # type: ignore[no-any-return]


def test_none_when_nobody_leads(ready: Any, election: LeaderElection) -> None:
    assert lease_ns(ready, election) is None


def test_a_claim_records_its_lease(
    ready: Any, election: LeaderElection, config: ElectionConfig, leader: LeaderState
) -> None:
    assert lease_ns(ready, election) == config.lease_duration_ns == 10 * SECOND
    tenure = layout.decode_tenure(read_raw(ready, layout.tenure_key(election.subspace)) or b"")
    assert tenure.lease_ns == 10 * SECOND
    assert tenure.leader_value == layout.encode_leader(leader)


def test_the_recorded_lease_is_the_one_the_write_used_not_the_current_config(
    ready: Any, election: LeaderElection, config: ElectionConfig, leader: LeaderState
) -> None:
    set_lease(ready, election, config, 2)
    # The leader still holds the 10 s lease it claimed with, whatever the config says now.
    assert lease_ns(ready, election) == 10 * SECOND
    refreshed = run(ready, lambda tr: election.refresh_lease(tr, "a", at(1)))
    assert refreshed.lease_expiry_nanos == leader.lease_expiry_nanos - 7 * SECOND  # at(1) + 2 s
    assert lease_ns(ready, election) == 2 * SECOND
    set_lease(ready, election, config, 30)
    run(ready, lambda tr: election.run_election_cycle(tr, "a", 0, at(2)))
    assert lease_ns(ready, election) == 30 * SECOND


def test_none_once_the_leader_resigned(
    ready: Any, election: LeaderElection, leader: LeaderState
) -> None:
    assert run(ready, lambda tr: election.resign_leadership(tr, "a"))
    assert lease_ns(ready, election) is None


def test_none_for_a_leader_value_this_library_did_not_write(
    ready: Any, election: LeaderElection, leader: LeaderState
) -> None:
    # A Rust process refreshing the lease: same holder, next ballot, no tenure record update.
    rust = dataclasses.replace(leader, ballot=leader.ballot + 1)
    write_raw(ready, layout.leader_key(election.subspace), layout.encode_leader(rust))
    assert lease_ns(ready, election) is None


def test_none_for_a_tenure_in_the_old_two_element_form(
    ready: Any, election: LeaderElection, leader: LeaderState
) -> None:
    old = tuples.pack((leader.ballot, layout.encode_leader(leader)))
    write_raw(ready, layout.tenure_key(election.subspace), old)
    assert lease_ns(ready, election) is None
    # The fence still accepts the old form: only the lease is unknown.
    assert run(ready, lambda tr: election.fence(tr, "a", leader.ballot)) == leader


def test_none_without_a_tenure_record(
    ready: Any, election: LeaderElection, leader: LeaderState
) -> None:
    run(ready, lambda tr: tr.clear(layout.tenure_key(election.subspace)))
    assert lease_ns(ready, election) is None


@pytest.mark.parametrize(
    "value",
    [b"\x01", tuples.pack((1, b"x", 0)), tuples.pack((1, b"x", "10")), tuples.pack((1,))],
    ids=["not a tuple", "zero lease", "string lease", "one element"],
)
def test_a_corrupt_tenure_is_invalid_state(
    ready: Any, election: LeaderElection, leader: LeaderState, value: bytes
) -> None:
    write_raw(ready, layout.tenure_key(election.subspace), value)
    with pytest.raises(InvalidState, match="tenure"):
        lease_ns(ready, election)


def test_a_corrupt_leader_is_invalid_state(
    ready: Any, election: LeaderElection, leader: LeaderState
) -> None:
    write_raw(ready, layout.leader_key(election.subspace), b"\x99")
    with pytest.raises(InvalidState, match="leader"):
        lease_ns(ready, election)


def test_the_read_conflicts_with_a_new_claim(
    ready: Any, election: LeaderElection, leader: LeaderState
) -> None:
    register(ready, election, "b")
    reader = ready.create_transaction()
    assert election.leader_lease_ns(reader) == 10 * SECOND
    reader[election.subspace.pack(("test-marker",))] = b"1"  # read-only commits never conflict
    run(ready, lambda tr: election.try_claim_leadership(tr, "b", 0, at(11)))
    with pytest.raises(Exception) as info:
        reader.commit().wait()
    assert getattr(info.value, "code", None) == 1020
