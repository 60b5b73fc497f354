"""Mixed Rust/Python elections: Python's ballots never repeat a ballot a Python process read.

Rust processes are played by ``rust_recipe`` (the crate's rules: ``leader ballot + 1``, 1 after a
resignation cleared the key, no mark, no tenure record). The three sequences measured live
against FoundationDB 7.3 with the Rust recipe v0.11 (docs/differences-from-rust.md, *Mixed
elections*) are replayed here; each ended with a Python claim that repeated a Rust ballot.
"""

from __future__ import annotations

from typing import Any

import pytest
from election_helpers import at, read_raw, register, run

from fdb_election.election import (
    Follower,
    InvalidState,
    LeaderElection,
    LeaderState,
    layout,
)
from rust_recipe import rust_claim, rust_resign

U64_MAX = 2**64 - 1


def rust(db: Any, election: LeaderElection, pid: str, seconds: float, priority: int = 0) -> int:
    """A Rust claim or refresh, committed; its ballot."""
    state = run(db, lambda tr: rust_claim(tr, election, pid, priority, at(seconds)))
    assert state is not None, f"the Rust process {pid} could not claim"
    return state.ballot


def python_follows(db: Any, election: LeaderElection, pid: str, seconds: float) -> LeaderState:
    """A Python candidate's cycle that finds another leader; the leader it read."""
    result = run(db, lambda tr: election.run_election_cycle(tr, pid, 0, at(seconds)))
    assert isinstance(result, Follower) and result.state is not None
    return result.state


def python_claims(db: Any, election: LeaderElection, pid: str, seconds: float) -> int:
    state = run(db, lambda tr: election.try_claim_leadership(tr, pid, 0, at(seconds)))
    assert state is not None
    return state.ballot


def seen(db: Any, election: LeaderElection) -> bytes | None:
    return read_raw(db, layout.ballot_seen_key(election.subspace))


# ---------------------------------------------------------------------------------------------
# The key and its encoding


def test_ballot_seen_is_an_8_byte_little_endian_max(db: Any, election: LeaderElection) -> None:
    run(db, lambda tr: election.note_observed_ballot(tr, 0x0102))
    assert seen(db, election) == bytes.fromhex("0201000000000000")
    run(db, lambda tr: election.note_observed_ballot(tr, 7))
    assert seen(db, election) == bytes.fromhex("0201000000000000"), "a max never lowers it"
    run(db, lambda tr: election.note_observed_ballot(tr, U64_MAX))
    assert seen(db, election) == b"\xff" * 8
    assert layout.decode_ballot_seen(b"\xff" * 8) == U64_MAX


def test_ballot_seen_is_a_key_of_our_own(election: LeaderElection) -> None:
    key = layout.ballot_seen_key(election.subspace)
    assert election.subspace.unpack(key) == ("ballot_seen",)
    rust_keys = {layout.config_key(election.subspace), layout.leader_key(election.subspace)}
    assert key not in rust_keys
    begin, end = layout.candidates_range(election.subspace)
    assert not begin <= key < end


@pytest.mark.parametrize("bad", [-1, 2**64, 1.0, True, "3"])
def test_a_bad_ballot_is_refused_before_anything_is_written(
    db: Any, election: LeaderElection, bad: Any
) -> None:
    with pytest.raises((TypeError, ValueError)):
        run(db, lambda tr: election.note_observed_ballot(tr, bad))
    assert seen(db, election) is None


@pytest.mark.parametrize("stored", [b"", b"\x01", b"\x01" * 9, layout.encode_ballot_mark(3)])
def test_a_ballot_seen_of_another_width_is_invalid(
    ready: Any, election: LeaderElection, stored: bytes
) -> None:
    register(ready, election, "a")
    run(ready, lambda tr: tr.set(layout.ballot_seen_key(election.subspace), stored))
    with pytest.raises(InvalidState, match="ballot_seen"):
        run(ready, lambda tr: election.try_claim_leadership(tr, "a", 0, at(0)))
    with pytest.raises(InvalidState, match="ballot_seen"):
        run(ready, election.highest_ballot)


