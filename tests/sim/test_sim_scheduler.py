"""The virtual-time scheduler and per-process clocks."""

from __future__ import annotations

import pytest

from fdb_election.sim.clocks import DRIFT_BOUND, WALL_EPOCH, ProcessClock
from fdb_election.sim.scheduler import Scheduler


def test_actions_run_in_time_then_scheduling_order() -> None:
    sched = Scheduler()
    ran: list[tuple[str, float]] = []
    sched.at(2.0, lambda: ran.append(("b", sched.now)))
    sched.at(1.0, lambda: ran.append(("a", sched.now)))
    sched.at(2.0, lambda: ran.append(("c", sched.now)))
    sched.run_until(5.0)
    assert ran == [("a", 1.0), ("b", 2.0), ("c", 2.0)]
    assert sched.now == 5.0


def test_cancelled_timer_does_not_run_and_later_ones_wait() -> None:
    sched = Scheduler()
    ran: list[str] = []
    sched.after(1.0, lambda: ran.append("cancelled")).cancel()
    sched.after(3.0, lambda: ran.append("late"))
    sched.run_until(2.0)
    assert ran == []
    sched.run_until(3.0)
    assert ran == ["late"]


def test_negative_delay_is_rejected() -> None:
    with pytest.raises(ValueError, match="delay must be >= 0"):
        Scheduler().after(-1.0, lambda: None)


def test_nested_run_holds_back_the_busy_process_only() -> None:
    sched = Scheduler()
    ran: list[tuple[str, float]] = []

    def stalled_step() -> None:
        ran.append(("p1 stalls", sched.now))
        sched.run_nested("p1", sched.now + 5.0)
        ran.append(("p1 resumes", sched.now))

    sched.at(1.0, stalled_step, owner="p1")
    sched.at(2.0, lambda: ran.append(("p1 next", sched.now)), owner="p1")
    sched.at(3.0, lambda: ran.append(("p2", sched.now)), owner="p2")
    sched.run_until(10.0)
    assert ran == [
        ("p1 stalls", 1.0),
        ("p2", 3.0),
        ("p1 resumes", 6.0),
        ("p1 next", 6.0),
    ]


def test_on_event_is_called_after_every_action() -> None:
    sched = Scheduler()
    seen: list[float] = []
    sched.on_event = lambda: seen.append(sched.now)
    sched.at(1.0, lambda: None)
    sched.at(1.5, lambda: None)
    sched.run_until(2.0)
    assert seen == [1.0, 1.5]


def test_process_clock_skew_drift_and_steps() -> None:
    now = [0.0]
    clock = ProcessClock(lambda: now[0], wall_offset=-4.0, rate_error=DRIFT_BOUND, mono_origin=7.0)
    assert clock.wall() == WALL_EPOCH - 4.0
    now[0] = 100.0
    assert clock.monotonic() == pytest.approx(7.0 + 100.0 * (1 + DRIFT_BOUND))
    assert clock.wall() == pytest.approx(WALL_EPOCH + 96.0)
    clock.step_wall(+10.0)
    assert clock.wall() == pytest.approx(WALL_EPOCH + 106.0)
    assert clock.true_time_of_wall(WALL_EPOCH + 106.0) == pytest.approx(100.0)


def test_process_clock_refuses_drift_beyond_the_bound() -> None:
    with pytest.raises(ValueError, match="drift bound"):
        ProcessClock(lambda: 0.0, rate_error=DRIFT_BOUND * 2)
