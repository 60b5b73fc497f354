"""One consistent reading of an election, and its stable JSON / table forms.

Usage::

    snap = read_snapshot(tr, election, "default", now_s=time.time())
    snap.to_json()        # stable keys, for --json
    snap.candidate_rows() # for the candidates table

Everything a read command shows comes from one transaction, so the leader, the candidates and the
configuration are consistent with each other. Ages and lease left are computed against the wall
clock of the machine running the CLI (``now_s``), as the seed compares leases: with skewed clocks
they are only as right as that clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fdb_election.cli.output import format_age, format_seconds

__all__ = [
    "CandidateView",
    "ConfigView",
    "ElectionSnapshot",
    "LeaderView",
    "read_config_view",
    "read_snapshot",
]

_NS = 1_000_000_000


def _seconds(value: Any) -> float:
    """A timedelta or a number of seconds as float seconds."""
    total_seconds = getattr(value, "total_seconds", None)
    return float(total_seconds()) if callable(total_seconds) else float(value)


def _stamp_hex(stamp: Any) -> str:
    """A versionstamp (tuple ``Versionstamp`` or raw bytes) as 24 hex digits."""
    to_bytes = getattr(stamp, "to_bytes", None)
    raw = to_bytes() if callable(to_bytes) else bytes(stamp)
    return raw.hex()


@dataclass(frozen=True, slots=True)
class ConfigView:
    """An election's configuration, in seconds."""

    lease_s: float
    heartbeat_s: float
    candidate_timeout_s: float
    election_enabled: bool
    allow_preemption: bool

    @classmethod
    def of(cls, config: Any) -> ConfigView:
        """From an ``ElectionConfig``."""
        return cls(
            lease_s=_seconds(config.lease_duration),
            heartbeat_s=_seconds(config.heartbeat_interval),
            candidate_timeout_s=_seconds(config.candidate_timeout),
            election_enabled=bool(config.election_enabled),
            allow_preemption=bool(config.allow_preemption),
        )

    def to_json(self) -> dict[str, Any]:
        """Stable keys: lease_s, heartbeat_s, candidate_timeout_s, election_enabled, ..."""
        return {
            "lease_s": self.lease_s,
            "heartbeat_s": self.heartbeat_s,
            "candidate_timeout_s": self.candidate_timeout_s,
            "election_enabled": self.election_enabled,
            "allow_preemption": self.allow_preemption,
        }

    def pairs(self) -> list[tuple[str, str]]:
        """Name/value pairs for display."""
        return [
            ("lease", format_seconds(self.lease_s)),
            ("heartbeat", format_seconds(self.heartbeat_s)),
            ("candidate timeout", format_seconds(self.candidate_timeout_s)),
            ("election enabled", "yes" if self.election_enabled else "no"),
            ("preemption", "allowed" if self.allow_preemption else "not allowed"),
        ]


@dataclass(frozen=True, slots=True)
class LeaderView:
    """The stored leader record, with the lease measured against ``now``."""

    process_id: str
    ballot: int
    priority: int
    lease_expiry_s: float
    lease_left_s: float
    versionstamp: str
    #: The tenure's fencing token (its first ballot), when this library wrote the record.
    token: int | None = None

    @property
    def lease_valid(self) -> bool:
        """True while the stored lease has not expired (by this machine's clock)."""
        return self.lease_left_s > 0

    def to_json(self) -> dict[str, Any]:
        """Stable keys: process_id, ballot, priority, lease_expiry_unix, lease_left_s, ...,
        token (None when a Rust process wrote the record)."""
        return {
            "process_id": self.process_id,
            "ballot": self.ballot,
            "priority": self.priority,
            "lease_expiry_unix": self.lease_expiry_s,
            "lease_left_s": max(0.0, self.lease_left_s),
            "lease_valid": self.lease_valid,
            "versionstamp": self.versionstamp,
            "token": self.token,
        }


