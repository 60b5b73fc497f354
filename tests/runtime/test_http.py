"""serve_http: /healthz, /leader and /metrics over real HTTP (urllib), for both electors."""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

import fdb_election
from fdb_election import aio
from fdb_election.runtime.http import ENDPOINTS, HttpEndpoints, serve_http

CONFIG = fdb_election.ElectionConfig.with_lease_duration(1)


def get(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one request; error statuses are answers too."""
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def get_json(url: str) -> tuple[int, Any]:
    status, headers, body = get(url)
    assert headers["Content-Type"] == "application/json"
    return status, json.loads(body)


@pytest.fixture
def leader_and_follower() -> Iterator[tuple[fdb_election.Elector, fdb_election.Elector]]:
    db = fdb_election.connect("memory:")
    with fdb_election.Elector(db, "web", process_id="a", config=CONFIG) as first:
        assert first.wait_for_leadership(timeout=10)
        with fdb_election.Elector(db, "web", process_id="b", config=CONFIG) as second:
            yield first, second


def test_leader_answers_200_and_follower_503_with_the_same_leader(
    leader_and_follower: tuple[fdb_election.Elector, fdb_election.Elector],
) -> None:
    leader, follower = leader_and_follower
    with serve_http(leader) as on_leader, serve_http(follower) as on_follower:
        assert on_leader.host == "127.0.0.1" and on_leader.port > 0
        status, body = get_json(on_leader.url + "/leader")
        assert status == 200
        assert body["is_leader"] is True and body["process_id"] == "a"
        assert body["election"] == "web"
        assert body["ballot"] == leader.ballot
        assert body["leader"]["process_id"] == "a"
        assert body["leader"]["ballot"] >= body["ballot"]  # refreshes raise the stored ballot

        status, body = get_json(on_follower.url + "/leader")
        assert status == 503
        assert body["is_leader"] is False and body["process_id"] == "b"
        assert body["ballot"] is None

        for endpoints in (on_leader, on_follower):
            status, body = get_json(endpoints.url + "/healthz")
            assert status == 200 and body["healthy"] is True


def test_healthz_is_503_once_the_elector_has_stopped() -> None:
    db = fdb_election.connect("memory:")
    elector = fdb_election.Elector(db, "web", process_id="a", config=CONFIG).start()
    with serve_http(elector) as endpoints:
        assert get_json(endpoints.url + "/healthz")[0] == 200
        assert elector.stop()
        status, body = get_json(endpoints.url + "/healthz")
        assert status == 503 and body["healthy"] is False
        assert get_json(endpoints.url + "/leader")[0] == 503


def test_metrics_are_prometheus_text(
    leader_and_follower: tuple[fdb_election.Elector, fdb_election.Elector],
) -> None:
    pytest.importorskip("prometheus_client")
    leader, _ = leader_and_follower
    with serve_http(leader) as endpoints:
        status, headers, body = get(endpoints.url + "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    assert b'fdb_election_is_leader{election="web",process="a"} 1.0' in body


def test_metrics_without_prometheus_client_say_what_to_install(
    leader_and_follower: tuple[fdb_election.Elector, fdb_election.Elector],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import fails
    leader, _ = leader_and_follower
    with serve_http(leader) as endpoints:
        status, _, body = get(endpoints.url + "/metrics")
    assert status == 501
    assert b"pip install 'fdb-election[metrics]'" in body


def test_head_unknown_paths_and_close(
    leader_and_follower: tuple[fdb_election.Elector, fdb_election.Elector],
) -> None:
    leader, _ = leader_and_follower
    endpoints = serve_http(leader)
    status, headers, body = get(endpoints.url + "/leader", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0
    status, body_json = get_json(endpoints.url + "/nope")
    assert status == 404 and set(body_json["paths"]) == set(ENDPOINTS)
    assert get(endpoints.url + "/healthz?verbose=1")[0] == 200  # queries are ignored
    endpoints.close()
    endpoints.close()  # idempotent
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(endpoints.url + "/healthz", timeout=5)
    assert leader.is_leader, "closing the server does not touch the elector"


def test_a_port_in_use_and_bad_arguments_are_refused(
    leader_and_follower: tuple[fdb_election.Elector, fdb_election.Elector],
) -> None:
    leader, _ = leader_and_follower
    with serve_http(leader) as endpoints:
        with pytest.raises(OSError):
            serve_http(leader, port=endpoints.port)
    for port in (-1, 65536, True, "80"):
        with pytest.raises(ValueError, match="port must be an int"):
            serve_http(leader, port=port)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="host"):
        serve_http(leader, host="")


def test_ipv6_loopback_when_the_host_has_it(
    leader_and_follower: tuple[fdb_election.Elector, fdb_election.Elector],
) -> None:
    leader, _ = leader_and_follower
    try:
        endpoints = serve_http(leader, host="::1")
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    with endpoints:
        assert endpoints.url.startswith("http://[::1]:")
        assert get_json(endpoints.url + "/leader")[0] == 200


def test_works_with_the_asyncio_elector() -> None:
    async def scenario() -> tuple[int, int, int]:
        db = fdb_election.connect("memory:")
        async with aio.Elector(db, "web", process_id="a", config=CONFIG) as elector:
            assert await elector.wait_for_leadership(timeout=10)
            with serve_http(elector) as endpoints:
                # urllib blocks: ask from a worker thread, as any client outside the loop would.
                leading = await asyncio.to_thread(get_json, endpoints.url + "/leader")
                healthy = await asyncio.to_thread(get_json, endpoints.url + "/healthz")
                await elector.stop()
                stopped = await asyncio.to_thread(get_json, endpoints.url + "/leader")
        return leading[0], healthy[0], stopped[0]

    assert asyncio.run(scenario()) == (200, 200, 503)


def test_the_handle_is_the_documented_type(
    leader_and_follower: tuple[fdb_election.Elector, fdb_election.Elector],
) -> None:
    with fdb_election.serve_http(leader_and_follower[0]) as endpoints:
        assert isinstance(endpoints, HttpEndpoints)
