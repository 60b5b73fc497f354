"""``run``'s loop once leadership is at risk, in virtual time: CMD is stopped once, not restarted.

The supervisor is driven on one thread with a manual clock: its wake event advances the clock
instead of sleeping and runs the test's scripted election changes when their time comes, and
CMD is a stand-in that exits a millisecond after SIGTERM. Every test is exact and instant.
"""

from __future__ import annotations

import heapq
import itertools
import math
import signal
import threading
from collections.abc import Callable, Mapping, Sequence

from fdb_election.cli.grace import GracePolicy
from fdb_election.cli.run import Supervisor
from fdb_election.runtime import Release

#: grace 0.5 s + kill margin 0.15 s: with a deadline D, SIGTERM goes at D - 0.65.
POLICY = GracePolicy(grace=0.5, kill_margin=0.15)
LEASE = 3.0
#: How long the stand-in CMD takes to exit after SIGTERM.
EXIT_DELAY = 0.001
#: More starts than any test expects: the loop is cut short instead of spinning for long.
MAX_STARTS = 50


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance_to(self, when: float) -> None:
        self.now = max(self.now, when)


class Timeline:
    """Scripted changes at virtual times, run by the wake event as the clock reaches them."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self._agenda: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()

    def at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._agenda, (when, next(self._order), action))

    def run_until(self, until: float, stop_early: threading.Event) -> None:
        """Advance the clock to ``until``, running due actions; stop early once ``stop_early``."""
        while self._agenda and self._agenda[0][0] <= until:
            when, _, action = heapq.heappop(self._agenda)
            self.clock.advance_to(when)
            action()
            if stop_early.is_set():
                return
        self.clock.advance_to(until)


class VirtualWake(threading.Event):
    """The loop's wake event: waiting moves virtual time forward instead of sleeping."""

    def __init__(self, timeline: Timeline) -> None:
        super().__init__()
        self.timeline = timeline

    def wait(self, timeout: float | None = None) -> bool:
        if not self.is_set():
            if timeout is None:  # until an event: the next scripted action that sets this
                self.timeline.run_until(math.inf, self)
                assert self.is_set(), "the loop waits for an event that never comes"
            else:
                self.timeline.run_until(self.timeline.clock.now + timeout, self)
        return self.is_set()


class FakeElector:
    """Leads while the manual clock is before ``deadline``, like the real elector's core."""

    process_id = "virtual-1"

    def __init__(self, clock: ManualClock, wake: threading.Event) -> None:
        self.clock = clock
        self.wake = wake
        self.deadline: float | None = None
        self._ballot: int | None = None
        self.listener: Callable[[float | None], None] | None = None
        self.last_demotion_reason: str | None = None

    @property
    def is_leader(self) -> bool:
        return self.deadline is not None and self.clock() < self.deadline

    @property
    def ballot(self) -> int | None:
        return self._ballot if self.is_leader else None

    def elect(self, ballot: int, deadline: float) -> None:
        """A new tenure; the real elector's ``on_elected`` callback wakes the loop."""
        self._ballot, self.deadline = ballot, deadline
        self.last_demotion_reason = None  # as the real core: a tenure that runs has no end yet
        self.wake.set()

    def end(self, reason: str) -> None:
        """Local leadership ends, as the real core ends it: the reason first, then the deadline
        listener, then the ``on_demoted`` callback wakes the loop."""
        self.last_demotion_reason = reason
        self.deadline = None
        if self.listener is not None:
            self.listener(None)
        self.wake.set()

    def refresh(self, deadline: float) -> None:
        """A committed refresh: the deadline moves; no callback runs, but the deadline
        listener (run wires it to the supervisor) does."""
        self.deadline = deadline
        if self.listener is not None:
            self.listener(deadline)


class FakeChild:
    """A started CMD that exits ``EXIT_DELAY`` after SIGTERM (``stop`` advances the clock)."""

    def __init__(self, pid: int, clock: ManualClock, on_exit: Callable[[], None]) -> None:
        self.pid = pid
        self.clock = clock
        self.on_exit = on_exit
        self.exited = threading.Event()
        self.exit_code = 0
        self.stopped_at: float | None = None
        self.kill_at: float | None = None

    def stop(self, kill_at: float, *, clock: Callable[[], float]) -> int:
        self.stopped_at, self.kill_at = self.clock(), kill_at
        self.clock.advance_to(min(self.clock() + EXIT_DELAY, kill_at))
        self.exit_code = 128 + signal.SIGTERM
        self.exited.set()
        self.on_exit()
        return self.exit_code


