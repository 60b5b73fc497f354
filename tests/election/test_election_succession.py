"""The succession key: written when a tenure starts, cleared at resignation, never by a refresh,
and what leadership_key() tells a waiting process to watch."""

from __future__ import annotations

from typing import Any

import pytest
from election_helpers import at, read_raw, register, run, write_raw

from fdb_election import tuples
from fdb_election.election import InvalidState, LeaderElection, layout
from rust_recipe import rust_claim


def succession(db: Any, election: LeaderElection) -> int | None:
    value = read_raw(db, layout.succession_key(election.subspace))
    return None if value is None else layout.decode_succession(value)


def watch_key(db: Any, election: LeaderElection) -> bytes:
    return run(db, election.leadership_key)


def test_a_claim_announces_its_tenure_and_refreshes_leave_it_alone(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    claimed = run(ready, lambda tr: election.try_claim_leadership(tr, "a", 0, at(0)))
    assert claimed is not None
    assert succession(ready, election) == claimed.ballot
    before = read_raw(ready, layout.succession_key(election.subspace))
    for second in (1, 2, 3):
        refreshed = run(ready, lambda tr, s=second: election.refresh_lease(tr, "a", at(s)))
        assert refreshed is not None and refreshed.ballot > claimed.ballot
    assert read_raw(ready, layout.succession_key(election.subspace)) == before
    assert run(ready, lambda tr: election.resign_leadership(tr, "a"))
    assert succession(ready, election) is None


def test_every_new_tenure_is_announced_with_its_first_ballot(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    register(ready, election, "b")
    first = run(ready, lambda tr: election.try_claim_leadership(tr, "a", 0, at(0)))
    # b takes over the expired lease: another tenure.
    second = run(ready, lambda tr: election.try_claim_leadership(tr, "b", 0, at(60)))
    assert second is not None and second.ballot > first.ballot
    assert succession(ready, election) == second.ballot
    # The same holder taking its record up again after it stopped counting itself leader.
    renewed = run(ready, lambda tr: election.refresh_lease(tr, "b", at(61), new_tenure=True))
    assert renewed is not None
    assert succession(ready, election) == renewed.ballot


def test_leadership_key_is_the_succession_key_only_for_an_announced_tenure(
    ready: Any, election: LeaderElection
) -> None:
    leader_key = layout.leader_key(election.subspace)
    succession_key = layout.succession_key(election.subspace)
    assert watch_key(ready, election) == leader_key  # nobody leads: any claim changes it
    register(ready, election, "a")
    run(ready, lambda tr: election.try_claim_leadership(tr, "a", 0, at(0)))
    assert watch_key(ready, election) == succession_key
    run(ready, lambda tr: election.refresh_lease(tr, "a", at(1)))
    assert watch_key(ready, election) == succession_key
    run(ready, lambda tr: election.resign_leadership(tr, "a"))
    assert watch_key(ready, election) == leader_key


@pytest.mark.parametrize(
    "announcement",
    [None, tuples.pack((999,)), b"\x01not a tuple", tuples.pack(("text",))],
    ids=["missing", "another-tenure", "garbled", "wrong-type"],
)
def test_a_tenure_that_is_not_announced_is_watched_through_the_leader_key(
    ready: Any, election: LeaderElection, announcement: bytes | None
) -> None:
    """An earlier version of this library wrote no announcement; a value that does not decode,
    or names another tenure, announces nothing either."""
    register(ready, election, "a")
    run(ready, lambda tr: election.try_claim_leadership(tr, "a", 0, at(0)))
    write_raw(ready, layout.succession_key(election.subspace), announcement)
    assert watch_key(ready, election) == layout.leader_key(election.subspace)


def test_a_record_written_by_rust_is_watched_through_the_leader_key(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    run(ready, lambda tr: election.try_claim_leadership(tr, "a", 0, at(0)))
    run(ready, lambda tr: election.resign_leadership(tr, "a"))
    register(ready, election, "rust")
    assert run(ready, lambda tr: rust_claim(tr, election, "rust", 0, at(1))) is not None
    assert watch_key(ready, election) == layout.leader_key(election.subspace)
    # Our processes still announce their own claims after it.
    run(ready, lambda tr: election.try_claim_leadership(tr, "a", 0, at(60)))
    assert watch_key(ready, election) == layout.succession_key(election.subspace)


def test_succession_values_round_trip_and_reject_garbage() -> None:
    assert layout.decode_succession(layout.encode_succession(7)) == 7
    assert layout.encode_succession(7) == tuples.pack((7,))
    for bad in (b"", tuples.pack((-1,)), tuples.pack((1, 2)), tuples.pack(("x",))):
        with pytest.raises(InvalidState, match="succession"):
            layout.decode_succession(bad)
    with pytest.raises(ValueError):
        layout.encode_succession(-1)
