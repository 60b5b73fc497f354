"""``run`` and ``demo`` as real processes on one database file.

Two ``fdb-election run -- CMD`` processes share a ``sqlite:`` file; CMD records when it starts
and stops (monotonic time and pid). At no time may two CMDs run: the recorded intervals must not
overlap. Waits poll a condition with a deadline; nothing sleeps "to let it settle".
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fdb_election import embedded
from fdb_election.cli.guard import descendants
from proc_state import alive

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not getattr(embedded, "SUPPORTS_FILES", False),
        reason="the embedded file store (sqlite:) is not available yet",
    ),
]

PY = sys.executable
LEASE = 1.0
RESIGNED = (
    "fdb-election run: resigned leadership (no other candidate is heartbeating) "
    "and left the election"
)


def fdb_election(*args: str) -> list[str]:
    return [PY, "-m", "fdb_election.cli.main", *args]


def wait_until(condition: Callable[[], object], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.005)


def seconds(shown: str) -> float:
    """A duration as the CLI prints it (``850 ms``, ``1.03 s``), in seconds."""
    number, unit = shown.split()
    return float(number) / 1000 if unit == "ms" else float(number)


RECORDER = textwrap.dedent(
    """
    import os, signal, sys, time
    log = sys.argv[1]
    def note(what):
        with open(log, "a") as f:
            env = os.environ
            f.write(f"{what} {os.getpid()} {time.monotonic()!r} "
                    f"{env['FDB_ELECTION_PROCESS_ID']} {env['FDB_ELECTION_BALLOT']}\\n")
    linger = 0.0
    def stop(*_):
        if linger:
            note("term")
            time.sleep(linger)  # CMD's own graceful shutdown: it is still running meanwhile
        note("stop")
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    note("start")
    if len(sys.argv) > 2 and sys.argv[2].startswith("linger="):
        linger = float(sys.argv[2].split("=", 1)[1])
    elif len(sys.argv) > 2:
        sys.exit(int(sys.argv[2]))
    while True:
        signal.pause()
    """
)


class Events:
    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self) -> list[tuple[str, int, float, str]]:
        if not self.path.exists():
            return []
        rows = []
        for line in self.path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 5:
                rows.append((parts[0], int(parts[1]), float(parts[2]), parts[3]))
        return rows

    def starts(self) -> list[tuple[str, int, float, str]]:
        return [r for r in self.rows() if r[0] == "start"]

    def assert_never_two_at_once(self) -> None:
        """Every CMD that started before another one had recorded its exit by then."""
        rows = self.rows()
        stops = {r[1]: r[2] for r in rows if r[0] == "stop"}
        starts = sorted(self.starts(), key=lambda r: r[2])
        for earlier, later in itertools.pairwise(starts):
            assert earlier[1] in stops, f"CMD {earlier[1]} never recorded its exit: {rows}"
            assert stops[earlier[1]] < later[2], f"two CMDs ran at once: {rows}"


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    url = f"sqlite:{tmp_path / 'e2e.fdbe'}"
    subprocess.run(
        fdb_election("--db", url, "init", "--lease", str(LEASE)), check=True, capture_output=True
    )
    yield url, tmp_path


def start_run(
    url: str,
    tmp_path: Path,
    process_id: str,
    *cmd_args: str,
    run_args: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    log = (tmp_path / f"{process_id}.stderr").open("wb")
    return subprocess.Popen(
        fdb_election(
            "--db",
            url,
            "run",
            "--id",
            process_id,
            *run_args,
            "--",
            PY,
            str(script),
            str(tmp_path / "events"),
            *cmd_args,
        ),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


def registered(url: str) -> set[str]:
    """The process ids registered in the election (``candidates --json``)."""
    listed = subprocess.run(
        fdb_election("--db", url, "candidates", "--json"), check=True, capture_output=True
    )
    return {c["process_id"] for c in json.loads(listed.stdout)["candidates"]}


@contextlib.contextmanager
def reaped(
    runs: dict[str, subprocess.Popen[bytes]],
) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """``runs`` by process id; every process in it (also one added inside the block) is killed
    and reaped afterwards."""
    try:
        yield runs
    finally:
        for proc in runs.values():
            proc.kill()
            proc.wait(10)


def test_kill_9_of_the_leader_hands_cmd_to_the_other_host_without_overlap(
    workspace: tuple[str, Path],
) -> None:
    url, tmp_path = workspace
    events = Events(tmp_path / "events")
    with reaped({pid: start_run(url, tmp_path, pid) for pid in ("host-a", "host-b")}) as runs:
        wait_until(lambda: events.starts(), timeout=20)
        first = events.starts()[0]
        first_cmd_pid, first_host = first[1], first[3]
        other = "host-b" if first_host == "host-a" else "host-a"

        runs[first_host].kill()
        runs[first_host].wait(10)
        # The guard sees run die and stops CMD at once (SIGTERM; it exits cleanly).
        wait_until(lambda: not alive(first_cmd_pid), timeout=5)
        first_dead_by = time.monotonic()

        wait_until(lambda: len(events.starts()) >= 2, timeout=10 * LEASE + 10)
        second = events.starts()[1]
        assert second[3] == other
        assert second[2] > first_dead_by, "the second CMD started while the first still ran"
        assert len(events.starts()) == 2

        runs[other].send_signal(signal.SIGTERM)
        assert runs[other].wait(10) == 128 + signal.SIGTERM
        assert [r[0] for r in events.rows()] == ["start", "stop", "start", "stop"]
        events.assert_never_two_at_once()


def test_graceful_stop_of_the_leader_stops_cmd_before_the_next_one_starts(
    workspace: tuple[str, Path],
) -> None:
    url, tmp_path = workspace
    events = Events(tmp_path / "events")
    with reaped({pid: start_run(url, tmp_path, pid) for pid in ("host-a", "host-b")}) as runs:
        wait_until(lambda: events.starts(), timeout=20)
        wait_until(lambda: registered(url) == {"host-a", "host-b"}, timeout=20)
        leader = events.starts()[0][3]
        runs[leader].send_signal(signal.SIGTERM)
        assert runs[leader].wait(10) == 128 + signal.SIGTERM
        wait_until(lambda: len(events.starts()) >= 2, timeout=10)
        rows = events.rows()
        assert [(r[0], r[3]) for r in rows[:2]] == [("start", leader), ("stop", leader)]
        assert rows[2][0] == "start" and rows[2][3] != leader
        assert rows[2][2] > rows[1][2]
        other = rows[2][3]
        # Its last line tells what its stop committed. Usually a hand-over: the successor then
        # leads (and starts CMD) with the ballot of the claim written for it. A resignation
        # (the successor's heartbeat looked too old, say on a busy machine) makes it claim.
        last = (tmp_path / f"{leader}.stderr").read_text().splitlines()[-1]
        successor_ballot = int(events.path.read_text().splitlines()[2].split()[4])
        handed = re.fullmatch(
            r"fdb-election run: handed leadership over to '(.+)' \(ballot (\d+)\) "
            "and left the election",
            last,
        )
        if handed is not None:
            assert (handed[1], int(handed[2])) == (other, successor_ballot)
        else:
            assert last == RESIGNED, last
        runs[other].send_signal(signal.SIGTERM)  # nobody left to hand over to
        assert runs[other].wait(10) == 128 + signal.SIGTERM
        assert (tmp_path / f"{other}.stderr").read_text().splitlines()[-1] == RESIGNED


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="looks in /proc")
def test_the_next_cmd_is_the_shell_the_waiting_host_prepared(
    workspace: tuple[str, Path],
) -> None:
    """run tells its guard what CMD will be before it campaigns, so the waiting host's CMD
    process waits in a shell with CMD's environment, and becomes CMD at the hand-over."""
    url, tmp_path = workspace
    events = Events(tmp_path / "events")
    with reaped({pid: start_run(url, tmp_path, pid) for pid in ("host-a", "host-b")}) as runs:
        wait_until(lambda: events.starts(), timeout=20)
        leader = events.starts()[0][3]
        other = "host-b" if leader == "host-a" else "host-a"
        waiting: list[int] = []

        def a_shell_waits() -> bool:  # for CMD (not the guard's check of the shell)
            waiting[:] = []
            for pid in descendants(runs[other].pid):
                with contextlib.suppress(OSError):
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                    if argv[0] == b"sh" and str(tmp_path / "recorder.py").encode() in argv:
                        waiting.append(pid)
            return len(waiting) == 1

        wait_until(a_shell_waits, timeout=10)
        runs[leader].send_signal(signal.SIGTERM)
        wait_until(lambda: len(events.starts()) >= 2, timeout=10)
        second = events.starts()[1]
        assert (second[1], second[3]) == (waiting[0], other)


