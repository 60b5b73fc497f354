"""``run``'s loop against a scripted elector: CMD starts on election, dies before the deadline."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fdb_election.cli.child import Guard
from fdb_election.cli.grace import GracePolicy
from fdb_election.cli.run import Supervisor, SupervisorAlarm
from fdb_election.runtime.clock import host_monotonic
from proc_state import alive

PY = sys.executable


class ScriptedElector:
    """Stands in for an Elector: the test decides when it leads and until when.

    Like the real elector's core, it tells the guard of every deadline change as it happens.
    """

    process_id = "scripted-1"

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        # What else hears of deadline changes on the elector's thread (run: the supervisor).
        self.listeners: list[Callable[[float | None], object]] = []
        self.deadline: float | None = None
        self.ballot: int | None = None
        self.failure: BaseException | None = None  # set when the elector stops on its own
        self.last_error: BaseException | None = None  # the last failed step's error
        self.last_success: float | None = None

    @property
    def is_leader(self) -> bool:
        return self.deadline is not None and host_monotonic() < self.deadline

    def _set_deadline(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.guard.set_deadline(deadline)
        for listener in self.listeners:
            listener(deadline)

    def elect(self, ballot: int, lease: float) -> None:
        self.ballot = ballot
        self._set_deadline(host_monotonic() + lease)

    def refresh(self, lease: float) -> None:
        self._set_deadline(host_monotonic() + lease)

    def demote(self) -> None:
        self._set_deadline(None)
        self.ballot = None


def _recording_cmd(tmp_path: Path, *, ignore_term: bool = False) -> list[str]:
    program = textwrap.dedent(
        f"""
        import os, pathlib, signal, sys, time
        from fdb_election.runtime.clock import host_monotonic
        log = pathlib.Path({str(tmp_path / "events")!r})
        def note(what):
            with log.open("a") as f:
                f.write(f"{{what}} {{host_monotonic()!r}} {{os.environ['FDB_ELECTION_BALLOT']}}\\n")
        if {ignore_term!r}:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        else:
            signal.signal(signal.SIGTERM, lambda *_: (note("stop"), sys.exit(0)))
        note("start")
        while True:
            time.sleep(1)
        """
    )
    return [PY, "-c", program]


def _events(tmp_path: Path) -> list[tuple[str, float, str]]:
    path = tmp_path / "events"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        what, stamp, ballot = line.split()
        rows.append((what, float(stamp), ballot))
    return rows


def _wait_until(condition: Any, timeout: float = 10.0) -> bool:
    deadline = host_monotonic() + timeout
    while host_monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())


@pytest.fixture
def guards() -> Iterator[Callable[[GracePolicy], Guard]]:
    spawned: list[Guard] = []

    def spawn(policy: GracePolicy) -> Guard:
        spawned.append(Guard.spawn(policy))
        return spawned[-1]

    yield spawn
    for guard in spawned:
        guard.close()


def _supervise(
    elector: ScriptedElector,
    argv: list[str],
    policy: GracePolicy,
    *,
    wake: threading.Event | None = None,
    alarm: bool = False,
    say: Callable[[str], None] = lambda _m: None,
) -> tuple[Supervisor, threading.Thread, list[int]]:
    wake = threading.Event() if wake is None else wake
    supervisor = Supervisor(
        elector,
        policy,
        argv,
        dict(os.environ),
        wake=wake,
        say=say,
        launch=elector.guard.start,
        alarm=SupervisorAlarm.create(wake) if alarm else None,
    )
    if alarm:
        if supervisor.alarm is None:
            pytest.skip("no timerfd on this platform")
        elector.listeners.append(supervisor.deadline_changed)
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(supervisor.loop()), daemon=True)
    thread.start()
    return supervisor, thread, result


def test_cmd_starts_with_the_ballot_and_is_killed_before_an_unrefreshed_deadline(
    tmp_path: Path, guards: Callable[[GracePolicy], Guard]
) -> None:
    policy = GracePolicy(grace=0.2, kill_margin=0.05)
    elector = ScriptedElector(guards(policy))
    supervisor, thread, _ = _supervise(elector, _recording_cmd(tmp_path, ignore_term=True), policy)
    elector.elect(ballot=7, lease=1.5)
    deadline = elector.deadline
    supervisor.wake.set()
    assert _wait_until(lambda: supervisor.child is not None and _events(tmp_path))
    child = supervisor.child
    assert child is not None
    assert _events(tmp_path)[0][0] == "start"
    assert _events(tmp_path)[0][2] == "7"
    # No refresh: the supervisor must have CMD killed and reaped before the deadline.
    assert child.exited.wait(5)
    assert deadline is not None
    assert host_monotonic() < deadline
    assert child.exit_code == 128 + signal.SIGKILL
    supervisor.request_stop(signal.SIGTERM)
    thread.join(5)
    assert not thread.is_alive()


def test_cmd_keeps_running_while_the_lease_is_refreshed(
    tmp_path: Path, guards: Callable[[GracePolicy], Guard]
) -> None:
    policy = GracePolicy(grace=0.1, kill_margin=0.05)
    elector = ScriptedElector(guards(policy))
    supervisor, thread, result = _supervise(elector, _recording_cmd(tmp_path), policy)
    elector.elect(ballot=3, lease=0.6)
    supervisor.wake.set()
    assert _wait_until(lambda: supervisor.child is not None)
    child = supervisor.child
    assert child is not None
    # Refresh well before stop_at several times: CMD is never stopped.
    for _ in range(5):
        time.sleep(0.2)  # the refresh cadence under test, not a settle wait
        assert elector.deadline is not None
        elector.refresh(0.6)
    assert not child.exited.is_set()
    supervisor.request_stop(signal.SIGINT)
    thread.join(5)
    assert result == [128 + signal.SIGINT]
    assert [e[0] for e in _events(tmp_path)] == ["start", "stop"]


def _supervise_saying(
    tmp_path: Path, guards: Callable[[GracePolicy], Guard]
) -> tuple[ScriptedElector, Supervisor, threading.Thread, list[int], list[str]]:
    """A supervised recording CMD whose supervisor's messages are kept in the last list."""
    policy = GracePolicy(grace=1.0, kill_margin=0.05)
    elector = ScriptedElector(guards(policy))
    said: list[str] = []
    supervisor, thread, result = _supervise(
        elector, _recording_cmd(tmp_path), policy, say=said.append
    )
    return elector, supervisor, thread, result, said


