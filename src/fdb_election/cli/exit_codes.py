"""Exit codes of ``fdb-election`` and the exception that carries one to ``main``.

Scripts branch on these, so they are part of the public interface (see docs/reference/cli.md)::

    0    success
    1    operational failure (database unreachable, transaction failed, ...)
    2    usage error: bad option, bad value, bad URL (click's own code)
    3    the election is not initialized, or the named process/leader was not found
    126  ``run``: CMD exists but cannot be executed
    127  ``run``: CMD not found
    128+N  ``run``: CMD (or ``run`` itself) was ended by signal N
    other  ``run``: CMD's own exit code
"""

from __future__ import annotations

import enum

import click

__all__ = [
    "CannotExecute",
    "CliFailure",
    "CommandNotFound",
    "ExitCode",
    "NotFound",
    "signal_exit_code",
]


class ExitCode(enum.IntEnum):
    """The fixed exit codes; ``run`` may also exit with CMD's own code."""

    OK = 0
    FAILURE = 1
    USAGE = 2
    NOT_FOUND = 3
    CANNOT_EXECUTE = 126
    COMMAND_NOT_FOUND = 127


class CliFailure(click.ClickException):
    """An operational failure the user should read: ``Error: <message>`` on stderr, exit 1.

    Raise it (or a subclass, for the other codes) anywhere below a command; click prints it.
    """

    exit_code = ExitCode.FAILURE


class NotFound(CliFailure):
    """The election is not initialized, or the named process is not there: exit 3."""

    exit_code = ExitCode.NOT_FOUND


class CommandNotFound(CliFailure):
    """``run``: CMD is not an executable file (in PATH): exit 127."""

    exit_code = ExitCode.COMMAND_NOT_FOUND


class CannotExecute(CliFailure):
    """``run``: CMD exists but cannot be executed: exit 126."""

    exit_code = ExitCode.CANNOT_EXECUTE


def signal_exit_code(signum: int) -> int:
    """The shell's convention for "ended by signal N": 128 + N."""
    return 128 + signum