def test_a_ballot_seen_at_the_largest_u64_stops_claims(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    run(ready, lambda tr: election.note_observed_ballot(tr, U64_MAX))
    with pytest.raises(InvalidState, match="cannot grow"):
        run(ready, lambda tr: election.try_claim_leadership(tr, "a", 0, at(0)))


# ---------------------------------------------------------------------------------------------
# The next-ballot rule, highest_ballot and raise_ballot_floor


def test_claims_and_refreshes_continue_above_the_ballot_seen(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    run(ready, lambda tr: election.note_observed_ballot(tr, 40))
    assert python_claims(ready, election, "a", 0) == 41
    run(ready, lambda tr: election.note_observed_ballot(tr, 50))
    refreshed = run(ready, lambda tr: election.refresh_lease(tr, "a", at(1)))
    assert refreshed is not None and refreshed.ballot == 51


def test_highest_ballot_and_the_floor_count_the_ballot_seen(
    ready: Any, election: LeaderElection
) -> None:
    run(ready, lambda tr: election.note_observed_ballot(tr, 30))
    assert run(ready, election.highest_ballot) == 30
    assert run(ready, lambda tr: election.raise_ballot_floor(tr, 30)) is False, "already above"
    assert run(ready, lambda tr: election.raise_ballot_floor(tr, 31)) is True
    assert run(ready, election.highest_ballot) == 31


def test_a_python_follower_records_the_rust_ballot_it_reads(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "rust")
    register(ready, election, "py")
    assert rust(ready, election, "rust", 0) == 1
    assert python_follows(ready, election, "py", 0).ballot == 1
    assert seen(ready, election) == layout.encode_ballot_seen(1)
    # Rust writes nothing of ours: no mark, no tenure.
    assert read_raw(ready, layout.ballot_key(election.subspace)) is None
    assert read_raw(ready, layout.tenure_key(election.subspace)) is None


# ---------------------------------------------------------------------------------------------
# The three measured sequences


def test_measured_1_rust_resigns_after_1_to_19_python_claims_20_not_1(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "rust")
    register(ready, election, "py")
    for second in range(19):
        ballot = rust(ready, election, "rust", second)  # a claim, then refreshes
        assert ballot == second + 1
        assert python_follows(ready, election, "py", second).ballot == ballot
    assert run(ready, lambda tr: rust_resign(tr, election, "rust"))  # clears the leader key
    assert python_claims(ready, election, "py", 19) == 20  # measured before: 1


def test_measured_2_rust_issues_81_to_89_over_a_mark_of_80_python_claims_90_not_81(
    ready: Any, election: LeaderElection
) -> None:
    for pid in ("rust", "py", "py2"):
        register(ready, election, pid)
    run(ready, lambda tr: election.raise_ballot_floor(tr, 79))
    assert python_claims(ready, election, "py", 0) == 80
    # py is killed; once its 10 s lease ran out the Rust process claims over it.
    for i, expected in enumerate(range(81, 90)):
        assert rust(ready, election, "rust", 11 + i) == expected
        assert python_follows(ready, election, "py2", 11 + i).ballot == expected
    assert run(ready, lambda tr: rust_resign(tr, election, "rust"))
    assert run(ready, lambda tr: election.highest_ballot(tr)) == 89
    assert python_claims(ready, election, "py2", 20) == 90  # measured before: 81


def test_measured_3_rust_claims_148_over_147_python_claims_149_not_148(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "rust", priority=5)
    register(ready, election, "py")
    run(ready, lambda tr: election.raise_ballot_floor(tr, 146))
    assert python_claims(ready, election, "py", 0) == 147
    assert rust(ready, election, "rust", 1, priority=5) == 148  # preempts over a live lease
    assert python_follows(ready, election, "py", 1).ballot == 148
    assert run(ready, lambda tr: rust_resign(tr, election, "rust"))
    assert python_claims(ready, election, "py", 2) == 149  # measured before: 148


def test_the_limit_a_rust_ballot_no_python_process_read_can_repeat(
    ready: Any, election: LeaderElection
) -> None:
    """The remaining window: Rust ballots cleared by a Rust resignation before any Python
    process read them are unknown to Python (what docs/differences-from-rust.md states)."""
    register(ready, election, "rust")
    register(ready, election, "py")
    for second in range(5):
        rust(ready, election, "rust", second)  # 1..5, no Python process reading
    assert run(ready, lambda tr: rust_resign(tr, election, "rust"))
    assert python_claims(ready, election, "py", 5) == 1, "1..5 were never read by Python"


def test_rust_ballots_after_a_python_resignation_restart_at_1(
    ready: Any, election: LeaderElection
) -> None:
    """The other direction, Rust's rule: Rust tokens repeat Python's; Python's keep growing."""
    register(ready, election, "rust")
    register(ready, election, "py")
    assert python_claims(ready, election, "py", 0) == 1
    refreshed = run(ready, lambda tr: election.refresh_lease(tr, "py", at(1)))
    assert refreshed is not None and refreshed.ballot == 2
    assert run(ready, lambda tr: election.resign_leadership(tr, "py"))
    assert rust(ready, election, "rust", 2) == 1
    assert rust(ready, election, "rust", 3) == 2  # repeats Python's 2: Rust keeps no mark
    assert python_follows(ready, election, "py", 3).ballot == 2
    assert run(ready, lambda tr: rust_resign(tr, election, "rust"))
    assert python_claims(ready, election, "py", 4) == 3


# ---------------------------------------------------------------------------------------------
# Conflicts


def _claim_reads_done(db: Any, election: LeaderElection, pid: str, seconds: float) -> Any:
    """A transaction that has claimed (reads done, writes buffered) but not committed."""
    tr = db.create_transaction()
    state = election.try_claim_leadership(tr, pid, 0, at(seconds))
    assert state is not None
    return tr, state


def _follower_notes(db: Any, election: LeaderElection) -> Any:
    """A follower's transaction: the leader read without snapshot, its ballot noted."""
    tr = db.create_transaction()
    record = election.get_leader_raw(tr)
    assert record is not None
    election.note_observed_ballot(tr, record.ballot)
    return tr


def test_followers_noting_ballots_never_make_a_claim_conflict(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "rust")
    register(ready, election, "py")
    assert rust(ready, election, "rust", 0) == 1  # expires at 10 s
    claim, state = _claim_reads_done(ready, election, "py", 11)
    first, second = _follower_notes(ready, election), _follower_notes(ready, election)
    first.commit().wait()
    second.commit().wait()  # two blind maxes of one key: no conflict between them
    claim.commit().wait()  # read ballot_seen as a snapshot: the maxes do not conflict with it
    assert state.ballot == 2
    assert seen(ready, election) == layout.encode_ballot_seen(1)


def test_a_note_commits_only_while_the_leader_key_is_unchanged(
    ready: Any, election: LeaderElection
) -> None:
    """A claim reads ballot_seen as a snapshot because a note that lands after that read
    carries a ballot the claim also reads in the leader key; if the key changed, the note
    fails instead (1020), so a committed ballot_seen never holds a ballot a claim missed."""
    register(ready, election, "rust")
    register(ready, election, "py")
    rust(ready, election, "rust", 0)
    follower = _follower_notes(ready, election)
    assert run(ready, lambda tr: rust_resign(tr, election, "rust"))
    with pytest.raises(Exception) as failed:
        follower.commit().wait()
    assert getattr(failed.value, "code", None) == 1020
    assert seen(ready, election) is None
