"""Hundreds of elections per process on one file: leaders kept, failover on time, cost per process.

Usage::

    python benchmarks/shards_on_file.py            # 3 x 1000 at defaults, and 3 x 300 at 3 s / 1 s
    python benchmarks/shards_on_file.py --quick    # 3 x 200 at 3 s / 1 s only

Three worker processes share one ``sqlite:`` file; each runs one ``fdb_election.Elector`` per
election (the thread elector, so all of a process's electors share its database's driver) and
prints its driver's counters every second. Figures, per workload:

* ``led_pct``: after warm-up, the percentage of (sample, election) pairs whose leader record has a
  lease that runs at the sample's wall-clock time (sampled by this process, read-only);
* ``failover_max_s`` / ``failover_median_s``: after ``kill -9`` of the worker that leads the most
  elections, how long until each orphaned election is led again by another worker with a running
  lease; the target is lease + 2 heartbeats;
* ``cpu_pct_max``: the busiest worker's CPU over the sampling window (utime + stime from
  ``/proc``), in percent of one core; the target is 25 %;
* ``commits_per_s``, ``batches_per_s`` and ``syncs_per_s`` (per worker, mean): logical commits,
  the group commits (one SQLite transaction each) that carried them, and the groups among those
  that waited for an fsync (those with a claim: heartbeats and refreshes skip it). Group commits
  follow driver ticks, not the number of elections.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from fdb_election import embedded
from fdb_election.election import LeaderElection
from fdb_election.runtime import election_subspace

WORKER = """
import json, sys, threading, time
from fdb_election import embedded
from fdb_election.election import ElectionConfig
from fdb_election.runtime import Elector, ElectorDriver

path, process_id, count, lease, heartbeat = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(
    sys.argv[4]), float(sys.argv[5])
config = ElectionConfig(lease_duration=lease, heartbeat_interval=heartbeat,
                        candidate_timeout=lease * 1.5)
db = embedded.open(path)
driver = ElectorDriver.shared(db)
electors = [Elector(db, f"shard-{i}", process_id=process_id, config=config, metrics=False).start()
            for i in range(count)]
while True:
    leading = sum(e.is_leader for e in electors)
    print(json.dumps({"t": time.monotonic(), "batches": driver.batches,
                      "syncs": db._store.syncs,
                      "committed": driver.committed, "leading": leading,
                      "saturated": driver.saturated}), flush=True)
    time.sleep(1.0)
"""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class Worker:
    def __init__(self, path: Path, process_id: str, count: int, lease: float, beat: float) -> None:
        self.process_id = process_id
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                str(path),
                process_id,
                str(count),
                str(lease),
                str(beat),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.last: dict[str, Any] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.last = json.loads(line)
            except ValueError:
                continue

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def _leaders(db: Any, elections: list[LeaderElection]) -> list[tuple[str | None, bool]]:
    """(leader id, lease running now) of every election, read in one transaction."""
    tr = db.create_transaction()
    now_ns = time.time_ns()
    out: list[tuple[str | None, bool]] = []
    for election in elections:
        record = election.get_leader_raw(tr)
        out.append(
            (None, False)
            if record is None
            else (record.leader_id, record.lease_expiry_nanos > now_ns)
        )
    return out


def workload(count: int, lease: float, beat: float, label: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="shards-") as tmp:
        path = Path(tmp) / "shards.fdbe"
        db = embedded.open(str(path))
        elections = [LeaderElection(election_subspace(f"shard-{i}")) for i in range(count)]
        workers = [Worker(path, f"proc-{k}", count, lease, beat) for k in range(3)]
        try:
            warm = time.monotonic() + 2 * lease + 3.0
            while time.monotonic() < warm:
                time.sleep(0.2)
            # Sampling window: leadership coverage, CPU and commit rates.
            window = max(3 * beat, 6.0)
            cpu0 = {w.process_id: _cpu_seconds(w.proc.pid) for w in workers}
            stats0 = {w.process_id: dict(w.last) for w in workers}
            t0 = time.monotonic()
            led = samples = 0
            while time.monotonic() - t0 < window:
                for _, running in _leaders(db, elections):
                    led += running
                    samples += 1
                time.sleep(0.25)
            elapsed = time.monotonic() - t0
            cpu = [(_cpu_seconds(w.proc.pid) - cpu0[w.process_id]) / elapsed for w in workers]
            commits, batches, syncs = (
                [(w.last.get(k, 0) - stats0[w.process_id].get(k, 0)) / elapsed for w in workers]
                for k in ("committed", "batches", "syncs")
            )
            # Kill the worker that leads the most; time each of its elections' takeover.
            owners = _leaders(db, elections)
            victim_id = max(
                (w.process_id for w in workers), key=lambda p: sum(o == p for o, _ in owners)
            )
            orphans = {i for i, (owner, _) in enumerate(owners) if owner == victim_id}
            victim = next(w for w in workers if w.process_id == victim_id)
            killed = time.monotonic()
            victim.proc.send_signal(signal.SIGKILL)
            victim.proc.wait(10)
            taken: dict[int, float] = {}
            limit = killed + 3 * lease + 10 * beat
            while len(taken) < len(orphans) and time.monotonic() < limit:
                now = time.monotonic()
                for i, (owner, running) in enumerate(_leaders(db, elections)):
                    if (
                        i in orphans
                        and i not in taken
                        and running
                        and owner not in (None, victim_id)
                    ):
                        taken[i] = now - killed
                time.sleep(0.02)
            failovers = sorted(taken.values())
            missing = len(orphans) - len(taken)
        finally:
            for worker in workers:
                worker.stop()
    return {
        f"{label}.led_pct": 100.0 * led / max(samples, 1),
        f"{label}.failover_max_s": max(failovers) if not missing and failovers else float("inf"),
        f"{label}.failover_median_s": statistics.median(failovers) if failovers else float("inf"),
        f"{label}.failover_target_s": lease + 2 * beat,
        f"{label}.orphans": float(len(orphans)),
        f"{label}.cpu_pct_max": 100.0 * max(cpu),
        f"{label}.commits_per_s": statistics.mean(commits),
        f"{label}.batches_per_s": statistics.mean(batches),
        f"{label}.syncs_per_s": statistics.mean(syncs),
    }


def run(quick: bool = False) -> dict[str, float]:
    """The workloads of the many-elections target (``quick``: a reduced one)."""
    if quick:
        return workload(200, 3.0, 1.0, "3x200_lease3")
    figures = workload(300, 3.0, 1.0, "3x300_lease3")
    figures.update(workload(1000, 10.0, 3.0, "3x1000_default"))
    return figures


def main(argv: list[str] | None = None) -> int:
    from _common import print_figures, quick_flag

    quick = quick_flag(__doc__ or "", "3 x 200 elections only", argv)
    print_figures(run(quick), ".4g", header=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
