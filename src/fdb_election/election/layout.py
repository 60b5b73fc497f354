"""Where an election keeps its data, and how each value is encoded.

Byte-compatible with the Rust recipe (``foundationdb`` crate 0.11): keys and values are tuple
encoded under the election's subspace ``S``::

    S.pack(("config",))              (lease_ns, heartbeat_ns, candidate_timeout_ns,
                                      election_enabled, allow_preemption)
    S.pack(("leader",))              (ballot, leader_id, priority, lease_expiry_ns,
                                      versionstamp as 12 raw bytes)
    S.pack(("candidates", pid))      (priority, last_heartbeat_ns, Versionstamp)
    S.pack(("ballot",))              (highest ballot ever issued,)           -- ours only
    S.pack(("ballot_seen",))         highest ballot read in the leader key,
                                     8-byte little-endian u64 (not a tuple),
                                     written only with the atomic MAX         -- ours only
    S.pack(("tenure",))              (first ballot of the tenure,
                                      leader value we last wrote,
                                      lease_ns that write used)              -- ours only
    S.pack(("succession",))          (first ballot of the tenure,): written when a
                                     tenure starts, cleared at resignation;
                                     never by a refresh                       -- ours only

The last four keys are this project's additions (see ``operations``); Rust processes ignore them.
Every decoder raises :class:`InvalidState` for bytes that do not decode or do not make sense.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import fdb.tuple as fdb_tuple
from fdb.subspace_impl import Subspace

from fdb_election import tuples
from fdb_election.election.errors import InvalidState
from fdb_election.election.types import (
    VERSIONSTAMP_BYTES,
    CandidateInfo,
    ElectionConfig,
    LeaderState,
)
from fdb_election.election.validation import check_u64

__all__ = [
    "BALLOT",
    "BALLOT_SEEN",
    "BALLOT_SEEN_BYTES",
    "CANDIDATES",
    "CONFIG",
    "LEADER",
    "SUCCESSION",
    "TENURE",
    "Tenure",
    "as_subspace",
    "ballot_key",
    "ballot_seen_key",
    "candidate_key",
    "candidate_process_id",
    "candidates_range",
    "config_key",
    "decode_ballot_mark",
    "decode_ballot_seen",
    "decode_candidate",
    "decode_config",
    "decode_leader",
    "decode_succession",
    "decode_tenure",
    "encode_ballot_mark",
    "encode_ballot_seen",
    "encode_candidate",
    "encode_config",
    "encode_leader",
    "encode_succession",
    "encode_tenure",
    "leader_key",
    "registration_param",
    "succession_key",
    "tenure_key",
]

CONFIG = "config"
LEADER = "leader"
CANDIDATES = "candidates"
BALLOT = "ballot"
BALLOT_SEEN = "ballot_seen"
TENURE = "tenure"
SUCCESSION = "succession"

#: How many decoded values each memoized decoder keeps (values are small and immutable).
_DECODED_CACHE = 1024


def as_subspace(subspace: Any) -> Any:
    """Accept a subspace (anything with ``pack``/``unpack``/``range``) or a tuple prefix."""
    if isinstance(subspace, tuple):
        try:
            fdb_tuple.pack(subspace)
        except Exception as exc:  # the tuple layer raises several types
            raise ValueError(f"subspace tuple cannot be tuple-encoded: {exc}") from None
        return Subspace(subspace)
    if all(hasattr(subspace, name) for name in ("pack", "unpack", "range")):
        return subspace
    raise TypeError(
        "subspace must be an fdb Subspace (pack, unpack, range) or a tuple prefix such as "
        f"('my-election',), got {type(subspace).__name__}"
    )


# ---------------------------------------------------------------------------------------------
# Keys


def config_key(subspace: Any) -> bytes:
    """Key of the election's configuration."""
    return bytes(subspace.pack((CONFIG,)))


def leader_key(subspace: Any) -> bytes:
    """Key of the current leader's state."""
    return bytes(subspace.pack((LEADER,)))


def ballot_key(subspace: Any) -> bytes:
    """Key of the ballot high-water mark (ours only)."""
    return bytes(subspace.pack((BALLOT,)))


