"""``run -- CMD``: keep CMD running on exactly one host, the leader of the election.

Example::

    fdb-election --election nightly run --id "$(hostname)" --grace 2 -- ./backup.sh --full

``run`` campaigns with an :class:`~fdb_election.runtime.Elector`. When elected it has its guard
process start CMD with ``FDB_ELECTION_BALLOT`` (the fencing token), ``FDB_ELECTION_NAME``,
``FDB_ELECTION_PROCESS_ID`` and ``FDB_ELECTION_DB`` in its environment, in its own process group.

* The guard (:mod:`.guard`) is told every change of the leadership deadline as it happens and
  stops CMD's whole process tree before the deadline by itself, so a ``run`` that is killed,
  stopped or hung never lets CMD overlap the next leader's (see :mod:`.child`).

* Leadership at risk (no refresh committed) or lost: SIGTERM to CMD's group, SIGKILL after the
  grace period, and always before the local leadership deadline, so the old CMD is dead before any
  other elector may be elected (see :mod:`.grace`). Then ``run`` keeps campaigning and starts CMD
  again only once it leads with a deadline that is not at risk: a refresh that commits in time
  after all, or a new tenure. It never starts CMD only to stop it at once.
* Leadership given up voluntarily (an operator's ``resign --id``, preemption by a higher-priority
  candidate): the elector's ``before_release`` hook stops CMD the same way and returns only when
  it is dead; the hand-over (or resignation) that lets the next leader in commits after that.
* CMD exits: ``run`` hands leadership over to the best live candidate (or resigns when there is
  none), unregisters and exits with CMD's code (128+N after signal N).
* ``run`` gets SIGINT, SIGTERM or SIGHUP: it stops CMD (SIGTERM, grace, SIGKILL) while still
  leading, then hands over (or resigns) and unregisters, and exits with 128+N.
* ``run`` is killed with SIGKILL: the guard sees it at once and stops CMD's tree (SIGTERM, then
  SIGKILL within the grace period and before the deadline).
* Another process registers the same ``--id``: the newer one keeps the id; this ``run`` stops
  CMD, hands over to another id (or resigns) and exits 1 with a message naming the id.
* The database cannot be written (error 1510: the embedded file's disk is full or failing) in
  two elector steps in a row with no success between them: ``run`` stops CMD and exits 1 with the
  error's message, instead of campaigning in vain.

What can surprise you: CMD starts only after ``run`` has been elected, which on a fresh election
is immediate but behind a live leader takes up to a lease after that leader dies. The grace
period is checked against the election's lease when ``run`` starts; changing the lease later
does not re-check it.
"""

from __future__ import annotations

import os
import select
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

import click

from fdb_election.cli.child import ChildProcess, Guard, StartRefused, resolve_command
from fdb_election.cli.context import CliContext, common_options, database_errors, pass_cli, transact
from fdb_election.cli.exit_codes import ExitCode, signal_exit_code
from fdb_election.cli.grace import GracePolicy, GraceTooLong
from fdb_election.cli.guard import MonotonicTimer
from fdb_election.cli.http_option import Address, http_option, serve_for_command
from fdb_election.cli.output import error_text, format_seconds
from fdb_election.cli.priority import lower_own_priority
from fdb_election.runtime.clock import host_monotonic
from fdb_election.runtime.events import Release

__all__ = ["Supervisor", "SupervisorAlarm", "departure_message", "run"]

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_MIN_PAUSE_S = 0.001
#: FoundationDB's ``io_error``: the embedded file store cannot write its file (full disk, I/O
#: error). Retrying cannot help until someone fixes the disk.
_IO_ERROR = 1510
_UNWRITABLE_STOP_S = 0.5


def _say(message: str) -> None:
    """Progress goes to stderr so that CMD's stdout stays its own."""
    click.echo(f"fdb-election run: {message}", err=True)


