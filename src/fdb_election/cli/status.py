"""``status`` (one reading) and ``status --watch`` (a live view driven by a leader-key watch).

Examples::

    fdb-election status                  # leader, ballot, lease left, candidates
    fdb-election status --json           # {"election": ..., "leader": {...} | null, ...}
    fdb-election status --watch          # live table on a terminal, Ctrl-C to stop
    fdb-election status --watch --count 3 | cat   # plain lines: one per change of leader

``--watch`` re-reads as soon as the leader record changes (a database watch on the leader key)
and at least every ``--interval`` seconds, so the lease countdown moves and an expired lease
shows even though expiry writes nothing. The seed increments the ballot on every lease refresh, so
in plain and JSON output a line is printed only when the leading process changes (or the lease
lapses), not on every refresh.
"""

from __future__ import annotations

import time
from typing import Any

import click
from rich.console import Group
from rich.live import Live

from fdb_election.cli.context import CliContext, common_options, database_errors, pass_cli, transact
from fdb_election.cli.naming import leader_key
from fdb_election.cli.output import Output
from fdb_election.cli.snapshot import CANDIDATE_COLUMNS, ElectionSnapshot, read_snapshot
from fdb_election.cli.watching import arm_watch, wait_for_future

__all__ = ["status"]


def _read(cli: CliContext, *, watch: bool) -> tuple[ElectionSnapshot, Any]:
    election = cli.election()
    key = leader_key(cli.election_name)

    def body(tr: Any) -> tuple[ElectionSnapshot, Any]:
        snap = read_snapshot(tr, election, cli.election_name, now_s=time.time())
        return snap, arm_watch(tr, key) if watch else None

    with database_errors(cli):
        return transact(cli.existing_database(), body)


def _plain_line(snap: ElectionSnapshot) -> str:
    """``TIME name=value ...`` (logfmt): values with spaces are quoted, not squeezed."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp} " + " ".join(
        f"{name.replace(' ', '_')}={_logfmt_value(value)}" for name, value in snap.status_pairs()
    )


def _logfmt_value(value: str) -> str:
    if value and not any(c in value for c in ' "=\\'):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _identity(snap: ElectionSnapshot) -> tuple[str, bool] | None:
    """What counts as a change for line-oriented watch output."""
    if snap.leader is None:
        return None
    return snap.leader.process_id, snap.leader.lease_valid


def _renderable(snap: ElectionSnapshot) -> Any:
    return Group(
        Output.fields_renderable(f"Election {snap.name!r}", snap.status_pairs()),
        Output.table_renderable("Candidates", CANDIDATE_COLUMNS, snap.candidate_rows()),
    )


@click.command()
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one document per line).")
@click.option("--watch", is_flag=True, help="Keep showing changes until interrupted.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05, max=60.0),
    default=0.5,
    show_default=True,
    help="With --watch: re-read at least this often (seconds).",
)
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=None,
    help="With --watch: stop after printing this many updates.",
)
@pass_cli
def status(cli: CliContext, as_json: bool, watch: bool, interval: float, count: int | None) -> None:
    """Show the leader, its ballot and lease, and how many candidates are alive."""
    out = Output.current(json_mode=as_json)
    if not watch:
        snap, _ = _read(cli, watch=False)
        if as_json:
            out.json(snap.to_json())
        else:
            out.fields(f"Election {cli.election_name!r}", snap.status_pairs())
        return
    try:
        if out.is_terminal and not as_json:
            _watch_live(cli, out, interval, count)
        else:
            _watch_lines(cli, out, interval, count)
    except KeyboardInterrupt:
        pass


def _watch_lines(cli: CliContext, out: Output, interval: float, count: int | None) -> None:
    printed = 0
    last: object = object()
    while count is None or printed < count:
        snap, watch = _read(cli, watch=True)
        if _identity(snap) != last:
            last = _identity(snap)
            out.json(snap.to_json()) if out.json_mode else out.line(_plain_line(snap))
            printed += 1
            if count is not None and printed >= count:
                watch.cancel()
                return
        wait_for_future(watch, interval)


def _watch_live(cli: CliContext, out: Output, interval: float, count: int | None) -> None:
    updates = 0
    snap, watch = _read(cli, watch=True)
    with Live(_renderable(snap), console=out.console, auto_refresh=False) as live:
        while True:
            live.update(_renderable(snap), refresh=True)
            updates += 1
            if count is not None and updates >= count:
                watch.cancel()
                return
            wait_for_future(watch, interval)
            snap, watch = _read(cli, watch=True)
