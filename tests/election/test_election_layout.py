"""The durable layout: byte-exact with the shared vectors, round-trips, and corrupt values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fdb.subspace_impl import Subspace
from hypothesis import given
from hypothesis import strategies as st

from fdb_election import tuples
from fdb_election.election import (
    CandidateInfo,
    ElectionConfig,
    InvalidState,
    LeaderElection,
    LeaderState,
    layout,
)

_REPO = Path(__file__).resolve().parents[2]
#: The project's copy of shared/vectors/durable_layout.json, so a clone on its own tests it too.
_VECTORS = Path(__file__).resolve().parent / "data" / "durable_layout.json"
#: The shared original, beside the repository in the project's workspace and in CI.
_SHARED_VECTORS = _REPO.parent / "shared" / "vectors" / "durable_layout.json"

U64_MAX = 2**64 - 1


def test_the_vectors_copy_is_the_shared_original() -> None:
    if not _SHARED_VECTORS.exists():
        pytest.skip(f"no shared/ beside the repository ({_SHARED_VECTORS}) to compare with")
    assert json.loads(_VECTORS.read_text()) == json.loads(_SHARED_VECTORS.read_text())


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    elections: list[dict[str, Any]] = json.loads(_VECTORS.read_text())["elections"]
    assert elections, "the vectors file lists no election"
    return elections[0]


@pytest.fixture(scope="module")
def subspace(vectors: dict[str, Any]) -> Subspace:
    return Subspace(tuple(vectors["subspace_tuple"]))


# ---------------------------------------------------------------------------------------------
# Vectors, both directions


def test_keys_match_vectors(vectors: dict[str, Any], subspace: Subspace) -> None:
    assert subspace.key().hex() == vectors["subspace_prefix"]
    assert layout.config_key(subspace).hex() == vectors["config_key"]
    assert layout.leader_key(subspace).hex() == vectors["leader_key"]
    assert layout.ballot_key(subspace).hex() == vectors["ballot_key"]
    assert [k.hex() for k in layout.candidates_range(subspace)] == vectors["candidates_range"]
    for process_id, key in vectors["candidate_keys"].items():
        assert layout.candidate_key(subspace, process_id).hex() == key
        assert layout.candidate_process_id(subspace, bytes.fromhex(key)) == process_id


def test_tuple_prefix_gives_the_same_keys_as_a_subspace(vectors: dict[str, Any]) -> None:
    election = LeaderElection(tuple(vectors["subspace_tuple"]))
    assert layout.config_key(election.subspace).hex() == vectors["config_key"]


def test_configs_match_vectors(vectors: dict[str, Any]) -> None:
    for case in vectors["configs"]:
        config = ElectionConfig(
            lease_duration_ns=case["lease_ns"],
            heartbeat_interval_ns=case["heartbeat_ns"],
            candidate_timeout_ns=case["candidate_timeout_ns"],
            election_enabled=case["election_enabled"],
            allow_preemption=case["allow_preemption"],
        )
        assert layout.encode_config(config).hex() == case["value"]
        assert layout.decode_config(bytes.fromhex(case["value"])) == config


def test_with_lease_duration_reproduces_the_second_vector_config(vectors: dict[str, Any]) -> None:
    case = vectors["configs"][1]
    derived = ElectionConfig.with_lease_duration(case["lease_ns"] / 1e9)
    stored = layout.decode_config(bytes.fromhex(case["value"]))
    assert derived.lease_duration_ns == stored.lease_duration_ns
    assert derived.heartbeat_interval_ns == stored.heartbeat_interval_ns == 1_666_666_666
    assert derived.candidate_timeout_ns == stored.candidate_timeout_ns


def test_leaders_match_vectors(vectors: dict[str, Any]) -> None:
    for case in vectors["leaders"]:
        state = LeaderState(
            ballot=case["ballot"],
            leader_id=case["leader_id"],
            priority=case["priority"],
            lease_expiry_nanos=case["lease_expiry_ns"],
            versionstamp=bytes.fromhex(case["versionstamp"]),
        )
        assert layout.encode_leader(state).hex() == case["value"]
        assert layout.decode_leader(bytes.fromhex(case["value"])) == state


def test_candidates_match_vectors(vectors: dict[str, Any]) -> None:
    for case in vectors["candidates"]:
        stamp = bytes.fromhex(case["versionstamp"])
        value = layout.encode_candidate(case["priority"], case["last_heartbeat_ns"], stamp)
        assert value.hex() == case["value"]
        assert layout.decode_candidate("p", bytes.fromhex(case["value"])) == CandidateInfo(
            "p", case["priority"], case["last_heartbeat_ns"], stamp
        )


def test_registration_param_matches_vectors(vectors: dict[str, Any]) -> None:
    for case in vectors["candidates"]:
        param = layout.registration_param(case["priority"], case["last_heartbeat_ns"])
        assert param.hex() == case["set_versionstamped_value_param"]


def test_registration_param_completed_by_a_commit_gives_the_stored_value(
    vectors: dict[str, Any],
) -> None:
    # What set_versionstamped_value does at commit: drop the 4-byte offset, write the 10 bytes.
    for case in vectors["candidates"]:
        param = bytes.fromhex(case["set_versionstamped_value_param"])
        body, offset = param[:-4], int.from_bytes(param[-4:], "little")
        stamp = bytes.fromhex(case["versionstamp"])
        completed = body[:offset] + stamp[:10] + body[offset + 10 :]
        assert completed.hex() == case["value"]


# ---------------------------------------------------------------------------------------------
# u64::MAX: Rust writes 1c ff*8, Python writes 1d 08 ff*8; both decode


def test_rust_encoded_u64_max_ballot_decodes() -> None:
    rust_value = (
        b"\x1c" + b"\xff" * 8 + b"\x02w\x00" + b"\x14" + b"\x1c" + b"\xff" * 8 + b"\x01"
        + bytes(12).replace(b"\x00", b"\x00\xff") + b"\x00"
    )  # fmt: skip
    state = layout.decode_leader(rust_value)
    assert state.ballot == U64_MAX
    assert state.lease_expiry_nanos == U64_MAX
    assert state.versionstamp == bytes(12)


def test_python_encodes_u64_max_with_the_long_integer_code_and_reads_it_back() -> None:
    state = LeaderState(U64_MAX, "w", 0, U64_MAX, bytes(12))
    value = layout.encode_leader(state)
    assert value.startswith(b"\x1d\x08" + b"\xff" * 8)
    assert layout.decode_leader(value) == state


# ---------------------------------------------------------------------------------------------
# Round trips

u64s = st.integers(min_value=0, max_value=U64_MAX)
i32s = st.integers(min_value=-(2**31), max_value=2**31 - 1)
stamps = (
    st.binary(min_size=10, max_size=10)
    .filter(lambda b: b != b"\xff" * 10)
    .flatmap(
        lambda tr_version: st.integers(0, 65535).map(
            lambda user: tr_version + user.to_bytes(2, "big")
        )
    )
)


@given(
    lease=st.integers(min_value=2, max_value=U64_MAX),
    data=st.data(),
    enabled=st.booleans(),
    preemption=st.booleans(),
)
def test_config_round_trips(
    lease: int, data: st.DataObject, enabled: bool, preemption: bool
) -> None:
    heartbeat = data.draw(st.integers(min_value=1, max_value=lease - 1))
    timeout = data.draw(st.integers(min_value=1, max_value=U64_MAX))
    config = ElectionConfig(
        election_enabled=enabled,
        allow_preemption=preemption,
        lease_duration_ns=lease,
        heartbeat_interval_ns=heartbeat,
        candidate_timeout_ns=timeout,
    )
    assert layout.decode_config(layout.encode_config(config)) == config


@given(ballot=u64s, leader_id=st.text(), priority=i32s, expiry=u64s, stamp=stamps)
def test_leader_round_trips(
    ballot: int, leader_id: str, priority: int, expiry: int, stamp: bytes
) -> None:
    state = LeaderState(ballot, leader_id, priority, expiry, stamp)
    assert layout.decode_leader(layout.encode_leader(state)) == state


@given(priority=i32s, heartbeat=u64s, stamp=stamps, process_id=st.text(min_size=1))
def test_candidate_round_trips(
    priority: int, heartbeat: int, stamp: bytes, process_id: str
) -> None:
    value = layout.encode_candidate(priority, heartbeat, stamp)
    assert layout.decode_candidate(process_id, value) == CandidateInfo(
        process_id, priority, heartbeat, stamp
    )


@given(
    ballot=u64s,
    leader_value=st.binary(),
    lease_ns=st.none() | st.integers(min_value=1, max_value=U64_MAX),
)
def test_ballot_mark_and_tenure_round_trip(
    ballot: int, leader_value: bytes, lease_ns: int | None
) -> None:
    assert layout.decode_ballot_mark(layout.encode_ballot_mark(ballot)) == ballot
    tenure = layout.Tenure(ballot, leader_value, lease_ns)
    assert layout.decode_tenure(layout.encode_tenure(tenure)) == tenure


def test_tenure_is_written_with_its_lease_as_a_third_element() -> None:
    tenure = layout.Tenure(7, b"leader-value", 10 * 10**9)
    assert layout.encode_tenure(tenure) == tuples.pack((7, b"leader-value", 10 * 10**9))


def test_old_two_element_tenure_decodes_with_an_unknown_lease() -> None:
    old = tuples.pack((7, b"leader-value"))
    assert layout.decode_tenure(old) == layout.Tenure(7, b"leader-value", None)


@given(process_id=st.text(min_size=1))
def test_candidate_key_round_trips(process_id: str) -> None:
    subspace = Subspace(("e",))
    key = layout.candidate_key(subspace, process_id)
    assert layout.candidate_process_id(subspace, key) == process_id


# ---------------------------------------------------------------------------------------------
# Corrupt values

STAMP = bytes(range(12))
VS = tuples.Versionstamp(STAMP[:10], 7)

CORRUPT_CONFIGS = {
    "not a tuple": b"\xff\xfe",
    "truncated integer": b"\x15",
    "four elements": tuples.pack((1, 1, 1, True)),
    "six elements": tuples.pack((10, 3, 15, True, True, 0)),
    "int for a bool": tuples.pack((10, 3, 15, 1, True)),
    "bool for an int": tuples.pack((True, 3, 15, True, True)),
    "negative lease": tuples.pack((-10, 3, 15, True, True)),
    "zero lease": tuples.pack((0, 0, 15, True, True)),
    "heartbeat not below lease": tuples.pack((10, 10, 15, True, True)),
    "string duration": tuples.pack(("10", 3, 15, True, True)),
    "lease over u64": tuples.pack((2**64, 3, 15, True, True)),
}

CORRUPT_LEADERS = {
    "empty": b"",
    "not a tuple": b"\x99",
    "four elements": tuples.pack((1, "w", 0, 5)),
    "negative ballot": tuples.pack((-1, "w", 0, 5, STAMP)),
    "ballot over u64": tuples.pack((2**64, "w", 0, 5, STAMP)),
    "bytes leader id": tuples.pack((1, b"w", 0, 5, STAMP)),
    "priority over i32": tuples.pack((1, "w", 2**31, 5, STAMP)),
    "float expiry": tuples.pack((1, "w", 0, 5.0, STAMP)),
    "short versionstamp": tuples.pack((1, "w", 0, 5, STAMP[:11])),
    "long versionstamp": tuples.pack((1, "w", 0, 5, STAMP + b"\x00")),
    "tuple versionstamp": tuples.pack((1, "w", 0, 5, VS)),
}

CORRUPT_CANDIDATES = {
    "not a tuple": b"\x33\x00",
    "two elements": tuples.pack((0, 5)),
    "bytes for the versionstamp": tuples.pack((0, 5, STAMP)),
    "incomplete versionstamp": b"\x14\x15\x05\x33" + b"\xff" * 10 + b"\x00\x00",
    "priority below i32": tuples.pack((-(2**31) - 1, 5, VS)),
    "negative heartbeat": tuples.pack((0, -5, VS)),
    "bool priority": tuples.pack((False, 5, VS)),
}


@pytest.mark.parametrize("value", CORRUPT_CONFIGS.values(), ids=CORRUPT_CONFIGS.keys())
def test_corrupt_config_is_invalid_state(value: bytes) -> None:
    with pytest.raises(InvalidState, match="config"):
        layout.decode_config(value)


@pytest.mark.parametrize("value", CORRUPT_LEADERS.values(), ids=CORRUPT_LEADERS.keys())
def test_corrupt_leader_is_invalid_state(value: bytes) -> None:
    with pytest.raises(InvalidState, match="leader"):
        layout.decode_leader(value)


@pytest.mark.parametrize("value", CORRUPT_CANDIDATES.values(), ids=CORRUPT_CANDIDATES.keys())
def test_corrupt_candidate_is_invalid_state(value: bytes) -> None:
    with pytest.raises(InvalidState, match="candidate 'p'"):
        layout.decode_candidate("p", value)


@pytest.mark.parametrize(
    "value",
    [b"", tuples.pack((-1,)), tuples.pack(("7",)), tuples.pack((1, 2)), tuples.pack((2**64,))],
)
def test_corrupt_ballot_mark_is_invalid_state(value: bytes) -> None:
    with pytest.raises(InvalidState, match="ballot mark"):
        layout.decode_ballot_mark(value)


CORRUPT_TENURES = {
    "not a tuple": b"\x01",
    "one element": tuples.pack((1,)),
    "four elements": tuples.pack((1, b"", 5, 5)),
    "string leader value": tuples.pack((1, "value")),
    "negative first ballot": tuples.pack((-1, b"")),
    "zero lease": tuples.pack((1, b"", 0)),
    "negative lease": tuples.pack((1, b"", -5)),
    "lease over u64": tuples.pack((1, b"", 2**64)),
    "string lease": tuples.pack((1, b"", "10")),
    "bool lease": tuples.pack((1, b"", True)),
    "float lease": tuples.pack((1, b"", 10.0)),
}


@pytest.mark.parametrize("value", CORRUPT_TENURES.values(), ids=CORRUPT_TENURES.keys())
def test_corrupt_tenure_is_invalid_state(value: bytes) -> None:
    with pytest.raises(InvalidState, match="tenure"):
        layout.decode_tenure(value)


@pytest.mark.parametrize(
    "key",
    [
        Subspace(("e",)).pack(("candidates",)),
        Subspace(("e",)).pack(("candidates", 5)),
        Subspace(("e",)).pack(("candidates", "a", "b")),
        Subspace(("e",)).key() + b"\x99",
    ],
)
def test_corrupt_candidate_key_is_invalid_state(key: bytes) -> None:
    with pytest.raises(InvalidState, match="candidate key"):
        layout.candidate_process_id(Subspace(("e",)), key)


def test_error_message_says_what_is_wrong() -> None:
    with pytest.raises(InvalidState) as info:
        layout.decode_leader(CORRUPT_LEADERS["short versionstamp"])
    assert "12 bytes" in str(info.value)


# ---------------------------------------------------------------------------------------------
# The subspace argument


def test_subspace_must_be_a_subspace_or_a_tuple() -> None:
    with pytest.raises(TypeError, match="tuple prefix"):
        LeaderElection("my-election")
    with pytest.raises(ValueError, match="cannot be tuple-encoded"):
        LeaderElection((object(),))
