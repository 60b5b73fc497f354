"""The seed's value types: configuration, leader state, candidate info, election result.

All are frozen, slotted dataclasses. Durations and instants are kept as integer nanoseconds, as
the durable layout stores them, so a configuration written by Rust (say a heartbeat of
1,666,666,666 ns) reads and writes back byte for byte; ``timedelta`` views are offered for
convenience (``timedelta`` only resolves microseconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

from fdb_election.election.times import TimeLike, nanos_to_timedelta, to_nanos
from fdb_election.election.validation import check_bool, check_priority, check_u64

__all__ = [
    "VERSIONSTAMP_BYTES",
    "CandidateInfo",
    "ElectionConfig",
    "ElectionResult",
    "Follower",
    "Leader",
    "LeaderState",
]

#: Length of a tuple-layer versionstamp: 10 bytes of transaction version + 2 of user version.
VERSIONSTAMP_BYTES = 12

_DEFAULT_LEASE_NS = 10_000_000_000
_DEFAULT_HEARTBEAT_NS = 3_000_000_000
_DEFAULT_CANDIDATE_TIMEOUT_NS = 15_000_000_000


def _check_versionstamp(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"versionstamp must be bytes, got {type(value).__name__}")
    if len(value) != VERSIONSTAMP_BYTES:
        raise ValueError(
            f"versionstamp must be exactly {VERSIONSTAMP_BYTES} bytes, got {len(value)}"
        )
    return value


@dataclass(frozen=True, slots=True, init=False)
class ElectionConfig:
    """Parameters shared by every participant of one election (stored under ``("config",)``).

    Example::

        config = ElectionConfig(lease_duration=5, heartbeat_interval=timedelta(seconds=1))
        config = ElectionConfig.with_lease_duration(timedelta(seconds=5))

    Durations are a ``timedelta`` or a number of seconds; they must be greater than zero and the
    heartbeat interval below the lease. Exact nanosecond values are in the ``*_ns`` fields (also
    accepted as keyword arguments, so ``dataclasses.replace`` works with those names); the
    ``timedelta`` properties are truncated to microseconds.
    """

    lease_duration_ns: int
    heartbeat_interval_ns: int
    candidate_timeout_ns: int
    election_enabled: bool
    allow_preemption: bool

    DEFAULT_LEASE_DURATION: ClassVar[timedelta] = timedelta(seconds=10)
    DEFAULT_HEARTBEAT_INTERVAL: ClassVar[timedelta] = timedelta(seconds=3)
    DEFAULT_CANDIDATE_TIMEOUT: ClassVar[timedelta] = timedelta(seconds=15)

    def __init__(
        self,
        lease_duration: TimeLike | None = None,
        heartbeat_interval: TimeLike | None = None,
        candidate_timeout: TimeLike | None = None,
        election_enabled: bool = True,
        allow_preemption: bool = True,
        *,
        lease_duration_ns: int | None = None,
        heartbeat_interval_ns: int | None = None,
        candidate_timeout_ns: int | None = None,
    ) -> None:
        lease = _duration_ns("lease_duration", lease_duration, lease_duration_ns, _DEFAULT_LEASE_NS)
        heartbeat = _duration_ns(
            "heartbeat_interval", heartbeat_interval, heartbeat_interval_ns, _DEFAULT_HEARTBEAT_NS
        )
        timeout = _duration_ns(
            "candidate_timeout",
            candidate_timeout,
            candidate_timeout_ns,
            _DEFAULT_CANDIDATE_TIMEOUT_NS,
        )
        if heartbeat >= lease:
            raise ValueError(
                f"heartbeat_interval ({heartbeat} ns) must be below lease_duration ({lease} ns), "
                "so the leader can refresh before its lease expires"
            )
        object.__setattr__(self, "lease_duration_ns", lease)
        object.__setattr__(self, "heartbeat_interval_ns", heartbeat)
        object.__setattr__(self, "candidate_timeout_ns", timeout)
        object.__setattr__(
            self, "election_enabled", check_bool(election_enabled, "election_enabled")
        )
        object.__setattr__(
            self, "allow_preemption", check_bool(allow_preemption, "allow_preemption")
        )

    @classmethod
    def with_lease_duration(cls, lease_duration: TimeLike) -> ElectionConfig:
        """A configuration derived from one lease: heartbeat ``d/3``, candidate timeout ``1.5·d``.

        Both are computed in whole nanoseconds with truncating division, exactly like the seed
        (``Duration / 3`` and ``d + d / 2``), so a 5 s lease gives a 1,666,666,666 ns heartbeat.
        """
        lease = to_nanos(lease_duration, "lease_duration", positive=True)
        return cls(
            lease_duration_ns=lease,
            heartbeat_interval_ns=lease // 3,
            candidate_timeout_ns=lease + lease // 2,
        )

    @property
    def lease_duration(self) -> timedelta:
        """How long a claim or refresh keeps leadership without another refresh."""
        return nanos_to_timedelta(self.lease_duration_ns)

    @property
    def heartbeat_interval(self) -> timedelta:
        """How often candidates should run an election cycle."""
        return nanos_to_timedelta(self.heartbeat_interval_ns)

    @property
    def candidate_timeout(self) -> timedelta:
        """How long after its last heartbeat a candidate counts as dead."""
        return nanos_to_timedelta(self.candidate_timeout_ns)


def _duration_ns(name: str, value: TimeLike | None, nanos: int | None, default: int) -> int:
    if value is not None and nanos is not None:
        raise TypeError(f"give {name} or {name}_ns, not both")
    if nanos is not None:
        check_u64(nanos, f"{name}_ns")
        if nanos == 0:
            raise ValueError(f"{name}_ns must be greater than zero, got 0")
        return nanos
    if value is None:
        return default
    return to_nanos(value, name, positive=True)


@dataclass(frozen=True, slots=True)
class LeaderState:
    """The current leader, as stored under ``("leader",)``.

    ``ballot`` grows by one on every claim and every refresh (the seed's rule); use it as a
    fencing token. ``versionstamp`` is the leader's candidate registration stamp (12 bytes).
    """

    ballot: int
    leader_id: str
    priority: int
    lease_expiry_nanos: int
    versionstamp: bytes

    def __post_init__(self) -> None:
        check_u64(self.ballot, "ballot")
        if not isinstance(self.leader_id, str):
            raise TypeError(f"leader_id must be a str, got {type(self.leader_id).__name__}")
        check_priority(self.priority)
        check_u64(self.lease_expiry_nanos, "lease_expiry_nanos")
        _check_versionstamp(self.versionstamp)

    def is_lease_valid(self, current_time: TimeLike) -> bool:
        """Whether the lease still runs at ``current_time`` (time since the Unix epoch)."""
        return to_nanos(current_time, "current_time") < self.lease_expiry_nanos

    def remaining_lease(self, current_time: TimeLike) -> timedelta | None:
        """Time left on the lease at ``current_time``, or ``None`` once it has expired."""
        current = to_nanos(current_time, "current_time")
        if current < self.lease_expiry_nanos:
            return nanos_to_timedelta(self.lease_expiry_nanos - current)
        return None


@dataclass(frozen=True, slots=True)
class CandidateInfo:
    """A registered candidate, as stored under ``("candidates", process_id)``.

    ``versionstamp`` (12 bytes) is fixed at registration and orders candidates;
    ``last_heartbeat_nanos`` is the ``current_time`` of the last registration or heartbeat.
    """

    process_id: str
    priority: int
    last_heartbeat_nanos: int
    versionstamp: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.process_id, str):
            raise TypeError(f"process_id must be a str, got {type(self.process_id).__name__}")
        check_priority(self.priority)
        check_u64(self.last_heartbeat_nanos, "last_heartbeat_nanos")
        _check_versionstamp(self.versionstamp)

    def is_alive(self, current_time: TimeLike, timeout: TimeLike) -> bool:
        """Whether the last heartbeat is less than ``timeout`` before ``current_time``.

        A heartbeat stamped after ``current_time`` (a clock behind the writer's) counts as alive.
        """
        current = to_nanos(current_time, "current_time")
        limit = to_nanos(timeout, "timeout")
        return max(current - self.last_heartbeat_nanos, 0) < limit


class ElectionResult:
    """What ``run_election_cycle`` returns: :class:`Leader` or :class:`Follower`.

    Example::

        match election.run_election_cycle(tr, "worker-1", 0, now()):
            case Leader(state):
                ...  # lead, with state.ballot as the fencing token
            case Follower(None):
                ...  # nobody leads right now
            case Follower(state):
                ...  # follow state.leader_id
    """

    __slots__ = ()

    def is_leader(self) -> bool:
        """True for :class:`Leader`."""
        return isinstance(self, Leader)

    def leader_state(self) -> LeaderState | None:
        """The leader's state, whoever leads; ``None`` when nobody holds a valid lease."""
        state: LeaderState | None = getattr(self, "state", None)
        return state


@dataclass(frozen=True, slots=True)
class Leader(ElectionResult):
    """This process leads; ``state`` is the leader state it just wrote."""

    state: LeaderState


@dataclass(frozen=True, slots=True)
class Follower(ElectionResult):
    """Another process leads (``state``), or nobody holds a valid lease (``None``)."""

    state: LeaderState | None
