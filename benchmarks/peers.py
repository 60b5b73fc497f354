"""Side by side with etcd and ZooKeeper: hand-over, failover, idle CPU and memory of a candidate.

On loopback, with matching timings, two candidates per system contend for one lock or election:

* ``etcdctl lock --ttl 2`` against one etcd server (2 s is the shortest TTL a default etcd
  server grants);
* a kazoo ``Lock`` (Python) against one ZooKeeper server, 1 s sessions (tickTime 500 ms);
* ``fdb-election run`` on the file store, lease 1 s, heartbeat 1/3 s;
* the library's ``Elector``, one per process, on the same file store and timings.

Figures per system:

* graceful hand-over: the holder gives up (its payload exits, for the two command-line tools; it
  gets SIGTERM, for the two libraries) until the other candidate's payload starts;
* crash failover: ``kill -9`` of the holder until the other candidate's payload starts;
* idle CPU of the leader's and of the waiter's process (ms of CPU per minute, from
  ``/proc/PID/task/*/schedstat``), their servers' CPU separately, and resident memory (MiB).

A payload is a shell that writes one line into a FIFO this process reads (the time it arrives
is when the payload started) and then sleeps; for the libraries the callback that runs on
election writes the line. The Elector's hand-over and failover are benchmarks/failover.py's
measurement across processes (its ``on_elected`` callback times). The floor: a bare Python
process that commits one SQLite write (WAL, synchronous FULL) every 1/3 s; beside it the same
through the embedded file store, one one-key transaction every 1/3 s.

A system that is not installed is skipped with the reason and how to install it (``make
bench-peers`` installs what it can: Debian's etcd-server, etcd-client and zookeeper, and kazoo
into .venv). Writes the table to benchmarks/PEERS.md and peers.json.

Usage: ``make bench-peers`` or ``python benchmarks/peers.py [--quick] [--trials N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import json
import logging
import os
import queue
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import failover
from _common import start_floors, stop_floors
from failover import _cpu_ns, _rss_mib
from fdb_election.cli.guard import descendants
from run import machine_description

HERE = Path(__file__).resolve().parent
LEASE = failover.LEASE  # 1 s, heartbeat 1/3 s: the Elector worker of failover.py uses it
HEARTBEAT = failover.HEARTBEAT
ETCD_TTL = 2
ZK_SESSION = 1.0
ZK_TICK_MS = 500  # ZooKeeper grants sessions of 2 to 20 ticks: 1 s needs a tick of 500 ms
WAIT = 15.0
ZOOKEEPER_JAR = "/usr/share/java/zookeeper.jar"


# ---------------------------------------------------------------------------- payloads


class StartLog:
    """A FIFO that payloads write ``start PID TAG`` into; each line is timestamped on arrival."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, "starts.fifo")
        os.mkfifo(self.path)
        # Read and write: never an end of file between writers, and opening for write never
        # blocks a payload.
        self._fd = os.open(self.path, os.O_RDWR)
        self._lines: queue.SimpleQueue[tuple[float, int, str]] = queue.SimpleQueue()
        self._seen: dict[str, tuple[float, int]] = {}
        threading.Thread(target=self._read, daemon=True, name="start-log").start()

    def _read(self) -> None:
        pending = b""
        while True:
            try:
                data = os.read(self._fd, 4096)
            except OSError:
                return
            now = time.monotonic()
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                parts = line.decode().split()
                if len(parts) == 3 and parts[0] == "start":
                    self._lines.put((now, int(parts[1]), parts[2]))

    def wait(self, tag: str, timeout: float = WAIT) -> tuple[float, int]:
        """When the payload tagged ``tag`` started, and its pid."""
        deadline = time.monotonic() + timeout
        while tag not in self._seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"payload {tag} did not start within {timeout} s")
            try:
                at, pid, seen = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            self._seen[seen] = (at, pid)
        return self._seen[tag]

    def payload(self, tag: str) -> list[str]:
        """A command that reports its start as ``tag`` and then sleeps (its pid is the shell's,
        which ``exec`` hands to sleep)."""
        return ["sh", "-c", f'echo "start $$ {tag}" > {self.path}; exec sleep 1000']

    def close(self) -> None:
        os.close(self._fd)


# ---------------------------------------------------------------------------- processes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _kill_tree(proc: subprocess.Popen[Any], *extra: int) -> None:
    """SIGKILL a candidate, everything below it and ``extra`` pids (orphaned payloads)."""
    for pid in [*descendants(proc.pid), proc.pid, *extra]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(WAIT)


