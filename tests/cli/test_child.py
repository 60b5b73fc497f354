"""CMD supervision: process group, exit codes, SIGTERM then SIGKILL, death with the parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fdb_election.cli.child import ChildProcess, resolve_command
from fdb_election.cli.exit_codes import CannotExecute, CommandNotFound

PY = sys.executable


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def _wait_until(condition, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


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


def test_exit_code_is_propagated() -> None:
    child = ChildProcess.start([PY, "-c", "raise SystemExit(7)"], dict(os.environ))
    assert child.exited.wait(10)
    assert child.exit_code == 7


def test_child_runs_in_its_own_process_group() -> None:
    child = ChildProcess.start([PY, "-c", "import time; time.sleep(30)"], dict(os.environ))
    try:
        assert os.getpgid(child.pid) == child.pid
        assert os.getpgid(child.pid) != os.getpgrp()
    finally:
        child.stop(time.monotonic())


def test_sigterm_is_enough_for_a_cooperative_child() -> None:
    child = ChildProcess.start([PY, "-c", "import time; time.sleep(30)"], dict(os.environ))
    code = child.stop(time.monotonic() + 10)
    assert code == 128 + signal.SIGTERM


def test_sigkill_after_the_grace_period_for_a_child_that_ignores_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    program = textwrap.dedent(
        f"""
        import pathlib, signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        pathlib.Path({str(ready)!r}).write_text("x")
        time.sleep(30)
        """
    )
    child = ChildProcess.start([PY, "-c", program], dict(os.environ))
    assert _wait_until(ready.exists)
    started = time.monotonic()
    code = child.stop(started + 0.3)
    elapsed = time.monotonic() - started
    assert code == 128 + signal.SIGKILL
    assert elapsed >= 0.3
    assert not _alive(child.pid)


def test_grandchildren_in_the_group_are_stopped_too(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    program = textwrap.dedent(
        f"""
        import pathlib, subprocess, sys, time
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        pathlib.Path({str(pid_file)!r} + ".tmp").write_text(str(p.pid))
        pathlib.Path({str(pid_file)!r} + ".tmp").rename({str(pid_file)!r})
        raise SystemExit(0)
        """
    )
    child = ChildProcess.start([PY, "-c", program], dict(os.environ))
    assert child.exited.wait(10)
    grandchild = int(pid_file.read_text())
    # CMD exited on its own: what it left in its group is killed.
    assert _wait_until(lambda: not _alive(grandchild))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_cmd_dies_when_its_supervisor_is_killed_with_sigkill(tmp_path: Path) -> None:
    pid_file = tmp_path / "cmd.pid"
    supervisor = textwrap.dedent(
        f"""
        import os, pathlib, sys, time
        from fdb_election.cli.child import ChildProcess
        child = ChildProcess.start(
            [sys.executable, "-c", "import time; time.sleep(60)"], dict(os.environ)
        )
        pathlib.Path({str(pid_file)!r} + ".tmp").write_text(str(child.pid))
        pathlib.Path({str(pid_file)!r} + ".tmp").rename({str(pid_file)!r})
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([PY, "-c", supervisor])
    try:
        assert _wait_until(pid_file.exists)
        cmd_pid = int(pid_file.read_text())
        assert _alive(cmd_pid)
        proc.kill()
        proc.wait(10)
        assert _wait_until(lambda: not _alive(cmd_pid), timeout=5)
    finally:
        proc.kill()
        proc.wait(10)
