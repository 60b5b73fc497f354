"""Failover time of the elector, next to the lease, and its idle CPU cost.

Measures, with a 1 s lease (heartbeat 1/3 s):

* graceful: from the leader's ``stop()`` until the follower leads (the follower's watch on the
  leader key fires on the resignation; target: median under 10 ms);
* crash: from the moment the leader stops refreshing (its thread frozen, or its process killed
  with SIGKILL) until the follower leads (target: median <= lease, worst <= lease + heartbeat);

on the in-memory store across threads, and on the file store across real processes. Then the
idle CPU at the default timings (10 s lease), in CPU seconds per minute: per elector with three
electors in one process on the in-memory store (next to the cost of a bare thread waking up as
often), and per candidate process with three processes on the file store (next to processes
that only commit one write per heartbeat, straight to SQLite or through the file store).

Usage: ``python benchmarks/failover.py [--quick]``; ``main()`` returns the named figures.
"""

from __future__ import annotations

import json
import logging
import math
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from _common import print_figures, quick_flag, start_floors, stop_floors
from fdb_election import embedded
from fdb_election.election import ElectionConfig
from fdb_election.runtime import Elector
from fdb_election.runtime.clock import host_monotonic
from fdb_election.runtime.driver import ElectorDriver

LEASE = 1.0
CONFIG = ElectionConfig.with_lease_duration(LEASE)
HEARTBEAT = CONFIG.heartbeat_interval.total_seconds()
WAIT = 10.0


class FreezableSleeper:
    """A sleeper that can freeze its driver's loop (as if the process were stopped)."""

    def __init__(self) -> None:
        self.frozen = threading.Event()
        self.thawed = threading.Event()

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        woke = False if self.frozen.is_set() else event.wait(timeout)
        if self.frozen.is_set():
            self.thawed.wait()
        return woke


def _pair(db: Any) -> tuple[Elector, Elector, FreezableSleeper]:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    sleeper = FreezableSleeper()
    # A driver of its own, so that freezing it freezes the leader only.
    driver = ElectorDriver(db, sleeper=sleeper)
    leader = Elector(db, name, process_id="leader", config=CONFIG, driver=driver, metrics=False)
    leader.start()
    if not leader.wait_for_leadership(WAIT):
        raise RuntimeError("the first elector did not become leader")
    follower = Elector(db, name, process_id="follower", config=CONFIG, metrics=False).start()
    deadline = time.monotonic() + WAIT
    while follower.leader is None and time.monotonic() < deadline:
        time.sleep(0.001)  # benchmark set-up only: wait for the follower's first cycle
    return leader, follower, sleeper


def thread_failover(trials: int, crash: bool) -> list[float]:
    """Seconds from the leader's stop (or freeze) until the follower leads, per trial."""
    db = embedded.open()
    times = []
    rng = random.Random(3)
    for _ in range(trials):
        leader, follower, sleeper = _pair(db)
        if crash:
            # Freeze at a random point of the leader's refresh cycle, like a crash.
            time.sleep(rng.uniform(0, HEARTBEAT))
            sleeper.frozen.set()
            started = time.perf_counter()
        else:
            started = time.perf_counter()
            leader.stop(WAIT)
        if not follower.wait_for_leadership(WAIT):
            raise RuntimeError("the follower did not take over")
        times.append(time.perf_counter() - started)
        if crash and leader.is_leader:
            raise AssertionError("two leaders: the frozen leader still leads")
        sleeper.thawed.set()
        leader.stop(WAIT)
        follower.stop(WAIT)
    return times


# ---------------------------------------------------------------------------- processes

