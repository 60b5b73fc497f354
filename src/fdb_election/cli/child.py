"""CMD as a supervised child: its own process group, dies with us, stopped SIGTERM → SIGKILL.

Usage::

    child = ChildProcess.start(["my-service", "--port", "80"], env)
    ...
    child.stop(kill_at=time.monotonic() + 2.0)   # SIGTERM to the group, SIGKILL at kill_at
    child.exit_code                               # CMD's code, or 128+N after signal N

What can surprise you:

* CMD runs in its own process group, so a terminal's Ctrl-C reaches ``run`` only; ``run``
  forwards the stop. Signals go to the whole group, so CMD's own children are stopped too, and
  whatever is left of the group after CMD exits is killed (nothing of CMD may outlive its
  leadership).
* On Linux the child asks the kernel for SIGKILL when its parent dies (``PR_SET_PDEATHSIG``), and
  checks right after that its parent is still the one that forked it, which closes the race where
  the parent dies before the request is made. The kernel ties that request to the parent
  *thread*: start children from a thread that lives as long as the process (``run`` uses the
  main thread). On other platforms there is no such request: if ``run`` is killed with SIGKILL,
  CMD keeps running (its process group is still separate, so ``kill -- -PGID`` stops it).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from fdb_election.cli.exit_codes import CannotExecute, CliFailure, CommandNotFound, signal_exit_code

__all__ = ["ChildProcess", "die_with_parent", "resolve_command"]

_PR_SET_PDEATHSIG = 1
# How long to wait for the kernel to reap a child after SIGKILL before giving up on it.
_KILL_WAIT_S = 5.0


def resolve_command(argv0: str, path: str | None) -> str:
    """Check that CMD can be started; raise CliFailure 127 (not found) or 126 (not executable).

    ``path`` is the PATH CMD will be looked up in. Checking before campaigning means a typo is
    reported at once instead of after winning an election.
    """
    if os.sep in argv0:
        if not os.path.exists(argv0):
            raise CommandNotFound(f"command not found: {argv0}")
        if os.path.isdir(argv0) or not os.access(argv0, os.X_OK):
            raise CannotExecute(f"command is not executable: {argv0} (check its permissions)")
        return argv0
    found = shutil.which(argv0, path=path)
    if found is None:
        raise CommandNotFound(f"command not found: {argv0} (not an executable file in PATH)")
    return found


def die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child die with its parent (Linux), or None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    # Resolved in the parent: the child must do as little as possible between fork and exec.
    prctl = ctypes.CDLL(libc_name, use_errno=True).prctl
    getppid = os.getppid
    kill = os.kill
    getpid = os.getpid

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        # The parent may have died before prctl: then we were re-parented and no signal comes.
        if getppid() != parent_pid:
            kill(getpid(), signal.SIGKILL)

    return preexec


class ChildProcess:
    """A started CMD. ``exited`` is set (and ``on_exit`` called) when it has been reaped."""

    def __init__(self, popen: subprocess.Popen[bytes], on_exit: Callable[[], None] | None) -> None:
        self._popen = popen
        self._on_exit = on_exit
        self.exited = threading.Event()
        self.started_at = time.monotonic()
        self._reaper = threading.Thread(
            target=self._reap, name=f"fdb-election-reaper-{popen.pid}", daemon=True
        )
        self._reaper.start()

    @classmethod
    def start(
        cls,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        on_exit: Callable[[], None] | None = None,
    ) -> ChildProcess:
        """Start ``argv`` in a new process group; raise CliFailure 127/126 if it cannot start.

        Call from a long-lived thread (see the module docstring about PR_SET_PDEATHSIG).
        """
        resolve_command(argv[0], env.get("PATH", os.defpath))
        try:
            popen = subprocess.Popen(
                list(argv),
                env=dict(env),
                process_group=0,
                preexec_fn=die_with_parent(os.getpid()),
                close_fds=True,
            )
        except FileNotFoundError as exc:
            raise CommandNotFound(f"command not found: {argv[0]}") from exc
        except PermissionError as exc:
            raise CannotExecute(f"command is not executable: {argv[0]} ({exc.strerror})") from exc
        return cls(popen, on_exit)

    @property
    def pid(self) -> int:
        """CMD's process id, which is also its process group id."""
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        """``Popen.returncode`` once reaped (negative N after signal N), else None."""
        return self._popen.returncode if self.exited.is_set() else None

    @property
    def exit_code(self) -> int:
        """CMD's exit status as a shell reports it: its code, or 128+N after signal N."""
        code = self.returncode
        if code is None:
            raise RuntimeError(f"process {self.pid} has not exited yet")
        return signal_exit_code(-code) if code < 0 else code

    def _reap(self) -> None:
        waitid = getattr(os, "waitid", None)
        if waitid is not None:
            # Wait without reaping: while CMD is a zombie its pid (= the group id) cannot be
            # reused, so killing the rest of its group cannot hit an unrelated process.
            with contextlib.suppress(ChildProcessError, InterruptedError):
                waitid(os.P_PID, self._popen.pid, os.WEXITED | os.WNOWAIT)
            # Whatever CMD left behind in its group must not outlive it.
            self._signal_group(signal.SIGKILL)
        self._popen.wait()
        self.exited.set()
        if self._on_exit is not None:
            self._on_exit()

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signum)

    def terminate(self) -> None:
        """Send SIGTERM to CMD's process group (no wait)."""
        if not self.exited.is_set():
            self._signal_group(signal.SIGTERM)

    def kill(self) -> None:
        """Send SIGKILL to CMD's process group (no wait)."""
        if not self.exited.is_set():
            self._signal_group(signal.SIGKILL)

    def stop(self, kill_at: float, *, clock: Callable[[], float] = time.monotonic) -> int:
        """SIGTERM now, SIGKILL at ``kill_at`` (monotonic) if still running; return ``exit_code``.

        Blocks until CMD has been reaped, so on return it is certainly no longer running.
        """
        self.terminate()
        remaining = kill_at - clock()
        if remaining > 0:
            self.exited.wait(remaining)
        if not self.exited.is_set():
            self.kill()
            if not self.exited.wait(_KILL_WAIT_S):
                raise CliFailure(
                    f"process {self.pid} did not die {_KILL_WAIT_S:.0f} s after SIGKILL "
                    "(uninterruptible sleep?)"
                )
        return self.exit_code