def test_cmd_exit_code_is_propagated_and_the_candidate_leaves(
    workspace: tuple[str, Path],
) -> None:
    url, tmp_path = workspace
    proc = start_run(url, tmp_path, "solo", "7")
    assert proc.wait(30) == 7
    said = (tmp_path / "solo.stderr").read_text().splitlines()
    [(_, cmd_pid, _, _)] = Events(tmp_path / "events").starts()
    assert said[-2:] == [
        f"fdb-election run: CMD (pid {cmd_pid}) exited with code 7; stepping down",
        RESIGNED,
    ]
    listed = subprocess.run(
        fdb_election("--db", url, "candidates", "--json"), check=True, capture_output=True
    )
    assert b'"candidates": []' in listed.stdout


def test_the_console_script_skips_teardown_but_keeps_output_and_exit_codes(
    workspace: tuple[str, Path],
) -> None:
    url, _ = workspace
    script = (
        "import atexit, sys; atexit.register(print, 'teardown ran'); "
        "from fdb_election.cli.main import main; sys.argv[0] = 'fdb-election'; main()"
    )
    subprocess.run([PY, "-c", script, "--db", url, "init", "--lease", "1"], check=True)
    shown = subprocess.run(
        [PY, "-c", script, "--db", url, "config", "show", "--json"], capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["config"]["lease_s"] == 1.0  # all of it, flushed
    assert "teardown ran" not in shown.stdout
    wrong = subprocess.run([PY, "-c", script, "--bogus"], capture_output=True, text=True)
    assert wrong.returncode == 2 and "No such option" in wrong.stderr


def test_demo_prints_a_checkable_summary() -> None:
    result = subprocess.run(
        fdb_election("demo"), capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    duration = r"([0-9.]+ m?s)"  # the CLI's one duration format: "834 ms", "1.03 s"
    failover = re.search(
        rf"^failover after kill -9: {duration} \(lease {duration}\)$", result.stdout, re.M
    )
    handover = re.search(rf"^graceful handover: {duration}$", result.stdout, re.M)
    assert failover and handover, result.stdout
    lease = seconds(failover.group(2))
    assert lease == 1.0
    # Nobody may take over a silent leader before its lease is over; the lease was last
    # refreshed at most a heartbeat (lease/3) before the kill...
    assert seconds(failover.group(1)) >= lease * 2 / 3 - 0.01
    # ...and a resignation is taken over through the watch, far sooner than a lease.
    assert seconds(handover.group(1)) < lease
    assert "\x1b[" not in result.stdout


#: CMD takes this long to shut down after SIGTERM (below the grace period a 1 s lease allows).
LINGER = "linger=0.1"


def test_step_down_request_stops_cmd_before_the_next_leader_starts_its_own(
    workspace: tuple[str, Path],
) -> None:
    url, tmp_path = workspace
    events = Events(tmp_path / "events")
    with reaped({pid: start_run(url, tmp_path, pid, LINGER) for pid in ("host-a", "host-b")}):
        wait_until(lambda: events.starts(), timeout=20)
        leader = events.starts()[0][3]
        step_down(url, leader)
        wait_until(lambda: len(events.starts()) >= 2, timeout=10)
        assert events.starts()[1][3] != leader
        events.assert_never_two_at_once()


def step_down(url: str, process_id: str) -> None:
    resign = subprocess.run(
        fdb_election("--db", url, "resign", "--id", process_id, "--timeout", "10"),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert resign.returncode == 0, resign.stderr


def test_a_run_that_stepped_down_starts_cmd_again_when_it_leads_again(
    workspace: tuple[str, Path],
) -> None:
    # CMD dies at once on SIGTERM (an exec'ed sleep): the guard, told that leadership ended,
    # kills it before run's own stop request arrives. That late request must not hold back
    # the CMD of the next tenure.
    url, tmp_path = workspace
    starts = tmp_path / "starts"

    def started() -> list[str]:
        return starts.read_text().split() if starts.exists() else []

    script = f'echo "$FDB_ELECTION_PROCESS_ID" >> {starts}; exec sleep 1000'
    runs = {
        pid: subprocess.Popen(
            fdb_election("--db", url, "run", "--id", pid, "--", "/bin/sh", "-c", script),
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / f"{pid}.stderr").open("wb"),
        )
        for pid in ("host-a", "host-b")
    }
    with reaped(runs):
        wait_until(started, timeout=20)
        first = started()[0]
        step_down(url, first)
        wait_until(lambda: len(started()) >= 2, timeout=10)
        second = started()[1]
        assert second != first
        step_down(url, second)
        wait_until(lambda: len(started()) >= 3, timeout=10)
        assert started()[2] == first
    log = (tmp_path / f"{first}.stderr").read_text()
    assert "at risk" not in log, log


def test_preemption_by_a_higher_priority_run_never_overlaps_cmd(
    workspace: tuple[str, Path],
) -> None:
    url, tmp_path = workspace
    events = Events(tmp_path / "events")
    with reaped({"host-low": start_run(url, tmp_path, "host-low", LINGER)}) as runs:
        wait_until(lambda: events.starts(), timeout=20)
        runs["host-high"] = start_run(
            url, tmp_path, "host-high", LINGER, run_args=("--priority", "5")
        )
        wait_until(lambda: any(r[3] == "host-high" for r in events.starts()), timeout=20)
        assert [r[3] for r in events.starts()] == ["host-low", "host-high"]
        events.assert_never_two_at_once()


def test_a_leader_that_cannot_refresh_stops_cmd_once_and_does_not_restart_it(
    workspace: tuple[str, Path],
) -> None:
    url, tmp_path = workspace
    events = Events(tmp_path / "events")
    stderr = tmp_path / "solo.stderr"
    # The longest grace a 1 s lease allows (heartbeat 1/3 s, kill margin 0.05 s): the at-risk
    # window before the deadline is as wide as it gets.
    with reaped({"solo": start_run(url, tmp_path, "solo", run_args=("--grace", "0.28"))}):
        wait_until(lambda: events.starts(), timeout=20)
        # Hold the file's write lock: reads go on, but no refresh can commit any more.
        blocker = sqlite3.connect(url.removeprefix("sqlite:"), timeout=10, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            # CMD is stopped before the deadline, which then passes. run's own log counts
            # every start (a CMD stopped at once may die before it records).
            wait_until(
                lambda: (
                    b"leadership lost while CMD was stopped" in stderr.read_bytes()
                    or stderr.read_text().count("started CMD") > 1
                ),
                timeout=10,
            )
            assert stderr.read_text().count("started CMD") == 1, stderr.read_text()
            assert [r[0] for r in events.rows()] == ["start", "stop"], stderr.read_text()
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()


def test_a_run_whose_database_file_is_removed_stops_cmd_and_exits_1(
    workspace: tuple[str, Path],
) -> None:
    """Removed under it, the file takes no more commits: a process that opens the path now
    starts a new election, so the old one's leader must not go on leading."""
    url, tmp_path = workspace
    events = Events(tmp_path / "events")
    with reaped({"host-a": start_run(url, tmp_path, "host-a")}) as runs:
        wait_until(lambda: events.starts(), timeout=20)
        Path(url.removeprefix("sqlite:")).unlink()
        removed = time.monotonic()
        assert runs["host-a"].wait(10) == 1
        assert time.monotonic() - removed < 3 * LEASE, "within a few failed refreshes"
        assert [r[0] for r in events.rows()] == ["start", "stop"]
        said = (tmp_path / "host-a.stderr").read_text()
        assert said.startswith(  # which file: runs that open different files elect apart
            f"fdb-election run: campaigning in election 'default' as 'host-a' on {url} "
            "(from --db); lease 1 s, grace "
        )
        assert "the database cannot be written: Disk i/o operation failed (1510): " in said
        assert "was removed after this process opened it" in said
        assert not Path(url.removeprefix("sqlite:")).exists(), "nothing recreated the file"