WORKER = """
import signal, sys, time
from fdb_election import embedded
from fdb_election.election import ElectionConfig
from fdb_election.runtime import Elector
from fdb_election.runtime.clock import host_monotonic  # the clock of Elected.at
from fdb_election.runtime.driver import ElectorDriver

path, name, pid = sys.argv[1:4]
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # threads inherit: sigwait gets it
db = embedded.open(path)
config = ElectionConfig.with_lease_duration(%(lease)r)
def elected(event):
    print("elected", event.at, host_monotonic(), flush=True)
e = Elector(db, name, process_id=pid, config=config, on_elected=elected, metrics=False).start()
print("ready", flush=True)
signal.sigwait({signal.SIGTERM})
print("stopping", host_monotonic(), flush=True)
e.stop(5)
print("stopped", host_monotonic(), flush=True)
"""


def _spawn(path: str, name: str, pid: str) -> subprocess.Popen[str]:
    code = WORKER % {"lease": LEASE}
    return subprocess.Popen(
        [sys.executable, "-c", code, path, name, pid],
        stdout=subprocess.PIPE,
        text=True,
    )


def _expect(proc: subprocess.Popen[str], word: str) -> list[float]:
    """The numbers on the worker's next line that starts with ``word``."""
    assert proc.stdout is not None
    for line in proc.stdout:
        parts = line.split()
        if parts and parts[0] == word:
            return [float(part) for part in parts[1:]]
    raise RuntimeError(f"worker exited before printing {word!r}")


def process_failover(
    trials: int, crash: bool, rng: random.Random | None = None
) -> tuple[list[float], list[float]]:
    """Like :func:`thread_failover` with one process per elector on the file store.

    Returns the seconds until the follower led (its ``Elected.at``: the claim committed) and
    until its ``on_elected`` callback ran (one thread hand-off later), per trial. ``rng`` picks
    when in the leader's refresh cycle to strike (a fixed seed by default).
    """
    times: list[float] = []
    callback_times: list[float] = []
    rng = rng or random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "failover.fdbe")
        for trial in range(trials):
            name = f"bench-{trial}"
            leader = _spawn(path, name, "leader")
            _expect(leader, "ready")
            _expect(leader, "elected")
            follower = _spawn(path, name, "follower")
            _expect(follower, "ready")
            # Let it follow, then strike at a random point of the leader's refresh cycle.
            time.sleep(2 * HEARTBEAT + rng.uniform(0, HEARTBEAT))
            if crash:
                started = host_monotonic()  # the clock of the follower's Elected.at
                leader.send_signal(signal.SIGKILL)
            else:
                started = host_monotonic()
                leader.send_signal(signal.SIGTERM)
            led, called = _expect(follower, "elected")
            times.append(led - started)
            callback_times.append(called - started)
            follower.send_signal(signal.SIGTERM)
            follower.wait(WAIT)
            leader.wait(WAIT)
    return times, callback_times


def _rss_mib(pid: int) -> float:
    """Resident memory of a process (Linux ``/proc``), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def candidate_rss_mib() -> float:
    """Resident memory of one candidate process (the larger of a leader and a follower)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "rss.fdbe")
        leader = _spawn(path, "rss", "leader")
        _expect(leader, "ready")
        _expect(leader, "elected")
        follower = _spawn(path, "rss", "follower")
        _expect(follower, "ready")
        time.sleep(3 * HEARTBEAT)  # a few cycles each, so every code path has run
        try:
            return max(_rss_mib(leader.pid), _rss_mib(follower.pid))
        finally:
            for proc in (follower, leader):
                proc.send_signal(signal.SIGTERM)
                proc.wait(WAIT)


FILE_IDLE_WORKER = """
import signal, sys
from fdb_election import embedded
from fdb_election.runtime import Elector
from fdb_election.runtime.driver import ElectorDriver

signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
elector = Elector(embedded.open(sys.argv[1]), "idle", process_id=sys.argv[2], metrics=False)
elector.start()
print("ready", flush=True)
signal.sigwait({signal.SIGTERM})
elector.stop(5)
"""