def test_a_stop_signal_is_named_where_cmd_is_stopped_for_it(
    tmp_path: Path, guards: Callable[[GracePolicy], Guard]
) -> None:
    elector, supervisor, thread, result, said = _supervise_saying(tmp_path, guards)
    elector.elect(ballot=2, lease=30)
    supervisor.wake.set()
    assert _wait_until(lambda: supervisor.child is not None and _events(tmp_path))
    supervisor.request_stop(signal.SIGTERM)
    supervisor.request_stop(signal.SIGINT)  # an impatient second signal changes nothing
    thread.join(5)
    assert result == [128 + signal.SIGTERM]
    [stopping] = [m for m in said if ": stopping CMD" in m]
    assert stopping.startswith("SIGTERM received: stopping CMD (pid ")


def test_a_stop_signal_without_cmd_says_the_process_leaves(
    tmp_path: Path, guards: Callable[[GracePolicy], Guard]
) -> None:
    _, supervisor, thread, result, said = _supervise_saying(tmp_path, guards)
    supervisor.request_stop(signal.SIGHUP)  # a follower: no CMD runs
    thread.join(5)
    assert result == [128 + signal.SIGHUP]
    assert said == ["SIGHUP received: leaving the election"]


def test_demotion_stops_cmd_and_reelection_starts_it_again(
    tmp_path: Path, guards: Callable[[GracePolicy], Guard]
) -> None:
    policy = GracePolicy(grace=1.0, kill_margin=0.05)
    elector = ScriptedElector(guards(policy))
    supervisor, thread, _ = _supervise(elector, _recording_cmd(tmp_path), policy)
    elector.elect(ballot=1, lease=30)
    supervisor.wake.set()
    assert _wait_until(lambda: len(_events(tmp_path)) == 1)
    elector.demote()
    supervisor.wake.set()
    assert _wait_until(lambda: len(_events(tmp_path)) == 2)
    elector.elect(ballot=5, lease=30)
    supervisor.wake.set()
    assert _wait_until(lambda: len(_events(tmp_path)) == 3)
    events = _events(tmp_path)
    assert [(e[0], e[2]) for e in events] == [("start", "1"), ("stop", "1"), ("start", "5")]
    supervisor.request_stop(signal.SIGTERM)
    thread.join(5)
    assert [e[0] for e in _events(tmp_path)][-1] == "stop"


