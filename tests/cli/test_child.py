"""CMD under its guard: process group, exit codes, SIGTERM then SIGKILL, the deadline, and the
whole tree dying whatever happens to ``run``."""

from __future__ import annotations

import ast
import contextlib
import errno
import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fdb_election.cli import guard as guard_module
from fdb_election.cli.child import Guard, StartRefused, resolve_command
from fdb_election.cli.exit_codes import CannotExecute, CommandNotFound
from fdb_election.cli.grace import GracePolicy
from fdb_election.cli.guard import Guard as GuardLoop
from fdb_election.cli.guard import GuardState, SharedDeadline, descendants
from fdb_election.runtime.clock import host_monotonic
from proc_state import alive

PY = sys.executable
POLICY = GracePolicy(grace=0.3, kill_margin=0.05)
LINUX = sys.platform.startswith("linux")
FAR = 3600.0  # a deadline that does not matter during the test


def _wait_until(condition, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = host_monotonic() + timeout
    while host_monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def _pids_in(path: Path, count: int) -> list[int]:
    assert _wait_until(lambda: path.exists() and len(path.read_text().split()) >= count)
    return [int(p) for p in path.read_text().split()]


def _tree_program(pid_file: Path, *, leave: bool = False) -> str:
    """CMD that starts a grandchild in its group and a daemon that left it (setsid, forked
    twice), writes their pids, then waits (or exits at once with ``leave``)."""
    return textwrap.dedent(
        f"""
        import os, pathlib, subprocess, sys, time
        sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
        grandchild = subprocess.Popen(sleeper)
        daemon = subprocess.Popen(
            [sys.executable, "-c",
             "import os, subprocess, sys; os.setsid(); "
             "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
             "print(p.pid, flush=True)"],
            stdout=subprocess.PIPE, text=True)
        escaped = int(daemon.stdout.readline())
        daemon.wait()
        path = pathlib.Path({str(pid_file)!r})
        path.with_suffix(".tmp").write_text(f"{{grandchild.pid}} {{escaped}}")
        path.with_suffix(".tmp").rename(path)
        if not {leave!r}:
            time.sleep(60)
        """
    )


@pytest.fixture(params=["shared deadline", "deadline messages"])
def guard(request: pytest.FixtureRequest) -> Iterator[Guard]:
    """A guard told of deadlines through a SharedDeadline (where the platform has one), and one
    told by a message per change: every test runs against both."""
    shared = request.param == "shared deadline"
    if shared and SharedDeadline.create() is None:
        pytest.skip("no timerfd on this platform: run sends deadline messages")
    g = Guard.spawn(POLICY, share_deadline=shared)
    try:
        yield g
    finally:
        g.close()


def test_resolve_command_reports_missing_and_non_executable(tmp_path: Path) -> None:
    with pytest.raises(CommandNotFound, match="no-such-command-xyz"):
        resolve_command("no-such-command-xyz", os.environ.get("PATH"))
    with pytest.raises(CommandNotFound):
        resolve_command(str(tmp_path / "missing"), None)
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    with pytest.raises(CannotExecute, match="not executable"):
        resolve_command(str(script), None)
    assert resolve_command("sh", os.environ.get("PATH")).endswith("/sh")


def test_exit_code_is_propagated(guard: Guard) -> None:
    guard.set_deadline(host_monotonic() + FAR)
    child = guard.start([PY, "-c", "raise SystemExit(7)"], dict(os.environ))
    assert child.exited.wait(10)
    assert child.exit_code == 7 and child.reason == "exited"


def test_an_exit_reported_before_start_returns_is_not_lost(
    guard: Guard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CMD may exit, and the guard report it, between the guard's "started" answer and the
    moment ``start`` registers the child (a CMD such as ``true``, a busy machine): the exit
    must still reach the child, or ``run`` would wait for it for ever."""
    import fdb_election.cli.child as child_module

    registered = child_module.ChildProcess.__init__

    def slow_to_register(self: Any, *args: Any, **kwargs: Any) -> None:
        time.sleep(0.5)  # CMD exits and the guard reports it meanwhile
        registered(self, *args, **kwargs)

    monkeypatch.setattr(child_module.ChildProcess, "__init__", slow_to_register)
    guard.set_deadline(host_monotonic() + FAR)
    child = guard.start([PY, "-c", "raise SystemExit(3)"], dict(os.environ))
    assert child.exited.wait(10), "the exit of CMD was lost"
    assert child.exit_code == 3 and child.reason == "exited"


def test_child_runs_in_its_own_process_group_under_the_guard(guard: Guard) -> None:
    guard.set_deadline(host_monotonic() + FAR)
    child = guard.start([PY, "-c", "import time; time.sleep(30)"], dict(os.environ))
    try:
        assert os.getpgid(child.pid) == child.pid
        assert os.getpgid(child.pid) != os.getpgrp()
        assert os.getsid(guard.pid) == guard.pid, "the guard is out of run's session"
    finally:
        child.stop(host_monotonic())


def test_cmd_inherits_none_of_the_guard_s_descriptors(guard: Guard, tmp_path: Path) -> None:
    # CMD gets run's standard streams and nothing else: not the guard's socket to run (a
    # descendant holding it open would hide the guard's death from run), nor its pipes.
    guard.set_deadline(host_monotonic() + FAR)
    out = tmp_path / "fds"
    program = (
        "import os; d = '/proc/self/fd/'; "
        "fds = {f: os.readlink(d + f) for f in os.listdir(d) if os.path.exists(d + f)}; "
        f"open({str(out)!r}, 'w').write(repr(fds))"
    )
    child = guard.start([PY, "-c", program], dict(os.environ))
    assert child.exited.wait(10) and child.exit_code == 0
    fds = ast.literal_eval(out.read_text())
    assert {fd: target for fd, target in fds.items() if int(fd) > 2} == {}


def test_the_guard_refuses_to_start_cmd_without_a_deadline(guard: Guard) -> None:
    with pytest.raises(StartRefused):
        guard.start([PY, "-c", "pass"], dict(os.environ))
    guard.set_deadline(host_monotonic() + 0.1)  # inside grace + margin: already at risk
    with pytest.raises(StartRefused):
        guard.start([PY, "-c", "pass"], dict(os.environ))


def test_a_command_that_cannot_start_is_reported(guard: Guard, tmp_path: Path) -> None:
    guard.set_deadline(host_monotonic() + FAR)
    script = tmp_path / "gone.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    env = dict(os.environ)
    script.unlink()  # between run's check and the guard's exec
    with pytest.raises((CommandNotFound, CannotExecute)):
        guard.start([str(script)], env)


def test_the_guard_execs_the_file_run_found_without_searching_path(
    guard: Guard, tmp_path: Path
) -> None:
    # run resolves CMD in its PATH before asking (a typo fails before campaigning) and passes
    # the file on; the guard's forked child then execs it directly, with argv as given.
    guard.set_deadline(host_monotonic() + FAR)
    marker = tmp_path / "ran"
    script = tmp_path / "tool"
    script.write_text(f'#!/bin/sh\necho "$1" > {marker}\n')
    script.chmod(0o755)
    env = {"PATH": str(tmp_path / "nowhere")}  # a search of this PATH finds nothing
    guard._send({"op": "start", "argv": ["tool", "found"], "env": env, "executable": str(script)})
    assert guard._answers.get(timeout=5)["ev"] == "started"
    assert _wait_until(lambda: marker.exists() and marker.read_text() == "found\n")
    assert _wait_until(lambda: guard._early_exit is not None), "its exit is reported"
    # Without the file, the guard searches CMD's PATH itself, and reports what it finds.
    guard._send({"op": "start", "argv": ["tool"], "env": env})
    answer = guard._answers.get(timeout=5)
    assert answer["ev"] == "failed" and answer["errno"] == errno.ENOENT, answer
    # A start message without a command line is refused, and the guard goes on serving.
    guard._send({"op": "start", "env": env})
    answer = guard._answers.get(timeout=5)
    assert answer["ev"] == "failed" and answer["errno"] == errno.EINVAL, answer
    marker.unlink()
    guard._send({"op": "start", "argv": ["tool", "again"], "env": env, "executable": str(script)})
    assert guard._answers.get(timeout=5)["ev"] == "started"
    assert _wait_until(lambda: marker.exists() and marker.read_text() == "again\n")


def test_sigterm_is_enough_for_a_cooperative_child(guard: Guard) -> None:
    guard.set_deadline(host_monotonic() + FAR)
    child = guard.start([PY, "-c", "import time; time.sleep(30)"], dict(os.environ))
    code = child.stop(host_monotonic() + 10)
    assert code == 128 + signal.SIGTERM and child.reason == "stopped"


def test_sigkill_after_the_grace_period_for_a_child_that_ignores_sigterm(
    guard: Guard, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    program = textwrap.dedent(
        f"""
        import pathlib, signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        pathlib.Path({str(ready)!r}).write_text("x")
        time.sleep(30)
        """
    )
    guard.set_deadline(host_monotonic() + FAR)
    child = guard.start([PY, "-c", program], dict(os.environ))
    assert _wait_until(ready.exists)
    started = host_monotonic()
    code = child.stop(started + 0.3)
    elapsed = host_monotonic() - started
    assert code == 128 + signal.SIGKILL
    assert elapsed >= 0.3
    assert not alive(child.pid)


@pytest.mark.skipif(not LINUX, reason="the subreaper and /proc are Linux-only")
def test_what_cmd_leaves_behind_dies_with_it_even_outside_its_group(
    guard: Guard, tmp_path: Path
) -> None:
    pid_file = tmp_path / "tree.pids"
    guard.set_deadline(host_monotonic() + FAR)
    child = guard.start([PY, "-c", _tree_program(pid_file, leave=True)], dict(os.environ))
    assert child.exited.wait(10)
    grandchild, escaped = _pids_in(pid_file, 2)
    # The exit is reported only once nothing of CMD is left.
    assert not alive(grandchild) and not alive(escaped)
    assert child.exit_code == 0 and child.reason == "exited"


@pytest.mark.skipif(not LINUX, reason="the subreaper and /proc are Linux-only")
def test_an_unrefreshed_deadline_kills_the_whole_tree_before_it(
    guard: Guard, tmp_path: Path
) -> None:
    pid_file = tmp_path / "tree.pids"
    deadline = host_monotonic() + 2.0
    guard.set_deadline(deadline)
    child = guard.start([PY, "-c", _tree_program(pid_file)], dict(os.environ))
    grandchild, escaped = _pids_in(pid_file, 2)
    assert alive(escaped) and os.getsid(escaped) != os.getsid(child.pid), "it left CMD's session"
    assert child.exited.wait(10)
    assert host_monotonic() < deadline - POLICY.kill_margin + 0.05
    assert child.reason == "deadline"
    assert not alive(child.pid) and not alive(grandchild) and not alive(escaped)


def test_a_refreshed_deadline_keeps_cmd_running(guard: Guard) -> None:
    # Each refresh leaves the deadline 1.5 s ahead; SIGTERM would come 0.35 s before it.
    guard.set_deadline(host_monotonic() + 1.5)
    child = guard.start([PY, "-c", "import time; time.sleep(30)"], dict(os.environ))
    for _ in range(12):
        time.sleep(0.15)  # the refresh cadence under test, not a settle wait
        guard.set_deadline(host_monotonic() + 1.5)
    assert not child.exited.is_set()
    guard.set_deadline(None)  # leadership ended: stopped at once
    assert child.exited.wait(5)
    assert child.reason == "stopped"


def _supervisor_script(pid_file: Path, deadline_in: float) -> str:
    """A stand-in for run: a guard, CMD with a tree, then it waits to be killed or stopped."""
    return textwrap.dedent(
        f"""
        import os, pathlib, sys, time
        from fdb_election.cli.child import Guard
        from fdb_election.cli.grace import GracePolicy
        from fdb_election.runtime.clock import host_monotonic
        guard = Guard.spawn(GracePolicy(grace={POLICY.grace!r}, kill_margin={POLICY.kill_margin!r}))
        guard.set_deadline(host_monotonic() + {deadline_in!r})
        tree = {_tree_program(pid_file)!r}
        child = guard.start([sys.executable, "-c", tree], dict(os.environ))
        print(child.pid, guard.pid, flush=True)
        time.sleep(60)
        """
    )


@pytest.mark.skipif(not LINUX, reason="the subreaper and /proc are Linux-only")
def test_kill_9_of_run_takes_cmds_whole_tree_down(tmp_path: Path) -> None:
    pid_file = tmp_path / "tree.pids"
    run = subprocess.Popen(
        [PY, "-c", _supervisor_script(pid_file, FAR)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert run.stdout is not None
        cmd_pid, guard_pid = map(int, run.stdout.readline().split())
        grandchild, escaped = _pids_in(pid_file, 2)
        assert all(map(alive, (cmd_pid, grandchild, escaped, guard_pid)))
        run.kill()
        run.wait(10)
        # SIGTERM at once, SIGKILL after the grace period at the latest.
        assert _wait_until(
            lambda: not any(map(alive, (cmd_pid, grandchild, escaped))), POLICY.grace + 1.0
        )
        assert _wait_until(lambda: not alive(guard_pid), 5.0), "the guard exits after"
    finally:
        run.kill()
        run.wait(10)


@pytest.mark.skipif(not LINUX, reason="the subreaper and /proc are Linux-only")
def test_a_stopped_run_does_not_keep_cmd_past_its_deadline(tmp_path: Path) -> None:
    pid_file = tmp_path / "tree.pids"
    run = subprocess.Popen(
        [PY, "-c", _supervisor_script(pid_file, 1.5)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert run.stdout is not None
        cmd_pid, _guard_pid = map(int, run.stdout.readline().split())
        grandchild, escaped = _pids_in(pid_file, 2)
        run.send_signal(signal.SIGSTOP)
        stopped_at = host_monotonic()
        assert _wait_until(lambda: not any(map(alive, (cmd_pid, grandchild, escaped))), 5.0)
        assert host_monotonic() - stopped_at < 1.5, "dead before the deadline run never refreshed"
    finally:
        run.send_signal(signal.SIGCONT)
        run.kill()
        run.wait(10)


@pytest.mark.skipif(not LINUX, reason="PR_SET_PDEATHSIG is Linux-only")
def test_cmd_dies_when_its_guard_is_killed(guard: Guard) -> None:
    guard.set_deadline(host_monotonic() + FAR)
    child = guard.start([PY, "-c", "import time; time.sleep(60)"], dict(os.environ))
    os.kill(guard.pid, signal.SIGKILL)
    assert child.exited.wait(10), "run learns that CMD is gone"
    assert not alive(child.pid)


def test_the_guard_exits_0_once_run_lets_it_go_after_cmd_s_tree(guard: Guard) -> None:
    """``run`` closing its end (its own exit) ends the guard: CMD's tree first, then the guard
    itself with status 0 (it skips the interpreter's teardown, not its work)."""
    guard.set_deadline(host_monotonic() + FAR)
    child = guard.start([PY, "-c", "import time; time.sleep(60)"], dict(os.environ))
    guard.close()
    assert guard._process.wait(10) == 0
    assert child.exited.wait(10) and not alive(child.pid)


def _ready_launcher(guard: Guard) -> int:
    """The pid of the guard's launcher: while no CMD runs, the guard's only child."""
    assert _wait_until(lambda: len(descendants(guard.pid)) == 1), "no launcher was forked"
    (pid,) = descendants(guard.pid)
    return pid


@pytest.mark.skipif(not LINUX, reason="finds the launcher in /proc")
def test_cmd_is_the_process_the_guard_forked_ahead_and_a_new_one_follows(guard: Guard) -> None:
    """The guard forks CMD's process before it is needed (starting then takes an exec), forks
    another on demand for a start right after CMD exits, and a new one ahead after that."""
    guard.set_deadline(host_monotonic() + FAR)
    launcher = _ready_launcher(guard)
    assert os.getpgid(launcher) == launcher, "it is in its own process group already"
    first = guard.start([PY, "-c", "raise SystemExit(5)"], dict(os.environ))
    assert first.pid == launcher
    assert first.exited.wait(10) and first.exit_code == 5
    second = guard.start([PY, "-c", "raise SystemExit(6)"], dict(os.environ))  # none ready
    assert second.exited.wait(10) and second.exit_code == 6
    ahead = _ready_launcher(guard)
    assert ahead not in (first.pid, second.pid)
    third = guard.start([PY, "-c", "import time; time.sleep(30)"], dict(os.environ))
    try:
        assert third.pid == ahead and third.exited.wait(0.2) is False
    finally:
        third.kill()
        assert third.exited.wait(10)


@pytest.mark.skipif(not LINUX, reason="finds the launcher in /proc")
def test_a_launcher_killed_while_it_waits_does_not_fail_the_start(guard: Guard) -> None:
    guard.set_deadline(host_monotonic() + FAR)
    launcher = _ready_launcher(guard)
    os.kill(launcher, signal.SIGKILL)
    assert _wait_until(lambda: not alive(launcher))  # dead, whether or not the guard reaped it
    child = guard.start([PY, "-c", "raise SystemExit(4)"], dict(os.environ))
    assert child.pid != launcher
    assert child.exited.wait(10) and child.exit_code == 4


@pytest.mark.skipif(not LINUX, reason="finds the launcher in /proc")
def test_a_launcher_stopped_while_it_waits_is_replaced_at_the_start(guard: Guard) -> None:
    """A launcher stopped with SIGSTOP would never exec: the guard gives it a second, kills it
    and starts CMD from a fresh one, well within the time run waits for an answer."""
    guard.set_deadline(host_monotonic() + FAR)
    launcher = _ready_launcher(guard)
    os.kill(launcher, signal.SIGSTOP)
    child = guard.start([PY, "-c", "raise SystemExit(8)"], dict(os.environ))
    assert child.pid != launcher
    assert child.exited.wait(10) and child.exit_code == 8
    assert not alive(launcher)


@pytest.mark.skipif(not LINUX, reason="finds the launcher in /proc")
def test_a_waiting_launcher_holds_nothing_of_the_guard(guard: Guard) -> None:
    """It holds neither the guard's socket nor its timer, so a guard that is killed is seen at
    once by run (the launcher does not keep the socket open), and it dies too."""
    launcher = _ready_launcher(guard)
    held = [os.readlink(f"/proc/{launcher}/fd/{fd}") for fd in os.listdir(f"/proc/{launcher}/fd")]
    assert not [link for link in held if link.startswith(("socket:", "anon_inode:"))], held
    os.kill(guard.pid, signal.SIGKILL)
    assert _wait_until(lambda: not guard._reader.is_alive()), "run did not see the guard die"
    assert _wait_until(lambda: not alive(launcher)), "the launcher outlived the guard"


def test_the_launcher_goes_with_the_guard(guard: Guard) -> None:
    launcher = _ready_launcher(guard) if LINUX else None
    guard.close()
    assert guard._process.wait(10) == 0
    assert launcher is None or _wait_until(lambda: not alive(launcher))


# ---------------------------------------------------------------------------- prepared CMD
# run says what CMD will be before any start; the guard's launcher then waits in /bin/sh with
# CMD's environment, and a start only hands it the ballot.

_ENV_PROGRAM = (
    "import os, sys, time; open(sys.argv[1], 'wb').write(repr((sys.argv[2:], dict(os.environb)))"
    ".encode()); '--wait' in sys.argv and time.sleep(60)"
)


def _cmd_writing_its_view(out: Path) -> list[str]:
    """A CMD that writes its arguments and its environment (as bytes) to ``out`` (then, given
    ``--wait``, sleeps)."""
    return [PY, "-c", _ENV_PROGRAM, str(out), "a b", "$c", "'d'"]


def _its_view(out: Path) -> tuple[list[str], dict[bytes, bytes]]:
    assert _wait_until(out.exists)
    argv, env = ast.literal_eval(out.read_text())
    return argv, env


def _as_bytes(env: dict[str, str]) -> dict[bytes, bytes]:
    return {os.fsencode(k): os.fsencode(v) for k, v in env.items()}


def _waits_in_the_shell(pid: int) -> bool:
    """Whether ``pid`` is a launcher waiting in the shell (not the guard's one-off check of the
    shell, which runs ``env -0`` as its CMD)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")[:-1]
    except OSError:
        return False
    return bool(argv) and argv[0] == b"sh" and argv[-1] != b"-0"


def _prepared_launcher(guard: Guard) -> int:
    """The pid of the launcher once it waits in the shell, as the guard's only child."""
    found: list[int] = []

    def one_waits() -> bool:
        found[:] = descendants(guard.pid)
        return len(found) == 1 and _waits_in_the_shell(found[0])

    assert _wait_until(one_waits), "no launcher waits in the shell"
    return found[0]


def _awkward_env() -> dict[str, str]:
    """run's environment with values a shell would expand, split or reset if it could."""
    env = dict(os.environ)
    env.pop("PWD", None)  # the shell sets one of its own: it must not reach CMD
    env.update(
        {
            "FDB_ELECTION_PROCESS_ID": "host-1 'x'",
            "LINES_AND_QUOTES": "one\ntwo 'three' \"four\" $(five) `six` $SEVEN \\",
            "IFS": ":",
            "OPTIND": "5",
            "PPID": "1",
            "EMPTY": "",
        }
    )
    return env


@pytest.mark.skipif(not LINUX, reason="finds the launcher in /proc")
def test_a_prepared_cmd_waits_in_a_shell_and_gets_exactly_its_environment(
    guard: Guard, tmp_path: Path
) -> None:
    out = tmp_path / "view"
    argv = _cmd_writing_its_view(out)
    env = _awkward_env()
    guard.prepare(argv, env)
    launcher = _prepared_launcher(guard)
    assert os.getpgid(launcher) == launcher
    guard.set_deadline(host_monotonic() + FAR)
    child = guard.start(argv, {**env, "FDB_ELECTION_BALLOT": "42"})
    assert child.pid == launcher, "CMD is the process that waited in the shell"
    assert child.exited.wait(10) and child.exit_code == 0
    seen_argv, seen_env = _its_view(out)
    assert seen_argv == argv[4:]
    assert seen_env == _as_bytes({**env, "FDB_ELECTION_BALLOT": "42"})


@pytest.mark.skipif(not LINUX, reason="finds the launcher in /proc")
def test_a_start_unlike_the_prepared_cmd_is_made_the_usual_way(
    guard: Guard, tmp_path: Path
) -> None:
    """Only the ballot may differ: a start with another environment (or command) gets what it
    asked for from a forked launcher, and the shell that waited is gone before it runs."""
    out = tmp_path / "view"
    argv = _cmd_writing_its_view(out)
    env = _awkward_env()
    guard.prepare(argv, env)
    launcher = _prepared_launcher(guard)
    guard.set_deadline(host_monotonic() + FAR)
    other = {**env, "FDB_ELECTION_BALLOT": "43", "ANOTHER": "1"}
    child = guard.start(argv, other)
    assert child.pid != launcher and not alive(launcher)
    assert child.exited.wait(10) and child.exit_code == 0
    assert _its_view(out) == (argv[4:], _as_bytes(other))


@pytest.mark.skipif(not LINUX, reason="finds the launcher in /proc")
def test_the_last_prepare_counts_even_one_that_comes_while_cmd_runs(
    guard: Guard, tmp_path: Path
) -> None:
    """A shell waiting for an earlier CMD is replaced; a prepare that comes while CMD runs is
    taken once CMD's tree is gone (its check runs a shell, which must not hold up a guard that
    watches CMD)."""
    first, second = tmp_path / "first", tmp_path / "second"
    guard.prepare(_cmd_writing_its_view(first), dict(os.environ))
    stale = _prepared_launcher(guard)
    guard.prepare(_cmd_writing_its_view(second), dict(os.environ))
    assert _wait_until(lambda: not alive(stale)), "the shell for the earlier CMD still waits"
    launcher = _prepared_launcher(guard)
    guard.set_deadline(host_monotonic() + FAR)
    env = {**os.environ, "FDB_ELECTION_BALLOT": "11"}
    running = guard.start([*_cmd_writing_its_view(second), "--wait"], env)  # not prepared
    assert running.pid != launcher and not alive(launcher)
    assert _wait_until(second.exists) and running.exited.wait(0.1) is False
    guard.prepare(_cmd_writing_its_view(first), dict(os.environ))
    running.kill()
    assert running.exited.wait(10)
    launcher = _prepared_launcher(guard)  # a second after CMD's tree is gone
    child = guard.start(_cmd_writing_its_view(first), env)
    assert child.pid == launcher
    assert child.exited.wait(10) and child.exit_code == 0
    assert _its_view(first) == (_cmd_writing_its_view(first)[4:], _as_bytes(env))


@pytest.mark.skipif(not LINUX, reason="finds the launcher in /proc")
def test_what_a_shell_cannot_pass_on_is_not_prepared(guard: Guard, tmp_path: Path) -> None:
    """A variable whose name is no shell name would be dropped by the shell, so CMD starts from
    a forked launcher, and gets it."""
    out = tmp_path / "view"
    argv = _cmd_writing_its_view(out)
    env = {**os.environ, "NOT.A.SHELL.NAME": "kept"}
    guard.prepare(argv, env)  # taken before the start: the guard serves messages in order
    guard.set_deadline(host_monotonic() + FAR)
    child = guard.start(argv, {**env, "FDB_ELECTION_BALLOT": "7"})
    assert child.exited.wait(10) and child.exit_code == 0
    assert _its_view(out)[1] == _as_bytes({**env, "FDB_ELECTION_BALLOT": "7"})


def test_a_file_without_an_interpreter_line_is_refused_as_before(
    guard: Guard, tmp_path: Path
) -> None:
    """A shell runs such a file as a script; an exec refuses it (ENOEXEC), and run reports it:
    so it is never prepared, and the start fails as it always did."""
    script = tmp_path / "no-interpreter-line"
    script.write_text("echo ran\n")
    script.chmod(0o755)
    guard.prepare([str(script)], dict(os.environ))
    guard.set_deadline(host_monotonic() + FAR)
    with pytest.raises(CannotExecute):
        guard.start([str(script)], {**os.environ, "FDB_ELECTION_BALLOT": "1"})


@pytest.mark.skipif(not LINUX, reason="finds the launcher in /proc")
@pytest.mark.parametrize("fault", ["SIGKILL", "SIGSTOP"])
def test_a_prepared_launcher_killed_or_stopped_does_not_fail_the_start(
    guard: Guard, tmp_path: Path, fault: str
) -> None:
    out = tmp_path / "view"
    argv = _cmd_writing_its_view(out)
    guard.prepare(argv, dict(os.environ))
    launcher = _prepared_launcher(guard)
    os.kill(launcher, getattr(signal, fault))
    guard.set_deadline(host_monotonic() + FAR)
    env = {**os.environ, "FDB_ELECTION_BALLOT": "9"}
    child = guard.start(argv, env)
    assert child.pid != launcher
    assert child.exited.wait(10) and child.exit_code == 0
    assert _its_view(out)[1] == _as_bytes(env)
    assert _wait_until(lambda: not alive(launcher))


@pytest.mark.skipif(not LINUX, reason="finds the launcher in /proc")
def test_a_prepared_launcher_dies_with_the_guard(guard: Guard, tmp_path: Path) -> None:
    guard.prepare(_cmd_writing_its_view(tmp_path / "view"), dict(os.environ))
    launcher = _prepared_launcher(guard)
    held = [os.readlink(f"/proc/{launcher}/fd/{fd}") for fd in os.listdir(f"/proc/{launcher}/fd")]
    assert not [link for link in held if link.startswith(("socket:", "anon_inode:"))], held
    os.kill(guard.pid, signal.SIGKILL)
    assert _wait_until(lambda: not alive(launcher)), "the launcher outlived the guard"


def test_descendants_lists_a_tree_from_proc() -> None:
    if not LINUX:
        pytest.skip("reads /proc")
    outer = subprocess.Popen(
        [PY, "-c", "import subprocess, sys; subprocess.run([sys.executable, '-c', "
         "'import time; time.sleep(30)'])"]
    )  # fmt: skip
    try:
        assert _wait_until(lambda: len(descendants(outer.pid)) == 1)
        below = descendants(os.getpid())
        assert outer.pid in below and descendants(outer.pid)[0] in below
    finally:
        for pid in descendants(outer.pid):
            os.kill(pid, signal.SIGKILL)
        outer.kill()
        outer.wait()


def test_the_guard_signals_each_process_of_cmd_s_tree_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CMD's group gets one killpg; a descendant in a session of its own gets one kill; members
    of the group are not signalled a second time by pid."""
    if not LINUX:
        pytest.skip("reads /proc")
    script = (
        "import subprocess, sys, time\n"
        "cmd = [sys.executable, '-c', 'import time; time.sleep(30)']\n"
        "same = subprocess.Popen(cmd)\n"
        "apart = subprocess.Popen(cmd, start_new_session=True)\n"
        "print(same.pid, apart.pid, flush=True)\n"
        "time.sleep(30)\n"
    )
    cmd = subprocess.Popen([PY, "-c", script], process_group=0, stdout=subprocess.PIPE, text=True)
    assert cmd.stdout is not None
    same, apart = (int(pid) for pid in cmd.stdout.readline().split())
    sock, other = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        guard = GuardLoop(sock, grace=1.0, kill_margin=0.05)
        guard.child = cmd.pid
        sent: list[tuple[str, int]] = []
        monkeypatch.setattr(guard_module.os, "killpg", lambda pid, _s: sent.append(("group", pid)))
        monkeypatch.setattr(guard_module.os, "kill", lambda pid, _s: sent.append(("pid", pid)))
        guard._signal_tree(signal.SIGTERM)
        monkeypatch.undo()
        assert ("group", cmd.pid) in sent and ("pid", apart) in sent
        assert ("pid", cmd.pid) not in sent and ("pid", same) not in sent
        assert len(sent) == len(set(sent))
    finally:
        sock.close()
        other.close()
        for pid in (same, apart, cmd.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        cmd.wait()


def _wakeups(pid: int) -> int:
    """How many times process ``pid`` (its main thread) has gone to sleep and been woken."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("voluntary_ctxt_switches:")[1].split()[0])


def _asleep(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rfind(")") + 2] == "S"


def test_refreshes_wake_the_guard_only_without_a_shared_deadline(guard: Guard) -> None:
    """The point of the shared deadline: a lease refresh re-arms a timer and wakes nobody, where
    a message wakes the guard every time. Each refresh is sent once the guard sleeps again."""
    if not LINUX:
        pytest.skip("reads /proc")
    now = host_monotonic()
    guard.set_deadline(now + FAR)
    child = guard.start([PY, "-c", "import time; time.sleep(30)"], dict(os.environ))
    try:
        assert _wait_until(lambda: _asleep(guard.pid))
        before = _wakeups(guard.pid)
        for refresh in range(1, 21):
            guard.set_deadline(now + FAR + refresh)
            assert _wait_until(lambda: _asleep(guard.pid))
        woken = _wakeups(guard.pid) - before
        if guard._shared is not None:
            assert woken <= 2, woken
        else:
            assert woken >= 10, woken  # one per refresh, unless two arrive in one wake-up
        assert child.returncode is None, "CMD still runs: every refresh moved the deadline"
    finally:
        child.stop(host_monotonic())


def test_a_timer_run_cannot_arm_does_not_hold_the_guard_past_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """run falls back to messages when it cannot arm the shared timer; the timer, still set for
    an old, later deadline, must not keep the guard asleep past the lowered one."""
    if SharedDeadline.create() is None:
        pytest.skip("no timerfd on this platform")
    guard = Guard.spawn(POLICY)
    try:
        assert guard._shared is not None
        guard.set_deadline(host_monotonic() + FAR)
        child = guard.start([PY, "-c", "import time; time.sleep(30)"], dict(os.environ))

        def cannot_arm(_when: float) -> None:
            raise OSError(errno.EBADF, "timerfd_settime failed")

        monkeypatch.setattr(guard._shared, "_arm", cannot_arm)
        deadline = host_monotonic() + 1.0
        guard.set_deadline(deadline)  # lowered: now a message
        assert guard._shared is None, "run sends messages from now on"
        assert child.exited.wait(10)
        assert child.reason == "deadline"
        assert host_monotonic() < deadline - POLICY.kill_margin + 0.05
    finally:
        guard.close()


def test_a_shared_deadline_keeps_the_last_one_and_fires_at_the_term() -> None:
    shared = SharedDeadline.create()
    if shared is None:
        pytest.skip("no timerfd on this platform")
    # The guard's side: the same timer and page, as the guard process opens them.
    guard_side = SharedDeadline(shared.timer_fd, shared.page_fd)
    assert guard_side.read() == (0, None, 0.0), "nothing published yet"
    now = host_monotonic()
    shared.publish(now + 100.0, term_at=now + 99.0)
    assert guard_side.read() == (2, now + 100.0, now + 100.0)
    fires = guard_side.fires_at()
    assert fires is not None and abs(fires - (now + 99.0)) < 0.01
    shared.publish(None, term_at=0.0)  # leadership ended: the page keeps the last deadline
    seq, deadline, last = guard_side.read()
    assert (seq, deadline, last) == (4, None, now + 100.0)
    # A time in the past fires at once; the guard takes the expiry and the timer is spent.
    assert select.select([guard_side.timer_fd], [], [], 5.0)[0] == [guard_side.timer_fd]
    assert guard_side.fires_at() is None
    guard_side.drain()
    assert select.select([guard_side.timer_fd], [], [], 0)[0] == []
    shared.publish(host_monotonic() + 0.05, term_at=host_monotonic() + 0.02)
    assert guard_side.fires_at() is not None
    assert select.select([guard_side.timer_fd], [], [], 5.0)[0] == [guard_side.timer_fd]
    os.close(shared.timer_fd)
    os.close(shared.page_fd)


# --------------------------------------------------------------------------------------------
# The guard's timing rules, without processes


def test_guard_state_times_follow_the_deadline() -> None:
    state = GuardState(grace=0.5, kill_margin=0.1)
    assert state.term_at == float("-inf"), "never told of a deadline: CMD may not run"
    state.set_deadline(10.0, now=0.0)
    assert (state.term_at, state.kill_at) == (9.4, 9.9)
    state.set_deadline(12.0, now=1.0)  # a refresh moves both
    assert (state.term_at, state.kill_at) == (11.4, 11.9)
    state.set_deadline(11.0, now=2.0)  # a lowered lease lowers both
    assert (state.term_at, state.kill_at) == (10.4, 10.9)
    assert state.cause(10.5) == "deadline"


def test_guard_state_stops_never_outlast_the_last_deadline() -> None:
    state = GuardState(grace=0.5, kill_margin=0.1)
    state.set_deadline(10.0, now=0.0)
    state.child_started()
    state.request_stop(now=3.0, kill_at=20.0)
    assert (state.term_at, state.kill_at) == (3.0, 9.9)
    assert state.cause(3.0) == "stopped"
    state.child_gone()
    state.child_started()
    state.set_deadline(None, now=9.8)  # leadership ended near the deadline: SIGKILL by it
    assert (state.term_at, state.kill_at) == (9.8, 9.9)
    state.child_gone()
    assert state.term_at == float("-inf"), "not leading: nothing may start"


def test_guard_state_drops_a_stop_that_comes_after_cmd_is_gone() -> None:
    # run asked to stop a CMD the guard had already seen die (leadership ended; both acted):
    # the next tenure's CMD must still start.
    state = GuardState(grace=0.5, kill_margin=0.1)
    state.set_deadline(10.0, now=0.0)
    state.child_started()
    state.set_deadline(None, now=3.0)
    state.child_gone()
    state.request_stop(now=3.1, kill_at=3.6)
    state.set_deadline(None, now=3.2)
    state.set_deadline(20.0, now=4.0)  # leading again
    assert (state.term_at, state.kill_at) == (19.4, 19.9)
