"""The ``fdb-election`` console script: the click group and ``main()``.

Usage::

    fdb-election [--db URL] [--election NAME] COMMAND [ARGS...]

Commands: status, candidates, config show|set, init, evict, resign, run, demo, simulate. Every
command but ``simulate`` also accepts ``--db`` and ``--election`` after its name. Exit codes are
listed in :mod:`fdb_election.cli.exit_codes` and docs/reference/cli.md.
"""

from __future__ import annotations

import click

from fdb_election.cli.admin import evict, resign
from fdb_election.cli.candidates import candidates
from fdb_election.cli.config_cmd import config_group, init
from fdb_election.cli.context import CliContext, common_options
from fdb_election.cli.demo import demo
from fdb_election.cli.run import run
from fdb_election.cli.simulate import simulate
from fdb_election.cli.status import status

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@common_options
@click.version_option(package_name="fdb-election", prog_name="fdb-election")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Leader election on FoundationDB, or on an embedded store with nothing to set up."""
    cli_context = ctx.ensure_object(CliContext)
    ctx.call_on_close(cli_context.close)


for _command in (status, candidates, config_group, init, evict, resign, run, demo, simulate):
    cli.add_command(_command)


def main() -> None:
    """Entry point of the console script."""
    cli(prog_name="fdb-election")


if __name__ == "__main__":
    main()