def _pss_mib(pid: int) -> float:
    """Proportional set size of a process (Linux ``/proc``), in MiB: pages it shares with
    others count in part, so that a parent and its forked child are not counted twice."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no Pss for process {pid}")


def _tree_cpu_ns(pid: int, skip: set[int]) -> int:
    """CPU of ``pid`` and its descendants but ``skip`` (payloads), in ns."""
    total = 0
    for each in [pid, *descendants(pid)]:
        if each not in skip:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                total += _cpu_ns(each)
    return total


@dataclass
class Candidate:
    proc: subprocess.Popen[Any]
    tag: str
    #: Command-line tools run their payload as a process of their own and give up when it
    #: exits: ``release(payload_pid)`` ends it. None for the libraries, whose payload is the
    #: callback that runs on election and which give up on SIGTERM.
    release: Callable[[int], None] | None = None


class System:
    """One system under test: a server (or none) and a way to start candidates."""

    name = ""
    key = ""  # in payload tags, which must be unique over the run
    lease = ""

    def missing(self) -> str | None:
        """Why it cannot run here (and how to install it), or None."""
        return None

    def start(self, tmp: str) -> None:
        """Start the server, if any."""

    def stop(self) -> None:
        """Stop the server, if any."""

    def server_pids(self) -> list[int]:
        return []

    def prepare(self, election: str) -> None:
        """Set up one lock or election before its candidates start."""

    def candidate(self, election: str, tag: str, log: StartLog) -> Candidate:
        raise NotImplementedError


class Etcd(System):
    name = "etcdctl lock --ttl 2"
    key = "etcd"
    lease = f"TTL {ETCD_TTL} s"

    def missing(self) -> str | None:
        absent = [tool for tool in ("etcd", "etcdctl") if shutil.which(tool) is None]
        if absent:
            return f"{' and '.join(absent)} not found (apt-get install etcd-server etcd-client)"
        return None

    def start(self, tmp: str) -> None:
        client, peer = _free_port(), _free_port()
        self.endpoint = f"127.0.0.1:{client}"
        self.server = subprocess.Popen(
            [
                "etcd",
                "--name=bench",
                f"--data-dir={tmp}/etcd",
                f"--listen-client-urls=http://{self.endpoint}",
                f"--advertise-client-urls=http://{self.endpoint}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=bench=http://127.0.0.1:{peer}",
                "--logger=zap",
                "--log-level=error",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + WAIT
        while subprocess.run(
            self._ctl("endpoint", "health"), capture_output=True, check=False
        ).returncode:
            if time.monotonic() > deadline or self.server.poll() is not None:
                _kill_tree(self.server)
                raise RuntimeError("etcd did not become healthy")
            time.sleep(0.1)

    def _ctl(self, *args: str) -> list[str]:
        return ["etcdctl", f"--endpoints={self.endpoint}", *args]

    def stop(self) -> None:
        _kill_tree(self.server)

    def server_pids(self) -> list[int]:
        return [self.server.pid]

    def candidate(self, election: str, tag: str, log: StartLog) -> Candidate:
        command = self._ctl("lock", f"--ttl={ETCD_TTL}", election, "--", *log.payload(tag))
        proc = subprocess.Popen(
            command,
            env={**os.environ, "ETCDCTL_API": "3"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Gives up when its command exits: end the payload.
        return Candidate(proc, tag, release=lambda payload: os.kill(payload, signal.SIGTERM))


KAZOO_WORKER = """
import os, signal, sys
from kazoo.client import KazooClient

hosts, path, tag, log, session = sys.argv[1:6]
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # threads inherit: sigwait gets it
zk = KazooClient(hosts=hosts, timeout=float(session))
zk.start(timeout=15)
lock = zk.Lock(path, tag)
lock.acquire()
with open(log, "w") as fifo:
    fifo.write(f"start {os.getpid()} {tag}\\n")
