"""Operations through one ElectionCycle behave exactly as the seed methods do in the same
transaction: the same results and errors, and the same values left in the transaction.

Each example sets up one committed state (candidates registered, maybe a leader), then runs the
same random sequence of operations twice from it, each in a transaction that is not committed:
once through the seed methods (every call reads afresh, through the transaction's own writes)
and once through a single cycle (each key read once, then taken from what the cycle read or
wrote). The cycle's cache must never show a stale value.
"""

from __future__ import annotations

import itertools
from typing import Any

import hypothesis.strategies as st
import pytest
from election_helpers import at, register, run
from hypothesis import HealthCheck, given, settings

from fdb_election import embedded
from fdb_election.election import ElectionConfig, LeaderElection, layout

_names = itertools.count()
PROCESSES = ("a", "b")

OPERATION = st.one_of(
    st.tuples(st.just("heartbeat"), st.integers(-1, 1), st.integers(0, 30)),
    st.tuples(st.just("try_claim"), st.integers(-1, 1), st.integers(0, 30)),
    st.tuples(st.just("refresh"), st.booleans(), st.integers(0, 30)),
    st.tuples(st.just("resign"), st.booleans(), st.just(0)),
    st.tuples(st.just("note_observed_ballot"), st.integers(0, 50), st.just(0)),
    st.tuples(st.just("leader"), st.just(0), st.just(0)),
    st.tuples(st.just("leader_lease_ns"), st.just(0), st.just(0)),
    st.tuples(st.just("leadership_key"), st.just(0), st.just(0)),
    st.tuples(st.just("candidate"), st.just(0), st.just(0)),
)


def _outcome(call: Any) -> Any:
    try:
        return ("ok", call())
    except Exception as exc:  # the same error class (and message) is what must match
        return ("error", type(exc).__name__, str(exc))


def _through_seed(election: LeaderElection, tr: Any, pid: str, op: tuple[Any, ...]) -> Any:
    name, arg, second = op
    stamp = _stamp(election, tr, pid)
    calls = {
        "heartbeat": lambda: election.heartbeat_candidate(tr, pid, arg, at(second)),
        "try_claim": lambda: election.try_claim_leadership(tr, pid, arg, at(second)),
        "refresh": lambda: election.refresh_lease(
            tr, pid, at(second), versionstamp=stamp, new_tenure=arg
        ),
        "resign": lambda: election.resign_leadership(tr, pid, versionstamp=stamp if arg else None),
        "note_observed_ballot": lambda: election.note_observed_ballot(tr, arg),
        "leader": lambda: election.get_leader_raw(tr),
        "leader_lease_ns": lambda: election.leader_lease_ns(tr),
        "leadership_key": lambda: election.leadership_key(tr),
        "candidate": lambda: election.get_candidate(tr, pid),
    }
    return _outcome(calls[name])


def _through_cycle(cycle: Any, election: LeaderElection, tr: Any, op: tuple[Any, ...]) -> Any:
    name, arg, second = op
    stamp = _stamp(election, tr, cycle.process_id)
    calls = {
        "heartbeat": lambda: cycle.heartbeat(arg, at(second)),
        "try_claim": lambda: cycle.try_claim(arg, at(second)),
        "refresh": lambda: cycle.refresh(at(second), versionstamp=stamp, new_tenure=arg),
        "resign": lambda: cycle.resign(versionstamp=stamp if arg else None),
        "note_observed_ballot": lambda: cycle.note_observed_ballot(arg),
        "leader": cycle.leader,
        "leader_lease_ns": cycle.leader_lease_ns,
        "leadership_key": cycle.leadership_key,
        "candidate": cycle.candidate,
    }
    return _outcome(calls[name])


def _stamp(election: LeaderElection, tr: Any, pid: str) -> bytes | None:
    """The registration of ``pid`` as committed (a snapshot read: it adds no conflict)."""
    value = tr.snapshot.get(layout.candidate_key(election.subspace, pid))
    if not value.present():
        return None
    return layout.decode_candidate(pid, bytes(value)).versionstamp


def _view(election: LeaderElection, tr: Any) -> list[tuple[bytes, bytes]]:
    """Every key of the election as ``tr`` sees it, its own writes included."""
    keys = election.subspace.range()
    return [(bytes(kv.key), bytes(kv.value)) for kv in tr.snapshot.get_range(keys.start, keys.stop)]


@pytest.fixture(scope="module", params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One embedded store per backend for every example (each uses an election of its own)."""
    if request.param == "memory":
        return embedded.open()
    return embedded.open(str(tmp_path_factory.mktemp("cycle-equivalence") / "db.fdbe"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    setup=st.sampled_from(["nobody", "a leads", "a led, expired"]),
    who=st.sampled_from(PROCESSES),
    operations=st.lists(OPERATION, min_size=1, max_size=8),
)
def test_a_cycle_matches_the_seed_methods(
    store: Any, setup: str, who: str, operations: list[tuple[Any, ...]]
) -> None:
    db = store
    election = LeaderElection(("cycle-equivalence", next(_names)))
    run(db, lambda tr: election.initialize_with_config(tr, ElectionConfig(lease_duration=10)))
    for pid in PROCESSES:
        register(db, election, pid)
    if setup != "nobody":
        run(
            db,
            lambda tr: election.try_claim_leadership(
                tr, "a", 0, at(-60 if "expired" in setup else 0)
            ),
        )

    seed_tr = db.create_transaction()
    seed = [_through_seed(election, seed_tr, who, op) for op in operations]
    seed_view = _view(election, seed_tr)
    seed_tr.cancel()

    cycle_tr = db.create_transaction()
    cycle = election.cycle(cycle_tr, who)
    cycle.read_all()
    through_cycle = [_through_cycle(cycle, election, cycle_tr, op) for op in operations]
    cycle_view = _view(election, cycle_tr)
    cycle_tr.cancel()

    assert through_cycle == seed
    assert cycle_view == seed_view
