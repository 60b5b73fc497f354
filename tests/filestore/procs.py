"""Helpers for multi-process tests: run a short Python script as a real OS process.

Each child opens the same database file, talks to the test over stdout (one line per event) and
stdin, and is always reaped. Waits are bounded: a test that goes wrong fails with a timeout
instead of hanging.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator

WAIT = 30.0  # upper bound for any single wait; passing runs take milliseconds to seconds

PRELUDE = textwrap.dedent(
    """
    import os, sqlite3, struct, sys, time
    from fdb_election import embedded


    class PausingConnection(sqlite3.Connection):
        # Crash tests only: stops inside the commit section (write lock held, rows written
        # but not committed) when ``pause`` is set, until a line arrives on stdin.

        pause = False

        def execute(self, sql, *args):
            if PausingConnection.pause and sql.startswith("UPDATE state"):
                say("in-commit")
                sys.stdin.readline()
            return super().execute(sql, *args)


    _connect = sqlite3.connect
    sqlite3.connect = lambda *a, **k: _connect(*a, factory=PausingConnection, **k)
    db = embedded.open(sys.argv[1])

    def say(*words):
        print(*words, flush=True)

    def transact(body):
        tr = db.create_transaction()
        while True:
            try:
                result = body(tr)
                tr.commit().wait()
                return result
            except embedded.FDBError as e:
                tr.on_error(e).wait()

    def incr(tr, key):
        value = tr[key]
        n = struct.unpack("<q", bytes(value))[0] if value.present() else 0
        tr[key] = struct.pack("<q", n + 1)
    """
)


class Child:
    """A child Python process running ``PRELUDE`` + ``script`` on the database at ``path``."""

    def __init__(self, path: str, script: str, *args: str) -> None:
        code = PRELUDE + textwrap.dedent(script)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, path, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        # A reader thread, because select() on a buffered pipe misses lines already buffered.
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read_lines, daemon=True)
        self._reader.start()

    def _read_lines(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def readline(self, timeout: float = WAIT) -> str:
        """The next line the child printed (without newline); fails after ``timeout`` s."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"child printed nothing for {timeout} s") from None
        if line is None:
            self._lines.put(None)
            raise AssertionError(f"child exited early: {self.stderr()}")
        return line

    def expect(self, word: str, timeout: float = WAIT) -> list[str]:
        """Wait for a line starting with ``word``; return its words."""
        line = self.readline(timeout)
        words = line.split()
        assert words and words[0] == word, f"expected {word!r}, got {line!r}: {self.stderr()}"
        return words

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = WAIT) -> list[str]:
        """Wait for a clean exit; return the remaining output lines."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        returncode = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=timeout)
        assert returncode == 0, f"child failed ({returncode}): {self.stderr()}"
        lines = []
        while (line := self._lines.get_nowait()) is not None:
            lines.append(line)
        return lines

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return "(still running)"
        return self.proc.stderr.read()

    def signal(self, signum: int) -> None:
        os.kill(self.proc.pid, signum)

    def kill(self) -> None:
        """SIGKILL (after SIGCONT, in case it is stopped) and reap."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
            os.kill(self.proc.pid, signal.SIGCONT)
        self.proc.wait(timeout=WAIT)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


@contextlib.contextmanager
def children(path: str, script: str, count: int, *args: str) -> Iterator[list[Child]]:
    """``count`` children running ``script`` with their index as an extra argument."""
    started = [Child(path, script, *args, str(i)) for i in range(count)]
    try:
        yield started
    finally:
        for child in started:
            if child.proc.poll() is None:
                child.kill()
