"""``demo``: failover and handover on the embedded store, with nothing to set up.

Example::

    $ fdb-election demo | tail -4
    summary
    elected first: demo-1 in 0.41 s
    failover after kill -9: 1.04 s (lease 1.00 s)
    graceful handover: 12.5 ms

Three ``fdb-election run`` processes campaign in election ``demo`` on a temporary database file
with a short lease; the CMD each runs while leading is a process that just waits. The demo kills
the leader's ``run`` with SIGKILL (its CMD dies with it), measures how long until another
candidate leads (about one lease: nobody can know sooner that a silent leader is gone), then
stops the new leader with SIGTERM (it stops its CMD and hands leadership over to the remaining
candidate in one commit) and measures the handover (a few milliseconds). Times are measured by
the demo, from the signal to the moment it reads the new leader record. On a terminal the state
is shown as a live table; otherwise events are printed as plain lines. Everything is removed at
the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Group
from rich.live import Live
from rich.text import Text

from fdb_election.cli.child import die_with_parent
from fdb_election.cli.config_options import SECONDS
from fdb_election.cli.exit_codes import CliFailure
from fdb_election.cli.naming import election_for, leader_key
from fdb_election.cli.output import Output, format_seconds
from fdb_election.cli.snapshot import CANDIDATE_COLUMNS, ElectionSnapshot, read_snapshot
from fdb_election.cli.watching import arm_watch, wait_for_future

__all__ = ["demo"]

ELECTION = "demo"
# A CMD that does nothing until it is told to stop.
_IDLE_CMD = [sys.executable, "-c", "import signal; signal.pause()"]


@dataclass
class _Candidate:
    process_id: str
    process: subprocess.Popen[bytes]


class _Stage:
    """The demo's view of the election: reads, waits for the leader key, renders."""

    def __init__(self, db: Any, out: Output, live: Live | None) -> None:
        self.db = db
        self.out = out
        self.live = live
        self.election = election_for(ELECTION)
        self.key = leader_key(ELECTION)
        self.log: list[str] = []
        self.started = time.monotonic()

    def read(self) -> tuple[ElectionSnapshot, Any]:
        tr = self.db.create_transaction()
        while True:
            try:
                snap = read_snapshot(tr, self.election, ELECTION, now_s=time.time())
                watch = arm_watch(tr, self.key)
                tr.commit().wait()
                return snap, watch
            except Exception as exc:
                if not isinstance(getattr(exc, "code", None), int):
                    raise
                tr.on_error(exc).wait()

    def say(self, message: str) -> None:
        line = f"[{time.monotonic() - self.started:6.2f} s] {message}"
        self.log.append(line)
        if self.live is None:
            self.out.line(line)

    def show(self, snap: ElectionSnapshot) -> None:
        if self.live is None:
            return
        self.live.update(
            Group(
                Output.fields_renderable("Election 'demo'", snap.status_pairs()),
                Output.table_renderable("Candidates", CANDIDATE_COLUMNS, snap.candidate_rows()),
                Text("\n".join(self.log[-8:])),
            ),
            refresh=True,
        )

    def wait_for_leader(self, exclude: set[str], timeout: float) -> tuple[str, float]:
        """Wait until a valid leader not in ``exclude`` is read; (its id, monotonic time)."""
        end = time.monotonic() + timeout
        while True:
            snap, watch = self.read()
            seen = time.monotonic()
            self.show(snap)
            leader = snap.leader
            if leader is not None and leader.lease_valid and leader.process_id not in exclude:
                watch.cancel()
                return leader.process_id, seen
            if seen >= end:
                watch.cancel()
                raise CliFailure(f"no new leader within {format_seconds(timeout)}")
            wait_for_future(watch, min(0.1, end - seen))


def _spawn(url: str, process_id: str, log_dir: Path) -> _Candidate:
    argv = [
        sys.executable,
        "-m",
        "fdb_election.cli.main",
        "--db",
        url,
        "--election",
        ELECTION,
        "run",
        "--id",
        process_id,
        "--",
        *_IDLE_CMD,
    ]
    with (log_dir / f"{process_id}.log").open("wb") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(os.getpid()),
        )
    return _Candidate(process_id, process)


@contextmanager
def _workspace(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="fdb-election-demo-"))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def _stop_all(candidates: list[_Candidate]) -> None:
    for candidate in candidates:
        if candidate.process.poll() is None:
            candidate.process.send_signal(signal.SIGTERM)
    end = time.monotonic() + 10
    for candidate in candidates:
        try:
            candidate.process.wait(max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            candidate.process.kill()
            candidate.process.wait()


@click.command()
@click.option(
    "--lease", type=SECONDS, default=1.0, show_default=True, help="Lease of the demo election."
)
@click.option(
    "--keep", is_flag=True, help="Keep the temporary database and logs (path is printed)."
)
def demo(lease: float, keep: bool) -> None:
    """Three local candidates: kill -9 the leader, then stop the next one gracefully."""
    from fdb_election.connect import connect
    from fdb_election.election import ElectionConfig

    out = Output.current()
    with _workspace(keep) as workdir:
        url = f"sqlite:{workdir / 'demo.fdbe'}"
        db = connect(url)
        election = election_for(ELECTION)
        tr = db.create_transaction()
        election.initialize_with_config(tr, ElectionConfig.with_lease_duration(lease))
        tr.commit().wait()
        candidates: list[_Candidate] = []
        live = Live(console=out.console, auto_refresh=False) if out.is_terminal else None
        stage = _Stage(db, out, live)
        try:
            if live is not None:
                live.start()
            stage.say(f"database {url} (lease {format_seconds(lease)}); starting 3 candidates")
            for i in (1, 2, 3):
                candidates.append(_spawn(url, f"demo-{i}", workdir))
            by_id = {c.process_id: c for c in candidates}

            first, elected_at = stage.wait_for_leader(set(), timeout=30)
            stage.say(f"{first} leads; killing its `run` with SIGKILL (its CMD dies with it)")
            killed_at = time.monotonic()
            by_id[first].process.kill()
            by_id[first].process.wait()
            second, failover_at = stage.wait_for_leader({first}, timeout=10 * lease + 10)
            failover = failover_at - killed_at
            stage.say(f"{second} leads after {format_seconds(failover)}; stopping it with SIGTERM")

            term_at = time.monotonic()
            by_id[second].process.send_signal(signal.SIGTERM)
            third, handover_at = stage.wait_for_leader({first, second}, timeout=10 * lease + 10)
            handover = handover_at - term_at
            stage.say(f"{third} leads after {format_seconds(handover)} (graceful handover)")
            snap, watch = stage.read()
            watch.cancel()
            stage.show(snap)
        finally:
            if live is not None:
                live.stop()
            _stop_all(candidates)
            close = getattr(db, "close", None)
            if callable(close):
                close()
        if live is not None:
            for line in stage.log:
                out.line(line)
        out.line("summary")
        out.line(f"elected first: {first} in {format_seconds(elected_at - stage.started)}")
        out.line(
            f"failover after kill -9: {format_seconds(failover)} (lease {format_seconds(lease)})"
        )
        out.line(f"graceful handover: {format_seconds(handover)}")
        if keep:
            out.line(f"kept: {workdir}")
