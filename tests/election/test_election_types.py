"""The value types: configuration rules, lease and liveness arithmetic, results, time input."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fdb_election.election import (
    CandidateInfo,
    ElectionConfig,
    ElectionResult,
    Follower,
    Leader,
    LeaderState,
    now,
)
from fdb_election.election.times import to_nanos

STAMP = bytes(12)
SECOND = 1_000_000_000

# ---------------------------------------------------------------------------------------------
# ElectionConfig


def test_defaults_are_the_seeds() -> None:
    config = ElectionConfig()
    assert config.lease_duration == timedelta(seconds=10)
    assert config.heartbeat_interval == timedelta(seconds=3)
    assert config.candidate_timeout == timedelta(seconds=15)
    assert config.election_enabled is True
    assert config.allow_preemption is True


def test_durations_accept_timedelta_int_and_float_seconds() -> None:
    config = ElectionConfig(timedelta(seconds=5), 1.5, 7)
    assert config.lease_duration_ns == 5 * SECOND
    assert config.heartbeat_interval_ns == 1_500_000_000
    assert config.candidate_timeout_ns == 7 * SECOND
    assert ElectionConfig(2, 1) == ElectionConfig(timedelta(seconds=2), timedelta(seconds=1))


def test_with_lease_duration_derives_heartbeat_and_timeout_in_whole_nanoseconds() -> None:
    config = ElectionConfig.with_lease_duration(timedelta(seconds=5))
    assert config.heartbeat_interval_ns == 1_666_666_666
    assert config.candidate_timeout_ns == 7_500_000_000
    assert config.election_enabled and config.allow_preemption
    assert ElectionConfig.with_lease_duration(1).heartbeat_interval_ns == 333_333_333


def test_timedelta_views_truncate_to_microseconds() -> None:
    config = ElectionConfig.with_lease_duration(5)
    assert config.heartbeat_interval == timedelta(microseconds=1_666_666)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"lease_duration": 0}, ValueError, "lease_duration must be greater than zero"),
        ({"lease_duration": -1.0}, ValueError, "lease_duration must be greater than zero"),
        ({"heartbeat_interval": timedelta(0)}, ValueError, "heartbeat_interval must be greater"),
        ({"candidate_timeout": 0}, ValueError, "candidate_timeout must be greater"),
        ({"lease_duration": 3, "heartbeat_interval": 3}, ValueError, "must be below lease"),
        ({"lease_duration": 2}, ValueError, "heartbeat_interval .* must be below lease_duration"),
        ({"lease_duration": "10"}, TypeError, "lease_duration must be a datetime.timedelta"),
        ({"lease_duration": True}, TypeError, "lease_duration must be a datetime.timedelta"),
        ({"lease_duration": float("nan")}, ValueError, "finite"),
        ({"lease_duration": 2**64}, ValueError, "at most 2\\*\\*64-1 nanoseconds"),
        ({"election_enabled": 1}, TypeError, "election_enabled must be True or False"),
        ({"allow_preemption": None}, TypeError, "allow_preemption must be True or False"),
        ({"lease_duration": 5, "lease_duration_ns": 5}, TypeError, "not both"),
        ({"lease_duration_ns": 0}, ValueError, "lease_duration_ns must be greater than zero"),
        ({"lease_duration_ns": 1.5}, TypeError, "lease_duration_ns must be an int"),
    ],
)
def test_bad_config_is_refused_with_a_clear_message(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        ElectionConfig(**kwargs)  # type: ignore[arg-type]


def test_with_lease_duration_refuses_a_zero_lease() -> None:
    with pytest.raises(ValueError, match="lease_duration must be greater than zero"):
        ElectionConfig.with_lease_duration(0)


def test_config_is_frozen_and_replace_works_with_nanosecond_names() -> None:
    config = ElectionConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.election_enabled = False  # type: ignore[misc]
    disabled = dataclasses.replace(config, election_enabled=False)
    assert disabled.election_enabled is False
    assert disabled.lease_duration_ns == config.lease_duration_ns
    shorter = dataclasses.replace(config, lease_duration_ns=5 * SECOND)
    assert shorter.lease_duration == timedelta(seconds=5)


# ---------------------------------------------------------------------------------------------
# LeaderState and CandidateInfo


def test_lease_is_valid_strictly_before_its_expiry() -> None:
    state = LeaderState(1, "a", 0, 100 * SECOND, STAMP)
    assert state.is_lease_valid(99.999)
    assert not state.is_lease_valid(100)
    assert not state.is_lease_valid(timedelta(seconds=101))


def test_remaining_lease() -> None:
    state = LeaderState(1, "a", 0, 100 * SECOND, STAMP)
    assert state.remaining_lease(97.5) == timedelta(seconds=2.5)
    assert state.remaining_lease(timedelta(seconds=100)) is None
    assert state.remaining_lease(200) is None


def test_candidate_is_alive_strictly_within_the_timeout() -> None:
    candidate = CandidateInfo("a", 0, 100 * SECOND, STAMP)
    assert candidate.is_alive(114.9, 15)
    assert not candidate.is_alive(115, timedelta(seconds=15))
    # A heartbeat stamped ahead of the reader's clock counts as alive.
    assert candidate.is_alive(50, 1)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((-1, "a", 0, 0, STAMP), ValueError),
        ((1, b"a", 0, 0, STAMP), TypeError),
        ((1, "a", 2**31, 0, STAMP), ValueError),
        ((1, "a", 0, 0, STAMP[:10]), ValueError),
        ((1, "a", 0, 0, "x" * 12), TypeError),
    ],
)
def test_leader_state_checks_its_fields(args: tuple[object, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        LeaderState(*args)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# ElectionResult


def test_results_match_and_report_leadership() -> None:
    state = LeaderState(3, "a", 0, 10, STAMP)
    results: list[ElectionResult] = [Leader(state), Follower(state), Follower(None)]
    seen = []
    for result in results:
        match result:
            case Leader(s):
                seen.append(("leader", s))
            case Follower(None):
                seen.append(("nobody", None))
            case Follower(s):
                seen.append(("follower", s))
    assert seen == [("leader", state), ("follower", state), ("nobody", None)]
    assert [r.is_leader() for r in results] == [True, False, False]
    assert [r.leader_state() for r in results] == [state, state, None]


# ---------------------------------------------------------------------------------------------
# Times


def test_to_nanos_is_exact_for_timedelta_and_rounds_floats_to_the_nanosecond() -> None:
    assert to_nanos(timedelta(days=1, microseconds=3), "t") == 86_400 * SECOND + 3_000
    assert to_nanos(1_700_000_000, "t") == 1_700_000_000 * SECOND
    assert to_nanos(0.1, "t") == 100_000_000
    assert to_nanos(0, "t") == 0


def _nanos_by_fraction(seconds: float) -> int:
    """The obviously exact reference: the float's binary value, rounded half to even."""
    return round(Fraction(seconds) * SECOND)


