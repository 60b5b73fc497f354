"""Where the milliseconds of a graceful hand-over between two ``fdb-election run`` go, hop by hop.

Two ``run`` processes on one file store (lease 1 s, heartbeat 1/3 s) each keep a payload as CMD: a
shell that writes one line into a FIFO this process reads, then sleeps. The leader's payload gets
SIGTERM; the hand-over ends when the successor's payload has written its line. Each ``run`` runs
under a wrapper that marks, with the monotonic clock every process shares, when it passes points
of the chain (by wrapping functions from outside: nothing in the package is changed for it):

    old run:  its guard reports CMD's exit -> run asks its elector to stop -> the stop step
              starts (on a thread of its own: it calls run's release hook) -> the hand-over
              (the claim it writes for its successor) has committed
    new run:  its leader watch fires -> its step starts -> it leads (it takes the tenure up
              without a commit, or claims when it was not handed over) -> run asks its guard
              to start CMD -> CMD runs (its line arrives)

Each hop is the median over trials of the time between its two marks; the marks cost a few
microseconds each. Beside it, in the same run, the library ``Elector``'s graceful hand-over
between two processes (benchmarks/failover.py: SIGTERM until the successor's ``on_elected``
callback runs), which is what ``run``'s is judged against. And ``payload_start_median_ms``: the
start of the same payload from a shell waiting for one line (what the guard's prepared launcher
does last), without ``run``: what any supervisor pays to start CMD and the Elector's callback
does not; ``run_over_elector_plus_start_ratio`` judges ``run`` against the Elector plus that.

Usage: ``python benchmarks/handover_chain.py [--quick]`` (also part of ``make bench``).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import failover
from _common import print_figures, quick_flag
from peers import WAIT, FdbElectionRun, StartLog, _kill_tree

#: Runs ``fdb-election`` with marks: ``python -c WRAPPER TRACE TAG -- ARGS...``.
WRAPPER = r"""
import functools, os, sys, time

