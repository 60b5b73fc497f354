"""``candidates``: every registered candidate, alive or not.

Example::

    $ fdb-election candidates
    Candidates of election 'default'
    id        priority  last heartbeat  alive  versionstamp
    web-1 *   0         120 ms ago      yes    0000000005f5e1000000000000
    web-2     0         1.20 s ago      yes    0000000005f5e2000000000000

The leader is marked ``*``. "alive" means a heartbeat within the configured candidate timeout by
this machine's clock; dead candidates stay listed until ``fdb-election evict`` (or the leader's
own eviction) removes them. Order is registration order (versionstamp), as the seed lists them.
"""

from __future__ import annotations

import time

import click

from fdb_election.cli.context import CliContext, common_options, database_errors, pass_cli, transact
from fdb_election.cli.output import Output
from fdb_election.cli.snapshot import CANDIDATE_COLUMNS, read_snapshot

__all__ = ["candidates"]


@click.command()
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_cli
def candidates(cli: CliContext, as_json: bool) -> None:
    """List candidates: id, priority, last heartbeat age, alive, versionstamp."""
    election = cli.election()
    with database_errors(cli):
        snap = transact(
            cli.existing_database(),
            lambda tr: read_snapshot(tr, election, cli.election_name, now_s=time.time()),
        )
    out = Output.current(json_mode=as_json)
    if as_json:
        out.json(
            {
                "election": cli.election_name,
                "candidates": [c.to_json() for c in snap.candidates],
                "unreadable": list(snap.unreadable),
            }
        )
        return
    if not snap.candidates:
        out.line(f"No candidates are registered in election {cli.election_name!r}.")
    else:
        out.table(
            f"Candidates of election {cli.election_name!r}",
            CANDIDATE_COLUMNS,
            snap.candidate_rows(),
        )
    if snap.unreadable:
        out.line(
            f"Candidate records that do not decode: {len(snap.unreadable)} (no elector counts "
            "or evicts them; `fdb-election evict --unreadable` removes them):"
        )
        for message in snap.unreadable:
            out.line(f"  {message}")
