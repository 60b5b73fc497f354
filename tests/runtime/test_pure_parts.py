"""The elector's pure parts on their own: tenure, observation, registrations, settings."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from fdb_election.election import ElectionConfig, LeaderState
from fdb_election.runtime.identity import Registrations
from fdb_election.runtime.observation import LeaderObservation
from fdb_election.runtime.settings import (
    ElectorCallbacks,
    ElectorSettings,
    check_elector_config,
    config_problem,
    split_options,
)
from fdb_election.runtime.tenure import LocalTenure, safety_margin

STAMP = b"\x00" * 9 + b"\x07\x00\x00"


def state(ballot: int, leader: str = "a", expiry_ns: int = 10**18, stamp: bytes = STAMP) -> Any:
    return LeaderState(ballot, leader, 0, expiry_ns, stamp)


# ------------------------------------------------------------------------------- LocalTenure


def test_a_tenure_begins_once_and_keeps_its_first_ballot() -> None:
    tenure = LocalTenure(clock_drift=0.01)
    assert tenure.deadline_for(100.0, 2.0) == 102.0 - safety_margin(2.0, 0.01)
    assert tenure.adopt(state(5), 101.9, now=100.1) is True
    assert (tenure.ballot, tenure.deadline, tenure.leads(101.8), tenure.leads(101.9)) == (
        5,
        101.9,
        True,
        False,
    )
    assert tenure.adopt(state(6), 102.5, now=100.7) is False, "a refresh extends the tenure"
    assert tenure.ballot == 5 and tenure.state == state(6)
    # Adopted after the deadline passed (no end was recorded meanwhile): a new tenure.
    assert tenure.adopt(state(9), 110.0, now=103.0) is True
    assert tenure.ballot == 9 and tenure.last_ballot == 9


def test_every_change_of_the_deadline_reaches_the_listener_at_once() -> None:
    seen: list[float | None] = []
    tenure = LocalTenure(clock_drift=0.0)
    tenure.set_listener(seen.append)
    tenure.adopt(state(1), 10.0, now=0.0)
    tenure.adopt(state(2), 10.0, now=1.0)  # unchanged: not repeated
    tenure.cap(12.0)  # a cap above the deadline changes nothing
    tenure.cap(9.0)
    tenure.end(5.0, "gone", voluntary=False)
    assert seen == [10.0, 9.0, None]


def test_a_failing_listener_is_logged_and_does_not_stop_the_tenure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tenure = LocalTenure(clock_drift=0.0)

    def broken(_deadline: float | None) -> None:
        raise RuntimeError("watchdog down")

    tenure.set_listener(broken)
    with caplog.at_level(logging.ERROR, logger="fdb_election"):
        tenure.adopt(state(1), 10.0, now=0.0)
    assert tenure.deadline == 10.0
    assert "deadline listener failed" in caplog.text


def test_a_voluntary_end_before_the_deadline_leaves_a_release() -> None:
    tenure = LocalTenure(clock_drift=0.0)
    tenure.adopt(state(3), 10.0, now=0.0)
    assert tenure.end(4.0, "stepping down", voluntary=True) == 3
    release = tenure.take_release()
    assert release is not None and (release.ballot, release.deadline) == (3, 10.0)
    assert tenure.take_release() is None, "the hook runs once"
    assert tenure.end(5.0, "again", voluntary=True) is None, "nothing left to end"
    tenure.adopt(state(4), 20.0, now=11.0)
    assert tenure.end(25.0, "late", voluntary=True) == 4
    assert tenure.take_release() is None, "past the deadline nothing is held back"


# ------------------------------------------------------------------------------- observation


def test_the_same_record_keeps_its_first_sighting() -> None:
    seen = LeaderObservation()
    seen.observe(state(1), 10.0)
    seen.observe(state(1), 11.0)
    assert seen.since == 10.0
    seen.observe(state(2), 12.0)  # a refresh: a new record
    assert seen.since == 12.0 and seen.lease is None


def test_a_claim_waits_a_full_lease_of_unchanged_observation() -> None:
    seen = LeaderObservation()
    record = state(1, "b", expiry_ns=5_000_000_123)
    seen.observe(record, 10.0)
    kwargs = {"heartbeat": 0.3, "config_lease": 1.0, "higher_priority_waiting": lambda: False}
    assert seen.claim_time(record, 10.99, wall=3.0, **kwargs) is None  # type: ignore[arg-type]
    at = seen.claim_time(record, 11.0, wall=3.0, **kwargs)  # type: ignore[arg-type]
    # The local wall clock lags the stored expiry: claim just after it (rounded up to µs).
    assert at == timedelta(microseconds=5_000_002)
    ahead = seen.claim_time(record, 11.0, wall=9.0, **kwargs)  # type: ignore[arg-type]
    assert ahead == timedelta(seconds=9.0)


def test_a_longer_recorded_lease_is_waited_out() -> None:
    seen = LeaderObservation()
    seen.observe(state(1, "b"), 0.0)
    seen.note_lease(3_000_000_000, config_lease=1.0)  # the leader holds a 3 s lease
    assert seen.presumed_dead_after(1.0) == 3.0
    unknown = LeaderObservation()
    unknown.observe(state(1, "b"), 0.0)
    unknown.note_lease(None, config_lease=2.0)
    unknown.note_lease(None, config_lease=1.0)  # lowered while watching: the longer one stays
    assert unknown.presumed_dead_after(1.0) == 2.0


def test_an_empty_key_is_claimed_at_once_unless_held_off() -> None:
    seen = LeaderObservation()
    seen.observe(None, 5.0)
    asked: list[bool] = []

    def higher() -> bool:
        asked.append(True)
        return True

    kwargs = {"heartbeat": 0.5, "config_lease": 2.0, "higher_priority_waiting": higher}
    assert seen.claim_time(None, 5.5, wall=1.0, **kwargs) is None  # type: ignore[arg-type]
    assert seen.claim_time(None, 6.0, wall=1.0, **kwargs) == timedelta(seconds=1.0)  # type: ignore[arg-type]
    assert len(asked) == 1, "after two heartbeats nobody is waited for"
    seen.hold_off_until = 7.0
    assert seen.claim_time(None, 6.5, wall=1.0, **kwargs) is None  # type: ignore[arg-type]
    hint = seen.wait_hint(None, 6.5, heartbeat=0.5, config_lease=2.0, next_heartbeat=lambda: 9.9)
    assert hint == 0.5


def test_anothers_record_is_presumed_gone_after_a_lease_but_ones_own_is_not() -> None:
    seen = LeaderObservation()
    seen.observe(state(1, "b"), 0.0)
    assert seen.view(0.9, 1.0, mine=False) == state(1, "b")
    assert seen.view(1.0, 1.0, mine=False) is None
    assert seen.view(5.0, 1.0, mine=True) == state(1, "b")


# ------------------------------------------------------------------------------- registrations


def test_a_record_is_ones_own_only_with_one_of_ones_registrations() -> None:
    mine = Registrations()
    assert mine.current is None
    mine.add(b"\x00" * 9 + b"\x07")
    assert mine.current == STAMP
    assert mine.made(state(1, "a"), "a")
    assert not mine.made(state(1, "a", stamp=b"\x01" * 12), "a"), "another run of the same id"
    assert not mine.made(state(1, "b"), "a")
    assert not mine.made(None, "a")


# ------------------------------------------------------------------------------- settings


def test_options_split_into_settings_and_callbacks_and_win_over_them() -> None:
    base = ElectorSettings(process_id="a", priority=1)
    settings, callbacks = split_options({"priority": 5, "on_elected": print}, base)
    assert (settings.process_id, settings.priority) == ("a", 5)
    assert callbacks == ElectorCallbacks(on_elected=print)
    with pytest.raises(TypeError, match=r"unknown elector option.*priorty"):
        split_options({"priorty": 5})
    with pytest.raises(TypeError, match="on_demoted must be callable"):
        split_options({"on_demoted": "print"})


def test_each_configuration_rule_names_its_field() -> None:
    assert config_problem(1.0, 0.3, 1.5) is None
    short = config_problem(0.01, 0.003, 0.015)
    assert short is not None and short.field == "lease_duration" and "100 ms" in short.message
    slow = config_problem(1.0, 1.0, 1.5)
    assert slow is not None and slow.field == "heartbeat_interval"
    quick = config_problem(1.0, 0.3, 0.3)
    assert quick is not None and quick.field == "candidate_timeout"
    bad = ElectionConfig(lease_duration=1.0, heartbeat_interval=0.3, candidate_timeout=0.3)
    with pytest.raises(ValueError, match=r"config\.candidate_timeout: the candidate timeout"):
        check_elector_config(bad)
    with pytest.raises(ValueError, match="candidate_timeout"):
        ElectorSettings(config=bad)