signal.sigwait({signal.SIGTERM})
lock.release()
zk.stop()
zk.close()
"""


class ZooKeeper(System):
    name = "ZooKeeper + kazoo Lock"
    key = "zookeeper"
    lease = f"session {ZK_SESSION:g} s"

    def missing(self) -> str | None:
        why = []
        if shutil.which("java") is None:
            why.append("java not found (apt-get install default-jre-headless)")
        if not Path(self.jar()).exists():
            why.append(f"{self.jar()} not found (apt-get install zookeeper)")
        if importlib.util.find_spec("kazoo") is None:
            why.append("kazoo not installed (pip install kazoo)")
        return "; ".join(why) or None

    @staticmethod
    def jar() -> str:
        return os.environ.get("ZOOKEEPER_JAR", ZOOKEEPER_JAR)

    def start(self, tmp: str) -> None:
        port = _free_port()
        self.hosts = f"127.0.0.1:{port}"
        os.makedirs(f"{tmp}/zookeeper")
        self.server = subprocess.Popen(
            [
                "java",
                "-Xmx256m",
                "-Dzookeeper.admin.enableServer=false",
                "-cp",
                self.jar(),
                "org.apache.zookeeper.server.ZooKeeperServerMain",
                str(port),
                f"{tmp}/zookeeper",
                str(ZK_TICK_MS),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        from kazoo.client import KazooClient

        ready = KazooClient(hosts=self.hosts, timeout=ZK_SESSION)
        try:
            ready.start(timeout=30)  # retries until the server answers
        except Exception:
            _kill_tree(self.server)
            raise
        ready.stop()  # its session would cost the server CPU in the idle window
        ready.close()

    def stop(self) -> None:
        _kill_tree(self.server)

    def server_pids(self) -> list[int]:
        return [self.server.pid]

    def candidate(self, election: str, tag: str, log: StartLog) -> Candidate:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                KAZOO_WORKER,
                self.hosts,
                f"/bench/{election}",
                tag,
                log.path,
                str(ZK_SESSION),
            ],
            stdout=subprocess.DEVNULL,
        )
        return Candidate(proc, tag)


class FdbElectionRun(System):
    name = "fdb-election run"
    key = "run"
    lease = f"lease {LEASE:g} s"

    def start(self, tmp: str) -> None:
        self.use_file(f"{tmp}/run.fdbe")
        script = Path(sys.executable).with_name("fdb-election")
        self.command = [str(script)] if script.exists() else ["fdb-election"]

    def use_file(self, path: str) -> None:
        """Run the next elections in the database file ``path``."""
        self.url = f"sqlite:{path}"

    def prepare(self, election: str) -> None:
        subprocess.run(
            [
                *self.command,
                "--db",
                self.url,
                "--election",
                election,
                "init",
                f"--lease={LEASE}",
                f"--heartbeat={HEARTBEAT:.6f}",
            ],
            check=True,
            capture_output=True,
        )

    def candidate(self, election: str, tag: str, log: StartLog) -> Candidate:
        command = [
            *self.command,
            "--db",
            self.url,
            "--election",
            election,
            "run",
            "--id",
            tag,
            "--",
            *log.payload(tag),
        ]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Resigns when CMD exits: end the payload.
        return Candidate(proc, tag, release=lambda payload: os.kill(payload, signal.SIGTERM))


class LibraryElector(System):
    """One ``Elector`` per process: benchmarks/failover.py's worker and measurement."""

    name = "fdb_election.Elector"
    key = "elector"
    lease = f"lease {LEASE:g} s"

    def start(self, tmp: str) -> None:
        self.path = f"{tmp}/elector.fdbe"


# ---------------------------------------------------------------------------- measurements


def _settle(rng: random.Random) -> None:
    """Let the second candidate wait, then strike at a random point of the holder's refresh."""
    time.sleep(1.0 + rng.uniform(0, 1.0))


def handover(
    system: System,
    log: StartLog,
    trials: int,
    crash: bool,
    *,
    rng: random.Random | None = None,
    first_trial: int = 0,
) -> list[float]:
    """Seconds from the holder giving up (or being killed) until the next payload starts.

    ``rng`` picks when to strike (a fixed seed by default); ``first_trial`` numbers the trials'
    elections (for a caller that runs them one at a time)."""
    rng = rng or random.Random(11 if crash else 5)
    times = []
    kind = "crash" if crash else "graceful"
    for trial in range(first_trial, first_trial + trials):
        election = f"{kind}-{trial}"
        system.prepare(election)
        first = system.candidate(election, f"{system.key}-{election}-a", log)
        second: Candidate | None = None
        payloads: list[int] = []
        try:
            _, payload = log.wait(first.tag)
            payloads.append(payload)
            second = system.candidate(election, f"{system.key}-{election}-b", log)
            _settle(rng)
            started = time.monotonic()
            if crash:
                first.proc.send_signal(signal.SIGKILL)
            elif first.release is not None:
                first.release(payload)
            else:
                first.proc.send_signal(signal.SIGTERM)
            took, payload = log.wait(second.tag)
            payloads.append(payload)
            times.append(took - started)
        finally:
            for candidate in (first, second):
                if candidate is not None:
                    _kill_tree(candidate.proc, *payloads)
    return times


