"""Exactly one, end to end, as real processes on one file at lease 1 s (slow).

The three ways ``run`` used to break exclusivity:

1. a CMD that starts children, and ``run`` killed with SIGKILL: the children outlived it;
2. ``run`` stopped (SIGSTOP) while its CMD went on: the next leader's CMD overlapped it;
3. two live processes with one ``--id``: the newer one re-adopted the older one's leadership
   at once, and both got fenced writes in.

CMD here is a ticker that appends ``tick PID MONOTONIC`` to a shared file every few ms, so an
overlap shows as a tick of one CMD after the first tick of the next. Waits poll a condition
with a deadline.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fdb_election import embedded
from proc_state import alive, state

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and signals"),
    pytest.mark.skipif(
        not getattr(embedded, "SUPPORTS_FILES", False), reason="needs the file store"
    ),
]

PY = sys.executable
LEASE = 1.0

TICKER = textwrap.dedent(
    """
    import os, subprocess, sys, time
    log, children = sys.argv[1], sys.argv[2]
    # A child that would outlive a CMD killed on its own, and a daemon that leaves the group.
    kid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    daemon = subprocess.Popen(
        [sys.executable, "-c",
         "import os, subprocess, sys; os.setsid(); "
         "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
         "print(p.pid, flush=True)"],
        stdout=subprocess.PIPE, text=True)
    escaped = daemon.stdout.readline().strip()
    with open(children, "a") as f:
        f.write(f"{os.getpid()} {kid.pid} {escaped}\\n")
    while True:
        with open(log, "a") as f:
            f.write(f"tick {os.getpid()} {time.monotonic()!r}\\n")
        time.sleep(0.005)
    """
)


def stop_between_commits(proc: subprocess.Popen[Any], database: str | Path) -> None:
    """SIGSTOP ``proc`` at a moment it holds no write lock on the database file.

    A process stopped inside its few-millisecond commit section holds SQLite's write lock, so
    every other process's commits wait and fail with 1038 until it resumes (documented in
    docs/embedded.md). These tests are about leadership, not that limit: stop the process, and
    if it turns out to hold the lock, let it go on and stop it again.
    """
    path = str(database).removeprefix("sqlite:")
    for _ in range(100):
        proc.send_signal(signal.SIGSTOP)
        wait_until(lambda: state(proc.pid) == "T", timeout=5)
        probe = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return
        except sqlite3.OperationalError:  # stopped inside its commit section
            proc.send_signal(signal.SIGCONT)
            time.sleep(0.01)
        finally:
            probe.close()
    raise AssertionError(f"pid {proc.pid} held the write lock at each of 100 stops")


def fdb_election(*args: str) -> list[str]:
    return [PY, "-m", "fdb_election.cli.main", *args]


def wait_until(condition: Callable[[], object], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.005)


class Ticks:
    """The ticks of every CMD, and the trees they started."""

    def __init__(self, tmp_path: Path) -> None:
        self.log = tmp_path / "ticks"
        self.children = tmp_path / "children"

    def by_pid(self) -> dict[int, list[float]]:
        ticks: dict[int, list[float]] = {}
        if self.log.exists():
            for line in self.log.read_text().splitlines():
                parts = line.split()
                if len(parts) == 3:
                    ticks.setdefault(int(parts[1]), []).append(float(parts[2]))
        return ticks

    def trees(self) -> list[list[int]]:
        if not self.children.exists():
            return []
        return [
            [int(p) for p in line.split()]
            for line in self.children.read_text().splitlines()
            if len(line.split()) == 3
        ]

    def assert_no_overlap(self) -> None:
        """No CMD ticked after another CMD's first tick."""
        spans = sorted((min(t), max(t), pid) for pid, t in self.by_pid().items())
        for (_, last, pid), (first, _, later) in itertools.pairwise(spans):
            assert last < first, f"CMD {pid} ticked {last - first:.3f} s after CMD {later} began"


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:{tmp_path / 'exclusive.fdbe'}"
    subprocess.run(
        fdb_election("--db", url, "init", "--lease", str(LEASE)), check=True, capture_output=True
    )
    return url


