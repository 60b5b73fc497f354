"""File-store throughput and cross-process watch latency, against raw SQLite in the same run.

Measures, on one database file in a temporary directory:

* ``file_txn_per_s_1proc``: one-read-one-write transactions (read a key, write it back
  incremented, commit) per second from one process;
* ``file_txn_per_s_4proc``: the same from four processes at once (each on its own key, so the
  figure is commit throughput, not conflict retries);
* ``sqlite_raw_upserts_per_s``: the baseline, plain ``sqlite3`` autocommit upserts on the same
  file system with the same durability settings (WAL, ``synchronous=FULL``);
* the ratios of the two file-store figures to the baseline;
* ``watch_latency_ms_median`` / ``_p99``: from the moment process A starts committing a change
  until the watch of process B on that key fires (B's callback time), over many changes;
* ``idle_cpu_percent_with_watch``: CPU used by a process that only waits on a watch (the
  wake-up listener sleeps in ``recv``; its fallback re-check runs every 10 s).

Usage: ``python benchmarks/file_throughput.py [--quick]``; ``run(quick)`` is what
``benchmarks/run.py`` calls.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

from _common import count_up, print_figures, quick_flag
from fdb_election import embedded

_CHILD_PRELUDE = textwrap.dedent(
    f"""
    import sys, time
    sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
    from _common import count_up
    from fdb_election import embedded

    db = embedded.open(sys.argv[1])
    """
)

_WORKER = textwrap.dedent(
    """
    key, n = sys.argv[2].encode(), int(sys.argv[3])
    print("ready", flush=True)
    sys.stdin.readline()
    count_up(db, key, n)
    print("done", time.monotonic(), flush=True)
    """
)

_WATCHER = textwrap.dedent(
    """
    import threading
    rounds = int(sys.argv[2])
    for _ in range(rounds):
        fired = threading.Event()
        stamp = []
        value, watch = db.get_and_watch(b"watched")
        watch.on_ready(lambda _f: (stamp.append(time.monotonic()), fired.set()))
        print("armed", value.value.decode(), flush=True)
        if not fired.wait(30):
            print("timeout", flush=True)
            sys.exit(1)
        print("fired", stamp[0], flush=True)
    """
)


class _Child:
    """A child process running ``script`` on the database; its stdout read line by line."""

    def __init__(self, path: str, script: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD_PRELUDE + script, path, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        # A thread, not select(): select() cannot see lines already in the pipe's buffer.
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put("")

    def line(self, timeout: float = 60.0) -> list[str]:
        """The words of the next line; RuntimeError after ``timeout`` s or at exit."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"benchmark child printed nothing for {timeout} s") from None
        if not line:
            raise RuntimeError("benchmark child exited early")
        return line.split()

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _one_read_one_write(db: embedded.Database, key: bytes, n: int) -> float:
    """Transactions per second for ``n`` read-increment-write commits in this process."""
    started = time.perf_counter()
    count_up(db, key, n)
    return n / (time.perf_counter() - started)


def _four_processes(path: str, n_each: int) -> float:
    """Aggregate transactions per second of four processes committing at once."""
    procs = [_Child(path, _WORKER, f"worker-{i}", str(n_each)) for i in range(4)]
    try:
        for proc in procs:
            assert proc.line()[0] == "ready"
        started = time.monotonic()
        for proc in procs:
            proc.send("go")
        ends = []
        for proc in procs:
            words = proc.line(timeout=600)
            assert words[0] == "done"
            ends.append(float(words[1]))
        return 4 * n_each / (max(ends) - started)
    finally:
        for proc in procs:
            proc.stop()


def _raw_sqlite(directory: Path, n: int) -> float:
    """Autocommit upserts per second with plain sqlite3 (WAL, synchronous=FULL)."""
    directory.mkdir()
    conn = sqlite3.connect(directory / "raw.sqlite", isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("CREATE TABLE kv (key BLOB PRIMARY KEY, value INTEGER) WITHOUT ROWID")
        upsert = (
            "INSERT INTO kv (key, value) VALUES (?, 1) "
            "ON CONFLICT (key) DO UPDATE SET value = value + 1"
        )
        started = time.perf_counter()
        for _ in range(n):
            conn.execute(upsert, (b"counter",))
        return n / (time.perf_counter() - started)
    finally:
        conn.close()


def _watch_latency(path: str, rounds: int) -> list[float]:
    """Seconds from the start of a commit in this process to the watch firing in another."""
    db = embedded.open(path)
    db[b"watched"] = b"0"
    watcher = _Child(path, _WATCHER, str(rounds))
    samples = []
    try:
        for i in range(rounds):
            words = watcher.line()
            assert words[0] == "armed", words
            started = time.monotonic()
            db[b"watched"] = str(i + 1).encode()
            words = watcher.line()
            if words[0] != "fired":
                raise RuntimeError(f"watch did not fire: {words}")
            samples.append(float(words[1]) - started)
    finally:
        watcher.stop()
        db.close()
    return samples


_IDLE = textwrap.dedent(
    """
    import resource
    seconds = float(sys.argv[2])
    value, watch = db.get_and_watch(b"idle")
    before = resource.getrusage(resource.RUSAGE_SELF)
    time.sleep(seconds)  # the measurement itself: a process idling with a watch armed
    after = resource.getrusage(resource.RUSAGE_SELF)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print("cpu", used / seconds * 100, flush=True)
    """
)


def _idle_cpu_percent(path: str, seconds: float) -> float:
    """CPU use (% of one core) of a process that only waits on a watch."""
    child = _Child(path, _IDLE, str(seconds))
    try:
        words = child.line(timeout=seconds + 60)
        assert words[0] == "cpu", words
        return float(words[1])
    finally:
        child.stop()


def run(quick: bool = False) -> dict[str, float]:
    """Measure everything; return the named figures."""
    n_single = 300 if quick else 2000
    n_each = 100 if quick else 500
    rounds = 30 if quick else 200
    with tempfile.TemporaryDirectory(prefix="fdbe-bench-", dir=os.environ.get("BENCH_DIR")) as d:
        directory = Path(d)
        # fsync dominates both figures and the file system is shared: take the baseline before
        # and after the file-store runs and keep the better one, so noise cannot flatter us.
        raw_before = _raw_sqlite(directory / "before", n_single)
        path = str(directory / "bench.fdbe")
        db = embedded.open(path)
        try:
            _one_read_one_write(db, b"warm-up", 20)
            single = _one_read_one_write(db, b"single", n_single)
        finally:
            db.close()
        four = _four_processes(path, n_each)
        latencies = sorted(_watch_latency(path, rounds))
        idle = _idle_cpu_percent(path, 2.0 if quick else 10.0)
        raw = max(raw_before, _raw_sqlite(directory / "after", n_single))
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return {
        "file_txn_per_s_1proc": single,
        "file_txn_per_s_4proc": four,
        "sqlite_raw_upserts_per_s": raw,
        "file_1proc_vs_raw_ratio": single / raw,
        "file_4proc_vs_raw_ratio": four / raw,
        "watch_latency_ms_median": statistics.median(latencies) * 1000,
        "watch_latency_ms_p99": p99 * 1000,
        "idle_cpu_percent_with_watch": idle,
    }


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Command-line entry: run, print a table, return the figures."""
    figures = run(quick=quick_flag(__doc__, "reduced run, a few seconds", argv))
    print_figures(figures, "12.3f")
    return figures


if __name__ == "__main__":
    main()