@dataclass(frozen=True, slots=True)
class CandidateView:
    """One registered candidate, alive or not."""

    process_id: str
    priority: int
    heartbeat_age_s: float
    alive: bool
    versionstamp: str
    is_leader: bool

    def to_json(self) -> dict[str, Any]:
        """Stable keys: process_id, priority, heartbeat_age_s, alive, versionstamp, leader."""
        return {
            "process_id": self.process_id,
            "priority": self.priority,
            "heartbeat_age_s": self.heartbeat_age_s,
            "alive": self.alive,
            "versionstamp": self.versionstamp,
            "leader": self.is_leader,
        }

    def row(self) -> list[str]:
        """The cells of the candidates table."""
        return [
            self.process_id + (" *" if self.is_leader else ""),
            str(self.priority),
            format_age(self.heartbeat_age_s),
            "yes" if self.alive else "no",
            self.versionstamp,
        ]


CANDIDATE_COLUMNS = ["id", "priority", "last heartbeat", "alive", "versionstamp"]


@dataclass(frozen=True, slots=True)
class ElectionSnapshot:
    """An election as read in one transaction at wall-clock time ``now_s``."""

    name: str
    config: ConfigView
    leader: LeaderView | None
    candidates: tuple[CandidateView, ...]
    #: Why each candidate record that does not decode cannot be read (one message each).
    unreadable: tuple[str, ...] = ()

    @property
    def alive_count(self) -> int:
        """Candidates whose last heartbeat is within the candidate timeout."""
        return sum(1 for c in self.candidates if c.alive)

    def to_json(self) -> dict[str, Any]:
        """The ``status --json`` document (stable keys)."""
        return {
            "election": self.name,
            "leader": self.leader.to_json() if self.leader else None,
            "candidates_alive": self.alive_count,
            "candidates_registered": len(self.candidates),
            "candidates_unreadable": len(self.unreadable),
            "config": self.config.to_json(),
        }

    def status_pairs(self) -> list[tuple[str, str]]:
        """What ``status`` shows."""
        leader = self.leader
        if leader is None:
            pairs = [
                ("leader", "none"),
                ("ballot", "-"),
                ("fencing token", "-"),
                ("lease left", "-"),
            ]
        else:
            who = leader.process_id if leader.lease_valid else f"{leader.process_id} (expired)"
            pairs = [
                ("leader", who),
                ("ballot", str(leader.ballot)),
                ("fencing token", "-" if leader.token is None else str(leader.token)),
                ("lease left", format_seconds(leader.lease_left_s)),
            ]
        pairs.append(("candidates", f"{self.alive_count} alive of {len(self.candidates)}"))
        if self.unreadable:
            pairs.append(("unreadable records", f"{len(self.unreadable)} (see `candidates`)"))
        if not self.config.election_enabled:
            pairs.append(("election", "DISABLED"))
        return pairs

    def candidate_rows(self) -> list[list[str]]:
        """Rows of the candidates table (leader marked with ``*``)."""
        return [c.row() for c in self.candidates]


def read_config_view(tr: Any, election: Any) -> ConfigView:
    """The configuration; raises ``NotInitialized`` when there is none."""
    return ConfigView.of(election.read_config(tr))


def read_snapshot(tr: Any, election: Any, name: str, *, now_s: float) -> ElectionSnapshot:
    """Read config, leader and all registered candidates in transaction ``tr``."""
    from datetime import timedelta

    config = election.read_config(tr)
    state = election.get_leader_raw(tr)
    leader = None
    if state is not None:
        expiry_s = state.lease_expiry_nanos / _NS
        leader = LeaderView(
            process_id=state.leader_id,
            ballot=state.ballot,
            priority=state.priority,
            lease_expiry_s=expiry_s,
            lease_left_s=expiry_s - now_s,
            versionstamp=_stamp_hex(state.versionstamp),
            token=election.tenure_token(tr),
        )
    now_td = timedelta(seconds=now_s)
    leading = leader.process_id if leader is not None and leader.lease_valid else None
    found, unreadable = election.read_candidates(tr)
    candidates = tuple(
        CandidateView(
            process_id=info.process_id,
            priority=info.priority,
            heartbeat_age_s=now_s - info.last_heartbeat_nanos / _NS,
            alive=info.is_alive(now_td, config.candidate_timeout),
            versionstamp=_stamp_hex(info.versionstamp),
            is_leader=info.process_id == leading,
        )
        for info in found
    )
    return ElectionSnapshot(
        name=name,
        config=ConfigView.of(config),
        leader=leader,
        candidates=candidates,
        unreadable=tuple(str(error) for error in unreadable.values()),
    )