def _cpu_ns(pid: int) -> int:
    """CPU time of every live thread of ``pid`` in ns (``/proc/PID/task/*/schedstat``: exact,
    unlike the tick-counted ``utime``, which is too coarse for milliseconds per minute)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended meanwhile
    return total


def file_idle_cpu_per_minute(processes: int, seconds: float) -> dict[str, float]:
    """Idle CPU of a candidate process on the file store at the default timings, next to the
    floors at the same cadence, measured in one window.

    ``file_idle_cpu_s_per_min_per_process``: CPU seconds per minute of one candidate process,
    with ``processes`` such processes in one election (the mean over them): the elector, the
    file store and its cross-process wake-ups together. ``file_idle_{sqlite,store}_floor_...``:
    the same for a process that only commits one write per default heartbeat (3 s), straight
    to SQLite or through the embedded store; ``file_idle_layer_floor_...``: one that runs a
    follower's cycle through the election layer, without an elector; and the ratios to each.
    """
    heartbeat = ElectionConfig().heartbeat_interval.total_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "idle.fdbe")
        floors = start_floors(tmp, heartbeat)
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", FILE_IDLE_WORKER, path, f"idle-{i}"],
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(processes)
        ]
        try:
            for proc in procs:
                _expect(proc, "ready")
            time.sleep(5.0)  # registered, one of them leads, every code path has run
            before = [_cpu_ns(proc.pid) for proc in procs]
            floors_before = {name: _cpu_ns(proc.pid) for name, proc in floors.items()}
            time.sleep(seconds)
            after = [_cpu_ns(proc.pid) for proc in procs]
            floors_after = {name: _cpu_ns(proc.pid) for name, proc in floors.items()}
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(WAIT)
            stop_floors(floors)
    per_min = 60 / seconds / 1e9
    used = sum(b - a for a, b in zip(before, after, strict=True)) * per_min / processes
    sqlite_floor = (floors_after["sqlite floor"] - floors_before["sqlite floor"]) * per_min
    store_floor = (floors_after["store floor"] - floors_before["store floor"]) * per_min
    layer_floor = (floors_after["layer floor"] - floors_before["layer floor"]) * per_min
    return {
        "file_idle_cpu_s_per_min_per_process": used,
        "file_idle_sqlite_floor_s_per_min": sqlite_floor,
        "file_idle_store_floor_s_per_min": store_floor,
        "file_idle_vs_sqlite_floor_ratio": used / sqlite_floor if sqlite_floor else math.nan,
        "file_idle_vs_store_floor_ratio": used / store_floor if store_floor else math.nan,
        "file_idle_layer_floor_s_per_min": layer_floor,
        "file_idle_vs_layer_floor_ratio": used / layer_floor if layer_floor else math.nan,
    }


IDLE_WORKER = """
import json, sys, time
from fdb_election import embedded
from fdb_election.runtime import Elector
from fdb_election.runtime.driver import ElectorDriver

electors, seconds = int(sys.argv[1]), float(sys.argv[2])
heartbeat = 3.0  # the default configuration's heartbeat interval
# The floor: a thread that only wakes up once per heartbeat, as each elector must. On some
# virtual machines a wake-up after seconds of sleep costs milliseconds of CPU by itself.
t0 = time.process_time()
end = time.monotonic() + seconds
while time.monotonic() < end:
    time.sleep(heartbeat)
baseline = (time.process_time() - t0) / seconds * 60
db = embedded.open()
running = [
    Elector(db, "idle-bench", process_id=f"e{i}", metrics=False).start() for i in range(electors)
]
running[0].wait_for_leadership(10)
t0 = time.process_time()
time.sleep(seconds)
used = time.process_time() - t0
for e in running:
    e.stop(10)
