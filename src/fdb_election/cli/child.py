"""CMD as a guarded child: started, watched and stopped by a guard process that owns its deadline.

Usage::

    guard = Guard.spawn(policy)                   # once, when run starts
    elector.core.set_deadline_listener(guard.set_deadline)
    child = guard.start(["my-service", "--port", "80"], env, on_exit=wake.set)
    ...
    child.stop(kill_at=host_monotonic() + 2.0)   # SIGTERM to the tree, SIGKILL at kill_at
    child.exit_code                               # CMD's code, or 128+N after signal N

The guard (:mod:`.guard`) is a separate small process. It is told every change of the local
leadership deadline as it happens (from the elector's own thread, before a refresh that lowers it
commits; on Linux through a :class:`~fdb_election.cli.guard.SharedDeadline`, which wakes the guard
only when the deadline is at risk), and stops CMD's whole process tree on its own before that
deadline, when ``run`` dies, or when asked. So nothing that happens to ``run`` (SIGKILL, SIGSTOP,
a hang) lets CMD outlive its leadership; ``run``'s own timers remain as a second line (see
:meth:`ChildProcess.stop`).

What can surprise you:

* CMD runs in its own process group, so a terminal's Ctrl-C reaches ``run`` only; ``run``
  forwards the stop. When CMD exits, whatever it left running is killed: nothing of CMD may
  outlive it, and its exit is reported only once the tree is gone.
* The guard is in a session of its own, so signals for ``run``'s process group or terminal do not
  reach it; SIGTERM to the guard itself stops CMD (with the grace period) and ends the guard.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fdb_election.cli.exit_codes import CannotExecute, CliFailure, CommandNotFound, signal_exit_code
from fdb_election.cli.grace import GracePolicy
from fdb_election.cli.guard import SharedDeadline
from fdb_election.runtime.clock import host_monotonic

__all__ = ["ChildProcess", "Guard", "StartRefused", "die_with_parent", "resolve_command"]

_PR_SET_PDEATHSIG = 1
#: How long ``run`` waits for the guard to answer a start, and for CMD's tree to die after the
#: guard (or, as a last resort, ``run`` itself) sent SIGKILL.
_ANSWER_S = 5.0
#: How long after the kill time ``run`` trusts the guard before killing CMD's group itself.
_GUARD_SLACK_S = 0.02
_GUARD_PROGRAM = Path(__file__).with_name("guard.py")


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
    import ctypes
    import ctypes.util

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


class StartRefused(Exception):
    """The guard did not start CMD: leadership is not held, or is at risk, as far as it knows."""


class ChildProcess:
    """A started CMD. ``exited`` is set (and ``on_exit`` called) once its whole tree is gone.

    ``reason`` then says how it ended: ``"exited"`` on its own, ``"stopped"`` when asked to (or
    when leadership ended, or ``run`` went away), ``"deadline"`` when the guard stopped it
    because no refresh moved the leadership deadline in time.
    """

    def __init__(self, guard: Guard, pid: int, on_exit: Callable[[], None] | None) -> None:
        self._guard = guard
        self.pid = pid
        self._on_exit = on_exit
        self.exited = threading.Event()
        self.started_at = host_monotonic()
        self.reason: str | None = None
        self._returncode: int | None = None

    @property
    def returncode(self) -> int | None:
        """Like ``Popen.returncode`` once it has exited (negative N after signal N), else None."""
        return self._returncode if self.exited.is_set() else None

    @property
    def exit_code(self) -> int:
        """CMD's exit status as a shell reports it: its code, or 128+N after signal N."""
        code = self.returncode
        if code is None:
            raise RuntimeError(f"process {self.pid} has not exited yet")
        return signal_exit_code(-code) if code < 0 else code

    def _guard_lost(self) -> None:
        """The guard died under CMD (killed): CMD gets SIGKILL through PR_SET_PDEATHSIG; make
        sure of its group, wait until the group is gone, and report it stopped."""
        deadline = host_monotonic() + _ANSWER_S
        while host_monotonic() < deadline:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                break
            time.sleep(0.01)  # not our child: only its new parent can reap it
        self._exited({"signal": int(signal.SIGKILL), "reason": "stopped"})

    def _exited(self, message: Mapping[str, Any]) -> None:
        signum = message.get("signal")
        self._returncode = -int(signum) if signum is not None else int(message.get("code") or 0)
        self.reason = str(message.get("reason"))
        self.exited.set()
        if self._on_exit is not None:
            self._on_exit()

    def terminate(self) -> None:
        """Ask the guard to stop CMD now (SIGTERM, SIGKILL after the grace period)."""
        self._guard.request_stop(host_monotonic() + self._guard.policy.grace)

    def kill(self) -> None:
        """Ask the guard to kill CMD's tree now."""
        self._guard.request_stop(host_monotonic())

    def stop(self, kill_at: float, *, clock: Callable[[], float] = host_monotonic) -> int:
        """SIGTERM now, SIGKILL at ``kill_at`` (monotonic) if still running; return ``exit_code``.

        Blocks until CMD's tree is gone. The guard does the work; should it not report by
        ``kill_at`` (the guard is stopped or overloaded), ``run`` kills CMD's process group
        itself, then waits for the guard to confirm the rest of the tree.
        """
        if not self.exited.is_set():
            self._guard.request_stop(kill_at)
        remaining = kill_at - clock()
        if self.exited.wait(max(0.0, remaining) + _GUARD_SLACK_S):
            return self.exit_code
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        if not self.exited.wait(_ANSWER_S):
            self._guard.abandon()
            raise CliFailure(
                f"CMD (pid {self.pid}) was killed, but the guard process "
                f"(pid {self._guard.pid}) did not confirm it within {_ANSWER_S:.0f} s "
                "(is it stopped?); descendants that left CMD's process group may still run"
            )
        return self.exit_code


