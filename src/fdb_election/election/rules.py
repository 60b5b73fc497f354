"""The election's rules as pure functions: who may claim, what a ballot or lease becomes, when
``fence`` refuses, and the helpers the operations share (reading a binding value, naming the
registration a transaction made).

:mod:`.operations` and :mod:`.cycle` call these through the module (``rules.held_by(...)``), one
definition for both.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from fdb_election.election import layout
from fdb_election.election.errors import (
    ElectionDisabled,
    InvalidState,
    NotInitialized,
    RegistrationNotCommitted,
)
from fdb_election.election.layout import Tenure
from fdb_election.election.times import U64_MAX
from fdb_election.election.types import CandidateInfo, ElectionConfig, LeaderState

__all__ = [
    "alive",
    "candidate_of",
    "check_config",
    "config_of",
    "enabled",
    "fence_refusal",
    "floor",
    "held_by",
    "is_unreadable",
    "lease_expiry",
    "lease_valid",
    "may_claim",
    "next_ballot",
    "registered_here",
    "remember_registration",
    "tenure_of",
    "value_of",
]

#: FoundationDB's ``accessed_unreadable``: a read of a key written by a versionstamped operation
#: in the same transaction.
_ACCESSED_UNREADABLE = 1036
# Candidate keys each transaction registered, to name the process in RegistrationNotCommitted.
# Keyed weakly by the transaction object, so nothing outlives the transaction.
_registered: weakref.WeakKeyDictionary[Any, set[tuple[bytes, str]]] = weakref.WeakKeyDictionary()
_registered_lock = threading.Lock()


def remember_registration(tr: Any, key: bytes, process_id: str) -> None:
    try:
        with _registered_lock:
            _registered.setdefault(tr, set()).add((key, process_id))
    except TypeError:  # a transaction type without weak references: the message is just vaguer
        pass


def registered_here(tr: Any, key: bytes | None) -> str | None:
    """The process id registered at ``key`` in ``tr`` (any key when ``None``), if known."""
    try:
        with _registered_lock:
            entries = set(_registered.get(tr, ()))
    except TypeError:
        return None
    for entry_key, process_id in sorted(entries):
        if key is None or entry_key == key:
            return process_id
    return None


def is_unreadable(exc: BaseException) -> bool:
    return getattr(exc, "code", None) == _ACCESSED_UNREADABLE


def value_of(future: Any) -> bytes | None:
    """The bytes of a binding ``Value`` future, or ``None`` when the key is absent."""
    if not future.present():
        return None
    return bytes(future)


def config_of(value: bytes | None) -> ElectionConfig:
    """The stored configuration ``value``; :class:`NotInitialized` when there is none."""
    if value is None:
        raise NotInitialized()
    return layout.decode_config(value)


def enabled(config: ElectionConfig) -> ElectionConfig:
    """``config``, or :class:`ElectionDisabled` when it disables elections."""
    if not config.election_enabled:
        raise ElectionDisabled()
    return config


def candidate_of(tr: Any, key: bytes, process_id: str, value: bytes) -> CandidateInfo:
    """The candidate record ``value`` stored at ``key``. One that does not decode raises
    :class:`InvalidState`, or :class:`RegistrationNotCommitted` when ``tr`` registered it: a
    store that lets a transaction read its own versionstamped write back shows the placeholder."""
    try:
        return layout.decode_candidate(process_id, value)
    except InvalidState:
        if registered_here(tr, key) is not None:
            raise RegistrationNotCommitted(process_id) from None
        raise


def fence_refusal(
    leader: LeaderState,
    leader_value: bytes,
    tenure_value: bytes | None,
    process_id: str,
    ballot: int,
    versionstamp: bytes | None,
    now_ns: int | None,
) -> str | None:
    """Why ``fence`` refuses ``ballot`` of ``process_id`` against the stored leader, or None."""
    if leader.leader_id != process_id:
        return f"{leader.leader_id!r} leads now (ballot {leader.ballot})"
    if versionstamp is not None and leader.versionstamp != versionstamp:
        return (
            "another registration of this process id leads now (an earlier run of the process, "
            "or another process using the same id)"
        )
    tenure = tenure_of(leader_value, tenure_value)
    if tenure is None:
        return (
            "the leader key was last written without a tenure record (by a process that does "
            "not keep one, such as the Rust recipe), so the tenure cannot be confirmed"
        )
    if ballot < tenure.first_ballot:
        return (
            f"the ballot is from an earlier tenure (this one began at ballot {tenure.first_ballot})"
        )
    if ballot > leader.ballot:
        return f"the ballot was never issued (the current is {leader.ballot})"
    if now_ns is not None and not lease_valid(leader, now_ns):
        return f"the lease expired at {leader.lease_expiry_nanos} ns since the epoch"
    return None


def tenure_of(leader_value: bytes, tenure_value: bytes | None) -> Tenure | None:
    """The tenure record when it belongs to ``leader_value`` (this library wrote that leader
    value last); None when there is none or another writer changed the leader key since."""
    tenure = None if tenure_value is None else layout.decode_tenure(tenure_value)
    return tenure if tenure is not None and tenure.leader_value == leader_value else None


def may_claim(
    config: ElectionConfig,
    candidate: CandidateInfo,
    leader: LeaderState | None,
    priority: int,
    now_ns: int,
) -> bool:
    """The seed's claim rule, with leadership held by a registration rather than an id."""
    return (
        leader is None
        or held_by(leader, candidate.process_id, candidate.versionstamp)
        or not lease_valid(leader, now_ns)
        or (config.allow_preemption and priority > leader.priority)
    )