def test_cmd_exit_code_ends_the_loop(
    tmp_path: Path, guards: Callable[[GracePolicy], Guard]
) -> None:
    policy = GracePolicy(grace=1.0, kill_margin=0.05)
    elector = ScriptedElector(guards(policy))
    supervisor, thread, result = _supervise(elector, [PY, "-c", "raise SystemExit(42)"], policy)
    elector.elect(ballot=1, lease=30)
    supervisor.wake.set()
    thread.join(10)
    assert result == [42]


class _StoppedCore:
    """An elector core whose phase the test sets."""

    class _Phase:
        def __init__(self, name: str) -> None:
            self.name = name

    def __init__(self) -> None:
        self.phase = self._Phase("LEADING")
        self.last_error: BaseException | None = None


class _ExitedChild:
    def __init__(self, exited: bool) -> None:
        self.exited = threading.Event()
        if exited:
            self.exited.set()


def test_run_winds_down_once_the_elector_has_stopped_and_cmd_is_gone() -> None:
    core = _StoppedCore()
    elector = type("E", (), {"core": core, "failure": None})()
    wound: list[str] = []
    supervisor = Supervisor(
        elector,
        GracePolicy(grace=0.2, kill_margin=0.05),
        ["true"],
        {},
        wake=threading.Event(),
        launch=lambda *_a, **_k: pytest.fail("nothing should start"),
        say=lambda _m: None,
        wind_down=lambda: wound.append("down"),
    )
    supervisor.stepped()
    assert wound == []  # still campaigning
    core.phase = core._Phase("STOPPED")
    supervisor.child = _ExitedChild(exited=False)  # type: ignore[assignment]
    supervisor.stepped()
    assert wound == []  # CMD still runs: stopping it may be urgent
    supervisor.child = _ExitedChild(exited=True)  # type: ignore[assignment]
    supervisor.stepped()
    supervisor.child = None
    supervisor.stepped()
    assert wound == ["down"]  # once


