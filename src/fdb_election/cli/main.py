"""The ``fdb-election`` console script: the click group and ``main()``.

Usage::

    fdb-election [--db URL] [--election NAME] COMMAND [ARGS...]

Commands: status, candidates, config show|set, init, evict, resign, run, demo, simulate. Every
command but ``simulate`` also accepts ``--db`` and ``--election`` after its name. Exit codes are
listed in :mod:`fdb_election.cli.exit_codes` and docs/reference/cli.md.

Each command's module is imported only when that command runs (or when help or completion lists
the commands): ``run`` stays a candidate process with no rich (the printing commands' tables)
and no simulator loaded.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, NoReturn

import click

from fdb_election.cli.context import CliContext, common_options

__all__ = ["COMMANDS", "LazyGroup", "cli", "main"]

#: Every command: its name, and where it is defined (``module:attribute``).
COMMANDS = {
    "status": "fdb_election.cli.status:status",
    "candidates": "fdb_election.cli.candidates:candidates",
    "config": "fdb_election.cli.config_cmd:config_group",
    "init": "fdb_election.cli.config_cmd:init",
    "evict": "fdb_election.cli.admin:evict",
    "resign": "fdb_election.cli.admin:resign",
    "run": "fdb_election.cli.run:run",
    "demo": "fdb_election.cli.demo:demo",
    "simulate": "fdb_election.cli.simulate:simulate",
}


class LazyGroup(click.Group):
    """A group whose commands (``name -> "module:attribute"``) are imported on first use."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            module_name, _, attribute = self.lazy_commands[cmd_name].partition(":")
            # __import__, not importlib.import_module: the import statement's machinery, which
            # ``python -X importtime`` times (benchmarks/footprint.py reads it).
            command = getattr(__import__(module_name, fromlist=[attribute]), attribute)
            if not isinstance(command, click.Command) or command.name != cmd_name:
                raise TypeError(f"{self.lazy_commands[cmd_name]} is not the command {cmd_name!r}")
            self.add_command(command)
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@common_options
@click.version_option(package_name="fdb-election", prog_name="fdb-election")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Leader election on FoundationDB, or on an embedded store with nothing to set up."""
    cli_context = ctx.ensure_object(CliContext)
    ctx.call_on_close(cli_context.close)


def main() -> None:
    """Entry point of the console script."""
    try:
        cli(prog_name="fdb-election")
    except SystemExit as exc:
        _exit_now(exc.code)


def _exit_now(code: object) -> NoReturn:
    """End the process with ``code`` (a ``SystemExit`` code) without the interpreter's teardown.

    When click raises ``SystemExit`` the command has done its work and closed its database; what
    is left is the interpreter freeing every module and object, about 20 ms of CPU on a 2-core
    test machine. For ``run`` handing over, that CPU would compete with the successor starting
    its CMD on the same host. Output and log handlers are flushed first; atexit handlers of
    other libraries do not run (the console script registers none).
    """
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # what the interpreter does with a message: print it, exit 1
        print(code, file=sys.stderr)
        status = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be written
            status = status or 1
    os._exit(status)


if __name__ == "__main__":
    main()
