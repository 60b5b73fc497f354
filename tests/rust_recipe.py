"""A Rust process in the tests: the recipe's claim and resignation as the Rust crate writes them.

The ``foundationdb`` crate 0.11 keeps no ballot high-water mark, no tenure record and no
``ballot_seen``: a claim (and a refresh, which is a claim by the leader) writes the leader key
with ``leader ballot + 1``, or 1 when the key is empty, and a resignation clears the key, so the
next claim restarts at 1. Leadership is compared by process id only. The bytes written are the
shared layout's (``layout.encode_leader``), so Python processes read them as they would read a
real Rust process's records.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fdb_election.election import (
    ElectionDisabled,
    LeaderElection,
    LeaderState,
    UnregisteredCandidate,
    layout,
)
from fdb_election.election.times import to_nanos

__all__ = ["rust_claim", "rust_resign"]


def rust_claim(
    tr: Any, election: LeaderElection, process_id: str, priority: int, now: timedelta
) -> LeaderState | None:
    """Rust's ``try_claim_leadership``: the new leader state, or None when another leads."""
    config = election.read_config(tr)
    if not config.election_enabled:
        raise ElectionDisabled()
    candidate = election.get_candidate(tr, process_id)
    if candidate is None:
        raise UnregisteredCandidate(process_id)
    leader = election.get_leader_raw(tr)
    now_ns = to_nanos(now, "now")
    if not (
        leader is None
        or leader.leader_id == process_id
        or now_ns >= leader.lease_expiry_nanos
        or (config.allow_preemption and priority > leader.priority)
    ):
        return None
    state = LeaderState(
        ballot=1 if leader is None else leader.ballot + 1,
        leader_id=process_id,
        priority=priority,
        lease_expiry_nanos=now_ns + config.lease_duration_ns,
        versionstamp=candidate.versionstamp,
    )
    tr.set(layout.leader_key(election.subspace), layout.encode_leader(state))
    return state


def rust_resign(tr: Any, election: LeaderElection, process_id: str) -> bool:
    """Rust's ``resign_leadership``: clear the leader key if ``process_id`` leads."""
    leader = election.get_leader_raw(tr)
    if leader is None or leader.leader_id != process_id:
        return False
    tr.clear(layout.leader_key(election.subspace))
    return True
