"""``demo``: three candidates, a kill -9 failover and a graceful handover (being written)."""

from __future__ import annotations

import click

__all__ = ["demo"]


@click.command()
def demo() -> None:
    """Show failover and handover with three local candidates."""
    raise click.ClickException("the demo is not available yet")
