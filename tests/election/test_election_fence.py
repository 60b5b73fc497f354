"""fence(): a protected write commits only while its process holds the tenure of its ballot."""

from __future__ import annotations

from typing import Any

import pytest
from election_helpers import T0, at, register, run

from fdb_election.election import LeaderElection, LeaderState, NotLeader, layout

SECOND = 1_000_000_000
RESOURCE = b"fence-test-resource"


def claim(db: Any, election: LeaderElection, pid: str, when: Any, priority: int = 0) -> Any:
    return run(db, lambda tr: election.try_claim_leadership(tr, pid, priority, when))


def fence(db: Any, election: LeaderElection, pid: str, ballot: int, when: Any = None) -> Any:
    return run(db, lambda tr: election.fence(tr, pid, ballot, when))


@pytest.fixture
def leader(ready: Any, election: LeaderElection) -> LeaderState:
    register(ready, election, "a")
    register(ready, election, "b")
    state = claim(ready, election, "a", at(0))
    assert state is not None
    return state  # type: ignore[no-any-return]


def test_the_leader_passes_with_its_claim_ballot_and_later_ballots(
    ready: Any, election: LeaderElection, leader: LeaderState
) -> None:
    assert fence(ready, election, "a", leader.ballot) == leader
    refreshed = run(ready, lambda tr: election.refresh_lease(tr, "a", at(3)))
    again = claim(ready, election, "a", at(6))  # a re-claim continues the same tenure
    for ballot in (leader.ballot, refreshed.ballot, again.ballot):
        assert fence(ready, election, "a", ballot, at(7)) == again


def test_a_follower_fails(ready: Any, election: LeaderElection, leader: LeaderState) -> None:
    with pytest.raises(NotLeader, match="'a' leads now") as info:
        fence(ready, election, "b", leader.ballot)
    assert (info.value.process_id, info.value.ballot) == ("b", leader.ballot)


def test_nobody_leads_after_a_resignation(
    ready: Any, election: LeaderElection, leader: LeaderState
) -> None:
    run(ready, lambda tr: election.resign_leadership(tr, "a"))
    with pytest.raises(NotLeader, match="nobody leads"):
        fence(ready, election, "a", leader.ballot)


def test_a_ballot_of_an_earlier_tenure_fails_even_for_the_same_process(
    ready: Any, election: LeaderElection, leader: LeaderState
) -> None:
    claim(ready, election, "b", at(10))  # a's lease expired: b takes over
    back = claim(ready, election, "a", at(20))  # and a comes back
    with pytest.raises(NotLeader, match="earlier tenure"):
        fence(ready, election, "a", leader.ballot)
    assert fence(ready, election, "a", back.ballot) == back


def test_a_refresh_that_starts_a_new_tenure_retires_the_earlier_ballots(
    ready: Any, election: LeaderElection, leader: LeaderState
) -> None:
    """An elector whose deadline passed takes its record up again in a new tenure."""
    renewed = run(ready, lambda tr: election.refresh_lease(tr, "a", at(12), new_tenure=True))
    assert renewed.ballot > leader.ballot
    with pytest.raises(NotLeader, match="earlier tenure"):
        fence(ready, election, "a", leader.ballot)
    refreshed = run(ready, lambda tr: election.refresh_lease(tr, "a", at(13)))
    for ballot in (renewed.ballot, refreshed.ballot):
        assert fence(ready, election, "a", ballot) == refreshed


def test_a_ballot_never_issued_fails(
    ready: Any, election: LeaderElection, leader: LeaderState
) -> None:
    with pytest.raises(NotLeader, match="never issued"):
        fence(ready, election, "a", leader.ballot + 1)


def test_with_a_time_the_lease_must_be_valid(
    ready: Any, election: LeaderElection, leader: LeaderState
) -> None:
    assert fence(ready, election, "a", leader.ballot, at(9)) == leader
    with pytest.raises(NotLeader, match="lease expired"):
        fence(ready, election, "a", leader.ballot, at(10))
    assert fence(ready, election, "a", leader.ballot) == leader  # no time: tenure only


def test_a_leader_written_by_a_process_without_tenure_records_fails(
    ready: Any, election: LeaderElection, leader: LeaderState
) -> None:
    # A Rust process refreshing the lease: same holder, next ballot, no tenure record update.
    rust = LeaderState(leader.ballot + 1, "a", 0, leader.lease_expiry_nanos + SECOND, bytes(12))

    def body(tr: Any) -> None:
        tr[layout.leader_key(election.subspace)] = layout.encode_leader(rust)

    run(ready, body)
    with pytest.raises(NotLeader, match="without a tenure record"):
        fence(ready, election, "a", leader.ballot)
    # The next refresh by this library starts a new tenure the fence can confirm.
    refreshed = run(ready, lambda tr: election.refresh_lease(tr, "a", at(2)))
    assert fence(ready, election, "a", refreshed.ballot) == refreshed
    with pytest.raises(NotLeader, match="earlier tenure"):
        fence(ready, election, "a", leader.ballot)


def test_a_fenced_write_does_not_commit_after_leadership_changed(
    ready: Any, election: LeaderElection, leader: LeaderState
) -> None:
    protected = ready.create_transaction()
    election.fence(protected, "a", leader.ballot, at(5))
    protected[RESOURCE] = b"written by a"
    # Meanwhile b takes over (a high priority preempts) and commits first.
    run(ready, lambda tr: election.try_claim_leadership(tr, "b", 100, at(1)))
    with pytest.raises(Exception) as info:
        protected.commit().wait()
    assert getattr(info.value, "code", None) == 1020

    def read(tr: Any) -> Any:
        value = tr.get(RESOURCE)
        return bytes(value) if value.present() else None

    assert run(ready, read) is None


def test_fence_checks_its_arguments(ready: Any, election: LeaderElection) -> None:
    with pytest.raises(ValueError, match="ballot must be from 0 to 2\\*\\*64-1"):
        fence(ready, election, "a", -1)
    with pytest.raises(TypeError, match="ballot must be an int"):
        fence(ready, election, "a", "1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="process_id must be a non-empty str"):
        fence(ready, election, "", 1)
    with pytest.raises(ValueError, match="current_time must be zero or more"):
        fence(ready, election, "a", 1, T0 * -1)