class Guard:
    """``run``'s end of its guard process (one per ``run``, started before campaigning)."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        sock: socket.socket,
        policy: GracePolicy,
        shared: SharedDeadline | None = None,
    ):
        self._process = process
        self._sock = sock
        self.policy = policy
        self._shared = shared
        self._send_lock = threading.Lock()
        self._answers: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        # The reader thread and start() hand CMD's exit over under this lock: an "exited" that
        # arrives before start() has registered the child it answered for waits in _early_exit.
        self._child_lock = threading.Lock()
        self._child: ChildProcess | None = None
        self._early_exit: dict[str, Any] | None = None
        self._reader = threading.Thread(target=self._read, name="fdb-election-guard", daemon=True)
        self._reader.start()

    @classmethod
    def spawn(cls, policy: GracePolicy, *, share_deadline: bool = True) -> Guard:
        """Start the guard process (``python -I -S guard.py``: the standard library only).

        With ``share_deadline`` (and where the platform has a ``timerfd``), deadlines reach the
        guard through a :class:`~fdb_election.cli.guard.SharedDeadline`, which wakes the guard
        only when one is at risk; otherwise each change is a message on the socket."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        shared = SharedDeadline.create() if share_deadline else None
        shared_fds = () if shared is None else (shared.timer_fd, shared.page_fd)
        try:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-S",
                    str(_GUARD_PROGRAM),
                    str(theirs.fileno()),
                    repr(policy.grace),
                    repr(policy.kill_margin),
                    *(str(fd) for fd in shared_fds),
                ],
                pass_fds=(theirs.fileno(), *shared_fds),
                close_fds=True,
            )
        except OSError as exc:
            ours.close()
            raise CliFailure(f"cannot start the guard process: {exc}") from exc
        finally:
            theirs.close()
        return cls(process, ours, policy, shared)

    @property
    def pid(self) -> int:
        """The guard's process id."""
        return self._process.pid

    # ------------------------------------------------------------------ run -> guard

    def set_deadline(self, deadline: float | None) -> None:
        """The local leadership deadline changed (monotonic seconds; None: leadership ended).

        Called on the elector's thread at every change, before a lowered deadline's record is
        committed; never blocks (a guard that cannot take it is stopped and cannot act anyway).
        """
        if self._shared is not None:
            # SIGTERM is due one grace period and the kill margin before the deadline; without
            # a deadline, now (a time long past fires the timer at once).
            term_at = 0.0 if deadline is None else self.policy.stop_at(deadline)
            try:
                self._shared.publish(deadline, term_at)
                return
            except OSError:
                # The timer could not be armed: messages from now on. The guard does not sleep
                # past the deadline it knows, whatever the timer says.
                self._shared = None
        self._send({"op": "deadline", "deadline": deadline})

    def request_stop(self, kill_at: float) -> None:
        """Stop CMD: SIGTERM now, SIGKILL at ``kill_at`` at the latest."""
        self._send({"op": "stop", "kill_at": kill_at})

    def prepare(self, argv: Sequence[str], env: Mapping[str, str]) -> None:
        """Say what CMD will be, before any start: ``argv`` and its environment less
        ``FDB_ELECTION_BALLOT``. The guard can then have CMD's process wait in a shell, so that
        a start costs less; a start that differs is made as usual."""
        executable = resolve_command(argv[0], env.get("PATH", os.defpath))
        message = {"op": "prepare", "argv": list(argv), "env": dict(env), "executable": executable}
        self._send(message)

    def start(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        on_exit: Callable[[], None] | None = None,
    ) -> ChildProcess:
        """Have the guard start CMD; raise CliFailure 127/126, or StartRefused when the guard
        knows of no leadership deadline that allows it."""
        executable = resolve_command(argv[0], env.get("PATH", os.defpath))
        self._send({"op": "start", "argv": list(argv), "env": dict(env), "executable": executable})
        try:
            answer = self._answers.get(timeout=_ANSWER_S)
        except queue.Empty:
            raise CliFailure(
                f"the guard process (pid {self.pid}) did not answer within {_ANSWER_S:.0f} s"
            ) from None
        if answer.get("ev") == "started":
            child = ChildProcess(self, int(answer["pid"]), on_exit)
            with self._child_lock:
                early, self._early_exit = self._early_exit, None
                if early is None:
                    self._child = child
            if early is not None:  # CMD is already gone (``true``, a busy machine)
                child._exited(early)
            return child
        code = int(answer.get("errno") or 0)
        detail = answer.get("error", "")
        if code == errno.ENOENT:
            raise CommandNotFound(f"command not found: {argv[0]}")
        if code in (errno.EACCES, errno.EPERM, errno.ENOEXEC):
            raise CannotExecute(f"command is not executable: {argv[0]} ({detail})")
        if code == 0:
            raise StartRefused(detail)
        raise CliFailure(f"cannot start {argv[0]}: {detail}")

    def close(self) -> None:
        """Let the guard go: it stops CMD if one still runs, then exits."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

    def abandon(self) -> None:
        """Kill the guard (it did not answer): CMD then dies through PR_SET_PDEATHSIG."""
        with contextlib.suppress(OSError):
            self._process.kill()

    def _send(self, message: Mapping[str, Any]) -> None:
        data = json.dumps(message).encode()
        with self._send_lock, contextlib.suppress(BlockingIOError, OSError):
            self._sock.send(data, socket.MSG_DONTWAIT)

    # ------------------------------------------------------------------ guard -> run

    def _read(self) -> None:
        while True:
            try:
                data = self._sock.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                with self._child_lock:
                    child, self._child = self._child, None
                if child is not None:
                    child._guard_lost()
                self._process.wait()
                return
            message = json.loads(data)
            if message.get("ev") == "exited":
                with self._child_lock:
                    child, self._child = self._child, None
                    if child is None:
                        self._early_exit = message  # start() has not registered it yet
                if child is not None:
                    child._exited(message)
            else:
                self._answers.put(message)