class _RecordingAlarm:
    """Notes how the supervisor sets its alarm; never goes off."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def arm(self, when: float) -> None:
        self.calls.append("arm")

    def disarm(self) -> None:
        self.calls.append("disarm")

    def fires_by(self, when: float) -> bool:
        return False


def test_the_end_of_leadership_wakes_the_loop_itself_and_disarms_the_alarm() -> None:
    """Not through the alarm's thread: that thread would take the interpreter from the release
    step that is handing leadership over."""
    wake, alarm = threading.Event(), _RecordingAlarm()
    supervisor = Supervisor(
        object(),
        GracePolicy(grace=0.2, kill_margin=0.05),
        ["true"],
        {},
        wake=wake,
        launch=lambda *_a, **_k: pytest.fail("nothing should start"),
        say=lambda _m: None,
        alarm=alarm,  # type: ignore[arg-type]
    )
    supervisor.child = object()  # type: ignore[assignment]  # CMD runs: a refresh starts nothing
    supervisor.deadline_changed(host_monotonic() + 30.0)
    assert alarm.calls == ["arm"] and not wake.is_set()  # a refresh wakes nobody
    supervisor.deadline_changed(None)
    assert alarm.calls == ["arm", "disarm"] and wake.is_set()


def test_release_hook_returns_only_once_cmd_is_dead_and_kills_by_the_deadline(
    tmp_path: Path, guards: Callable[[GracePolicy], Guard]
) -> None:
    from fdb_election.runtime import Release

    policy = GracePolicy(grace=0.3, kill_margin=0.05)
    elector = ScriptedElector(guards(policy))
    supervisor, thread, _ = _supervise(elector, _recording_cmd(tmp_path, ignore_term=True), policy)
    elector.elect(ballot=4, lease=30)
    supervisor.wake.set()
    assert _wait_until(lambda: supervisor.child is not None and _events(tmp_path))
    child = supervisor.child
    assert child is not None
    released_deadline = host_monotonic() + 1.0
    elector.demote()  # the elector ends local leadership, then calls the hook on its thread
    supervisor.release(Release(4, "step-down requested by test", released_deadline))
    assert child.exited.is_set(), "the hook returned while CMD was still running"
    assert child.exit_code == 128 + signal.SIGKILL, "CMD ignores SIGTERM: SIGKILL after grace"
    assert host_monotonic() < released_deadline
    assert supervisor.child is None
    supervisor.request_stop(signal.SIGTERM)
    thread.join(5)
    assert not thread.is_alive()


class _Unwritable(Exception):
    code = 1510


def test_a_follower_loop_waits_for_events_and_a_step_wakes_it_for_a_failure(
    tmp_path: Path, guards: Callable[[GracePolicy], Guard]
) -> None:
    policy = GracePolicy(grace=0.2, kill_margin=0.05)
    elector = ScriptedElector(guards(policy))
    supervisor, thread, result = _supervise(elector, _recording_cmd(tmp_path), policy)
    supervisor.stepped()  # a step with nothing to report: the loop keeps waiting
    thread.join(0.3)
    assert thread.is_alive() and result == []
    elector.failure = RuntimeError("process id registered again by another elector")
    supervisor.stepped()
    thread.join(10.0)
    assert result == [1], "the failure ends the loop with exit code 1"


def test_two_failed_writes_in_a_row_end_a_follower_loop(
    tmp_path: Path, guards: Callable[[GracePolicy], Guard]
) -> None:
    policy = GracePolicy(grace=0.2, kill_margin=0.05)
    elector = ScriptedElector(guards(policy))
    supervisor, thread, result = _supervise(elector, _recording_cmd(tmp_path), policy)
    elector.last_error = _Unwritable("the disk is full")
    supervisor.stepped()
    thread.join(0.3)
    assert thread.is_alive(), "one failed write may be a passing moment"
    elector.last_error = _Unwritable("the disk is still full")
    supervisor.stepped()
    thread.join(10.0)
    assert result == [1]
    assert supervisor.database_failure is elector.last_error


class _CountingWake(threading.Event):
    """An Event that counts how often the loop went to sleep on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waits = 0

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        return super().wait(timeout)


@pytest.mark.parametrize("alarm", [True, False], ids=["alarm", "timeouts"])
def test_with_the_alarm_refreshes_do_not_wake_the_loop(
    tmp_path: Path, guards: Callable[[GracePolicy], Guard], alarm: bool
) -> None:
    """Each refresh moves the SIGTERM time; without the alarm the loop wakes at the old one and
    sleeps again, with it the loop sleeps until something happens."""
    policy = GracePolicy(grace=0.1, kill_margin=0.05)
    elector = ScriptedElector(guards(policy))
    wake = _CountingWake()
    supervisor, thread, result = _supervise(
        elector, _recording_cmd(tmp_path), policy, wake=wake, alarm=alarm
    )
    elector.elect(ballot=3, lease=0.5)
    supervisor.wake.set()
    assert _wait_until(lambda: supervisor.child is not None)
    child = supervisor.child
    assert child is not None
    before = wake.waits
    for _ in range(20):  # SIGTERM would be due 0.35 s after each refresh
        time.sleep(0.15)  # the refresh cadence under test, not a settle wait
        elector.refresh(0.5)
    woken = wake.waits - before
    # A wake-up or two may be left from starting CMD; without the alarm the loop wakes about
    # every 0.3 s for 3 s.
    if alarm:
        assert woken <= 3, woken
    else:
        assert woken >= 6, woken
    assert not child.exited.is_set()
    supervisor.request_stop(signal.SIGINT)
    thread.join(5)
    assert result == [128 + signal.SIGINT]


