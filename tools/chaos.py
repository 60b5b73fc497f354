"""Chaos run of ``fdb-election run``: real processes, random faults, and an overlap check.

Usage::

    python tools/chaos.py                 # 240 s, 5 processes, lease 1 s (what `make chaos` runs)
    python tools/chaos.py --seconds 30 --seed 7

Five ``fdb-election run --id host-N`` processes share one ``sqlite:`` file (lease 1 s, heartbeat
1/3 s). CMD is a ticker that appends ``tick KIND CMD-PID BALLOT MONOTONIC`` to a shared log every
few milliseconds, and starts a child that ticks too (its lines carry CMD's pid), so a CMD tree that
outlives its leadership shows up as ticks. At random, the chaos loop:

* kills a ``run`` with SIGKILL, or sends it SIGTERM (it is restarted, like under a supervisor);
* stops a ``run`` with SIGSTOP for 1.5 to 3 s, then SIGCONT;
* hangs a ``run`` the same way while a replacement with the same ``--id`` starts;
* asks the leader to resign (``fdb-election resign --id``).

At the end it checks the log: no two CMD trees ticked at the same time (a tick of one after the
first tick of the next), and the fencing tokens (``FDB_ELECTION_BALLOT``) of successive CMDs
strictly increase, except for a CMD that its own ``run`` started again in the same tenure (the
guard stopped it for a deadline at risk, and a refresh then committed after all). It prints the
figures (leadership changes, gaps between CMDs) and exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

PY = sys.executable
LEASE = 1.0

TICKER = textwrap.dedent(
    """
    import os, subprocess, sys, time
    log, ballot = sys.argv[1], os.environ["FDB_ELECTION_BALLOT"]
    host = os.environ["FDB_ELECTION_PROCESS_ID"]
    me = os.getpid()
    if len(sys.argv) > 2:  # the child: ticks under its CMD's pid
        me, kind = int(sys.argv[2]), "child"
    else:
        kind = "cmd"
        subprocess.Popen([sys.executable, __file__, log, str(me)])
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    while True:
        os.write(fd, f"tick {kind} {me} {ballot} {host} {time.monotonic()!r}\\n".encode())
        time.sleep(0.004)
    """
)


def _cli(db: str, *args: str) -> list[str]:
    return [PY, "-m", "fdb_election.cli.main", "--db", db, "--election", "chaos", *args]


@dataclass
class Slot:
    """One host: its ``run`` process (restarted after it ends) and what happened to it."""

    process_id: str
    proc: subprocess.Popen[bytes] | None = None
    stopped_until: float = 0.0
    extra: list[subprocess.Popen[bytes]] = field(default_factory=list)


@dataclass
class Span:
    """One CMD tree, from its first tick to its last (CMD's and its child's)."""

    pid: int
    ballot: int
    host: str  # the --id of the run that started it
    first: float
    last: float


class Chaos:
    def __init__(self, workdir: Path, processes: int, rng: random.Random) -> None:
        self.workdir = workdir
        self.db = f"sqlite:{workdir / 'chaos.fdbe'}"
        self.log = workdir / "ticks"
        self.ticker = workdir / "ticker.py"
        self.ticker.write_text(TICKER)
        self.rng = rng
        self.slots = [Slot(f"host-{i}") for i in range(1, processes + 1)]
        self.actions: Counter[str] = Counter()
        self.stderr = (workdir / "runs.stderr").open("ab")
        self.pending_resumes: list[tuple[float, subprocess.Popen[bytes]]] = []

    def start(self, slot: Slot) -> subprocess.Popen[bytes]:
        argv = _cli(self.db, "run", "--id", slot.process_id, "--", PY, str(self.ticker))
        return subprocess.Popen(
            [*argv, str(self.log)], stdout=subprocess.DEVNULL, stderr=self.stderr
        )

    def leader(self) -> str | None:
        result = subprocess.run(
            _cli(self.db, "status", "--json"), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            return None
        leader = json.loads(result.stdout).get("leader")
        return leader.get("process_id") if isinstance(leader, dict) else None

    def supervise(self, now: float) -> None:
        """Restart every run that ended; resume the ones whose stop is over."""
        for slot in self.slots:
            if slot.stopped_until and now >= slot.stopped_until and slot.proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    slot.proc.send_signal(signal.SIGCONT)
                slot.stopped_until = 0.0
            if slot.proc is not None and slot.proc.poll() is not None:
                slot.proc = None
            if slot.proc is None and not slot.stopped_until:
                slot.proc = self.start(slot)
            # A replaced run that gave its id up exits; keep the newest one as the slot's run.
            for extra in list(slot.extra):
                if extra.poll() is not None:
                    slot.extra.remove(extra)

    def act(self, now: float) -> None:
        live = [s for s in self.slots if s.proc is not None and not s.stopped_until]
        if not live:
            return
        kind = self.rng.choice(("kill", "term", "stop", "replace", "resign"))
        leader_id = self.leader() if self.rng.random() < 0.7 or kind == "resign" else None
        target = next((s for s in live if s.process_id == leader_id), None)
        target = target or self.rng.choice(live)
        assert target.proc is not None
        if kind == "kill":
            target.proc.kill()
        elif kind == "term":
            target.proc.terminate()
        elif kind in ("stop", "replace"):
            target.proc.send_signal(signal.SIGSTOP)
            target.stopped_until = now + self.rng.uniform(1.5, 3.0)
            if kind == "replace":
                # A supervisor gives up on the hung run and starts another with the same id.
                hung = target.proc
                target.extra.append(hung)
                target.proc = self.start(target)
                self._resume_later(hung, target.stopped_until)
                target.stopped_until = 0.0
        elif kind == "resign":
            if leader_id is None:
                return
            subprocess.run(
                _cli(self.db, "resign", "--id", leader_id, "--timeout", "5"),
                capture_output=True,
                check=False,
            )
        self.actions[kind] += 1

    def _resume_later(self, proc: subprocess.Popen[bytes], when: float) -> None:
        self.pending_resumes.append((when, proc))

    def resume_due(self, now: float) -> None:
        for when, proc in list(self.pending_resumes):
            if now >= when:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGCONT)
                self.pending_resumes.remove((when, proc))

    def shutdown(self) -> None:
        procs = [s.proc for s in self.slots if s.proc is not None]
        procs += [p for s in self.slots for p in s.extra]
        procs += [p for _, p in self.pending_resumes]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def spans(self) -> list[Span]:
        spans: dict[int, Span] = {}
        for line in self.log.read_text().splitlines():
            parts = line.split()
            if len(parts) != 6 or parts[0] != "tick":
                continue  # a line cut short by SIGKILL
            pid, ballot, host, stamp = int(parts[2]), int(parts[3]), parts[4], float(parts[5])
            span = spans.get(pid)
            if span is None:
                spans[pid] = Span(pid, ballot, host, stamp, stamp)
            else:
                span.first, span.last = min(span.first, stamp), max(span.last, stamp)
        return sorted(spans.values(), key=lambda s: s.first)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=240.0, help="how long (default 240)")
    parser.add_argument("--processes", type=int, default=5, help="run processes (default 5)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="fdb-election-chaos-") as tmp:
        chaos = Chaos(Path(tmp), args.processes, rng)
        subprocess.run(
            _cli(chaos.db, "init", "--lease", str(LEASE)), check=True, capture_output=True
        )
        print(
            f"chaos: {args.processes} x fdb-election run, lease {LEASE:g} s, {args.seconds:g} s, "
            f"seed {seed}",
            flush=True,
        )
        end = time.monotonic() + args.seconds
        next_action = time.monotonic() + 2.0
        try:
            while (now := time.monotonic()) < end:
                chaos.resume_due(now)
                chaos.supervise(now)
                if now >= next_action:
                    chaos.act(now)
                    next_action = now + rng.uniform(0.5, 2.0)
                time.sleep(0.05)
        finally:
            chaos.shutdown()
        spans = chaos.spans()
    overlaps = [(a, b) for a, b in itertools.pairwise(spans) if a.last >= b.first]
    # A CMD that the guard stopped for an at-risk deadline starts again in the same tenure once a
    # refresh commits after all: same host, same token. Any other repeat is a violation.
    backwards = [
        (a, b)
        for a, b in itertools.pairwise(spans)
        if b.ballot < a.ballot or (b.ballot == a.ballot and b.host != a.host)
    ]
    restarts = sum(1 for a, b in itertools.pairwise(spans) if b.ballot == a.ballot)
    gaps = [b.first - a.last for a, b in itertools.pairwise(spans) if b.first > a.last]
    actions = ", ".join(f"{k}={v}" for k, v in sorted(chaos.actions.items()))
    print(f"faults: {sum(chaos.actions.values())} ({actions})")
    print(
        f"CMD trees started: {len(spans)} (leadership changes: "
        f"{max(0, len(spans) - 1 - restarts)}; restarted in the same tenure: {restarts})"
    )
    if gaps:
        print(
            f"gaps between CMDs: median {statistics.median(gaps):.3f} s, "
            f"p90 {_quantile(gaps, 0.9):.3f} s, max {max(gaps):.3f} s"
        )
    print(f"overlapping CMD intervals: {len(overlaps)}")
    for a, b in overlaps[:5]:
        print(
            f"  CMD {a.pid} (ballot {a.ballot}) ticked {a.last - b.first:.3f} s after "
            f"CMD {b.pid} (ballot {b.ballot}) began"
        )
    print("fencing tokens increase from leader to leader: " + ("yes" if not backwards else "NO"))
    for a, b in backwards[:5]:
        print(
            f"  ballot {b.ballot} (CMD {b.pid} on {b.host}) followed ballot {a.ballot} "
            f"(CMD {a.pid} on {a.host})"
        )
    return 1 if overlaps or backwards or not spans else 0


if __name__ == "__main__":
    sys.exit(main())