@given(
    seconds=st.floats(min_value=0, max_value=2e10, allow_nan=False, allow_infinity=False)
    | st.integers(min_value=0, max_value=2**40).map(lambda k: k / 1024)  # exact .5 ns ties
    | st.integers(min_value=0, max_value=2**53).map(lambda k: k / 2**60)  # tiny values
)
def test_to_nanos_of_a_float_equals_the_exact_fraction_rounding(seconds: float) -> None:
    expected = _nanos_by_fraction(seconds)
    if expected > 2**64 - 1:
        with pytest.raises(ValueError, match="at most 2\\*\\*64-1 nanoseconds"):
            to_nanos(seconds, "t")
    else:
        assert to_nanos(seconds, "t") == expected


def test_to_nanos_rounds_float_ties_to_even() -> None:
    # 1/1024 s and 3/1024 s are exactly 976,562.5 ns and 2,929,687.5 ns.
    assert to_nanos(1 / 1024, "t") == 976_562
    assert to_nanos(3 / 1024, "t") == 2_929_688
    assert to_nanos(5e-324, "t") == 0  # the smallest float rounds down to zero


def test_to_nanos_names_the_argument() -> None:
    with pytest.raises(ValueError, match="current_time must be zero or more"):
        to_nanos(-0.5, "current_time")
    with pytest.raises(TypeError, match=r"current_time must be a datetime\.timedelta"):
        to_nanos("now", "current_time")


def test_now_is_the_wall_clock_since_the_epoch() -> None:
    before = time.time_ns()
    current = now()
    after = time.time_ns()
    assert before // 1000 <= current // timedelta(microseconds=1) <= after // 1000