@dataclass
class Idle:
    cpu_ms_per_min: dict[str, float]
    rss_mib: dict[str, float]


def idle(
    systems: list[System], log: StartLog, tmp: str, seconds: float
) -> tuple[dict[str, Idle], dict[str, dict[str, float]]]:
    """Idle CPU and RSS of every system's leader and waiter (and servers), measured together in
    one window, with the floor processes beside them."""
    watched: dict[str, dict[str, tuple[int, set[int]]]] = {}
    procs: list[subprocess.Popen[Any]] = []
    payloads: set[int] = set()
    floors = start_floors(tmp, HEARTBEAT)
    try:
        for system in systems:
            if isinstance(system, LibraryElector):
                leader = failover._spawn(system.path, "idle", "leader")
                failover._expect(leader, "ready")
                failover._expect(leader, "elected")
                waiter = failover._spawn(system.path, "idle", "waiter")
                failover._expect(waiter, "ready")
                procs += [leader, waiter]
                watched[system.name] = {
                    "leader": (leader.pid, set()),
                    "waiter": (waiter.pid, set()),
                }
                continue
            system.prepare("idle")
            leader_c = system.candidate("idle", f"{system.key}-idle-a", log)
            procs.append(leader_c.proc)
            _, payload = log.wait(leader_c.tag)
            if leader_c.release is not None:  # a payload process (else the callback wrote)
                payloads.add(payload)
            waiter_c = system.candidate("idle", f"{system.key}-idle-b", log)
            procs.append(waiter_c.proc)
            watched[system.name] = {
                "leader": (leader_c.proc.pid, payloads),
                "waiter": (waiter_c.proc.pid, payloads),
            }
            for pid in system.server_pids():
                watched[system.name]["server"] = (pid, set())
        time.sleep(5.0)  # every candidate past its start-up, waiting or leading
        for name, proc in floors.items():
            watched[name] = {"process": (proc.pid, set())}
        before = {
            (name, role): _tree_cpu_ns(pid, skip)
            for name, roles in watched.items()
            for role, (pid, skip) in roles.items()
        }
        time.sleep(seconds)
        after = {
            (name, role): _tree_cpu_ns(pid, skip)
            for name, roles in watched.items()
            for role, (pid, skip) in roles.items()
        }
        rss = {
            (name, role): _rss_mib(pid)
            for name, roles in watched.items()
            for role, (pid, _) in roles.items()
        }
        # The helpers (run's guard, and the process it forks ahead for CMD) separately: what the
        # candidate starts besides CMD, as proportional set size, since the two share most pages.
        helpers = {}
        for name, roles in watched.items():
            for role in ("leader", "waiter"):
                if role in roles:
                    pid, skip = roles[role]
                    below = [p for p in descendants(pid) if p not in skip]
                    helpers[(name, role)] = sum(_pss_mib(p) for p in below)
    finally:
        for proc in procs:
            _kill_tree(proc, *payloads)
        stop_floors(floors)
    per_min = 60 / seconds / 1e6
    results = {}
    for name, roles in watched.items():
        if name in floors:
            continue
        results[name] = Idle(
            cpu_ms_per_min={
                role: (after[name, role] - before[name, role]) * per_min for role in roles
            },
            rss_mib={role: rss[name, role] for role in roles}
            | {f"{role}_helpers": helpers.get((name, role), 0.0) for role in ("leader", "waiter")},
        )
    floor_figures = {
        key: {
            "cpu_ms_per_min": (after[name, "process"] - before[name, "process"]) * per_min,
            "rss_mib": rss[name, "process"],
        }
        for key, name in (
            ("sqlite", "sqlite floor"),
            ("store", "store floor"),
            ("layer", "layer floor"),
        )
    }
    return results, floor_figures


# ---------------------------------------------------------------------------- the run


@contextlib.contextmanager
def started(systems: list[System], tmp: str, failed: dict[str, str]) -> Iterator[list[System]]:
    """Start every system's server; one that fails to start goes to ``failed``, with why."""
    running: list[System] = []
    try:
        for system in systems:
            try:
                system.start(tmp)
            except Exception as exc:
                failed[system.name] = f"failed to start: {type(exc).__name__}: {exc}"
                print(f"   {system.name}: {failed[system.name]}", flush=True)
                continue
            running.append(system)
        yield running
    finally:
        for system in running:
            system.stop()