def _signal_name(signum: int) -> str:
    """``SIGTERM`` for 15 (the number itself for one Python does not name)."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class SupervisorAlarm:
    """Wakes the supervisor's loop at its SIGTERM time, so that the loop need not wake at every
    lease refresh.

    A timeout on the loop's ``wake.wait`` is fixed when the loop goes to sleep: each refresh
    moves the SIGTERM time later, and the loop wakes at the old one only to sleep again. The
    alarm is a :class:`~fdb_election.cli.guard.MonotonicTimer` that the elector's thread re-arms
    at every deadline change (which wakes nobody), and a thread that sleeps on it and sets
    ``wake`` only when it fires. Linux only: :meth:`create` returns None elsewhere.
    """

    def __init__(self, timer: MonotonicTimer, wake: threading.Event) -> None:
        self._timer = timer
        self._wake = wake
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="fdb-election-alarm", daemon=True)
        self._thread.start()

    @classmethod
    def create(cls, wake: threading.Event) -> SupervisorAlarm | None:
        """An alarm that sets ``wake``, or None where there is no ``timerfd``."""
        timer = MonotonicTimer.create()
        return None if timer is None else cls(timer, wake)

    def arm(self, when: float) -> None:
        """Set ``wake`` at ``when`` (:func:`host_monotonic` seconds; a past time: at once)."""
        self._timer.arm(when)

    def disarm(self) -> None:
        """Set ``wake`` at no time until armed again."""
        self._timer.disarm()

    def fires_at(self) -> float | None:
        """When the alarm goes off, or None when it has since it was last armed (or its thread
        is gone, so that it would wake nobody)."""
        return self._timer.fires_at() if self._thread.is_alive() else None

    def fires_by(self, when: float) -> bool:
        """Whether the alarm goes off no later than ``when`` (and its thread is there to wake
        the loop)."""
        return self._thread.is_alive() and self._timer.fires_by(when)

    def close(self) -> None:
        """Stop the alarm's thread."""
        os.write(self._stop_w, b"x")
        self._thread.join(5)

    def _run(self) -> None:
        poller = select.poll()  # not select(): descriptors above 1023 are fine
        poller.register(self._timer.fd, select.POLLIN)
        poller.register(self._stop_r, select.POLLIN)
        try:
            while True:
                ready = {fd for fd, _events in poller.poll()}
                if self._stop_r in ready:
                    return
                self._timer.drain()
                self._wake.set()
        finally:
            for fd in (self._timer.fd, self._stop_r, self._stop_w):
                os.close(fd)


