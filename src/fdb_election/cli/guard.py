"""The guard: a small process between ``run`` and CMD that owns CMD's deadline.

``run`` starts one guard (``python -I -S guard.py FD``) and talks to it over a Unix socket pair.
The guard starts CMD when told, and stops CMD's whole process tree on its own when

* the leadership deadline it was last given is about to pass (SIGTERM ``grace`` before the kill
  time, SIGKILL ``kill_margin`` before the deadline), however stale ``run`` has become;
* ``run`` dies (the socket reaches end of file): SIGTERM at once, SIGKILL when the grace ends or
  the deadline allows no more, whichever is first;
* it is asked to (a voluntary release, or ``run`` stopping).

So a ``run`` killed with SIGKILL, stopped with SIGSTOP or hung in Python cannot make CMD outlive
its leadership: the guard is a separate process that needs nothing from ``run`` to act.

The whole tree, not just CMD: on Linux the guard is a child subreaper (``PR_SET_CHILD_SUBREAPER``),
so every orphaned descendant of CMD (a double-forked daemon included) becomes the guard's child.
Stopping sends the signal to CMD's process group and to every descendant found in ``/proc``, and
the guard reports CMD's exit only once it has no child left at all: then no descendant of CMD is
alive. CMD also gets ``PR_SET_PDEATHSIG`` towards the guard. What can still escape is written
down in docs/reference/cli.md (the guard itself stopped or killed, a process in uninterruptible
sleep, and on other platforms descendants that leave CMD's process group).

CMD's process is forked ahead of time (a :class:`Launcher`), while no CMD runs, so that starting
CMD after an election costs an ``exec`` rather than a fork of the guard. It is never alive beside
CMD, so "no child left" keeps its meaning. Once ``run`` has said what CMD will be (``prepare``),
the launcher goes further ahead: it execs ``/bin/sh`` with CMD's environment and waits there for
the ballot (see :class:`Prepared`), so that the start is an ``exec`` from a small shell rather than
from a copy of the guard's interpreter, whose teardown took over a millisecond.

This file is run as a script with the standard library only (``-I -S``: no site packages, no
environment), which keeps the guard small and quick to start. The protocol, one JSON object
per datagram (``SOCK_SEQPACKET``):

* run → guard: ``{"op": "prepare", "argv": [...], "env": {...}, "executable": PATH}`` (CMD and
  its environment as every start will give them, less ``FDB_ELECTION_BALLOT``; sent once, before
  campaigning), ``{"op": "deadline", "deadline": D}`` (seconds on the deadline clock,
  ``CLOCK_BOOTTIME`` on Linux, the same in every process of the host; ``null`` once leadership
  has ended; not sent on Linux, where the
  deadline is a :class:`SharedDeadline` whose two descriptors follow ``KILL_MARGIN`` on the
  command line), ``{"op": "start", "argv": [...], "env": {...}, "executable": PATH}`` (the file
  to execute, found by ``run`` in CMD's ``PATH``; without it the guard searches that ``PATH``
  itself), ``{"op": "stop", "kill_at": T}``;
* guard → run: ``{"ev": "started", "pid": P}``, ``{"ev": "failed", "errno": E, "error": "..."}``,
  ``{"ev": "exited", "code": C, "signal": S, "reason": R}`` (``reason``: ``"exited"``, ``"stopped"``
  or ``"deadline"``).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import math
import mmap
import os
import re
import select
import signal
import socket
import stat
import struct
import sys
import time
from typing import Any

__all__ = ["Guard", "GuardState", "MonotonicTimer", "SharedDeadline", "descendants", "main"]

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
#: How long the guard waits between rounds of SIGKILL while CMD's tree is dying.
_KILL_ROUND_S = 0.005
#: How long after CMD's tree is gone the guard forks the launcher of the next CMD.
_LAUNCHER_AFTER_S = 1.0
#: How long a launcher may take from its order to its exec before the guard gives up on it
#: (it was stopped with SIGSTOP while it waited) and forks a fresh one; run waits 5 s in all.
_LAUNCH_S = 1.0
#: Signals whose disposition CMD gets back to the default before exec.
_RESET_SIGNALS = (
    signal.SIGPIPE,
    signal.SIGXFSZ,
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGCHLD,
)


def _prctl() -> Any:
    """libc's prctl on Linux, else None.

    Looked up among the symbols the interpreter already has (``dlopen(NULL)``: it links libc)
    rather than with ``ctypes.util.find_library``, which runs ``ldconfig -p`` in a subprocess
    and imports subprocess and shutil: the guard starts sooner and stays smaller.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # a static or unusual build: ask the library search
        from ctypes.util import find_library

        name = find_library("c")
        return None if name is None else ctypes.CDLL(name, use_errno=True).prctl