def paired_graceful(
    run: FdbElectionRun, log: StartLog, tmp: str, trials: int
) -> tuple[list[float], list[float]]:
    """Graceful hand-overs of ``fdb-election run`` and of the Elector, one trial of each in
    turn, each trial on a fresh file: the ratio of the two is a target, and this VM's speed
    drifts by tens of percent over minutes, so a drift must weigh on both alike."""
    run_rng, elector_rng = random.Random(5), random.Random(7)
    run_times: list[float] = []
    elector_times: list[float] = []
    for trial in range(trials):
        run.use_file(f"{tmp}/run-graceful-{trial}.fdbe")
        run_times += handover(run, log, 1, crash=False, rng=run_rng, first_trial=trial)
        elector_times += failover.process_failover(1, crash=False, rng=elector_rng)[1]
    run.use_file(f"{tmp}/run.fdbe")
    return run_times, elector_times


def measure(trials: int, idle_seconds: float) -> dict[str, Any]:
    candidates: list[System] = [Etcd(), ZooKeeper(), FdbElectionRun(), LibraryElector()]
    skipped = {s.name: why for s in candidates if (why := s.missing()) is not None}
    systems = [s for s in candidates if s.name not in skipped]
    for name, why in skipped.items():
        print(f"skipping {name}: {why}", flush=True)
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        log = StartLog(tmp)
        try:
            with started(systems, tmp, skipped) as running:
                measured = list(running)  # the servers of all of them are stopped at the end
                paired: dict[str, list[float]] = {}
                run = next((s for s in running if isinstance(s, FdbElectionRun)), None)
                if run is not None and any(isinstance(s, LibraryElector) for s in running):
                    print("== graceful: fdb-election run and the Elector in turn", flush=True)
                    try:
                        times = paired_graceful(run, log, tmp, trials)
                        paired = {FdbElectionRun.name: times[0], LibraryElector.name: times[1]}
                    except Exception as exc:  # measured apart below, or reported as failed there
                        print(f"   in turn failed ({type(exc).__name__}: {exc})", flush=True)
                for system in running:
                    print(f"== {system.name}", flush=True)
                    try:
                        graceful = paired.get(system.name) or []
                        if isinstance(system, LibraryElector):
                            if not graceful:
                                _, graceful = failover.process_failover(trials, crash=False)
                            _, crash = failover.process_failover(trials, crash=True)
                        else:
                            if not graceful:
                                graceful = handover(system, log, trials, crash=False)
                            crash = handover(system, log, trials, crash=True)
                    except Exception as exc:  # one broken system must not hide the others
                        skipped[system.name] = f"failed: {type(exc).__name__}: {exc}"
                        print(f"   {skipped[system.name]}", flush=True)
                        measured.remove(system)
                        continue
                    rows[system.name] = {
                        "lease": system.lease,
                        "graceful_s": graceful,
                        "crash_s": crash,
                    }
                    print(
                        f"   graceful median {statistics.median(graceful) * 1000:.1f} ms, "
                        f"crash median {statistics.median(crash):.2f} s",
                        flush=True,
                    )
                print(f"== idle, {idle_seconds:g} s, every system at once", flush=True)
                idle_figures, floor = idle(measured, log, tmp, idle_seconds)
        finally:
            log.close()
    for name, figures in idle_figures.items():
        rows[name]["cpu_ms_per_min"] = figures.cpu_ms_per_min
        rows[name]["rss_mib"] = figures.rss_mib
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_description(),
        "trials": trials,
        "idle_seconds": idle_seconds,
        "systems": rows,
        "skipped": skipped,
        "floor": floor,
    }


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def table(results: dict[str, Any]) -> str:
    """PEERS.md: the table, then how it was measured."""
    lines = [
        "# fdb-election next to etcd and ZooKeeper",
        "",
        f"Measured {results['date']} on {results['machine']}, {results['trials']} trials per "
        f"figure, idle CPU over {results['idle_seconds']:g} s. Regenerate with "
        "`make bench-peers` (benchmarks/peers.py; not part of `make bench`, which links here).",
        "",
        "| system | lease | graceful hand-over median (worst) | crash failover median "
        "(worst) | idle CPU leader / waiter (ms/min) | server CPU (ms/min) | RSS leader / "
        "waiter (MiB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in results["systems"].items():
        cpu, rss = row.get("cpu_ms_per_min", {}), row.get("rss_mib", {})
        server_cpu = f"{cpu['server']:.0f}" if "server" in cpu else "none"
        server_rss = f" ({rss['server']:.0f} MiB)" if "server" in rss else ""
        helpers = ""
        if rss.get("leader_helpers"):
            helpers = f" + helpers {rss['leader_helpers']:.1f} / {rss['waiter_helpers']:.1f} (PSS)"
        lines.append(
            f"| {name} | {row['lease']} "
            f"| {_ms(statistics.median(row['graceful_s']))} ({_ms(max(row['graceful_s']))}) "
            f"| {statistics.median(row['crash_s']):.2f} s ({max(row['crash_s']):.2f} s) "
            f"| {cpu.get('leader', float('nan')):.0f} / {cpu.get('waiter', float('nan')):.0f} "
            f"| {server_cpu}{server_rss} "
            f"| {rss.get('leader', float('nan')):.1f} / {rss.get('waiter', float('nan')):.1f}"
            f"{helpers} |"
        )
    for name, why in results["skipped"].items():
        lines.append(f"| {name} | — | not measured: {why} | | | | |")
    floor, store = results["floor"]["sqlite"], results["floor"]["store"]
    layer = results["floor"]["layer"]
    lines += [
        f"| floor: bare Python, one SQLite commit per {HEARTBEAT * 1000:.0f} ms | — | — | — "
        f"| {floor['cpu_ms_per_min']:.0f} | none | {floor['rss_mib']:.1f} |",
        f"| floor through the embedded store: one one-key transaction per "
        f"{HEARTBEAT * 1000:.0f} ms | — | — | — | {store['cpu_ms_per_min']:.0f} | none "
        f"| {store['rss_mib']:.1f} |",
        f"| floor through the election layer: a follower's reads and heartbeat, one transaction "
        f"per {HEARTBEAT * 1000:.0f} ms, no elector | — | — | — | {layer['cpu_ms_per_min']:.0f} "
        f"| none | {layer['rss_mib']:.1f} |",
        "",
        "How: two candidates per system on loopback. Graceful: the holder gives up — for "
        "`etcdctl lock` and `fdb-election run` its payload (CMD) exits, for kazoo and the "
        "Elector its process gets SIGTERM and releases — until the other candidate's payload "
        "starts (a shell writing into a FIFO the benchmark reads; for the libraries, the "
        "callback that runs on election). The holder's process then exits at once, while the "
        "successor claims: on a machine with few CPUs a Python process's shutdown (about 20 ms "
        "of CPU for the Elector's worker; `fdb-election run` and its guard skip it, and `run` "
        "lowers its priority to nice 19 once it has handed over) competes with the successor. "
        "The graceful trials of `fdb-election run` and of the Elector "
        "alternate, one of each in turn, each on a fresh file, so that a drift of this machine's "
        "speed weighs on both alike (their ratio is a target). Crash: `kill -9` of the holder, "
        "until the same. The "
        "Elector rows come from benchmarks/failover.py's processes on the file store. Idle: "
        "CPU of each candidate process and of what it starts besides its payload (`run`'s guard), "
        "from /proc schedstat, every system at once; RSS is the candidate process's VmRSS, with "
        "its helper processes' after the plus (`run`'s guard, and while no CMD runs the process "
        "it forks ahead for the next one, waiting in /bin/sh) as proportional set size (PSS), "
        "since they share most of their pages. Servers are measured separately: "
        "one etcd, one ZooKeeper (JVM, -Xmx256m); fdb-election needs none. etcd grants no "
        "TTL under 2 s with default settings; ZooKeeper's 1 s session needs a 500 ms tick.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 trials, 10 s idle")
    parser.add_argument("--trials", type=int, default=None, help="trials per figure (10)")
    parser.add_argument("--idle-seconds", type=float, default=None, help="idle window (60 s)")
    parser.add_argument(
        "--output", type=Path, default=HERE / "PEERS.md", help="where the table goes"
    )
    args = parser.parse_args(argv)
    trials = args.trials or (3 if args.quick else 10)
    seconds = args.idle_seconds or (10.0 if args.quick else 60.0)
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)  # retries while ZooKeeper starts
    results = measure(trials, seconds)
    text = table(results)
    args.output.write_text(text)
    args.output.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
