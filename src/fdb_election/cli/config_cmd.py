"""``init``, ``config show`` and ``config set``: create and change an election's configuration.

Examples::

    fdb-election init --lease 5                     # lease 5 s, heartbeat 1.67 s, timeout 7.5 s
    fdb-election config show --json
    fdb-election config set --lease 20 --heartbeat 5   # only these fields change

``init`` is idempotent: on an initialized election it changes nothing and says so (use
``config set`` to change a live election). Configuration changes reach running electors at their
next cycle; shortening the lease under a running ``run`` does not shrink a grace period already
in force.
"""

from __future__ import annotations

from typing import Any

import click

from fdb_election.cli.config_options import ConfigChanges, config_options
from fdb_election.cli.context import CliContext, common_options, database_errors, pass_cli, transact
from fdb_election.cli.output import Output
from fdb_election.cli.snapshot import ConfigView

__all__ = ["config_group", "init"]


def _json_option(func: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")(func)


@click.command()
@common_options
@config_options
@_json_option
@pass_cli
def init(cli: CliContext, changes: ConfigChanges, as_json: bool) -> None:
    """Create the election (idempotent); options set its initial configuration."""
    from fdb_election.election import ElectionConfig

    wanted = changes.initial_config(ElectionConfig)
    election = cli.election()

    def body(tr: Any) -> tuple[bool, Any]:
        from fdb_election.election import NotInitialized

        try:
            return False, election.read_config(tr)
        except NotInitialized:
            election.initialize_with_config(tr, wanted)
            return True, wanted

    with database_errors(cli):
        created, stored = transact(cli.database(create=True), body)
    view = ConfigView.of(stored)
    out = Output.current(json_mode=as_json)
    if as_json:
        out.json({"election": cli.election_name, "created": created, "config": view.to_json()})
        return
    if created:
        out.fields(f"Initialized election {cli.election_name!r}", view.pairs())
    else:
        out.fields(f"Election {cli.election_name!r} was already initialized", view.pairs())
        if not changes.is_empty():
            out.line("the given options were not applied; use `fdb-election config set` to change")


@click.group("config", invoke_without_command=True)
@common_options
@click.pass_context
def config_group(ctx: click.Context) -> None:
    """Show or change an election's configuration (without a command: show it)."""
    if ctx.invoked_subcommand is None:
        _show(ctx.ensure_object(CliContext), as_json=False)


@config_group.command("show")
@common_options
@_json_option
@pass_cli
def config_show(cli: CliContext, as_json: bool) -> None:
    """Print the configuration (exit 3 if the election is not initialized)."""
    _show(cli, as_json)


def _show(cli: CliContext, as_json: bool) -> None:
    election = cli.election()
    with database_errors(cli):
        view = transact(cli.existing_database(), lambda tr: ConfigView.of(election.read_config(tr)))
    out = Output.current(json_mode=as_json)
    if as_json:
        out.json({"election": cli.election_name, "config": view.to_json()})
    else:
        out.fields(f"Election {cli.election_name!r}", view.pairs())


@config_group.command("set")
@common_options
@config_options
@_json_option
@pass_cli
def config_set(cli: CliContext, changes: ConfigChanges, as_json: bool) -> None:
    """Change the given fields only; the result is validated before it is written."""
    if changes.is_empty():
        raise click.UsageError(
            "nothing to change: give at least one of --lease, --heartbeat, --candidate-timeout, "
            "--enable/--disable, --preemption/--no-preemption"
        )
    election = cli.election()

    def body(tr: Any) -> Any:
        updated = changes.apply_to(election.read_config(tr))
        election.write_config(tr, updated)
        return updated

    with database_errors(cli):
        view = ConfigView.of(transact(cli.existing_database(), body))
    out = Output.current(json_mode=as_json)
    if as_json:
        out.json({"election": cli.election_name, "config": view.to_json()})
    else:
        out.fields(f"Updated election {cli.election_name!r}", view.pairs())