# The clock of leadership deadlines, the same in every process of the host: CLOCK_BOOTTIME on
# Linux, which goes on counting while the machine is suspended (so a timer armed for a deadline
# fires as the host wakes, not a slept time later), else time.monotonic(). It must be the one
# fdb_election.runtime.clock.host_monotonic reads: this file runs without the package.
def _boot_clock() -> int | None:
    clock: int | None = getattr(time, "CLOCK_BOOTTIME", None)
    if clock is None or not sys.platform.startswith("linux"):
        return None
    try:
        time.clock_gettime(clock)
    except OSError:  # a sandbox that does not offer it
        return None
    return clock


_CLOCK_ID = _boot_clock()


def _now() -> float:
    return time.monotonic() if _CLOCK_ID is None else time.clock_gettime(_CLOCK_ID)


_TFD_NONBLOCK = os.O_NONBLOCK
_TFD_CLOEXEC = os.O_CLOEXEC
_TFD_TIMER_ABSTIME = 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class MonotonicTimer:
    """A ``timerfd`` on the clock of leadership deadlines (``CLOCK_BOOTTIME``): one thread or
    process re-arms it, which wakes nobody, and another sleeps on its descriptor until it fires.
    Linux only."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._libc = ctypes.CDLL(None, use_errno=True)

    @classmethod
    def create(cls) -> MonotonicTimer | None:
        """A new, unarmed timer (close-on-exec, non-blocking), or None without ``timerfd``."""
        if not sys.platform.startswith("linux") or _CLOCK_ID is None:
            return None
        try:
            fd = ctypes.CDLL(None, use_errno=True).timerfd_create(
                _CLOCK_ID, _TFD_NONBLOCK | _TFD_CLOEXEC
            )
        except (OSError, AttributeError):
            return None
        return cls(fd) if fd >= 0 else None

    def arm(self, when: float) -> None:
        """Fire at ``when`` (monotonic seconds); a time already past fires at once."""
        nanos = max(1, math.ceil(when * 1e9))  # 0 would disarm it
        spec = _Itimerspec()
        spec.it_value.tv_sec, spec.it_value.tv_nsec = divmod(nanos, 1_000_000_000)
        self._settime(spec)

    def disarm(self) -> None:
        """Let the timer not fire until it is armed again."""
        self._settime(_Itimerspec())  # all zero: disarmed

    def _settime(self, spec: _Itimerspec) -> None:
        if self._libc.timerfd_settime(self.fd, _TFD_TIMER_ABSTIME, ctypes.byref(spec), None):
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")

    def fires_at(self) -> float | None:
        """When the timer fires (monotonic seconds), or None when it is not armed: it has
        fired since it was last armed."""
        current = _Itimerspec()
        now = _now()
        if self._libc.timerfd_gettime(self.fd, ctypes.byref(current)) != 0:
            return None
        remaining = current.it_value.tv_sec + current.it_value.tv_nsec / 1e9
        return now + remaining if remaining > 0 else None

    def fires_by(self, when: float) -> bool:
        """Whether the timer is armed to fire no later than ``when``: whoever sleeps on it then
        needs no timeout of its own for ``when``. (Arming rounds up to the nanosecond.)"""
        fires = self.fires_at()
        return fires is not None and fires <= when + 0.0005

    def drain(self) -> None:
        """Take the timer's expiry, so that its descriptor waits for the next one."""
        with contextlib.suppress(BlockingIOError):
            os.read(self.fd, 8)