trace, tag = sys.argv[1], sys.argv[2]
sys.argv = ["fdb-election", *sys.argv[4:]]
fd = os.open(trace, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

def mark(label):
    os.write(fd, f"{time.monotonic_ns()} {tag} {label}\n".encode())

def wrap(owner, name, label, *, on_return=False):
    original = getattr(owner, name)

    @functools.wraps(original)
    def marked(*args, **kwargs):
        if not on_return:
            mark(label)
        result = original(*args, **kwargs)
        if on_return:
            mark(label)
        return result

    setattr(owner, name, marked)

from fdb_election.cli import child
from fdb_election.embedded import transaction
from fdb_election.runtime import core, driver

wrap(child.ChildProcess, "_exited", "cmd_exit_reported")
wrap(driver.ElectorDriver, "request_stop", "stop_requested")
wrap(core.ElectorCore, "step", "release_step")  # steps alone only when they call the hook
wrap(transaction.Transaction, "commit", "transaction_committed", on_return=True)
wrap(driver.ElectorDriver, "_woken", "woken")
wrap(core.ElectorCore, "begin_step", "step_begins")
wrap(core.ElectorCore, "_adopt", "leads")  # it decides: leadership starts within
wrap(child.Guard, "start", "cmd_start_sent")

from fdb_election.cli.main import main

main()
"""

#: The chain: (figure, (candidate, the mark a hop ends at)); each hop starts where the one before
#: ended, the first at the SIGTERM. "old" is the leader that gives up, "new" its successor. Each
#: mark is the candidate's first one after its previous mark in the chain (the successor's first:
#: after the SIGTERM), and a hop that the marks show overlapping the one before (a commit wakes
#: the successor a few microseconds before its ``commit()`` returns) counts as 0.
CHAIN = [
    # CMD's death and its guard's report
    ("hop1_cmd_exit_reaches_run_ms", ("old", "cmd_exit_reported")),
    ("hop2_run_asks_to_stop_ms", ("old", "stop_requested")),
    # the driver wakes and hands the step that calls the release hook to a waiting thread
    ("hop3_stop_step_starts_ms", ("old", "release_step")),
    ("hop4_hand_over_commits_ms", ("old", "transaction_committed")),
    # the commit's wake-up datagram, the successor's listener re-reading its watched keys
    ("hop5_successor_watch_fires_ms", ("new", "woken")),
    ("hop6_successor_step_starts_ms", ("new", "step_begins")),
    ("hop7_successor_leads_ms", ("new", "leads")),
    ("hop8_start_requested_ms", ("new", "cmd_start_sent")),
    # the guard's wake-up, the exec of its launcher, the payload shell's start
    ("hop9_guard_starts_cmd_ms", ("payload", "")),
]


def _marks(trace: Path, t0: int, payload_at: int) -> dict[str, list[tuple[int, str]]]:
    """Each candidate's marks since ``t0`` in order, with the successor's payload's start."""
    marks: dict[str, list[tuple[int, str]]] = {"t0": [(t0, "")], "payload": [(payload_at, "")]}
    for line in trace.read_text().splitlines():
        ns, tag, label = line.split()
        if int(ns) >= t0:
            marks.setdefault(tag, []).append((int(ns), label))
    return marks


def _hops(marks: dict[str, list[tuple[int, str]]]) -> list[float] | None:
    """Milliseconds of each hop of :data:`CHAIN`, or None when a mark is missing."""
    hops = []
    t0 = at = marks["t0"][0][0]
    last: dict[str, int] = {}  # each candidate's previous mark
    for _name, (who, label) in CHAIN:
        since = last.get(who, t0)
        later = [ns for ns, seen in marks.get(who, []) if seen == label and ns >= since]
        if not later:
            return None
        hops.append(max(0, later[0] - at) / 1e6)
        at = last[who] = max(at, later[0])
    return hops


def run_chain(trials: int, rng: random.Random) -> tuple[list[float], list[list[float]]]:
    """Hand-over times (ms) and, per trial, each hop's (ms)."""
    totals: list[float] = []
    chains: list[list[float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        system = FdbElectionRun()
        system.start(tmp)
        log = StartLog(tmp)
        trace = Path(tmp) / "marks"
        try:
            for trial in range(trials):
                election = f"chain-{trial}"
                system.prepare(election)
                trace.write_text("")
                procs: list[subprocess.Popen[bytes]] = []
                pids: list[int] = []
                try:
                    for role in ("old", "new"):
                        tag = f"{election}-{role}"
                        # peers' run candidate, under the wrapper that marks as ``role``
                        system.command = [sys.executable, "-c", WRAPPER, str(trace), role, "--"]
                        procs.append(system.candidate(election, tag, log).proc)
                        if role == "old":
                            _, payload = log.wait(tag)
                            pids.append(payload)
                    # Let the successor follow, then strike at a random point of the refresh.
                    time.sleep(1.0 + rng.uniform(0, 1.0))
                    t0 = time.monotonic_ns()
                    os.kill(pids[0], signal.SIGTERM)
                    started, payload = log.wait(f"{election}-new", WAIT)
                    pids.append(payload)
                    payload_at = int(started * 1e9)
                    totals.append((payload_at - t0) / 1e6)
                    hops = _hops(_marks(trace, t0, payload_at))
                    if hops is not None:
                        chains.append(hops)
                finally:
                    for proc in procs:
                        with contextlib.suppress(ProcessLookupError):
                            _kill_tree(proc, *pids)
        finally:
            log.close()
    return totals, chains


#: A shell that waits for one line on its standard input, then becomes its arguments: the last
#: step of a start from ``run``'s prepared launcher, without ``run`` and its guard.
WAITING_SHELL = 'IFS= read -r FDB_ELECTION_BALLOT || exit 0; export FDB_ELECTION_BALLOT; exec "$@"'


def payload_start(trials: int) -> list[float]:
    """Milliseconds from handing a waiting shell its line until the payload it becomes has
    reported its start: what starting the payload costs however it is started, which the
    Elector's hand-over (a callback in its own process) does not include."""
    times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        log = StartLog(tmp)
        try:
            for trial in range(trials):
                tag = f"start-{trial}"
                read_end, write_end = os.pipe()
                proc = subprocess.Popen(
                    ["/bin/sh", "-c", WAITING_SHELL, "sh", *log.payload(tag)], stdin=read_end
                )
                os.close(read_end)
                try:
                    time.sleep(0.2)  # the shell has started and waits in read
                    t0 = time.monotonic()
                    os.write(write_end, b"1\n")
                    started, _ = log.wait(tag, WAIT)
                    times.append((started - t0) * 1e3)
                finally:
                    os.close(write_end)
                    _kill_tree(proc)
        finally:
            log.close()
    return times


def run(quick: bool = False) -> dict[str, float]:
    """All figures (``quick``: 3 trials instead of 16).

    The trials of ``run``, of the Elector and of the payload's start alternate, one each in
    turn: this VM's speed drifts by tens of percent over minutes, and a drift then weighs on
    all alike instead of on one.
    """
    trials = 3 if quick else 16
    totals: list[float] = []
    chains: list[list[float]] = []
    called: list[float] = []
    starts: list[float] = []
    run_rng, elector_rng = random.Random(3), random.Random(7)
    for _ in range(trials):
        trial_totals, trial_chains = run_chain(1, run_rng)
        totals += trial_totals
        chains += trial_chains
        called += failover.process_failover(1, crash=False, rng=elector_rng)[1]
        starts += payload_start(1)
    figures: dict[str, float] = {
        "run_handover_median_ms": statistics.median(totals),
        "elector_handover_median_ms": statistics.median(called) * 1e3,
    }
    figures["run_over_elector_handover_ratio"] = (
        figures["run_handover_median_ms"] / figures["elector_handover_median_ms"]
    )
    start = statistics.median(starts)
    figures["payload_start_median_ms"] = start
    figures["run_over_elector_plus_start_ratio"] = figures["run_handover_median_ms"] / (
        figures["elector_handover_median_ms"] + start
    )
    figures["chains_complete"] = float(len(chains))
    for index, (name, _end) in enumerate(CHAIN):
        if chains:
            figures[name] = statistics.median(chain[index] for chain in chains)
    return figures


def main(argv: list[str] | None = None) -> dict[str, float]:
    figures = run(quick=quick_flag(__doc__, "3 trials", argv))
    print_figures(figures, ".3g")
    return figures


if __name__ == "__main__":
    main()