def test_with_the_guard_stopped_the_loop_s_alarm_still_kills_cmd_before_the_deadline(
    tmp_path: Path, guards: Callable[[GracePolicy], Guard]
) -> None:
    """The guard is the first line; when it is stopped (SIGSTOP), the loop is the second: its
    alarm wakes it at the SIGTERM time, and run kills CMD's group itself at the kill time."""
    policy = GracePolicy(grace=0.2, kill_margin=0.1)
    guard = guards(policy)
    elector = ScriptedElector(guard)
    supervisor, thread, _ = _supervise(
        elector, _recording_cmd(tmp_path, ignore_term=True), policy, alarm=True
    )
    elector.elect(ballot=9, lease=30)
    supervisor.wake.set()
    assert _wait_until(lambda: supervisor.child is not None and _events(tmp_path))
    child = supervisor.child
    assert child is not None
    os.kill(guard.pid, signal.SIGSTOP)
    try:
        assert _wait_until(lambda: Path(f"/proc/{guard.pid}/stat").read_text().split()[2] == "T")
        elector.refresh(1.0)  # the last refresh: the deadline is 1 s away
        deadline = elector.deadline
        assert deadline is not None
        assert _wait_until(lambda: not alive(child.pid), timeout=5)
        assert host_monotonic() < deadline, "run killed CMD's group itself, before the deadline"
    finally:
        os.kill(guard.pid, signal.SIGCONT)
    assert child.exited.wait(5), "the resumed guard reports CMD gone"
    supervisor.request_stop(signal.SIGTERM)
    thread.join(5)
    assert not thread.is_alive()


def test_an_alarm_whose_thread_is_gone_reports_nothing_armed() -> None:
    """The loop waits without a timeout only on an alarm that can still wake it."""
    wake = threading.Event()
    alarm = SupervisorAlarm.create(wake)
    if alarm is None:
        pytest.skip("no timerfd on this platform")
    alarm.arm(host_monotonic() + 100.0)
    fires = alarm.fires_at()
    assert fires is not None and fires > host_monotonic() + 99.0
    alarm.arm(0.0)  # long past: it goes off at once and sets wake
    assert wake.wait(5)
    alarm.arm(host_monotonic() + 100.0)
    alarm.disarm()
    assert alarm.fires_at() is None
    alarm.arm(host_monotonic() + 100.0)
    alarm.close()
    assert alarm.fires_at() is None


def test_cmd_s_environment_differs_between_starts_only_in_the_ballot() -> None:
    """What run announces to its guard (no ballot) is each start's environment less the
    ballot, even when run inherited a ballot of its own (as the CMD of another run)."""
    inherited = {"PATH": os.defpath, "FDB_ELECTION_BALLOT": "99", "KEEP": "1"}
    supervisor = Supervisor(
        ScriptedElector(guard=None),  # type: ignore[arg-type]
        GracePolicy(grace=0.3, kill_margin=0.05),
        ["true"],
        inherited,
        wake=threading.Event(),
        launch=lambda *_a, **_k: None,  # type: ignore[arg-type]
    )
    announced = supervisor.command_env()
    assert "FDB_ELECTION_BALLOT" not in announced
    assert announced["FDB_ELECTION_PROCESS_ID"] == ScriptedElector.process_id
    assert announced["KEEP"] == "1"
    assert supervisor.command_env(7) == {**announced, "FDB_ELECTION_BALLOT": "7"}