class SharedDeadline:
    """The leadership deadline, shared by ``run`` and its guard without a message per refresh.

    Two things both processes hold: a page (``memfd``) with the deadline and a sequence number,
    and a :class:`MonotonicTimer` armed at the time CMD must get SIGTERM. ``run`` writes the
    page, then arms the timer, at every change of the deadline: re-arming a timer wakes nobody,
    so a refresh costs the guard nothing. The guard sleeps on the timer; when it fires (the
    deadline is at risk, or was lowered), the guard reads the page and acts. A ``run`` that is
    killed or stopped leaves the timer armed at the last deadline it set, so the guard still
    acts in time. Linux only: :meth:`create` returns None elsewhere, and ``run`` then sends
    every deadline as a message.
    """

    # A sequence number, odd while run writes (a seqlock), then the deadline and whether there
    # is one.
    _SEQ = struct.Struct("=Q")
    _VALUE = struct.Struct("=d?")

    def __init__(self, timer_fd: int, page_fd: int) -> None:
        self.timer = MonotonicTimer(timer_fd)
        self.timer_fd = timer_fd
        self.page_fd = page_fd
        self._page = mmap.mmap(page_fd, mmap.PAGESIZE)
        self._seq = 0
        self._last = 0.0  # run: the last deadline published

    @classmethod
    def create(cls) -> SharedDeadline | None:
        """A new shared deadline (no deadline yet), or None where there is no ``timerfd``."""
        if not hasattr(os, "memfd_create"):
            return None
        timer = MonotonicTimer.create()
        if timer is None:
            return None
        try:
            page_fd = os.memfd_create("fdb-election-deadline", os.MFD_CLOEXEC)
            os.ftruncate(page_fd, mmap.PAGESIZE)
        except OSError:
            os.close(timer.fd)
            return None
        return cls(timer.fd, page_fd)

    def publish(self, deadline: float | None, term_at: float) -> None:
        """``run``: the deadline is now ``deadline`` (None: not leading), and CMD must get SIGTERM
        at ``term_at`` (monotonic seconds). The page first: when the timer fires, the guard finds
        the deadline it fired for, or a later one. Once leadership has ended the page keeps the
        last deadline: how long a stop may take is bounded by it."""
        if deadline is not None:
            self._last = deadline
        self._SEQ.pack_into(self._page, 0, self._seq + 1)
        self._VALUE.pack_into(self._page, 8, self._last, deadline is not None)
        self._seq += 2
        self._SEQ.pack_into(self._page, 0, self._seq)
        self._arm(term_at)

    def read(self) -> tuple[int, float | None, float]:
        """The guard: the page's sequence number, the deadline (None: not leading) and the last
        deadline there was (0.0: none yet)."""
        while True:
            (before,) = self._SEQ.unpack_from(self._page, 0)
            last, present = self._VALUE.unpack_from(self._page, 8)
            (after,) = self._SEQ.unpack_from(self._page, 0)
            if before == after and not before & 1:  # not torn by a write in progress
                return before, last if present else None, last

    def fires_at(self) -> float | None:
        """When the timer fires (monotonic seconds), or None when it has fired since ``run``
        last armed it."""
        return self.timer.fires_at()

    def drain(self) -> None:
        """The guard: take the timer's expiry, so that it waits for the next one."""
        self.timer.drain()

    def _arm(self, when: float) -> None:
        self.timer.arm(when)


