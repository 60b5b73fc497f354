"""``--http HOST:PORT``: serve an elector's health, leadership and metrics while a command runs.

Usage (in a command that owns an elector)::

    @http_option
    def run(..., http: Address | None) -> None:
        elector = Elector(...)
        serve_for_command(elector, http)   # closed with the command's click context

The endpoints are those of :mod:`fdb_election.runtime.http`. ``PORT`` alone and ``:PORT`` mean
loopback (``127.0.0.1``); ``0.0.0.0:PORT`` or the host's address expose them to other machines,
such as a Kubernetes kubelet; ``[::1]:PORT`` is IPv6.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from fdb_election.cli.exit_codes import CliFailure

__all__ = ["DEFAULT_HTTP_HOST", "Address", "HostPort", "http_option", "serve_for_command"]

DEFAULT_HTTP_HOST = "127.0.0.1"

Address = tuple[str, int]
F = TypeVar("F", bound=Callable[..., Any])


class HostPort(click.ParamType):  # type: ignore[type-arg]
    """``HOST:PORT``, ``:PORT`` or ``PORT`` (loopback), ``[IPV6]:PORT``; port 0 to 65535."""

    name = "host:port"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Address:
        if isinstance(value, tuple):
            return value  # already converted (a default)
        text = str(value).strip()
        host, sep, port_text = text.rpartition(":")
        if not sep:
            host, port_text = "", text
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        elif ":" in host:
            self.fail(f"{text!r}: write an IPv6 address in brackets, e.g. [::1]:8080", param, ctx)
        try:
            port = int(port_text)
        except ValueError:
            port = -1
        if not 0 <= port <= 65535:
            self.fail(
                f"{text!r} is not HOST:PORT; give e.g. 127.0.0.1:8080, :8080 (loopback) or "
                "0.0.0.0:8080 (every interface), with a port from 0 to 65535",
                param,
                ctx,
            )
        return (host or DEFAULT_HTTP_HOST, port)


def http_option(func: F) -> F:
    """Add ``--http HOST:PORT`` (the command receives ``http``: an address or None)."""
    return click.option(
        "--http",
        "http",
        type=HostPort(),
        default=None,
        metavar="HOST:PORT",
        help=(
            "Serve /healthz, /leader and /metrics on this address (PORT or :PORT is "
            f"{DEFAULT_HTTP_HOST}; 0.0.0.0:PORT for other hosts)."
        ),
    )(func)


def serve_for_command(elector: Any, address: Address | None) -> Any:
    """Start the endpoints for ``elector`` if ``address`` is given; None otherwise.

    They close when the current click context closes (after the command, elector stopped). A
    port that cannot be bound is an operational failure (exit 1) raised before anything runs.
    """
    if address is None:
        return None
    from fdb_election.runtime.http import serve_http

    host, port = address
    try:
        endpoints = serve_http(elector, host=host, port=port)
    except OSError as exc:
        raise CliFailure(f"cannot serve HTTP on {host}:{port}: {exc.strerror or exc}") from exc
    click.get_current_context().call_on_close(endpoints.close)
    click.echo(f"fdb-election: serving /healthz, /leader and /metrics on {endpoints.url}", err=True)
    return endpoints
