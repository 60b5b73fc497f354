"""How commands print: rich tables on a terminal, plain lines in pipes, JSON on request.

Usage::

    out = Output.current(json_mode=False)
    out.fields("Election default", [("leader", "web-1"), ("ballot", "42")])
    out.table("Candidates", ["id", "priority"], [["web-1", "0"]])
    out.json({"leader": None})        # one line, sorted keys: stable for scripts

What can surprise you: the choice between rich and plain output is made per call from whether
stdout is a terminal (``FORCE_COLOR``/``TTY_COMPATIBLE`` etc. are honoured by rich), so output
piped into ``grep`` never contains box-drawing characters or colour codes. rich is imported on
first use (a console, a table), so commands that print nothing through it, ``run`` among them,
do not load it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from fdb_election.election.times import format_seconds

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

__all__ = ["Output", "error_text", "format_age", "format_seconds"]


def format_age(seconds: float) -> str:
    """How long ago something happened: ``120 ms ago``; a future time (clock skew) says so."""
    if seconds < 0:
        return f"in {format_seconds(-seconds)} (clock skew?)"
    return f"{format_seconds(seconds)} ago"


def error_text(exc: BaseException) -> str:
    """An error as a person reads it. A database error's ``str()`` shows its description as a
    bytes literal (the official binding's, copied by the embedded store): here it reads
    ``Operation aborted because the transaction timed out (1031)``, with the embedded store's
    detail after it. Any other error is its ``str()``, or its type's name when that is empty."""
    description, code = getattr(exc, "description", None), getattr(exc, "code", None)
    if isinstance(description, bytes) and isinstance(code, int) and not isinstance(code, bool):
        text = f"{description.decode('utf-8', 'replace')} ({code})"
        detail = getattr(exc, "detail", None)
        return f"{text}: {detail}" if detail else text
    return str(exc) or type(exc).__name__


class Output:
    """Where a command writes its results (stdout); errors go to stderr through click."""

    def __init__(self, *, json_mode: bool = False, console: Console | None = None) -> None:
        self.json_mode = json_mode
        self._console = console

    @classmethod
    def current(cls, *, json_mode: bool = False) -> Output:
        """An Output on the current ``sys.stdout`` (which click's test runner replaces)."""
        return cls(json_mode=json_mode)

    @property
    def console(self) -> Console:
        """A rich console on the current stdout."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=sys.stdout)
        return self._console

    @property
    def is_terminal(self) -> bool:
        """True when stdout is an interactive terminal (rich output), False in pipes and files."""
        return self.console.is_terminal

    def json(self, document: Any) -> None:
        """Print one JSON document on one line with sorted keys."""
        click.echo(json.dumps(document, sort_keys=True))

    def line(self, text: str) -> None:
        """Print one plain line (no markup interpretation)."""
        click.echo(text)

    def fields(self, title: str, pairs: Sequence[tuple[str, str]]) -> None:
        """A titled list of ``name: value`` pairs."""
        if self.is_terminal:
            self.console.print(self.fields_renderable(title, pairs))
            return
        click.echo(title)
        width = max((len(name) for name, _ in pairs), default=0)
        for name, value in pairs:
            click.echo(f"  {name + ':':<{width + 1}} {value}")

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """A titled table; in plain mode, aligned columns under a header line."""
        if self.is_terminal:
            self.console.print(self.table_renderable(title, columns, rows))
            return
        click.echo(title)
        for line in plain_table(columns, rows):
            click.echo(line)

    @staticmethod
    def fields_renderable(title: str, pairs: Sequence[tuple[str, str]]) -> RenderableType:
        """The rich form of :meth:`fields` (used by live views too)."""
        from rich import box
        from rich.table import Table

        table = Table(title=title, show_header=False, box=box.SIMPLE, title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        for name, value in pairs:
            table.add_row(name, value)
        return table

    @staticmethod
    def table_renderable(
        title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]
    ) -> RenderableType:
        """The rich form of :meth:`table` (used by live views too)."""
        from rich import box
        from rich.table import Table

        table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        return table


def plain_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to a common width, separated by two spaces, header first."""
    widths = [len(c) for c in columns]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [list(columns), *map(list, rows)]:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return lines