def _parent_of(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
    except OSError:
        return None
    # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'
    fields = data[data.rfind(b")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else None


def descendants(root: int) -> list[int]:
    """Every live process below ``root`` (from ``/proc``; empty where there is no ``/proc``)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    children: dict[int, list[int]] = {}
    for entry in entries:
        if entry.isdigit():
            parent = _parent_of(entry)
            if parent is not None:
                children.setdefault(parent, []).append(int(entry))
    found: list[int] = []
    frontier = [root]
    while frontier:
        below = children.get(frontier.pop(), [])
        found.extend(below)
        frontier.extend(below)
    return found


#: The one variable of CMD's environment that differs from start to start: the fencing token.
_BALLOT = "FDB_ELECTION_BALLOT"
_SHELL = "/bin/sh"
#: What a prepared launcher's shell runs. Its arguments: CMD's environment as ``NAME=VALUE``
#: words, ``--`` (never an assignment: it has no ``=``), then CMD's argv. It exports the
#: environment (the shell itself was started with an empty one), drops the ``PWD`` the shell
#: sets when CMD's environment has none, reads the ballot from descriptor 3 (end of file: the
#: launcher is not needed, exit 0), and becomes CMD; closing descriptor 4 tells the guard so.
#: It uses no variable of its own, so none can clash with one of CMD's.
_SHELL_SCRIPT = (
    'while [ "$1" != -- ]; do export "$1" || exit 125; shift; done; shift; '
    "{unset_pwd}"
    f"IFS= read -r {_BALLOT} <&3 || exit 0; export {_BALLOT}; "
    'exec "$@" 3<&- 4>&-'
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: The first bytes of a file ``exec`` runs itself: a script with an interpreter line, or ELF.
#: The shell would run any other file as a shell script, where an exec from Python fails
#: (ENOEXEC, reported by ``run``): such a CMD starts from a forked launcher instead.
_EXECUTABLE_MAGIC = (b"#!", b"\x7fELF")
#: How long the check of a shell's faithfulness may take before the guard gives up on it.
_PROBE_S = 2.0


class Prepared:
    """CMD as ``run`` announced it before any start, and the shell command line that waits to
    become it: the launcher execs that shell ahead of time, and a start only hands it the ballot.

    :meth:`create` refuses (None) whatever the shell could not pass on unchanged: a variable
    name that is not a shell name (a shell drops it), a CMD file that is neither a script with
    an interpreter line nor ELF, or a shell that, tried once with ``env -0`` as CMD, does not
    hand over exactly the environment asked for (some shells set variables of their own). A
    start that differs from what was announced in anything but the ballot is launched the
    usual way (:meth:`ballot_of` returns None).
    """

    def __init__(self, argv: list[str], env: dict[str, str], executable: str) -> None:
        self.argv = argv
        self.env = env
        self.executable = executable
        unset_pwd = "" if "PWD" in env else "unset PWD; "
        self.args = [
            "sh",
            "-c",
            _SHELL_SCRIPT.format(unset_pwd=unset_pwd),
            "sh",
            *(f"{name}={value}" for name, value in env.items()),
            "--",
            *argv,
        ]

    @classmethod
    def create(cls, message: dict[str, Any]) -> Prepared | None:
        """The prepared CMD of a ``prepare`` message, or None when the shell cannot be used."""
        argv, env, executable = message.get("argv"), message.get("env"), message.get("executable")
        if not (
            isinstance(argv, list)
            and argv
            and all(isinstance(arg, str) for arg in argv)
            and isinstance(env, dict)
            and all(isinstance(v, str) and _NAME.fullmatch(k) for k, v in env.items())
            and _BALLOT not in env
            and isinstance(executable, str)
            and os.path.exists(_SHELL)
        ):
            return None
        try:  # non-blocking: a FIFO in its place must not hold up the guard
            fd = os.open(executable, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            try:
                regular = stat.S_ISREG(os.fstat(fd).st_mode)
                if not regular or not os.read(fd, 4).startswith(_EXECUTABLE_MAGIC):
                    return None
            finally:
                os.close(fd)
        except OSError:
            return None
        prepared = cls(argv, env, executable)
        return prepared if prepared._faithful() else None

    def ballot_of(self, message: dict[str, Any]) -> str | None:
        """The ballot a start ``message`` hands over, when it starts the prepared CMD."""
        env = message.get("env")
        if not isinstance(env, dict) or message.get("argv") != self.argv:
            return None
        if message.get("executable") != self.executable:
            return None
        env = dict(env)
        ballot = env.pop(_BALLOT, None)
        if not (isinstance(ballot, str) and ballot.isascii() and ballot.isdigit()):
            return None
        return ballot if env == self.env else None

    def _faithful(self) -> bool:
        """Run the shell once with ``env -0`` as CMD: whether CMD gets exactly the environment
        asked for (the ballot included) and nothing else."""
        env_program = "/usr/bin/env"
        if not os.path.exists(env_program):
            return False
        expected = {os.fsencode(f"{k}={v}") for k, v in self.env.items()}
        expected.add(f"{_BALLOT}=0".encode())
        order_r, order_w = _pipe_above(4)
        out_r, out_w = _pipe_above(4)  # never 3 itself: a dup2 onto itself would keep CLOEXEC
        args = [*self.args[: -len(self.argv)], env_program, "-0"]
        pid = None
        try:
            pid = os.posix_spawn(
                _SHELL,
                args,
                {},
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, order_r, 3),
                    (os.POSIX_SPAWN_DUP2, out_w, 1),
                    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                ],
            )
            os.close(order_r)
            os.close(out_w)
            order_r = out_w = -1
            os.write(order_w, b"0\n")
            os.close(order_w)
            order_w = -1
            output = _read_all(out_r, _now() + _PROBE_S)
        except OSError:
            output = None
        finally:
            for fd in (order_r, order_w, out_r, out_w):
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
        return output is not None and set(output.split(b"\0")) - {b""} == expected


def _pipe_above(lowest: int) -> tuple[int, int]:
    """A close-on-exec pipe whose descriptors are both above ``lowest``."""
    ends = []
    for fd in os.pipe2(os.O_CLOEXEC):
        if fd > lowest:
            ends.append(fd)
        else:
            ends.append(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, lowest + 1))
            os.close(fd)
    return ends[0], ends[1]


def _read_all(fd: int, deadline: float) -> bytes | None:
    """Everything from ``fd`` until end of file; None if that takes past ``deadline``."""
    chunks: list[bytes] = []
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        left = deadline - _now()
        if left <= 0 or not poller.poll(math.ceil(left * 1e3)):
            return None
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


class Launcher:
    """A child of the guard forked ahead of time that becomes CMD when given its command line.

    Forking the guard costs milliseconds (its whole address space is copied on write); a
    launcher pays that before leadership comes, so that starting CMD after an election only
    takes a write to a pipe and an ``exec``. Forked, it does at once what CMD needs of its
    process: a process group of its own, ``PR_SET_PDEATHSIG`` towards the guard (and death if
    the guard is already gone), default signal dispositions. Then it sleeps on its order pipe.

    Its order is the ``start`` message from ``run`` as received (JSON: ``argv``, ``env``,
    ``executable``); an empty order (the pipe closed, :meth:`discard`) makes it exit 0. An
    ``exec`` that fails is reported on the error pipe as ``ERRNO:TEXT``; a successful one closes
    that pipe (close-on-exec), so the guard reads it to its end either way.

    A launcher forked for a :class:`Prepared` CMD (``prepared``) execs its shell at once instead,
    with the order pipe as descriptor 3 and the error pipe as 4; its order is the ballot and a
    newline. Its shell reports no failed ``exec``: it exits 126 or 127, as CMD.
    """

    def __init__(self, pid: int, order: int, errors: int, prepared: Prepared | None = None) -> None:
        self.pid = pid
        self.prepared = prepared  # the CMD its shell waits to become; None: a forked launcher
        self._order = order
        self._errors = errors

    @classmethod
    def fork(
        cls,
        guard_pid: int,
        prctl: Any,
        inherited: tuple[int, ...],
        prepared: Prepared | None = None,
    ) -> Launcher:
        """Fork a launcher; ``inherited`` are the guard's descriptors that it closes at once;
        with ``prepared`` it waits in the shell for that CMD."""
        # Above 4: a shell launcher moves its ends onto 3 and 4 (see _become_cmd).
        order_r, order_w = _pipe_above(4)
        errors_r, errors_w = _pipe_above(4)
        try:
            pid = os.fork()
        except OSError:
            for fd in (order_r, order_w, errors_r, errors_w):
                os.close(fd)
            raise
        if pid == 0:  # pragma: no cover - the child only waits for its order and execs
            signal.set_wakeup_fd(-1)  # first: the guard's wake-up pipe is closed next
            for fd in (order_w, errors_r, *inherited):
                with contextlib.suppress(OSError):
                    os.close(fd)
            shell_args = None if prepared is None else prepared.args
            _become_cmd(guard_pid, prctl, order_r, errors_w, shell_args)
        os.close(order_r)
        os.close(errors_w)
        return cls(pid, order_w, errors_r, prepared)

    def launch(self, order: bytes, timeout: float | None = None) -> str | None:
        """Hand the launcher its order; return its failure (``ERRNO:TEXT``), "" once CMD has
        been exec'd, or None when the launcher is gone (killed before it took the order) or,
        with ``timeout``, did not exec within that many seconds (then it is killed: stopped,
        it would never answer)."""
        try:
            view = memoryview(order)
            while view:
                view = view[os.write(self._order, view) :]
        except OSError:  # EPIPE: nobody reads the order any more
            self.discard()
            return None
        os.close(self._order)
        if timeout is not None:
            poller = select.poll()
            poller.register(self._errors, select.POLLIN)
            if not poller.poll(math.ceil(timeout * 1e3)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                os.close(self._errors)
                return None
        with os.fdopen(self._errors, "rb") as errors:
            return errors.read().decode(errors="replace")

    def discard(self) -> None:
        """Let the launcher go unused: it reads an empty order and exits 0."""
        for fd in (self._order, self._errors):
            with contextlib.suppress(OSError):
                os.close(fd)

    def kill(self) -> None:
        """End the launcher now and reap it: a process of the guard's that is not CMD must be
        gone before CMD starts."""
        self.discard()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def _become_cmd(
    guard_pid: int, prctl: Any, order: int, errors: int, shell_args: list[str] | None
) -> None:
    """In a freshly forked child of the guard: prepare, wait for the order, exec CMD (or, with
    ``shell_args``, exec the shell that waits for the ballot and becomes CMD)."""
    try:
        os.setpgid(0, 0)
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
            if os.getppid() != guard_pid:
                os._exit(137)  # the guard died before prctl: nobody would stop us
        for signum in _RESET_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        if shell_args is not None:
            # Both are above 4 (Launcher.fork): onto 3 and 4, inheritable.
            os.dup2(order, 3)
            os.dup2(errors, 4)
            os.execve(_SHELL, shell_args, {})
        chunks = []
        while chunk := os.read(order, 1 << 16):
            chunks.append(chunk)
        if not chunks:
            os._exit(0)
        message = json.loads(b"".join(chunks))
        argv, env, executable = message["argv"], message["env"], message.get("executable")
        if executable is not None:
            # Found by run before the start: searching PATH here, with an exec attempt per
            # entry in a forked interpreter, cost about 0.5 ms of every start.
            os.execve(executable, argv, env)
        os.execvpe(argv[0], argv, env)
    except OSError as exc:
        os.write(errors, f"{exc.errno}:{exc.strerror}".encode())
    except (ValueError, KeyError, TypeError) as exc:  # not a start message run would send
        os.write(errors, f"{errno.EINVAL}:malformed start message ({exc!r})".encode())
    finally:
        os._exit(127)


class GuardState:
    """When the guard must stop CMD (monotonic seconds); no I/O, so tests can drive it.

    ``deadline`` is the leadership deadline last received (None: not leading). A deadline puts
    SIGTERM at ``deadline - kill_margin - grace`` and SIGKILL at ``deadline - kill_margin``; an
    explicit stop (asked for, the end of leadership, the end of ``run``) means SIGTERM now and
    SIGKILL at its own time, brought forward to what the last deadline allows. Times only ever
    move earlier through a stop; a new deadline moves the deadline's own times either way.
    An explicit stop is for the CMD running then: one asked for while none runs (a message that
    crossed CMD's exit, say) is dropped, or it would hold back every later start.
    """

    def __init__(self, grace: float, kill_margin: float) -> None:
        self.grace = grace
        self.kill_margin = kill_margin
        self.deadline: float | None = None
        self.last_deadline: float | None = None
        self.stop: tuple[float, float] | None = None  # an explicit stop: (term, kill)
        self.running = False  # whether a CMD runs (from its start until its tree is gone)

    def set_deadline(self, deadline: float | None, now: float) -> None:
        """A new deadline from ``run``; None: leadership has ended, so CMD stops now."""
        self.deadline = deadline
        if deadline is not None:
            self.last_deadline = deadline
        else:
            self.request_stop(now, now + self.grace)

    def request_stop(self, now: float, kill_at: float) -> None:
        """SIGTERM now, SIGKILL at ``kill_at`` or as early as the last deadline requires."""
        if not self.running:
            return
        if self.last_deadline is not None:
            kill_at = min(kill_at, self.last_deadline - self.kill_margin)
        if self.stop is None or kill_at < self.stop[1]:
            self.stop = (min(now, self.stop[0]) if self.stop else now, kill_at)

    @property
    def term_at(self) -> float:
        """When CMD must be sent SIGTERM (-inf when it may not run at all)."""
        return self._earliest(0)

    @property
    def kill_at(self) -> float:
        """When CMD's whole tree is killed."""
        return self._earliest(1)

    def _earliest(self, which: int) -> float:
        times = [math.inf]
        if self.stop is not None:
            times.append(self.stop[which])
        if self.deadline is not None:
            times.append(self.deadline - self.kill_margin - (self.grace if which == 0 else 0.0))
        elif self.stop is None:
            times.append(-math.inf)  # not leading and nothing asked: CMD must not run
        return min(times)

    def cause(self, now: float) -> str:
        """Why CMD is being stopped at ``now``: an explicit stop, or its deadline."""
        return "stopped" if self.stop is not None and self.stop[0] <= now else "deadline"

    def child_started(self) -> None:
        """A CMD runs from now on."""
        self.running = True

    def child_gone(self) -> None:
        """CMD's tree is gone: an explicit stop was for it only (the deadline is run's)."""
        self.stop = None
        self.running = False


class Guard:
    """The guard's loop: messages from ``run``, CMD's exit, and the state's times."""

    def __init__(
        self,
        sock: socket.socket,
        grace: float,
        kill_margin: float,
        shared: SharedDeadline | None = None,
    ) -> None:
        self.sock = sock
        self.state = GuardState(grace, kill_margin)
        # Where run keeps the deadline (None: it sends every change as a message instead).
        self.shared = shared
        self.seen_seq = 0  # the shared page's sequence number last taken into ``state``
        self.pid = os.getpid()
        self.child: int | None = None  # CMD's pid (= its process group), while it runs
        self.child_status: int | None = None
        self.cause: str | None = None  # why the guard signalled CMD, once it has
        self.killing = False
        self.last_kill = -math.inf  # when the last round of SIGKILL went out
        self.run_alive = True
        self.prctl = _prctl()
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        # The next CMD's process, forked ahead while no CMD runs (see Launcher), and when to
        # fork it (inf: one is ready, or none is wanted yet).
        self.launcher: Launcher | None = None
        self.launcher_due = math.inf
        # CMD as run announced it, when a launcher can wait for it in the shell (see Prepared);
        # a "prepare" that came while CMD ran (its check runs a shell: not then); and whether
        # launchers may wait in the shell (not once one died before its start: say, the shell
        # could not be run).
        self.prepared: Prepared | None = None
        self.prepare_pending: dict[str, Any] | None = None
        self.shell_works = True

    # ------------------------------------------------------------------ set-up and loop

    def setup(self) -> None:
        """Become a subreaper and route signals through the wake-up pipe."""
        if self.prctl is not None:
            self.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: None)  # acted on in the loop
        # The terminal's or the session's signals are for run, which tells the guard.
        for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(signum, signal.SIG_IGN)
        self._prepare_launcher()  # before run campaigns: a first election starts CMD sooner

    def loop(self) -> None:
        """Serve until ``run`` is gone and nothing of CMD is left."""
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        poller.register(self.wake_r, select.POLLIN)
        if self.shared is not None:
            poller.register(self.shared.timer_fd, select.POLLIN)
        while self.run_alive or self.child is not None:
            self._take_shared_deadline()
            if self.child is None and _now() >= self.launcher_due:
                self._prepare_launcher()
            delay = self._next_time() - _now()
            if delay <= 0:
                self._act(_now())
                continue
            timeout = None
            if not math.isinf(delay) and not self._timer_covers_deadline():
                timeout = max(1, math.ceil(delay * 1e3))
            for fd, _events in poller.poll(timeout):
                if fd == self.wake_r:
                    self._on_signals()
                elif self.shared is not None and fd == self.shared.timer_fd:
                    self.shared.drain()
                elif self.run_alive:
                    self._on_message()
            self._reap()
        if self.launcher is not None:
            self.launcher.discard()
            self.launcher = None

    def _take_shared_deadline(self) -> None:
        """Take the deadline run last wrote to the shared page, if it is new."""
        if self.shared is None:
            return
        seq, deadline, last = self.shared.read()
        if seq > self.seen_seq:
            self.seen_seq = seq
            now = _now()
            if deadline is None and last:
                # The guard may not have woken since early in the tenure that ended: note its
                # last deadline first, which bounds the stop that ending it requests.
                self.state.set_deadline(last, now)
            self.state.set_deadline(deadline, now)

    def _timer_covers_deadline(self) -> bool:
        """Whether the shared timer wakes the guard in time for the next thing it must do.

        It does while that is the deadline's SIGTERM (nothing sent yet, no explicit stop) and
        the timer fires no later than the deadline the guard knows requires: ``run`` re-arms it
        at every change, so the guard sleeps through refreshes instead of waking at each
        deadline it last read. A timer set later than that (``run`` could not arm it, or wrote
        a later deadline since the guard read the page) leaves the guard to its own timeout.
        """
        if self.child is None:  # what is next is forking a launcher (see _next_time)
            return False
        if self.shared is None or self.cause is not None or self.state.stop is not None:
            return False
        return self.shared.timer.fires_by(self.state.term_at)

    # ------------------------------------------------------------------ events

    def _next_time(self) -> float:
        if self.child is None:
            return self.launcher_due
        if self.killing:
            return self.last_kill + _KILL_ROUND_S
        if self.cause is None:
            return self.state.term_at
        return self.state.kill_at

    def _act(self, now: float) -> None:
        if self.child is None:
            return
        if self.cause is None:
            self.cause = self.state.cause(now)
        if self.killing or now >= self.state.kill_at:
            self.killing = True
            self.last_kill = now
            self._signal_tree(signal.SIGKILL)
        else:
            self._signal_tree(signal.SIGTERM)
        self._reap()

    def _on_signals(self) -> None:
        with contextlib.suppress(BlockingIOError):
            if signal.SIGTERM in os.read(self.wake_r, 512):
                self._run_gone()

    def _on_message(self) -> None:
        try:
            data = self.sock.recv(1 << 20)
        except OSError:
            data = b""
        if not data:  # run is gone (killed or exited): stop CMD as if leadership had ended
            self._run_gone()
            return
        self._take_shared_deadline()  # run may have written it since the loop looked
        message = json.loads(data)
        op = message.get("op")
        now = _now()
        if op == "deadline":
            self.state.set_deadline(message["deadline"], now)
        elif op == "stop":
            self.state.request_stop(now, float(message["kill_at"]))
        elif op == "start":
            self._start(data, message)
        elif op == "prepare":
            self._prepare(message)

    def _run_gone(self) -> None:
        self.run_alive = False
        now = _now()
        self.state.request_stop(now, now + self.state.grace)

    # ------------------------------------------------------------------ CMD

    def _prepare(self, message: dict[str, Any]) -> None:
        """``run`` said what CMD will be: have launchers wait for it in the shell, if that works.

        Checking the shell runs it once, which must not hold up a guard that watches a CMD: a
        message that comes while CMD runs is taken once its tree is gone.
        """
        if self.child is not None:
            self.prepare_pending = message
            return
        self.prepare_pending = None
        self.prepared = Prepared.create(message)
        launcher = self.launcher
        if launcher is not None and launcher.prepared is not self._wanted():
            self.launcher = None
            launcher.kill()
        if self.launcher is None:
            self._prepare_launcher()

    def _wanted(self) -> Prepared | None:
        """What the next launcher should wait in the shell for (None: a forked launcher)."""
        return self.prepared if self.shell_works else None

    def _start(self, data: bytes, message: dict[str, Any]) -> None:
        if self.child is not None:
            self._send({"ev": "failed", "errno": errno.EBUSY, "error": "CMD is already running"})
            return
        if _now() >= self.state.term_at:
            self._send({"ev": "failed", "errno": 0, "error": "not leading, or at risk"})
            return
        launcher, self.launcher = self.launcher, None
        order = data  # a forked launcher's order: the start message itself
        if launcher is not None and launcher.prepared is not None:
            ballot = launcher.prepared.ballot_of(message)
            if ballot is None:  # not the CMD it was prepared for: start it the usual way
                launcher.kill()
                launcher = None
            else:
                order = f"{ballot}\n".encode()
        try:
            if launcher is None:  # none ready (it was used, or killed): fork one now
                launcher = self._fork_launcher()
                failure = launcher.launch(data)
            else:  # it has waited, perhaps for hours: it may have been stopped meanwhile
                failure = launcher.launch(order, timeout=_LAUNCH_S)
            if failure is None:  # killed (not reaped yet) or stopped while it waited: a fresh one
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(launcher.pid, 0)
                launcher = self._fork_launcher()
                failure = launcher.launch(data)
        except OSError as exc:  # fork failed: no memory, or no process left
            self.launcher_due = _now() + _LAUNCHER_AFTER_S
            self._send({"ev": "failed", "errno": exc.errno, "error": f"fork: {exc.strerror}"})
            return
        if failure is None:
            failure = f"{errno.ECHILD}:the process forked for CMD died before its exec"
        if failure:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(launcher.pid, 0)
            self.launcher_due = _now()  # a new one for the next start
            code, _, message_text = failure.partition(":")
            self._send({"ev": "failed", "errno": int(code), "error": message_text})
            return
        self.child = launcher.pid
        self.child_status = None
        self.cause = None
        self.killing = False
        self.state.child_started()
        self._send({"ev": "started", "pid": launcher.pid})

    def _fork_launcher(self, prepared: Prepared | None = None) -> Launcher:
        shared = () if self.shared is None else (self.shared.timer_fd, self.shared.page_fd)
        inherited = (self.sock.fileno(), self.wake_r, self.wake_w, *shared)
        return Launcher.fork(self.pid, self.prctl, inherited, prepared)

    def _prepare_launcher(self) -> None:
        """Fork the launcher of the next CMD, now that no CMD runs (see :class:`Launcher`)."""
        self.launcher_due = math.inf
        if self.prepare_pending is not None and self.child is None:
            self._prepare(self.prepare_pending)  # forks the launcher too
            return
        if self.launcher is None and self.child is None and self.run_alive:
            with contextlib.suppress(OSError):  # no memory or processes left: fork at start
                self.launcher = self._fork_launcher(self._wanted())

    def _signal_tree(self, signum: int) -> None:
        """``signum`` once to every process of CMD's tree: to its process group, then to each
        descendant of the guard outside that group (one that made a group or session of its
        own). Once matters: many programs take a second SIGTERM as "exit now, skip clean-up"."""
        group = self.child
        if group is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signum)
        for pid in descendants(self.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if group is None or os.getpgid(pid) != group:
                    os.kill(pid, signum)

    def _reap(self) -> None:
        """Reap exited children; report CMD's exit once the guard has no child left at all.

        Orphans of CMD's tree are re-parented to the guard (a subreaper), so "no child left"
        means no descendant of CMD is alive.
        """
        children_left = True
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                children_left = False
                break
            if pid == 0:
                break
            if self.launcher is not None and pid == self.launcher.pid:  # died while waiting
                if self.launcher.prepared is not None:
                    self.shell_works = False  # the shell may not start at all: no more of them
                self.launcher.discard()
                self.launcher = None
                self.launcher_due = _now() + _LAUNCHER_AFTER_S
            if pid == self.child and self.child_status is None:
                self.child_status = status
                if self.cause is None:
                    self.cause = "exited"  # on its own, before the guard signalled it
                self.killing = True  # whatever CMD leaves behind must not outlive it
        if self.child is None or self.child_status is None or children_left:
            return
        status = self.child_status
        self._send(
            {
                "ev": "exited",
                "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                "reason": self.cause,
            }
        )
        self.child = None
        self.child_status = None
        self.cause = None
        self.killing = False
        self.state.child_gone()
        # Not at once: when CMD exits on its own, run is handing over, and a fork now would take
        # CPU from the successor starting its CMD (on the same host, in a test or a benchmark).
        self.launcher_due = _now() + _LAUNCHER_AFTER_S

    def _send(self, message: dict[str, Any]) -> None:
        if self.run_alive:
            with contextlib.suppress(OSError):
                self.sock.send(json.dumps(message).encode())


def main(argv: list[str]) -> int:
    """``guard.py FD GRACE KILL_MARGIN [TIMER_FD PAGE_FD]``: serve ``run`` on the socket ``FD``
    until it is gone; with the last two, take the deadline from a :class:`SharedDeadline`."""
    fd, grace, kill_margin = int(argv[1]), float(argv[2]), float(argv[3])
    os.setsid()  # signals for run's process group or terminal are not for the guard
    # Inherited from run on purpose; CMD must not inherit them in turn. A descendant of CMD
    # that held the guard's end open would keep run from seeing the guard die, and CMD could
    # write messages to run in the guard's name.
    shared_fds = [int(arg) for arg in argv[4:6]]
    for inherited in (fd, *shared_fds):
        os.set_inheritable(inherited, False)
    sock = socket.socket(fileno=fd)
    shared = SharedDeadline(*shared_fds) if len(shared_fds) == 2 else None
    guard = Guard(sock, grace, kill_margin, shared)
    guard.setup()
    guard.loop()
    return 0


def _exit_now(code: int) -> None:
    """End the guard with ``code`` without the interpreter's teardown.

    The guard's work is done when :func:`main` returns (``run`` is gone and so is CMD's tree),
    and it writes nothing that needs flushing. Freeing every module and object would cost a few
    milliseconds of CPU right when ``run`` hands over, and on a small host that competes with the
    successor starting its CMD.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit_now(main(sys.argv))