def ballot_seen_key(subspace: Any) -> bytes:
    """Key of the highest ballot any of our processes read in the leader key (ours only)."""
    return bytes(subspace.pack((BALLOT_SEEN,)))


def tenure_key(subspace: Any) -> bytes:
    """Key of the tenure record used by fencing (ours only)."""
    return bytes(subspace.pack((TENURE,)))


def succession_key(subspace: Any) -> bytes:
    """Key that changes when leadership changes hands, and not when a lease is refreshed (ours
    only): what followers watch."""
    return bytes(subspace.pack((SUCCESSION,)))


def candidate_key(subspace: Any, process_id: str) -> bytes:
    """Key of one candidate's registration."""
    return bytes(subspace.pack((CANDIDATES, process_id)))


def candidates_range(subspace: Any) -> tuple[bytes, bytes]:
    """``[begin, end)`` of every candidate key."""
    span = subspace.range((CANDIDATES,))
    return bytes(span.start), bytes(span.stop)


def candidate_process_id(subspace: Any, key: bytes) -> str:
    """The process id in a candidate key."""
    try:
        parts = subspace.unpack(key)
    except Exception as exc:  # the tuple layer raises several types
        raise InvalidState(f"candidate key {key!r} does not decode: {exc}") from None
    if len(parts) != 2 or parts[0] != CANDIDATES or type(parts[1]) is not str:
        raise InvalidState(f"candidate key {key!r} is not ('candidates', process_id: str)")
    process_id: str = parts[1]
    return process_id


# ---------------------------------------------------------------------------------------------
# Decoding helpers


def _unpack(what: str, data: bytes, arity: int, *more: int) -> tuple[Any, ...]:
    """Decode a tuple of ``arity`` elements (or of one of the ``more`` arities)."""
    try:
        values = tuples.unpack(bytes(data))
    except Exception as exc:  # the tuple layer raises several types
        raise InvalidState(f"{what} value {bytes(data).hex()} does not decode: {exc}") from None
    if len(values) != arity and len(values) not in more:
        expected = " or ".join(str(n) for n in (arity, *more))
        raise InvalidState(
            f"{what} value has {len(values)} elements, expected {expected}: {values!r}"
        )
    return values