class Supervisor:
    """Starts CMD while the elector leads and stops it in time; the loop of ``run``.

    ``elector`` needs ``is_leader``, ``ballot``, ``process_id`` and the local deadline
    (``deadline`` or ``core.deadline``: monotonic seconds, None when not leading). ``wake`` is
    set by the elector's callbacks, :meth:`stepped`, CMD's exit and stop signals, so the loop
    sleeps until something happens or until the moment CMD must be stopped.
    ``launch(argv, env, on_exit=)`` starts CMD (:meth:`Guard.start`; tests pass a stand-in).
    ``alarm`` (with the default ``clock`` only) wakes the loop at its SIGTERM time instead of a
    timeout that each refresh would outdate: :meth:`deadline_changed` re-arms it.
    ``wind_down()`` is called once, on the elector's thread, when the elector has stopped and
    CMD is gone: ``run`` only ends from then on (it lowers its CPU priority).
    The guard stops CMD by the deadline on its own; the loop's own timing is the second line,
    and a CMD the guard stopped for the deadline is treated like one the loop stopped at risk.

    CMD is started only while leadership is not at risk (``clock() < policy.stop_at(deadline)``):
    once it has been stopped for a deadline, it stays stopped until a refresh moves the deadline
    far enough ahead or a new tenure begins, instead of being started and stopped again and
    again until the deadline passes.
    """

    def __init__(
        self,
        elector: Any,
        policy: GracePolicy,
        argv: Sequence[str],
        env: dict[str, str],
        *,
        wake: threading.Event,
        launch: Callable[..., ChildProcess],
        clock: Callable[[], float] = host_monotonic,
        say: Callable[[str], None] = _say,
        alarm: SupervisorAlarm | None = None,
        wind_down: Callable[[], object] | None = None,
    ) -> None:
        self.elector = elector
        self.alarm = alarm
        self.wind_down = wind_down
        self._wound_down = False
        self.policy = policy
        self.argv = list(argv)
        self.env = env
        self.wake = wake
        self.clock = clock
        self.say = say
        self.launch = launch
        self.stop_signal: int | None = None
        self._finished = False  # the loop has decided to return: CMD starts no more
        self.child: ChildProcess | None = None
        self._last_deadline: float | None = None
        self._started_ballot: int | None = None  # the ballot CMD was last started with
        # The at-risk deadline CMD is being held back for (said once), None when not holding.
        self._held_for: float | None = None
        # Held while CMD is started or stopped: a release (elector thread) that finds no CMD
        # can then be sure none is being started, and waits for a stop in progress to finish.
        self._child_lock = threading.Lock()
        # The last 1510 seen from the elector, with the elector's last success at that time.
        self._io_error: tuple[BaseException, float | None] | None = None
        self._stepped_error: BaseException | None = None  # last_error as :meth:`stepped` saw it
        #: The error that made :meth:`loop` give up (a database that cannot be written).
        self.database_failure: BaseException | None = None

    def request_stop(self, signum: int) -> None:
        """Ask the loop to stop CMD, hand over or resign, and return (from a signal handler).

        The first signal decides the exit code (128+N) and is the one named: an impatient
        second one (Ctrl-C after SIGTERM) changes neither."""
        if self.stop_signal is None:
            self.stop_signal = signum
        self.wake.set()

    def _deadline(self) -> float | None:
        # The thread Elector exposes its decision core, which holds the monotonic deadline.
        source = getattr(self.elector, "core", self.elector)
        deadline: float | None = source.deadline
        return deadline

    def loop(self) -> int:
        """Run until CMD exits or a stop signal arrives; return ``run``'s exit code."""
        while True:
            self.wake.clear()
            signum = self.stop_signal
            if signum is not None:
                self._finished = True
                why = f"{_signal_name(signum)} received"
                if self.child is None or self.child.exited.is_set():
                    self.say(f"{why}: leaving the election")
                self.stop_child(why)
                return signal_exit_code(signum)
            failure = getattr(self.elector, "failure", None)
            if failure is not None:
                self._finished = True
                self.stop_child("the elector stopped")
                self.say(f"{failure}")
                return int(ExitCode.FAILURE)
            unwritable = self._unwritable_database()
            if unwritable is not None:
                self.database_failure = unwritable
                self._finished = True
                self.stop_child("the database cannot be written")
                self.say(f"the database cannot be written: {error_text(unwritable)}")
                return int(ExitCode.FAILURE)
            child = self.child
            if child is None:
                if self.elector.is_leader:
                    pause = self._start_child()
                    if pause > 0:
                        self.wake.wait(pause)
                    continue
                if self._held_for is not None:
                    self._held_for = None
                    self.say("leadership lost while CMD was stopped; campaigning again")
                # Until an event: an election, a stop signal, or :meth:`stepped` (a failure).
                self.wake.wait()
                continue
            if child.exited.is_set():
                self.child = None
                code = child.exit_code
                if getattr(child, "reason", "exited") == "exited":
                    self._finished = True
                    self.say(f"CMD (pid {child.pid}) exited with code {code}; stepping down")
                    return code
                why = (
                    "no lease refresh moved the deadline in time"
                    if child.reason == "deadline"
                    else "leadership ended"
                )
                self.say(f"the guard stopped CMD (pid {child.pid}, exit code {code}): {why}")
                deadline = self._deadline() if self.elector.is_leader else None
                if deadline is not None:
                    self._held_for = deadline
                continue
            deadline = self._deadline() if self.elector.is_leader else None
            if deadline is None:
                self.stop_child(self._ended())
                continue
            self._last_deadline = deadline
            stop_at = self.policy.stop_at(deadline)
            now = self.clock()
            if now >= stop_at:
                self.stop_child("leadership at risk: no lease refresh committed in time")
                continue
            if self._alarm_covers(stop_at):
                self.wake.wait()  # until an event, or the alarm at the SIGTERM time
            else:
                self.wake.wait(stop_at - now)

    def _ended(self) -> str:
        """Why CMD stops once leadership ended: the words of :meth:`release`, which races this
        loop to stop CMD after a voluntary end, so that either says the same."""
        core = getattr(self.elector, "core", self.elector)
        reason = getattr(core, "last_demotion_reason", None)
        deadline = getattr(core, "deadline", None)
        if reason is None and deadline is not None and self.clock() >= deadline:
            reason = "lease deadline passed without a committed refresh"  # no step noted it yet
        return "leadership ended" if reason is None else f"leadership ended ({reason})"

    def _alarm_covers(self, stop_at: float) -> bool:
        """Whether the alarm goes off no later than ``stop_at``: the loop may then wait for
        events alone. Refreshes re-arm it later; one set later than the loop's own reckoning
        (a refresh since the loop looked) leaves the loop to its timeout, once."""
        return self.alarm is not None and self.alarm.fires_by(stop_at)

    def stepped(self) -> None:
        """After each elector step (on the elector's thread): wake the loop for what sends no
        event, the elector stopping on its own or a step that could not write the database;
        wind down once the elector has stopped and CMD is gone."""
        core = getattr(self.elector, "core", self.elector)
        if self.wind_down is not None and not self._wound_down and self._only_ending(core):
            self._wound_down = True
            self.wind_down()
        error = getattr(core, "last_error", None)
        new_error, self._stepped_error = error is not self._stepped_error, error
        if getattr(self.elector, "failure", None) is not None or (
            new_error and getattr(error, "code", None) == _IO_ERROR
        ):
            self.wake.set()

    def _only_ending(self, core: Any) -> bool:
        """Whether the elector has stopped (handed over, resigned or given up) and no CMD runs:
        nothing this process does from then on is urgent."""
        child = self.child
        stopped = getattr(getattr(core, "phase", None), "name", None) == "STOPPED"
        return stopped and (child is None or child.exited.is_set())

    def _unwritable_database(self) -> BaseException | None:
        """The elector's 1510 error once two different steps failed with it and none succeeded
        in between (a disk that was full for a moment and then freed does not count)."""
        core = getattr(self.elector, "core", self.elector)
        error: BaseException | None = getattr(core, "last_error", None)
        if error is None or getattr(error, "code", None) != _IO_ERROR:
            self._io_error = None
            return None
        success: float | None = getattr(core, "last_success", None)
        seen, self._io_error = self._io_error, (error, success)
        if seen is not None and seen[0] is not error and seen[1] == success:
            return error
        return None

    def command_env(self, ballot: int | None = None) -> dict[str, str]:
        """CMD's environment: ``run``'s, the election's variables, and ``FDB_ELECTION_BALLOT``
        when ``ballot`` is given (the one variable that differs from one start to the next;
        without it, none: not even one ``run`` inherited, as the CMD of another ``run``)."""
        env = dict(self.env)
        env.pop("FDB_ELECTION_BALLOT", None)
        if ballot is not None:
            env["FDB_ELECTION_BALLOT"] = str(ballot)
        env["FDB_ELECTION_PROCESS_ID"] = self.elector.process_id
        return env

    def _start_child(self) -> float:
        """Start CMD unless leadership is at risk; return how long to wait before looking again.

        At risk (past ``stop_at`` of the current deadline) CMD would have to be stopped at once,
        so it is held back instead (see :meth:`_hold`).
        """
        with self._child_lock:
            if self.child is not None or self.stop_signal is not None or self._finished:
                return 0.0  # running already, or run is ending
            ballot = self.elector.ballot
            deadline = self._deadline()
            if ballot is None or deadline is None or not self.elector.is_leader:
                return 0.0  # leadership ended (perhaps released) since the loop looked
            now = self.clock()
            if now >= self.policy.stop_at(deadline):
                return self._hold(deadline, now)
            env = self.command_env(ballot)
            self._last_deadline = deadline
            try:
                child = self.launch(self.argv, env, on_exit=self.wake.set)
            except StartRefused:
                return self._hold(deadline, now)  # the guard saw the deadline move first
            self._held_for = None
            self.child = child
            again = ballot == self._started_ballot
            self._started_ballot = ballot
        # The same ballot again: the guard stopped CMD for the deadline and a refresh then
        # committed after all; the tenure, and so the fencing token, went on.
        what = "leadership out of risk again" if again else "elected"
        self.say(f"{what} (ballot {ballot}); started CMD (pid {child.pid})")
        return 0.0

    def _hold(self, deadline: float, now: float) -> float:
        """Keep CMD stopped for the at-risk ``deadline``; the pause until the loop looks again.

        A refresh that commits after all moves the deadline out of risk: :meth:`deadline_changed`
        wakes the loop then; otherwise it looks again at the deadline, when leadership ends.
        """
        if self._held_for != deadline:
            self._held_for = deadline
            self.say(
                f"leadership at risk (deadline in {format_seconds(max(0.0, deadline - now))}): "
                "CMD stays stopped until a refresh commits in time or a new tenure begins"
            )
        return max(deadline - now, _MIN_PAUSE_S)

    def deadline_changed(self, deadline: float | None) -> None:
        """The elector's deadline moved (on its own thread, as it happens).

        A new tenure starts CMD right here, without waiting for the elected callback to wake
        the loop (a handover is that much faster); a refresh wakes the loop only while CMD is
        held back at risk; the end of leadership wakes it at once (not through the alarm's
        thread, which would take the interpreter from a release step in progress).
        """
        if deadline is not None:
            # The bound of a stop once leadership has ended: the loop, asleep until its alarm,
            # may not have looked at the deadline since the tenure began.
            self._last_deadline = deadline
        if self.alarm is not None:
            try:
                if deadline is None:
                    self.alarm.disarm()  # the loop is woken below, without the alarm's thread
                else:
                    self.alarm.arm(self.policy.stop_at(deadline))
            except OSError:  # cannot happen with a valid timer; fall back to timeouts
                self.alarm = None
                self.wake.set()
        if deadline is None:
            self.wake.set()  # leadership ended: CMD, if it runs, must stop now
        elif self.child is None and self._held_for is None:
            self._start_child()
            self.wake.set()
        elif self._held_for is not None:
            self.wake.set()

    def release(self, release: Release) -> None:
        """The elector's ``before_release`` hook: return only once CMD is dead.

        Runs on the elector's thread after local leadership has ended and before the hand-over
        or resignation commits, so no other host's CMD can start until this returns. SIGKILL
        comes at the policy's time before ``release.deadline``, after which the old lease no
        longer keeps the others out anyway.
        """
        self.stop_child(f"leadership ended ({release.reason})", deadline=release.deadline)
        self.wake.set()

    def stop_child(self, why: str, *, deadline: float | None = None) -> None:
        """Stop CMD if it runs: SIGTERM now, SIGKILL by the policy's time; wait until reaped.

        ``deadline`` is the leadership deadline to stop by (default: the elector's current one,
        or the last one seen when it no longer leads).
        """
        with self._child_lock:
            self._stop_child(why, deadline)

    def _stop_child(self, why: str, deadline: float | None) -> None:
        child, self.child = self.child, None
        if child is None or child.exited.is_set():
            return
        now = self.clock()
        if deadline is None:
            deadline = self._deadline() if self.elector.is_leader else self._last_deadline
        kill_at = self.policy.kill_at(deadline, now)
        self.say(
            f"{why}: stopping CMD (pid {child.pid}): SIGTERM, SIGKILL in "
            f"{format_seconds(max(0.0, kill_at - now))} if still running"
        )
        code = child.stop(kill_at, clock=self.clock)
        self.say(f"CMD (pid {child.pid}) stopped (exit code {code})")