def start_run(
    url: str, tmp_path: Path, process_id: str, *, prefix: tuple[str, ...] = ()
) -> subprocess.Popen[bytes]:
    script = tmp_path / "ticker.py"
    script.write_text(TICKER)
    ticks = Ticks(tmp_path)
    stderr = (tmp_path / f"{process_id}.{time.monotonic_ns()}.stderr").open("wb")
    return subprocess.Popen(
        [
            *prefix,
            *fdb_election(
                "--db",
                url,
                "run",
                "--id",
                process_id,
                "--",
                PY,
                str(script),
                str(ticks.log),
                str(ticks.children),
            ),
        ],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


def finish(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.wait(10)


def test_no_descendant_of_cmd_is_alive_a_lease_after_kill_9_of_run(
    url: str, tmp_path: Path
) -> None:
    ticks = Ticks(tmp_path)
    run = start_run(url, tmp_path, "solo")
    try:
        wait_until(lambda: ticks.trees(), timeout=20)
        tree = ticks.trees()[0]
        assert all(map(alive, tree))
        run.kill()
        killed = time.monotonic()
        run.wait(10)
        wait_until(lambda: not any(map(alive, tree)), timeout=LEASE)
        assert time.monotonic() - killed < LEASE
    finally:
        finish(run)


def test_a_stopped_run_never_overlaps_the_next_leaders_cmd(url: str, tmp_path: Path) -> None:
    ticks = Ticks(tmp_path)
    first = start_run(url, tmp_path, "host-a")
    second = None
    try:
        wait_until(lambda: ticks.trees(), timeout=20)
        second = start_run(url, tmp_path, "host-b")
        time.sleep(0.3)  # let host-b register and follow (part of the scenario, not a settle)
        old_tree = ticks.trees()[0]
        stop_between_commits(first, url)  # run stops; its CMD would go on ticking
        stopped = time.monotonic()
        wait_until(lambda: len(ticks.by_pid()) >= 2, timeout=10)
        assert not any(map(alive, old_tree)), "the old CMD's tree is gone"
        time.sleep(max(0.0, stopped + 3.0 - time.monotonic()))  # the 3 s SIGSTOP
        first.send_signal(signal.SIGCONT)
        wait_until(lambda: len(ticks.by_pid()[max(ticks.by_pid())]) > 20, timeout=10)
        ticks.assert_no_overlap()
        assert len(ticks.by_pid()) == 2, "the resumed run does not start CMD again"
    finally:
        finish(first, *([second] if second else []))


#: Seconds CLOCK_BOOTTIME runs ahead of CLOCK_MONOTONIC in the time namespaces below: as if
#: the host had been suspended that long since it booted.
SLEPT = 100_000


def _boottime_ahead() -> tuple[str, ...]:
    """A command prefix that runs a program in a time namespace of its own whose boot clock is
    ``SLEPT`` seconds ahead of its monotonic clock (or skip: needs root and Linux 5.6)."""
    prefix = ("unshare", "--time", "--boottime", str(SLEPT), "--fork", "--kill-child")
    probe = "import time; print(time.clock_gettime(time.CLOCK_BOOTTIME) - time.monotonic())"
    try:
        shown = subprocess.run(
            [*prefix, PY, "-c", probe], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        pytest.skip("unshare is not available")
    if shown.returncode != 0 or abs(float(shown.stdout or 0) - SLEPT) > 1:
        pytest.skip(f"no time namespace here (needs root and Linux 5.6+): {shown.stderr.strip()}")
    return prefix


def test_the_electors_run_and_its_guard_measure_deadlines_on_the_boot_clock() -> None:
    """CLOCK_BOOTTIME counts a suspended host's sleep, CLOCK_MONOTONIC does not: a leader whose
    host slept through its deadline must find it passed as it wakes."""
    code = (
        "import time; from fdb_election.runtime import SystemClock; "
        "from fdb_election.cli import guard; from fdb_election.cli.run import Supervisor; "
        "import inspect; "
        "default = inspect.signature(Supervisor).parameters['clock'].default; "
        "print(*(f() - time.monotonic() for f in (SystemClock().monotonic, guard._now, default)))"
    )
    shown = subprocess.run(
        [*_boottime_ahead(), PY, "-c", code], capture_output=True, text=True, check=True
    )
    assert [round(float(x)) for x in shown.stdout.split()] == [SLEPT] * 3


def test_with_the_boot_clock_ahead_the_guard_still_keeps_one_cmd(url: str, tmp_path: Path) -> None:
    """Every process of a host must agree on the deadline clock: with boot time far ahead of
    monotonic time, a guard on the other clock would kill CMD at once, or never."""
    prefix = _boottime_ahead()
    ticks = Ticks(tmp_path)
    first = start_run(url, tmp_path, "host-a", prefix=prefix)
    second = None
    try:
        wait_until(lambda: ticks.trees(), timeout=20)
        cmd = ticks.trees()[0][0]
        wait_until(lambda: len(ticks.by_pid().get(cmd, [])) > 3 * LEASE / 0.005 / 2, timeout=10)
        assert alive(cmd), "CMD runs on across refreshes"
        second = start_run(url, tmp_path, "host-b", prefix=prefix)
        time.sleep(0.3)  # let host-b register and follow (part of the scenario, not a settle)
        [run_a] = _children(first.pid)
        stop_between_commits(_Pid(run_a), url)  # run stops; only its guard can stop CMD now
        wait_until(lambda: len(ticks.by_pid()) >= 2, timeout=10)
        ticks.assert_no_overlap()
    finally:
        if second is not None:
            finish(second)
        with contextlib.suppress(ProcessLookupError):
            for pid in _children(first.pid):
                os.kill(pid, signal.SIGCONT)
        finish(first)


class _Pid:
    """Just enough of a Popen for ``stop_between_commits``: a pid and send_signal."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def send_signal(self, signum: int) -> None:
        os.kill(self.pid, signum)


def _children(pid: int) -> list[int]:
    """The children of ``pid`` (the program ``unshare --fork`` started)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    wait_until(lambda: path.exists() and path.read_text().split(), timeout=10)
    return [int(child) for child in path.read_text().split()]


def test_a_second_run_with_the_same_id_waits_out_the_first_and_retires_it(
    url: str, tmp_path: Path
) -> None:
    ticks = Ticks(tmp_path)
    first = start_run(url, tmp_path, "same-id")
    second = None
    try:
        wait_until(lambda: ticks.trees(), timeout=20)
        stop_between_commits(first, url)  # hung; a supervisor starts a replacement
        stopped = time.monotonic()
        second = start_run(url, tmp_path, "same-id")
        wait_until(lambda: len(ticks.by_pid()) >= 2, timeout=10)
        new_pid = max(ticks.by_pid(), key=lambda pid: min(ticks.by_pid()[pid]))
        first_tick = min(ticks.by_pid()[new_pid])
        assert first_tick - stopped > LEASE * 0.6, "the newer one did not adopt the lease at once"
        first.send_signal(signal.SIGCONT)
        assert first.wait(10) == 1, "the older run gives the id up and exits 1"
        time.sleep(0.2)  # the newer CMD keeps ticking alone (observed, not awaited)
        ticks.assert_no_overlap()
        assert second.poll() is None, "the newer run goes on"
        stderr = b"".join(p.read_bytes() for p in tmp_path.glob("same-id.*.stderr"))
        assert b"process id 'same-id' was registered again" in stderr
    finally:
        finish(first, *([second] if second else []))


WRITER = textwrap.dedent(
    """
    import sys, time
    from fdb_election import embedded, Subspace, Versionstamp
    from fdb_election.election import ElectionConfig, LeaderElection, NotLeader
    from fdb_election.runtime import Elector, election_subspace

    path, process_id, tag = sys.argv[1:4]
    db = embedded.open(path)
    config = ElectionConfig.with_lease_duration(1.0)
    writes = Subspace(("writes",))
    elector = Elector(db, "fenced", process_id=process_id, config=config).start()
    seed_api = LeaderElection(election_subspace("fenced"))
    token = None
    print("started", flush=True)
    while elector.failure is None or token is not None:
        token = elector.ballot or token
        if token is None:
            time.sleep(0.005)
            continue
        # A careless client: it keeps the last token it was given and fences with it.
        tr = db.create_transaction()
        try:
            seed_api.fence(tr, process_id, token)
            key = writes.pack_with_versionstamp((Versionstamp.incomplete(),))
            tr.set_versionstamped_key(key, f"{tag} {token}".encode())
            tr.commit().wait()
        except NotLeader:
            if elector.failure is not None:
                break
        except Exception:
            pass
        time.sleep(0.005)
    print("failure" if elector.failure is not None else "done", flush=True)
    elector.stop(5)
    """
)


def test_a_stale_run_of_an_id_gets_no_fenced_write_in_after_the_new_ones_first(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fenced.fdbe"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)

    def writer(tag: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [PY, str(script), str(path), "same-id", tag], stdout=subprocess.PIPE, text=True
        )

    def rows() -> list[str]:
        db = embedded.open(str(path))
        tr = db.create_transaction()
        from fdb_election import Subspace

        begin, end = Subspace(("writes",)).range().start, Subspace(("writes",)).range().stop
        return [bytes(kv.value).decode().split()[0] for kv in tr.get_range(begin, end)]

    old = writer("old")
    new = None
    try:
        assert old.stdout is not None and old.stdout.readline().strip() == "started"
        wait_until(lambda: path.exists() and "old" in rows(), timeout=20)
        stop_between_commits(old, path)
        new = writer("new")
        wait_until(lambda: "new" in rows(), timeout=10)
        old.send_signal(signal.SIGCONT)
        assert old.stdout.readline().strip() == "failure", "the old run stops on the duplicate"
        assert old.wait(10) == 0
        time.sleep(0.1)  # the new one writes on (observed, not awaited)
        written = rows()
        first_new = written.index("new")
        assert "old" not in written[first_new:], written
    finally:
        finish(old, *([new] if new else []))
