"""The grace policy: CMD is dead before the leadership deadline, and too-long grace is refused."""

from __future__ import annotations

import pytest

from fdb_election.cli.grace import DEFAULT_GRACE_S, GracePolicy, GraceTooLong


def test_default_grace_is_clamped_to_what_the_lease_allows() -> None:
    policy = GracePolicy.for_election(lease=1.0, heartbeat=1 / 3, requested=None)
    assert policy.kill_margin == pytest.approx(0.05)
    assert policy.grace == pytest.approx(1.0 - 2 / 3 - 0.05)
    roomy = GracePolicy.for_election(lease=60.0, heartbeat=5.0, requested=None)
    assert roomy.grace == DEFAULT_GRACE_S


def test_requested_grace_within_the_bound_is_kept() -> None:
    policy = GracePolicy.for_election(lease=10.0, heartbeat=3.0, requested=2.5)
    assert policy.grace == 2.5
    assert policy.kill_margin == 0.25


def test_too_long_grace_is_rejected_with_the_allowed_maximum() -> None:
    with pytest.raises(GraceTooLong) as info:
        GracePolicy.for_election(lease=1.0, heartbeat=1 / 3, requested=5.0)
    message = str(info.value)
    assert "--grace 5 s" in message
    assert "283 ms" in message
    assert "config set --lease" in message


def test_heartbeat_above_half_the_lease_leaves_no_room() -> None:
    with pytest.raises(GraceTooLong, match="lease > 2 x heartbeat"):
        GracePolicy.for_election(lease=10.0, heartbeat=6.0, requested=None)


def test_negative_grace_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        GracePolicy.for_election(lease=10.0, heartbeat=3.0, requested=-1.0)


def test_sigkill_comes_before_the_deadline_and_sigterm_a_grace_earlier() -> None:
    policy = GracePolicy(grace=2.0, kill_margin=0.25)
    deadline = 100.0
    assert policy.stop_at(deadline) == 97.75
    # SIGTERM sent on time: SIGKILL a full grace later, at deadline - margin.
    assert policy.kill_at(deadline, 97.75) == 99.75
    # SIGTERM early (CMD asked to stop for another reason): the full grace.
    assert policy.kill_at(deadline, 50.0) == 52.0
    # SIGTERM late (woken late): the deadline still wins over the grace period.
    assert policy.kill_at(deadline, 99.0) == 99.75
    # Leadership already gone: no grace at all.
    assert policy.kill_at(None, 99.0) == 99.0


def test_normal_refresh_cadence_never_reaches_stop_at() -> None:
    """Just before a refresh the deadline is lease - heartbeat away: stop_at is still ahead."""
    lease, heartbeat = 1.0, 1 / 3
    policy = GracePolicy.for_election(lease=lease, heartbeat=heartbeat, requested=None)
    attempt_start = 0.0
    deadline = attempt_start + lease - (lease * 0.01 + 0.005)  # the elector's own margin
    next_refresh_with_jitter = attempt_start + heartbeat * 1.1
    assert policy.stop_at(deadline) > next_refresh_with_jitter