def departure_message(elector: Any, stopped: bool, timeout: float) -> str:
    """What ``run`` says last: how it left the election (``stopped``: what ``stop`` returned),
    or, when the stop did not commit within ``timeout`` seconds, what happens without it."""
    departure = elector.departure
    if not stopped:
        error = elector.core.last_error
        why = "no answer from the database" if error is None else f"last error: {error_text(error)}"
        return (
            f"could not leave the election within {format_seconds(timeout)} ({why}): its "
            "registration stays until the leader evicts it, and leadership, if this process "
            f"held it, passes on once its lease ({format_seconds(elector.core.lease)}) runs out"
        )
    if departure is None:
        return "left the election"
    if departure.successor is not None:
        successor = departure.successor
        return (
            f"handed leadership over to {successor.leader_id!r} (ballot {successor.ballot}) "
            "and left the election"
        )
    if departure.resigned:
        config = elector.core.config
        why = (
            "elections are disabled"
            if config is not None and not config.election_enabled
            else "no other candidate is heartbeating"
        )
        return f"resigned leadership ({why}) and left the election"
    return "left the election"


@contextmanager
def _stop_signals(handler: Callable[[int], None]) -> Iterator[None]:
    """Route SIGINT/SIGTERM/SIGHUP to ``handler`` while inside (main thread only)."""

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        handler(signum)

    previous = {signum: signal.signal(signum, on_signal) for signum in _STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _election_timing(cli: CliContext) -> tuple[float, float]:
    """The election's (lease, heartbeat) in seconds, initializing it with defaults if needed."""
    from fdb_election.election import ElectionConfig, NotInitialized

    election = cli.election()

    def body(tr: Any) -> Any:
        try:
            return election.read_config(tr)
        except NotInitialized:
            config = ElectionConfig()
            election.initialize_with_config(tr, config)
            return config

    with database_errors(cli):
        config = transact(cli.database(), body)
    return config.lease_duration.total_seconds(), config.heartbeat_interval.total_seconds()


# Everything from CMD on is CMD's, options included (``run printf a --id x``).
@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@common_options
@click.option(
    "--id",
    "process_id",
    metavar="ID",
    default=None,
    help="Candidate id (default: host-pid-random).",
)
@click.option(
    "--priority",
    type=click.IntRange(-(2**31), 2**31 - 1),
    default=0,
    show_default=True,
    help="Higher is preferred; may preempt a lower-priority leader if the election allows it.",
)
@click.option(
    "--grace",
    type=click.FloatRange(min=0.0),
    default=None,
    help="Seconds between SIGTERM and SIGKILL (default: 5, at most what the lease allows).",
)
@http_option
@click.argument("cmd", nargs=-1, required=True, type=click.UNPROCESSED)
@pass_cli
def run(
    cli: CliContext,
    process_id: str | None,
    priority: int,
    grace: float | None,
    http: Address | None,
    cmd: tuple[str, ...],
) -> None:
    """Run CMD while this process leads the election: fdb-election run [OPTIONS] -- CMD [ARGS]."""
    from fdb_election.runtime import Elector

    if process_id is not None and not process_id:
        raise click.BadParameter("the process id must not be empty", param_hint="'--id'")
    resolve_command(cmd[0], os.environ.get("PATH", os.defpath))
    lease, heartbeat = _election_timing(cli)
    try:
        policy = GracePolicy.for_election(lease=lease, heartbeat=heartbeat, requested=grace)
    except GraceTooLong as exc:
        raise click.BadParameter(str(exc), param_hint="'--grace'") from exc

    wake = threading.Event()
    env = dict(os.environ)
    env["FDB_ELECTION_NAME"] = cli.election_name
    env["FDB_ELECTION_DB"] = cli.resolved_url()
    supervisor: Supervisor | None = None

    def before_release(release: Release) -> None:
        if supervisor is not None:
            supervisor.release(release)

    kwargs: dict[str, Any] = {
        "priority": priority,
        "on_elected": lambda *_: wake.set(),
        "on_demoted": lambda *_: wake.set(),
        "before_release": before_release,
    }
    if process_id is not None:
        kwargs["process_id"] = process_id
    with database_errors(cli):
        try:
            elector = Elector(cli.database(), cli.election_name, **kwargs)
        except ValueError as exc:  # the only argument not checked by click yet is --id
            raise click.BadParameter(str(exc), param_hint="'--id'") from exc
    serve_for_command(elector, http)
    guard = Guard.spawn(policy)
    alarm = SupervisorAlarm.create(wake)
    supervisor = Supervisor(
        elector,
        policy,
        cmd,
        env,
        wake=wake,
        launch=guard.start,
        alarm=alarm,
        # On a shared host the successor starts its CMD as this hand-over commits; this
        # process's own teardown then waits for it rather than the other way round.
        wind_down=lower_own_priority,
    )
    guard.prepare(supervisor.argv, supervisor.command_env())  # before the first election
    watched = supervisor

    def deadline_changed(deadline: float | None) -> None:
        # From the elector's own thread, as it happens: the guard first, then the loop.
        guard.set_deadline(deadline)
        watched.deadline_changed(deadline)

    elector.core.set_deadline_listener(deadline_changed)
    _say(  # which database, and why: runs that open different files elect apart
        f"campaigning in election {cli.election_name!r} as {elector.process_id!r} on "
        f"{cli.database_source()}; lease {format_seconds(lease)}, "
        f"grace {format_seconds(policy.grace)}"
    )
    code = 0
    with _stop_signals(supervisor.request_stop):
        elector.start(on_step=supervisor.stepped)
        try:
            code = supervisor.loop()
        finally:
            supervisor.stop_child("stopping")
            # Handing over or resigning needs a write: with a database that cannot be written, do
            # not wait long.
            timeout = _UNWRITABLE_STOP_S if supervisor.database_failure is not None else 5.0
            stopped = elector.stop(timeout)
            guard.close()
            if alarm is not None:
                alarm.close()
            _say(departure_message(elector, stopped, timeout))
    click.get_current_context().exit(code)
