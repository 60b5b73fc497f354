"""What happened in one simulated run, in the order it happened.

The simulator appends events; the checker (``checker.py``) reads them. Two independent sources
are recorded so that they can be checked against each other:

* the **database timeline**: after every commit, the election's stored state as read back from the
  store (:class:`Commit`), together with the election operations that transaction ran
  (:class:`OpCall`) and what its caller was told (``reported``: ``None`` or an error code such as
  1021 for a commit that succeeded but was reported unknown);
* the **processes' view**: every change of an elector's ``is_leader`` sampled after every event
  (:class:`LeadershipChange`), the protected resource's writes (:class:`ResourceWrite`) and the
  faults injected (:class:`Fault`).

What each host could do is recorded too, for the liveness invariants: when its elector started,
was asked to stop, stopped or crashed (:class:`ProcessState`), and when it was frozen, paused or
stalled inside a transaction (:class:`Frozen`).

Times are virtual seconds (the simulation's true time, no process's clock).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "CandidateRecord",
    "CmdChange",
    "Commit",
    "ConfigRecord",
    "Fault",
    "Frozen",
    "History",
    "LeaderRecord",
    "LeadershipChange",
    "Note",
    "OpCall",
    "ProcessState",
    "ResourceRecord",
    "ResourceWrite",
    "Snapshot",
    "snapshot_difference",
]


@dataclass(frozen=True, slots=True)
class LeaderRecord:
    """The stored leader value; ``stamp_version`` is the commit version inside its versionstamp
    (the leader's candidate registration: which run of ``leader_id`` holds it)."""

    ballot: int
    leader_id: str
    priority: int
    lease_expiry_ns: int
    stamp_version: int = 0


@dataclass(frozen=True, slots=True)
class CandidateRecord:
    """A stored candidate; ``stamp_version`` is the commit version inside its versionstamp."""

    process_id: str
    priority: int
    last_heartbeat_ns: int
    stamp_version: int


@dataclass(frozen=True, slots=True)
class ConfigRecord:
    """The stored election configuration, in nanoseconds."""

    lease_ns: int
    heartbeat_ns: int
    candidate_timeout_ns: int
    election_enabled: bool
    allow_preemption: bool


@dataclass(frozen=True, slots=True)
class ResourceRecord:
    """The protected resource: the last accepted fencing token, its writer (process id, and the
    registration its token came from as a stamp version), and a write count."""

    token: int
    writer: str
    writes: int
    writer_stamp: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the election (and the protected resource) keeps in the store, at one version.

    ``mark`` is the ballot high-water mark, ``seen`` the highest ballot read in the leader key
    (``ballot_seen``)."""

    config: ConfigRecord | None
    leader: LeaderRecord | None
    mark: int | None
    candidates: tuple[CandidateRecord, ...]
    resource: ResourceRecord | None = None
    seen: int | None = None

    def candidate(self, process_id: str) -> CandidateRecord | None:
        """The stored candidate ``process_id``, if registered."""
        for c in self.candidates:
            if c.process_id == process_id:
                return c
        return None


@dataclass(frozen=True, slots=True)
class OpCall:
    """One election operation run inside a transaction, with its arguments and result.

    ``now_ns`` is the ``current_time`` argument (wall clock of the caller) when the operation
    takes one; ``result`` is a short text of what it returned or raised; ``stamp`` the commit
    version of the registration versionstamp the call named (``registration=`` or
    ``versionstamp=``), if it named one; ``ballot`` the ballot argument, when the call takes one;
    ``new_tenure`` whether a refresh started a new tenure; ``successor`` the candidate a
    hand-over named.
    """

    name: str
    process_id: str | None = None
    priority: int | None = None
    now_ns: int | None = None
    config: ConfigRecord | None = None
    result: str = ""
    limit: int | None = None
    stamp: int | None = None
    ballot: int | None = None
    new_tenure: bool = False
    successor: str | None = None


@dataclass(frozen=True, slots=True)
class Commit:
    """A transaction that committed, and the stored state right after it."""

    time: float
    version: int
    process: str | None
    ops: tuple[OpCall, ...]
    after: Snapshot
    reported: int | None = None
    wall_at_start: float | None = None


@dataclass(frozen=True, slots=True)
class LeadershipChange:
    """Host ``process`` started (``is_leader``) or stopped reporting ``is_leader``.

    ``process_id`` is the elector's process id when it differs from the host's name (two hosts
    running one id)."""

    time: float
    process: str
    is_leader: bool
    ballot: int | None = None
    process_id: str | None = None

    @property
    def elector_id(self) -> str:
        """The process id the elector ran with."""
        return self.process_id or self.process


@dataclass(frozen=True, slots=True)
class CmdChange:
    """Host ``process``'s CMD (what ``run`` keeps on one host) started or ended.

    ``cause`` says who ended it: ``supervisor`` (run), ``guard`` (its deadline), ``crash`` (run
    died and the guard stopped it), or ``stopped`` (run stopping)."""

    time: float
    process: str
    running: bool
    cause: str = ""


@dataclass(frozen=True, slots=True)
class ResourceWrite:
    """A fenced write to the protected resource; ``accepted`` when its transaction committed."""

    time: float
    process: str
    token: int
    accepted: bool
    version: int | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault injected at ``time`` and lasting until ``until`` (== ``time`` when instantaneous)."""

    time: float
    kind: str
    process: str | None
    until: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ProcessState:
    """Host ``process``'s elector (process id ``process_id``) changed: ``start`` (a new elector
    begins), ``stopping`` (asked to stop gracefully, or giving its id up to another registration),
    ``stopped`` (it stopped on its own) or ``crash`` (killed)."""

    time: float
    process: str
    state: str
    process_id: str


@dataclass(frozen=True, slots=True)
class Frozen:
    """Host ``process`` can do nothing from ``time`` until ``until``: ``pause`` (the whole process
    is frozen; a crash ends it) or ``stall`` (a transaction in flight is frozen; its commit may
    still land at ``until``, crash or not, and the host's next elector waits for it)."""

    time: float
    process: str
    until: float
    why: str


@dataclass(frozen=True, slots=True)
class Note:
    """Free text for the trace (a step's outcome, an error a process saw)."""

    time: float
    process: str | None
    text: str


Event = Commit | LeadershipChange | CmdChange | ResourceWrite | Fault | ProcessState | Frozen | Note


@dataclass(slots=True)
class History:
    """The events of one run plus what the checker needs to know about the run's parameters.

    ``liveness_bound`` is how long the election may stay leaderless after the last fault (a
    lease of the largest configuration on a slow clock, plus two heartbeats and jitter; 0 leaves
    every liveness invariant unchecked); ``drift_bound`` the largest monotonic rate error of any
    host and ``jitter`` the electors' heartbeat jitter (the invariants judged throughout the run
    bound each wait with these and the timings the stored configuration had then); ``final`` is
    the stored state read after the run.
    """

    seed: int
    processes: tuple[str, ...]
    end_time: float = 0.0
    liveness_bound: float = 0.0
    drift_bound: float = 0.0
    jitter: float = 0.0
    events: list[Event] = field(default_factory=list)
    final: Snapshot | None = None

    def record(self, event: Event) -> None:
        """Append one event (events must be appended in time order)."""
        self.events.append(event)

    def of_type(self, kind: type[Event]) -> Iterator[Event]:
        """The events of one class, in order."""
        return (e for e in self.events if isinstance(e, kind))

    def commits(self) -> list[Commit]:
        """The database timeline."""
        return [e for e in self.events if isinstance(e, Commit)]

    def faults(self) -> list[Fault]:
        """The faults injected, in order."""
        return [e for e in self.events if isinstance(e, Fault)]

    def last_fault_end(self) -> float:
        """When the last fault was over (0.0 for a run without faults)."""
        return max((f.until for f in self.faults()), default=0.0)

    def trace(self, last: int = 40, before: float | None = None) -> list[str]:
        """Readable lines for the last ``last`` events (up to time ``before`` when given)."""
        events = [e for e in self.events if before is None or e.time <= before]
        return [describe(e) for e in events[-last:]]


def _leader_text(leader: LeaderRecord | None) -> str:
    if leader is None:
        return "no leader"
    return f"leader={leader.leader_id} ballot={leader.ballot} expiry_ns={leader.lease_expiry_ns}"


def describe(event: Event) -> str:
    """One line of trace for ``event``."""
    t = f"{event.time:12.6f}s"
    if isinstance(event, Commit):
        ops = ", ".join(
            f"{o.name}({o.process_id or ''}){'=' + o.result if o.result else ''}" for o in event.ops
        )
        reported = f" reported {event.reported}" if event.reported is not None else ""
        return (
            f"{t} commit v{event.version} by {event.process or '-'}{reported}: [{ops}] -> "
            f"{_leader_text(event.after.leader)} mark={event.after.mark}"
            f"{'' if event.after.seen is None else f' seen={event.after.seen}'}"
        )
    if isinstance(event, LeadershipChange):
        state = "LEADS" if event.is_leader else "stops leading"
        as_id = f" as {event.process_id}" if event.process_id else ""
        return f"{t} {event.process}{as_id} {state} (ballot {event.ballot})"
    if isinstance(event, CmdChange):
        state = "CMD starts" if event.running else f"CMD ends ({event.cause})"
        return f"{t} {event.process} {state}"
    if isinstance(event, ResourceWrite):
        verdict = "accepted" if event.accepted else f"rejected {event.error}"
        return f"{t} {event.process} fenced write token={event.token} {verdict}"
    if isinstance(event, Fault):
        span = f" until {event.until:.6f}s" if event.until > event.time else ""
        who = f" {event.process}" if event.process else ""
        return f"{t} FAULT {event.kind}{who}{span} {event.detail}".rstrip()
    if isinstance(event, ProcessState):
        return f"{t} {event.process} elector {event.state} (as {event.process_id})"
    if isinstance(event, Frozen):
        return f"{t} {event.process} frozen ({event.why}) until {event.until:.6f}s"
    return f"{t} {event.process or '-'}: {event.text}"


def snapshot_difference(expected: Snapshot, actual: Snapshot) -> str | None:
    """A readable description of how two stored states differ, or None when they are equal."""
    parts = []
    for name in ("config", "leader", "mark", "seen", "candidates", "resource"):
        a, b = getattr(expected, name), getattr(actual, name)
        if a != b:
            parts.append(f"{name}: expected {a}, stored {b}")
    return "; ".join(parts) or None
