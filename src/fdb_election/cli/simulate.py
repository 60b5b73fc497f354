"""``fdb-election simulate``: the deterministic simulator, from the installed command.

The same program as ``python -m fdb_election.sim`` (see docs/simulation.md): it runs electors in
virtual time with injected faults and checks the invariants, or, with ``--timeline FILE.svg``,
draws one run (``--scenario crash|handover`` or ``--replay SEED``). Every argument is passed
through unchanged, ``--help`` included; it needs no database.
"""

from __future__ import annotations

import click

__all__ = ["simulate"]


@click.command(
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def simulate(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Run the deterministic simulator or draw a timeline (``simulate --help`` for options)."""
    from fdb_election.sim.cli import main as simulator

    ctx.exit(simulator(list(args), prog="fdb-election simulate"))