class Harness:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.timeline = Timeline(self.clock)
        self.wake = VirtualWake(self.timeline)
        self.elector = FakeElector(self.clock, self.wake)
        self.children: list[tuple[float, str, FakeChild]] = []
        self.messages: list[str] = []
        self.supervisor = Supervisor(
            self.elector,
            POLICY,
            ["cmd"],
            {},
            wake=self.wake,
            clock=self.clock,
            say=self.messages.append,
            launch=self._launch,
        )
        self.elector.listener = self.supervisor.deadline_changed

    def _launch(
        self, argv: Sequence[str], env: Mapping[str, str], *, on_exit: Callable[[], None]
    ) -> FakeChild:
        assert len(self.children) < MAX_STARTS, f"CMD started {MAX_STARTS} times: {self.starts}"
        child = FakeChild(1000 + len(self.children), self.clock, on_exit)
        self.children.append((self.clock(), env["FDB_ELECTION_BALLOT"], child))
        return child

    @property
    def starts(self) -> list[tuple[float, str]]:
        return [(at, ballot) for at, ballot, _ in self.children]

    def run(self, stop_at: float) -> int:
        """Run the loop until a SIGTERM to ``run`` at virtual time ``stop_at``."""
        self.timeline.at(stop_at, lambda: self.supervisor.request_stop(signal.SIGTERM))
        return self.supervisor.loop()


def test_cmd_stopped_at_risk_stays_stopped_until_the_deadline() -> None:
    h = Harness()
    h.elector.elect(ballot=1, deadline=LEASE)
    assert h.run(stop_at=10.0) == 128 + signal.SIGTERM
    assert h.starts == [(0.0, "1")]
    child = h.children[0][2]
    assert child.stopped_at == LEASE - 0.65
    assert child.kill_at == LEASE - 0.15
    held = [m for m in h.messages if m.startswith("leadership at risk (deadline in")]
    assert len(held) == 1, h.messages
    assert "leadership lost while CMD was stopped; campaigning again" in h.messages


def test_a_new_tenure_after_an_at_risk_stop_starts_cmd_again() -> None:
    h = Harness()
    h.elector.elect(ballot=1, deadline=LEASE)
    h.timeline.at(5.0, lambda: h.elector.elect(ballot=2, deadline=5.0 + LEASE))
    h.run(stop_at=6.0)
    assert h.starts == [(0.0, "1"), (5.0, "2")]
    assert [m.split(";")[0] for m in h.messages if "started CMD" in m] == [
        "elected (ballot 1)",
        "elected (ballot 2)",
    ]


def test_a_refresh_that_commits_in_time_after_all_starts_cmd_again_in_the_same_tenure() -> None:
    h = Harness()
    h.elector.elect(ballot=1, deadline=LEASE)
    # A refresh that moves the deadline but leaves it at risk does not restart CMD...
    h.timeline.at(2.5, lambda: h.elector.refresh(LEASE + 0.1))
    # ...one that moves it beyond the grace budget does, at once (the deadline listener wakes
    # the loop: nothing polls).
    h.timeline.at(2.6, lambda: h.elector.refresh(2.6 + LEASE))
    h.run(stop_at=4.0)
    assert [ballot for _, ballot in h.starts] == ["1", "1"]
    restarted = h.starts[1][0]
    assert restarted == 2.6
    assert h.children[1][2].stopped_at == 4.0, "the restarted CMD ran until run was stopped"
    assert [m.split(";")[0] for m in h.messages if "started CMD" in m] == [
        "elected (ballot 1)",
        "leadership out of risk again (ballot 1)",
    ]


def test_a_tenure_whose_deadline_is_already_at_risk_does_not_start_cmd() -> None:
    h = Harness()
    h.elector.elect(ballot=1, deadline=0.5)  # the claim committed late: 0.5 s < 0.65 s left
    h.timeline.at(2.0, lambda: h.elector.elect(ballot=2, deadline=2.0 + LEASE))
    h.run(stop_at=3.0)
    assert h.starts == [(2.0, "2")]


def test_cmd_stopped_after_a_step_down_is_logged_alike_by_either_thread() -> None:
    """After a voluntary end, the release hook (on the elector's thread) and the loop race to
    stop CMD; whichever does, the log says why in the same words."""
    reason = "step-down requested by ops"
    said = []
    for hook_first in (True, False):
        h = Harness()
        h.elector.elect(ballot=1, deadline=10 * LEASE)

        def step_down(h: Harness = h, hook_first: bool = hook_first) -> None:
            h.elector.end(reason)
            if hook_first:
                h.supervisor.release(Release(1, reason, 10 * LEASE))

        h.timeline.at(1.0, step_down)
        h.run(stop_at=2.0)
        stops = [m for m in h.messages if ": stopping CMD (pid 1000)" in m]
        assert len(stops) == 1, h.messages
        said.append(stops[0].split(": stopping CMD")[0])
    assert said == [f"leadership ended ({reason})"] * 2


def test_a_deadline_passed_before_any_step_noted_it_is_named_as_the_reason() -> None:
    """The loop may find the deadline passed before the elector's next step ended the tenure
    (no reason recorded yet): it says so rather than nothing, or an older tenure's reason."""
    h = Harness()
    h.elector.elect(ballot=1, deadline=LEASE)
    h.clock.advance_to(LEASE + 0.1)
    assert h.supervisor._ended() == (
        "leadership ended (lease deadline passed without a committed refresh)"
    )
    h.elector.end("the leader key names 'b'")
    assert h.supervisor._ended() == "leadership ended (the leader key names 'b')"
