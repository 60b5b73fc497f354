"""``fdb-election run --http``: probes over real HTTP against real ``run`` processes.

Each ``run`` asks for port 0 and the test reads the address it printed, so no port is guessed.
Waits poll a condition with a deadline; nothing sleeps "to let it settle".
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

PY = sys.executable
IDLE = [PY, "-c", "import signal; signal.pause()"]


def fdb_election(*args: str) -> list[str]:
    return [PY, "-m", "fdb_election.cli.main", *args]


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.01)


def probe(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            status, body = error.code, error.read()
    if url.endswith("/metrics"):
        return status, body.decode()
    return status, json.loads(body)


class Run:
    """One ``fdb-election run --http 127.0.0.1:0`` process and the address it serves on."""

    def __init__(self, url: str, tmp_path: Path, process_id: str) -> None:
        self.process_id = process_id
        self.log = tmp_path / f"{process_id}.stderr"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                fdb_election(
                    "--db", url, "run", "--id", process_id, "--http", "127.0.0.1:0", "--", *IDLE
                ),
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        found = wait_until(self._address, 30, f"{process_id} printing its HTTP address")
        self.base = found

    def _address(self) -> str | None:
        match = re.search(r"on (http://127\.0\.0\.1:\d+)", self.log.read_text())
        if match is None and self.process.poll() is not None:
            raise AssertionError(f"run exited {self.process.returncode}: {self.log.read_text()}")
        return match[1] if match else None

    def get(self, path: str) -> tuple[int, Any]:
        return probe(self.base + path)


@contextlib.contextmanager
def runs(url: str, tmp_path: Path, *ids: str) -> Iterator[dict[str, Run]]:
    started: dict[str, Run] = {}
    try:
        for process_id in ids:
            started[process_id] = Run(url, tmp_path, process_id)
        yield started
    finally:
        for run in started.values():
            if run.process.poll() is None:
                run.process.kill()
            run.process.wait(30)


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:{tmp_path / 'http.fdbe'}"
    subprocess.run(fdb_election("--db", url, "init", "--lease", "1"), check=True)
    return url


def test_only_the_leader_is_ready_and_the_role_moves_on_handover(url: str, tmp_path: Path) -> None:
    with runs(url, tmp_path, "a", "b") as started:
        a, b = started["a"], started["b"]

        def leader() -> Run | None:
            ready = [run for run in (a, b) if run.get("/leader")[0] == 200]
            assert len(ready) <= 1, "two processes answered 200 on /leader"
            return ready[0] if ready else None

        first = wait_until(leader, 30, "a leader answering 200")
        other = b if first is a else a

        def seen_by_other() -> tuple[int, Any] | None:
            answer = other.get("/leader")
            return answer if answer[1]["leader"] is not None else None

        # The follower learns of the new leader at its next read of the leader key (a watch
        # or its next step): wait for that rather than assume it already happened.
        status, body = wait_until(seen_by_other, 30, "the follower seeing the leader")
        assert status == 503
        assert body["leader"]["process_id"] == first.process_id
        assert body["process_id"] == other.process_id and body["ballot"] is None
        for run in (a, b):
            status, body = run.get("/healthz")
            assert status == 200 and body["healthy"] is True
        metrics = first.get("/metrics")
        assert metrics[0] == 200
        assert (
            f'fdb_election_is_leader{{election="default",process="{first.process_id}"}} 1.0'
            in (metrics[1])
        )

        first.process.send_signal(signal.SIGTERM)  # graceful: stops CMD, resigns
        assert first.process.wait(30) == 128 + signal.SIGTERM
        wait_until(lambda: other.get("/leader")[0] == 200, 30, "the other one leading")
        assert other.get("/leader")[1]["leader"]["process_id"] == other.process_id


def test_a_port_in_use_fails_before_campaigning(url: str, tmp_path: Path) -> None:
    with runs(url, tmp_path, "a") as started:
        port = started["a"].base.rsplit(":", 1)[1]
        second = subprocess.run(
            fdb_election("--db", url, "run", "--id", "b", "--http", f":{port}", "--", *IDLE),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert second.returncode == 1, second.stderr
    assert f"cannot serve HTTP on 127.0.0.1:{port}" in second.stderr
    listed = subprocess.run(
        fdb_election("--db", url, "candidates", "--json"), capture_output=True, text=True
    )
    assert "b" not in [c["process_id"] for c in json.loads(listed.stdout)["candidates"]]


def test_options_after_cmd_belong_to_cmd(url: str) -> None:
    echo = [PY, "-c", "import sys; print(sys.argv[1:])"]
    done = subprocess.run(
        fdb_election("--db", url, "run", *echo, "--id", "x", "--http", "nope"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['--id', 'x', '--http', 'nope']"
    assert "as 'x'" not in done.stderr  # run's own --id was not taken from CMD's arguments
    with_dashes = subprocess.run(
        fdb_election("--db", url, "run", "--id", "y", "--", *echo, "--id", "x"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert with_dashes.returncode == 0, with_dashes.stderr
    assert with_dashes.stdout.strip() == "['--id', 'x']"
    assert "as 'y'" in with_dashes.stderr
