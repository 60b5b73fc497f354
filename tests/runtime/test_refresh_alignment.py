"""RefreshAlignment: a follower's heartbeat timed just after the leader's next refresh."""

from __future__ import annotations

import pytest

from fdb_election.runtime.refresh_alignment import MIN_SLACK, RefreshAlignment

ROUNDS = 32

HEARTBEAT = 1.0
LONGEST = 1.5
HOLDER = ("a", b"\x00" * 12)
SKEW = 7.0  # the leader's wall clock runs this far ahead of the follower's


class Follower:
    """A RefreshAlignment with its clocks: ``now`` monotonic, the wall clock 500 s ahead, and a
    leader whose wall clock runs ``SKEW`` further ahead."""

    def __init__(self) -> None:
        self.alignment = RefreshAlignment()
        self.now = 100.0
        self.skew = SKEW

    def wall(self) -> float:
        return self.now + 500.0

    def read(self, refresh_at: float, changed: bool, holder: tuple[str, bytes] = HOLDER) -> None:
        """A read now of the record written by the refresh that began at ``refresh_at``
        (monotonic)."""
        began = refresh_at + 500.0 + self.skew
        self.alignment.observed(self.now, changed, holder, began, self.wall())

    def plan(self, refresh_at: float, holder: tuple[str, bytes] = HOLDER) -> float | None:
        began = refresh_at + 500.0 + self.skew
        return self.alignment.plan(holder, began, HEARTBEAT, self.wall(), self.now, LONGEST)


def probed(refresh_at: float = 100.0, latency: float = 0.005) -> Follower:
    """A follower that probed: the refresh begun at ``refresh_at`` woke it ``latency`` later."""
    f = Follower()
    assert f.plan(refresh_at - HEARTBEAT) is None, "a new tenure is probed first"
    f.now = refresh_at + latency
    f.read(refresh_at, changed=True)
    return f


def test_a_probe_measures_the_skew_and_the_next_read_comes_a_slack_after_the_refresh() -> None:
    f = probed(latency=0.005)
    delay = f.plan(100.0)
    assert delay == pytest.approx(HEARTBEAT + MIN_SLACK)  # counted from the wake-up
    assert f.now + delay == pytest.approx(100.0 + 0.005 + HEARTBEAT + MIN_SLACK)


def test_a_refresh_due_within_half_a_heartbeat_is_skipped_for_the_one_after() -> None:
    f = probed()
    f.now += 0.9  # 0.9 s after the refresh: the next is due in about 0.1 s
    delay = f.plan(100.0)
    assert delay is not None
    assert f.now + delay == pytest.approx(100.0 + 0.005 + 2 * HEARTBEAT + MIN_SLACK)


def test_a_late_leader_and_a_new_tenure_are_probed() -> None:
    f = probed()
    f.now += 1.6
    assert f.plan(100.0) is None, "the leader is over half a heartbeat late"
    f = probed()
    assert f.plan(100.0, holder=("b", b"\x01" * 12)) is None, "another tenure"


def test_reads_that_follow_the_plan_keep_it_without_probing() -> None:
    f = probed()
    refresh = 100.0
    for _ in range(ROUNDS):
        delay = f.plan(refresh)
        assert delay is not None
        f.now += delay
        refresh += HEARTBEAT * 0.95  # the leader's jitter shortens its heartbeats
        f.read(refresh, changed=True)
        assert f.now - refresh <= 0.005 + MIN_SLACK + 0.05 + 1e-9


def test_a_leader_clock_that_jumps_ahead_raises_the_offset_without_a_probe() -> None:
    f = probed()
    delay = f.plan(100.0)
    assert delay is not None
    f.now += delay
    f.skew += 60.0  # the leader's wall clock stepped a minute ahead
    f.read(100.0 + HEARTBEAT, changed=True)
    delay = f.plan(100.0 + HEARTBEAT)
    assert delay is not None
    assert f.now + delay == pytest.approx(100.0 + 2 * HEARTBEAT + 0.005 + 2 * MIN_SLACK, abs=0.03)


def test_a_planned_read_that_finds_no_refresh_doubles_the_slack_and_probes() -> None:
    f = probed()
    delay = f.plan(100.0)
    assert delay is not None
    f.now += delay
    f.read(100.0, changed=False)  # the refresh due at 101 has not come
    assert f.alignment.missed
    assert f.alignment.slack == pytest.approx(2 * MIN_SLACK)
    assert f.plan(100.0) is None
    f.now += 0.1
    f.read(101.09, changed=True)  # the late refresh woke it: measured again
    assert not f.alignment.missed
    # The next read: a heartbeat and the doubled slack after this wake-up.
    assert f.plan(101.09) == pytest.approx(HEARTBEAT + 2 * MIN_SLACK)


def test_hits_shrink_the_slack_back_and_it_never_exceeds_a_quarter_heartbeat() -> None:
    f = probed()
    f.alignment.slack = 10.0
    refresh = 100.0
    for _ in range(ROUNDS):
        delay = f.plan(refresh)
        assert delay is not None
        assert f.alignment.slack <= HEARTBEAT / 4
        f.now += delay
        refresh += HEARTBEAT
        f.read(refresh, changed=True)
    assert f.alignment.slack == pytest.approx(HEARTBEAT / 4 * 0.95**ROUNDS)


def test_a_step_before_the_planned_read_does_not_count() -> None:
    """A step that came early (a watch woke it, or a claim rule timed it) judges nothing."""
    f = probed()
    delay = f.plan(100.0)
    assert delay is not None
    f.now += delay / 2
    f.read(100.0, changed=False)
    assert not f.alignment.missed
    assert f.alignment.slack == MIN_SLACK


def test_nothing_is_planned_past_the_longest_delay() -> None:
    f = probed()
    f.now += 0.9
    assert f.alignment.plan(HOLDER, 600.0 + SKEW, HEARTBEAT, f.wall(), f.now, 1.05) is None
