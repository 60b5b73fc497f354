"""Health, leadership and metrics over HTTP, for Kubernetes probes and load balancers.

Usage::

    import fdb_election

    with fdb_election.Elector(db, "billing") as elector:
        with fdb_election.serve_http(elector, port=8080):   # 127.0.0.1:8080 by default
            ...  # GET /healthz, /leader, /metrics

Endpoints (GET or HEAD):

* ``/healthz``: 200 while ``elector.healthy()`` (its loop completes steps against the database),
  else 503. For a liveness probe: a process whose elector is wedged should be restarted.
* ``/leader``: 200 while this process leads, else 503, so that a readiness probe or a load
  balancer sends traffic to the leader only. The JSON body says who leads as this process sees
  it (``leader``: id, ballot, priority, or null), and this process's own id, leadership and
  fencing token (``ballot``, null when not leading).
* ``/metrics``: the Prometheus text format of the default registry (the elector metrics of
  :mod:`.metrics` and whatever else the process registers) when ``prometheus_client`` is
  installed (``pip install 'fdb-election[metrics]'``); 501 with that hint otherwise.

The server runs on a daemon thread of its own (the standard library's ``ThreadingHTTPServer``),
so it works the same for the thread :class:`~.elector.Elector` and for ``aio.Elector``: with
asyncio, call it inside the coroutine that owns the elector and close it before the elector
stops; requests never touch the event loop, they only read the elector's state.

What can surprise you: it binds to ``127.0.0.1`` unless told otherwise, which a probe from
outside the host (a Kubernetes kubelet probing a pod's IP) cannot reach; pass ``host="0.0.0.0"``
(or the pod's address) there. The answers are this process's local view: ``/leader`` turns 503
at the local deadline, before the database says anything, which is what keeps two processes from
both answering 200 for long. Closing the server does not stop the elector.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol, Self

from fdb_election.election import LeaderState

__all__ = ["ENDPOINTS", "HttpEndpoints", "serve_http"]

#: The paths served, and what each one answers.
ENDPOINTS = {
    "/healthz": "200 while the elector's loop works, else 503",
    "/leader": "200 while this process leads, else 503; JSON: who leads, as seen here",
    "/metrics": "Prometheus text format (needs prometheus_client), else 501",
}

_METRICS_MISSING = (
    "metrics need the prometheus_client package, which is not installed here: "
    "pip install 'fdb-election[metrics]' (or pip install prometheus_client)\n"
)


class _ElectorLike(Protocol):
    """What the endpoints read: the thread and the asyncio electors both have it."""

    @property
    def is_leader(self) -> bool: ...

    @property
    def process_id(self) -> str: ...

    @property
    def ballot(self) -> int | None: ...

    @property
    def leader(self) -> LeaderState | None: ...

    def healthy(self) -> bool: ...


def _election_name(elector: Any) -> str | None:
    core = getattr(elector, "core", None)
    name = getattr(core, "name", None)
    return name if isinstance(name, str) else None


def leader_document(elector: _ElectorLike) -> dict[str, Any]:
    """The ``/leader`` body: this process's view of the election, JSON-ready."""
    leader = elector.leader
    return {
        "election": _election_name(elector),
        "process_id": elector.process_id,
        "is_leader": elector.is_leader,
        "ballot": elector.ballot,
        "leader": None
        if leader is None
        else {
            "process_id": leader.leader_id,
            "ballot": leader.ballot,
            "priority": leader.priority,
        },
    }


class _Handler(BaseHTTPRequestHandler):
    """One request; the elector is on the server object."""

    server: _Server
    server_version = "fdb-election"

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        elector = self.server.elector
        status: HTTPStatus
        if path == "/healthz":
            healthy = elector.healthy()
            status = HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE
            document = {
                "healthy": healthy,
                "election": _election_name(elector),
                "process_id": elector.process_id,
            }
            body, content_type = _json(document)
        elif path == "/leader":
            document = leader_document(elector)
            status = HTTPStatus.OK if document["is_leader"] else HTTPStatus.SERVICE_UNAVAILABLE
            body, content_type = _json(document)
        elif path == "/metrics":
            status, body, content_type = _metrics()
        else:
            status = HTTPStatus.NOT_FOUND
            body, content_type = _json({"error": f"no such path: {path}", "paths": ENDPOINTS})
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Probes arrive every few seconds: do not write a line to stderr for each."""


def _json(document: Any) -> tuple[bytes, str]:
    return (json.dumps(document, sort_keys=True) + "\n").encode(), "application/json"


def _metrics() -> tuple[HTTPStatus, bytes, str]:
    try:
        import prometheus_client
    except ImportError:
        return HTTPStatus.NOT_IMPLEMENTED, _METRICS_MISSING.encode(), "text/plain; charset=utf-8"
    body: bytes = prometheus_client.generate_latest(prometheus_client.REGISTRY)
    content_type: str = prometheus_client.CONTENT_TYPE_LATEST
    return HTTPStatus.OK, body, content_type


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], elector: _ElectorLike) -> None:
        self.elector = elector
        super().__init__(address, _Handler)


class _Server6(_Server):
    address_family = socket.AF_INET6


class HttpEndpoints:
    """A running server (what :func:`serve_http` returns); ``close()`` or ``with`` stops it."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.5},
            name="fdb-election-http",
            daemon=True,
        )
        self._thread.start()
        self._closed = False

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """The port it listens on (the one the OS chose when 0 was asked for)."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        """Stop serving and release the port (idempotent); the elector keeps running."""
        if self._closed:
            return
        self._closed = True
        # shutdown() waits for the serving loop to notice, which it does between polls (every
        # half second, to stay idle): a connection of our own makes it look at once.
        stopper = threading.Thread(target=self._server.shutdown, daemon=True)
        stopper.start()
        self._poke()
        stopper.join()
        self._server.server_close()
        self._thread.join()

    def _poke(self) -> None:
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        with contextlib.suppress(OSError):
            socket.create_connection((host, self.port), timeout=1).close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def serve_http(elector: _ElectorLike, host: str = "127.0.0.1", port: int = 0) -> HttpEndpoints:
    """Serve ``/healthz``, ``/leader`` and ``/metrics`` for ``elector`` on a daemon thread.

    ``port`` 0 lets the OS choose a free port (read it from ``.port``); probes need a fixed one.
    Raises ``OSError`` when the address cannot be bound (port in use, unknown host), and
    ``ValueError`` for a port outside 0-65535.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int from 0 to 65535, got {port!r}")
    if not isinstance(host, str) or not host:
        raise ValueError(f"host must be a non-empty str such as '127.0.0.1', got {host!r}")
    server_type = _Server6 if ":" in host else _Server
    endpoints = HttpEndpoints(server_type((host, port), elector))
    # /metrics exports the default registry from now on: electors record in it (when
    # prometheus_client is installed; /metrics answers 501 otherwise).
    from fdb_election.runtime.metrics import export

    export()
    return endpoints