def held_by(leader: LeaderState | None, process_id: str, versionstamp: bytes | None) -> bool:
    """Whether ``leader`` names ``process_id`` (and, when given, that registration's stamp)."""
    return (
        leader is not None
        and leader.leader_id == process_id
        and (versionstamp is None or leader.versionstamp == versionstamp)
    )


def lease_valid(leader: LeaderState, now_ns: int) -> bool:
    """``LeaderState.is_lease_valid`` on nanoseconds already converted."""
    return now_ns < leader.lease_expiry_nanos


def alive(candidate: CandidateInfo, now_ns: int, config: ElectionConfig) -> bool:
    """The seed's liveness test (``CandidateInfo.is_alive``) on nanoseconds already converted,
    with ``config``'s exact ``candidate_timeout_ns``: what ``list_candidates`` keeps."""
    return max(now_ns - candidate.last_heartbeat_nanos, 0) < config.candidate_timeout_ns


def check_config(config: object) -> None:
    if not isinstance(config, ElectionConfig):
        raise TypeError(f"config must be an ElectionConfig, got {type(config).__name__}")


def floor(mark_value: bytes | None, seen_value: bytes | None) -> int:
    """The higher of the ballot mark and the highest ballot seen (0 when neither exists).

    ``ballot_seen`` is read as a snapshot: followers raise it every cycle, and a claim that
    conflicted with each of them would rarely commit. Nothing is lost: a follower's MAX commits
    only if the leader key did not change between its read and its commit, so a MAX that lands
    between this read and this commit carries a ballot this transaction also reads in the leader
    key (or the leader key changed, and this commit fails).
    """
    mark = 0 if mark_value is None else layout.decode_ballot_mark(mark_value)
    seen = 0 if seen_value is None else layout.decode_ballot_seen(seen_value)
    return max(mark, seen)


def next_ballot(leader: LeaderState | None, floor: int) -> int:
    """``max(leader ballot, floor) + 1``; ``floor`` is :func:`floor` (mark and ballot seen)."""
    highest = max(floor, 0 if leader is None else leader.ballot)
    if highest >= U64_MAX:
        raise InvalidState(f"the ballot cannot grow past 2**64-1 (current highest {highest})")
    return highest + 1


def lease_expiry(now_ns: int, config: ElectionConfig) -> int:
    expiry = now_ns + config.lease_duration_ns
    if expiry > U64_MAX:
        raise ValueError(
            "current_time plus lease_duration must be at most 2**64-1 nanoseconds since the "
            f"epoch, got {now_ns} + {config.lease_duration_ns}"
        )
    return expiry
