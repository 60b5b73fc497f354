"""End to end: electors in separate processes sharing one file store (slow)."""

from __future__ import annotations

import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fdb_election import embedded

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not getattr(embedded, "SUPPORTS_FILES", False), reason="the file store is not built yet"
    ),
]

WAIT = 15.0
LEASE = 0.6

WORKER = """
import signal, sys
from fdb_election import embedded
from fdb_election.election import ElectionConfig
from fdb_election.runtime import Elector

path, pid, lease = sys.argv[1:4]
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
config = ElectionConfig.with_lease_duration(float(lease))
def report(event):
    print(type(event).__name__, flush=True)
e = Elector(embedded.open(path), "processes", process_id=pid, config=config,
            on_elected=report, on_demoted=report)
e.start()
print("started", flush=True)
signal.sigwait({signal.SIGTERM})
print("stopped" if e.stop(5) else "stop-timed-out", flush=True)
"""


class Worker:
    def __init__(self, path: Path, process_id: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), process_id, str(LEASE)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.selector = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)

    def expect(self, word: str, timeout: float = WAIT) -> None:
        """Read lines until ``word`` (bounded by ``timeout``)."""
        assert self.proc.stdout is not None
        end = time.monotonic() + timeout
        while (remaining := end - time.monotonic()) > 0:
            if not self.selector.select(remaining):
                break
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.strip() == word:
                return
        raise AssertionError(f"worker did not print {word!r} within {timeout}s")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(WAIT)


def test_graceful_stop_and_crash_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "elect.fdbe"
    first = Worker(path, "first")
    second = third = None
    try:
        first.expect("started")
        first.expect("Elected")
        second = Worker(path, "second")
        second.expect("started")
        first.proc.send_signal(signal.SIGTERM)  # graceful: resign, the watch hands over
        first.expect("Demoted")
        first.expect("stopped")
        second.expect("Elected")
        third = Worker(path, "third")
        third.expect("started")
        second.proc.send_signal(signal.SIGKILL)  # crash: taken over after a lease
        killed = time.monotonic()
        third.expect("Elected")
        assert time.monotonic() - killed < LEASE + LEASE / 3 + 1.0  # slack for a busy machine
        third.proc.send_signal(signal.SIGTERM)
        third.expect("Demoted")
        third.expect("stopped")
    finally:
        for worker in (first, second, third):
            if worker is not None:
                worker.close()