def _int(what: str, field: str, value: Any, low: int, high: int) -> int:
    if type(value) is not int:
        raise InvalidState(f"{what} {field} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise InvalidState(f"{what} {field} must be from {low} to {high}, got {value}")
    return value


def _u64(what: str, field: str, value: Any) -> int:
    return _int(what, field, value, 0, 2**64 - 1)


def _i32(what: str, field: str, value: Any) -> int:
    return _int(what, field, value, -(2**31), 2**31 - 1)


def _bool(what: str, field: str, value: Any) -> bool:
    if type(value) is not bool:
        raise InvalidState(f"{what} {field} must be true or false, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------
# Config


def encode_config(config: ElectionConfig) -> bytes:
    """``(lease_ns, heartbeat_ns, candidate_timeout_ns, election_enabled, allow_preemption)``."""
    return tuples.pack(
        (
            config.lease_duration_ns,
            config.heartbeat_interval_ns,
            config.candidate_timeout_ns,
            config.election_enabled,
            config.allow_preemption,
        )
    )


def decode_config(data: bytes) -> ElectionConfig:
    """The inverse of :func:`encode_config`; a configuration that breaks the rules is invalid.

    Memoized on the bytes (``ElectionConfig`` is immutable): every cycle decodes the same
    stored value, so decoding and validating it again would be wasted work.
    """
    return _decode_config(bytes(data))


@functools.lru_cache(maxsize=64)
def _decode_config(data: bytes) -> ElectionConfig:
    lease, heartbeat, timeout, enabled, preemption = _unpack("config", data, 5)
    try:
        return ElectionConfig(
            election_enabled=_bool("config", "election_enabled", enabled),
            allow_preemption=_bool("config", "allow_preemption", preemption),
            lease_duration_ns=_u64("config", "lease_ns", lease),
            heartbeat_interval_ns=_u64("config", "heartbeat_ns", heartbeat),
            candidate_timeout_ns=_u64("config", "candidate_timeout_ns", timeout),
        )
    except ValueError as exc:
        raise InvalidState(f"stored config is not usable: {exc}") from None


# ---------------------------------------------------------------------------------------------
# Leader


def encode_leader(state: LeaderState) -> bytes:
    """``(ballot, leader_id, priority, lease_expiry_ns, versionstamp bytes)``."""
    return tuples.pack(
        (
            state.ballot,
            state.leader_id,
            state.priority,
            state.lease_expiry_nanos,
            state.versionstamp,
        )
    )


def decode_leader(data: bytes) -> LeaderState:
    """The inverse of :func:`encode_leader` (memoized on the bytes: ``LeaderState`` is immutable,
    and one step, and every elector of a process, decodes the same stored value)."""
    return _decode_leader(bytes(data))


@functools.lru_cache(maxsize=_DECODED_CACHE)
def _decode_leader(data: bytes) -> LeaderState:
    ballot, leader_id, priority, expiry, stamp = _unpack("leader", data, 5)
    if type(leader_id) is not str:
        raise InvalidState(f"leader leader_id must be a string, got {leader_id!r}")
    if type(stamp) is not bytes or len(stamp) != VERSIONSTAMP_BYTES:
        raise InvalidState(f"leader versionstamp must be {VERSIONSTAMP_BYTES} bytes, got {stamp!r}")
    return LeaderState(
        ballot=_u64("leader", "ballot", ballot),
        leader_id=leader_id,
        priority=_i32("leader", "priority", priority),
        lease_expiry_nanos=_u64("leader", "lease_expiry_ns", expiry),
        versionstamp=stamp,
    )


# ---------------------------------------------------------------------------------------------
# Candidates


def registration_param(priority: int, last_heartbeat_nanos: int) -> bytes:
    """The ``set_versionstamped_value`` parameter written at registration.

    ``(priority, last_heartbeat_ns, incomplete Versionstamp)`` followed by the 4-byte
    little-endian offset of the 10 placeholder bytes (API version 520 and later).
    """
    return tuples.pack_with_versionstamp(
        (priority, last_heartbeat_nanos, tuples.Versionstamp.incomplete(0))
    )


def encode_candidate(priority: int, last_heartbeat_nanos: int, versionstamp: bytes) -> bytes:
    """``(priority, last_heartbeat_ns, Versionstamp)`` with a complete 12-byte stamp.

    This is what a heartbeat writes with a plain ``set``, keeping the registration stamp.
    """
    stamp = tuples.Versionstamp.from_bytes(versionstamp)
    return tuples.pack((priority, last_heartbeat_nanos, stamp))


def decode_candidate(process_id: str, data: bytes) -> CandidateInfo:
    """The inverse of :func:`encode_candidate`; an incomplete versionstamp is invalid.

    Memoized on the arguments (``CandidateInfo`` is immutable): a candidate's value changes
    only at its heartbeats, but every scan of every elector decodes it.
    """
    return _decode_candidate(process_id, bytes(data))


@functools.lru_cache(maxsize=_DECODED_CACHE)
def _decode_candidate(process_id: str, data: bytes) -> CandidateInfo:
    what = f"candidate {process_id!r}"
    priority, heartbeat, stamp = _unpack(what, data, 3)
    if not isinstance(stamp, fdb_tuple.Versionstamp):
        raise InvalidState(f"{what} versionstamp must be a tuple Versionstamp, got {stamp!r}")
    if not stamp.is_complete():
        raise InvalidState(f"{what} versionstamp is incomplete (never committed)")
    raw = bytes(stamp.tr_version) + stamp.user_version.to_bytes(2, "big")
    return CandidateInfo(
        process_id=process_id,
        priority=_i32(what, "priority", priority),
        last_heartbeat_nanos=_u64(what, "last_heartbeat_ns", heartbeat),
        versionstamp=raw,
    )


# ---------------------------------------------------------------------------------------------
# Ballot high-water mark and tenure (ours only)


def encode_ballot_mark(ballot: int) -> bytes:
    """``(highest ballot ever issued,)``."""
    return tuples.pack((check_u64(ballot, "ballot"),))


def decode_ballot_mark(data: bytes) -> int:
    """The inverse of :func:`encode_ballot_mark`."""
    (ballot,) = _unpack("ballot mark", data, 1)
    return _u64("ballot mark", "ballot", ballot)


def encode_succession(first_ballot: int) -> bytes:
    """``(first ballot of the tenure,)``: a new tenure always has a higher first ballot, so the
    value changes at every claim that starts one."""
    return tuples.pack((check_u64(first_ballot, "first_ballot"),))


def decode_succession(data: bytes) -> int:
    """The inverse of :func:`encode_succession`: the first ballot of the announced tenure."""
    (ballot,) = _unpack("succession", data, 1)
    return _u64("succession", "first_ballot", ballot)


#: Width of the ``ballot_seen`` value: FoundationDB's atomic MAX compares unsigned little-endian
#: integers of the parameter's width, so the value is a fixed-width integer, not a tuple.
BALLOT_SEEN_BYTES = 8


def encode_ballot_seen(ballot: int) -> bytes:
    """The ``tr.max`` parameter for ``ballot_seen``: the ballot as an 8-byte little-endian u64."""
    return check_u64(ballot, "ballot").to_bytes(BALLOT_SEEN_BYTES, "little")


def decode_ballot_seen(data: bytes) -> int:
    """The inverse of :func:`encode_ballot_seen`; any other width is invalid."""
    raw = bytes(data)
    if len(raw) != BALLOT_SEEN_BYTES:
        raise InvalidState(
            f"ballot_seen value {raw.hex()} must be {BALLOT_SEEN_BYTES} bytes (a little-endian "
            f"u64 written with the atomic max), got {len(raw)}"
        )
    return int.from_bytes(raw, "little")


@dataclass(frozen=True, slots=True)
class Tenure:
    """One uninterrupted leadership of one process, as fencing sees it.

    ``first_ballot`` is the ballot of the claim that began it; ``leader_value`` the exact leader
    value this library last wrote. While the stored leader value still equals ``leader_value``,
    nobody else (not even a Rust process, which does not maintain this record) has written the
    leader key since, so every ballot from ``first_ballot`` to the current one belongs to it.

    ``lease_ns`` is the lease duration (nanoseconds) of the claim or refresh that wrote
    ``leader_value``, so followers can wait out the lease that leader actually holds even after
    the configured lease was lowered; ``None`` for a record in the older two-element form.
    """

    first_ballot: int
    leader_value: bytes
    lease_ns: int | None = None


def encode_tenure(tenure: Tenure) -> bytes:
    """``(first_ballot, leader_value, lease_ns)``; ``(first_ballot, leader_value)`` without a lease.

    The two-element form is what earlier versions wrote; it is produced only for a ``Tenure``
    whose ``lease_ns`` is ``None``.
    """
    if tenure.lease_ns is None:
        return tuples.pack((tenure.first_ballot, tenure.leader_value))
    return tuples.pack((tenure.first_ballot, tenure.leader_value, tenure.lease_ns))


def decode_tenure(data: bytes) -> Tenure:
    """The inverse of :func:`encode_tenure`; accepts both the three- and two-element forms.

    Memoized on the bytes (``Tenure`` is immutable)."""
    return _decode_tenure(bytes(data))


@functools.lru_cache(maxsize=_DECODED_CACHE)
def _decode_tenure(data: bytes) -> Tenure:
    values = _unpack("tenure", data, 3, 2)
    first, value = values[0], values[1]
    if type(value) is not bytes:
        raise InvalidState(f"tenure leader_value must be bytes, got {value!r}")
    lease_ns = None if len(values) == 2 else _int("tenure", "lease_ns", values[2], 1, 2**64 - 1)
    return Tenure(
        first_ballot=_u64("tenure", "first_ballot", first), leader_value=value, lease_ns=lease_ns
    )