print(json.dumps([used / seconds * 60 / electors, baseline]))
"""


def idle_cpu_per_minute(electors: int, seconds: float) -> tuple[float, float]:
    """CPU seconds per minute per elector at default timings, and the same for a thread that only
    wakes up once per heartbeat (the floor: every elector has to wake up that often).

    Measured in a fresh process: ``process_time`` counts every thread of the process, so threads
    left by other measurements would be charged to the electors.
    """
    out = subprocess.run(
        [sys.executable, "-c", IDLE_WORKER, str(electors), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    ).stdout
    cpu, baseline = json.loads(out.strip().splitlines()[-1])
    return float(cpu), float(baseline)


def _summary(prefix: str, times: list[float]) -> dict[str, float]:
    return {
        f"{prefix}_median_s": statistics.median(times),
        f"{prefix}_worst_s": max(times),
    }


def run(quick: bool = False) -> dict[str, float]:
    """All figures (``quick``: fewer trials, shorter idle measurement)."""
    # Frozen leaders are demoted on purpose here: their warnings are expected, not news.
    logging.getLogger("fdb_election").setLevel(logging.ERROR)
    trials = 5 if quick else 20
    figures: dict[str, float] = {"lease_s": LEASE, "heartbeat_s": HEARTBEAT}
    figures.update(_summary("failover_graceful", thread_failover(trials, crash=False)))
    figures.update(_summary("failover_crash", thread_failover(trials, crash=True)))
    if getattr(embedded, "SUPPORTS_FILES", False):
        process_trials = 3 if quick else trials
        led, called = process_failover(process_trials, crash=False)
        figures.update(_summary("file_failover_graceful", led))
        figures.update(_summary("file_failover_graceful_callback", called))
        led, called = process_failover(process_trials, crash=True)
        figures.update(_summary("file_failover_crash", led))
        figures.update(_summary("file_failover_crash_callback", called))
        if Path("/proc/self/status").exists():
            figures["candidate_rss_mib"] = candidate_rss_mib()
        if Path("/proc/self/task").exists():
            figures.update(file_idle_cpu_per_minute(3, 10.0 if quick else 60.0))
    cpu, baseline = idle_cpu_per_minute(3, 5.0 if quick else 30.0)
    figures["idle_cpu_s_per_min_per_elector"] = cpu
    figures["idle_cpu_s_per_min_wakeup_floor"] = baseline
    figures["idle_cpu_vs_wakeup_floor_ratio"] = cpu / baseline if baseline > 0 else float("nan")
    figures["failover_crash_median_over_lease"] = figures["failover_crash_median_s"] / LEASE
    return figures


def main(argv: list[str] | None = None) -> dict[str, float]:
    figures = run(quick=quick_flag(__doc__, "fewer trials, under a minute", argv))
    print_figures(figures, ".4g")
    checks = {
        "graceful median < 10 ms": figures["failover_graceful_median_s"] < 0.010,
        "crash median <= lease": figures["failover_crash_median_s"] <= LEASE,
        "crash worst <= lease + heartbeat": figures["failover_crash_worst_s"] <= LEASE + HEARTBEAT,
        "idle CPU < 50 ms per minute per elector": (
            figures["idle_cpu_s_per_min_per_elector"] < 0.050
        ),
    }
    if "file_failover_graceful_median_s" in figures:
        checks["file store: graceful median < 10 ms"] = (
            figures["file_failover_graceful_median_s"] < 0.010
        )
        checks["file store: crash median <= lease"] = (
            figures["file_failover_crash_median_s"] <= LEASE
        )
        checks["file store: crash worst <= lease + heartbeat"] = (
            figures["file_failover_crash_worst_s"] <= LEASE + HEARTBEAT
        )
    if "file_idle_cpu_s_per_min_per_process" in figures:
        checks["file store: idle CPU < 50 ms per minute per candidate process"] = (
            figures["file_idle_cpu_s_per_min_per_process"] < 0.050
        )
    if "candidate_rss_mib" in figures:
        checks["candidate process < 30 MiB resident"] = figures["candidate_rss_mib"] < 30
    for label, ok in checks.items():
        print(f"{'ok  ' if ok else 'MISS'} {label}")
    return figures


if __name__ == "__main__":
    main()
