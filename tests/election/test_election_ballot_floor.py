"""highest_ballot() and raise_ballot_floor(): carrying ballots over to another database."""

from __future__ import annotations

from typing import Any

import pytest
from election_helpers import at, read_raw, register, run

from fdb_election.election import LeaderElection, layout


def claim(db: Any, election: LeaderElection, pid: str, seconds: float) -> int:
    state = run(db, lambda tr: election.try_claim_leadership(tr, pid, 0, at(seconds)))
    assert state is not None
    return state.ballot


def test_highest_ballot_is_zero_before_any_claim(ready: Any, election: LeaderElection) -> None:
    assert run(ready, election.highest_ballot) == 0


def test_highest_ballot_follows_claims_refreshes_and_resignations(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    first = claim(ready, election, "a", 0)
    assert run(ready, election.highest_ballot) == first
    refreshed = run(ready, lambda tr: election.refresh_lease(tr, "a", at(1)))
    assert refreshed is not None and run(ready, election.highest_ballot) == refreshed.ballot
    assert run(ready, lambda tr: election.resign_leadership(tr, "a"))
    assert run(ready, election.highest_ballot) == refreshed.ballot, "kept across a resignation"


def test_raising_the_floor_makes_the_next_claim_continue_above_it(
    ready: Any, election: LeaderElection
) -> None:
    assert run(ready, lambda tr: election.raise_ballot_floor(tr, 41)) is True
    assert run(ready, election.highest_ballot) == 41
    register(ready, election, "a")
    assert claim(ready, election, "a", 0) == 42


def test_the_floor_never_goes_down(ready: Any, election: LeaderElection) -> None:
    run(ready, lambda tr: election.raise_ballot_floor(tr, 10))
    before = read_raw(ready, layout.ballot_key(election.subspace))
    assert run(ready, lambda tr: election.raise_ballot_floor(tr, 3)) is False
    assert run(ready, lambda tr: election.raise_ballot_floor(tr, 10)) is False
    assert read_raw(ready, layout.ballot_key(election.subspace)) == before
    assert run(ready, election.highest_ballot) == 10


def test_a_floor_below_the_current_leader_changes_nothing_for_it(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    for second in range(3):
        claim(ready, election, "a", second)
    current = run(ready, election.highest_ballot)
    run(ready, lambda tr: election.raise_ballot_floor(tr, 1))
    assert claim(ready, election, "a", 5) == current + 1


@pytest.mark.parametrize("bad", [-1, 2**64, 1.5, "7", True, None])
def test_bad_floors_are_refused_before_anything_is_written(
    ready: Any, election: LeaderElection, bad: object
) -> None:
    with pytest.raises((TypeError, ValueError), match="ballot"):
        run(ready, lambda tr: election.raise_ballot_floor(tr, bad))  # type: ignore[arg-type]
    assert read_raw(ready, layout.ballot_key(election.subspace)) is None
