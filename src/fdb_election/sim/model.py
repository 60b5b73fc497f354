"""A reference model of the election's stored state, and the replay check built on it.

:class:`ElectionModel` is the seed's semantics (plus this project's ballot high-water mark and
highest ballot seen) written as plainly as possible, over Python values instead of a database:
what each operation returns and how it changes the stored state. It is the oracle of two checks:

* :func:`replay` re-runs, in commit order, the operations recorded in a simulated history and
  reports every result or stored state that differs from the model;
* ``tests/election/test_stateful_model.py`` drives the real ``LeaderElection`` and the model with
  the same random operations and compares them after each one.

Times are integer nanoseconds (wall clock of the caller); versionstamps are represented by the
commit version of the registration that assigned them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from fdb_election.sim.history import (
    CandidateRecord,
    ConfigRecord,
    History,
    LeaderRecord,
    OpCall,
    ResourceRecord,
    Snapshot,
    snapshot_difference,
)

__all__ = ["ElectionModel", "ModelError", "replay", "result_text", "CHECKED_RESULTS"]

#: Operations whose recorded result the replay compares with the model's (reads made on a
#: snapshot view are excluded: they may legitimately be older than the commit they are part of).
CHECKED_RESULTS = frozenset(
    {
        "register_candidate",
        "heartbeat_candidate",
        "unregister_candidate",
        "try_claim_leadership",
        "refresh_lease",
        "resign_leadership",
        "hand_over_leadership",
        "evict_dead_candidates",
        "get_leader_raw",
        "run_election_cycle",
        "write_config",
        "initialize_with_config",
        "fenced_write",
        "note_observed_ballot",
    }
)


class ModelError(Exception):
    """The model's answer is an error of this (election error class) name."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def result_text(value: object) -> str:
    """How a result is written in a history: the same text for the real call and the model."""
    if isinstance(value, BaseException):
        name = value.name if isinstance(value, ModelError) else type(value).__name__
        return f"!{name}"
    if value is None:
        return "None"
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int):
        return str(value)
    ballot = getattr(value, "ballot", None)
    if isinstance(ballot, int):
        return f"ballot={ballot}"
    is_leader = getattr(value, "is_leader", None)
    if callable(is_leader):
        state = value.leader_state()  # type: ignore[attr-defined]
        kind = "leader" if is_leader() else "follower"
        return kind if state is None else f"{kind} ballot={state.ballot}"
    return type(value).__name__


@dataclass(slots=True)
class ElectionModel:
    """The stored state of one election, and the operations on it."""

    config: ConfigRecord | None = None
    leader: LeaderRecord | None = None
    mark: int | None = None
    candidates: dict[str, CandidateRecord] = field(default_factory=dict)
    resource: ResourceRecord | None = None
    seen: int | None = None

    def snapshot(self) -> Snapshot:
        """The state, in the form the simulator reads back from the store."""
        return Snapshot(
            self.config,
            self.leader,
            self.mark,
            tuple(self.candidates[p] for p in sorted(self.candidates)),
            self.resource,
            self.seen,
        )

    @classmethod
    def from_snapshot(cls, snap: Snapshot) -> ElectionModel:
        """A model in the given state."""
        return cls(
            snap.config,
            snap.leader,
            snap.mark,
            {c.process_id: c for c in snap.candidates},
            snap.resource,
            snap.seen,
        )

    # -- helpers ---------------------------------------------------------------

    def _config(self) -> ConfigRecord:
        if self.config is None:
            raise ModelError("NotInitialized")
        return self.config

    def _enabled(self) -> ConfigRecord:
        config = self._config()
        if not config.election_enabled:
            raise ModelError("ElectionDisabled")
        return config

    def _next_ballot(self) -> int:
        current = self.leader.ballot if self.leader is not None else 0
        return max(current, self.mark or 0, self.seen or 0) + 1

    def _lead(self, process_id: str, priority: int, now_ns: int, stamp: int) -> LeaderRecord:
        ballot = self._next_ballot()
        expiry = now_ns + self._config().lease_ns
        self.leader = LeaderRecord(ballot, process_id, priority, expiry, stamp)
        self.mark = ballot
        return self.leader

    def _held_by(self, process_id: str, stamp: int | None) -> bool:
        """The record names ``process_id`` (and, when given, that registration)."""
        leader = self.leader
        return (
            leader is not None
            and leader.leader_id == process_id
            and (stamp is None or leader.stamp_version == stamp)
        )

    # -- the seed's operations --------------------------------------------------

    def initialize_with_config(self, config: ConfigRecord) -> None:
        """Store ``config`` unless the election already has one."""
        if self.config is None:
            self.config = config

    def write_config(self, config: ConfigRecord) -> None:
        """Replace the configuration."""
        self.config = config

    def register_candidate(self, process_id: str, priority: int, now_ns: int, version: int) -> None:
        """(Re)register: a new versionstamp (``version``), this priority and heartbeat time."""
        self._enabled()
        self.candidates[process_id] = CandidateRecord(process_id, priority, now_ns, version)

    def heartbeat_candidate(
        self, process_id: str, priority: int, now_ns: int, registration: int | None = None
    ) -> None:
        """Update priority and heartbeat time, keeping the versionstamp; with ``registration``,
        refuse when the stored candidate was registered by someone else since."""
        self._enabled()
        current = self.candidates.get(process_id)
        if current is None:
            raise ModelError("ProcessNotFound")
        if registration is not None and current.stamp_version != registration:
            raise ModelError("DuplicateProcessId")
        self.candidates[process_id] = replace(current, priority=priority, last_heartbeat_ns=now_ns)

    def unregister_candidate(self, process_id: str) -> None:
        """Forget the candidate (leadership is not touched)."""
        self.candidates.pop(process_id, None)

    def evict_dead_candidates(self, now_ns: int, limit: int | None = None) -> int:
        """Remove candidates whose last heartbeat is ``candidate_timeout`` old or older.

        With ``limit``, at most that many, the first in key order (UTF-8 order of the ids).
        """
        timeout = self._config().candidate_timeout_ns
        dead = sorted(
            (
                p
                for p, c in self.candidates.items()
                if max(now_ns - c.last_heartbeat_ns, 0) >= timeout
            ),
            key=lambda p: p.encode(),
        )[:limit]
        for p in dead:
            del self.candidates[p]
        return len(dead)

    def try_claim_leadership(
        self, process_id: str, priority: int, now_ns: int
    ) -> LeaderRecord | None:
        """Claim when nobody leads, this registration leads, the lease expired, or by
        preemption."""
        config = self._enabled()
        candidate = self.candidates.get(process_id)
        if candidate is None:
            raise ModelError("UnregisteredCandidate")
        leader = self.leader
        if (
            leader is None
            or self._held_by(process_id, candidate.stamp_version)
            or now_ns >= leader.lease_expiry_ns
            or (config.allow_preemption and priority > leader.priority)
        ):
            return self._lead(process_id, priority, now_ns, candidate.stamp_version)
        return None

    def refresh_lease(
        self, process_id: str, now_ns: int, stamp: int | None = None
    ) -> LeaderRecord | None:
        """A new ballot and lease for the current leader; None for anybody else.

        Works while elections are disabled (the leader keeps its role), as in the seed.
        """
        self._config()
        leader = self.leader
        if leader is None or not self._held_by(process_id, stamp):
            return None
        return self._lead(process_id, leader.priority, now_ns, leader.stamp_version)

    def resign_leadership(self, process_id: str, stamp: int | None = None) -> bool:
        """Clear the leader record if ``process_id`` holds it; the mark keeps its ballot."""
        if self.leader is None or not self._held_by(process_id, stamp):
            return False
        self.mark = max(self.mark or 0, self.leader.ballot)
        self.leader = None
        return True

    def hand_over_leadership(
        self, process_id: str, successor: str, now_ns: int, stamp: int | None = None
    ) -> LeaderRecord | None:
        """If ``process_id`` leads, ``successor``'s claim at ``now_ns`` in its place."""
        if successor == process_id:
            raise ModelError("ValueError")
        self._enabled()
        if not self._held_by(process_id, stamp):
            return None
        candidate = self.candidates.get(successor)
        if candidate is None:
            raise ModelError("UnregisteredCandidate")
        return self._lead(successor, candidate.priority, now_ns, candidate.stamp_version)

    def get_leader_raw(self) -> LeaderRecord | None:
        """The stored leader record, expired or not."""
        return self.leader

    def note_observed_ballot(self, ballot: int) -> None:
        """Raise the highest ballot seen to ``ballot`` (an atomic max: never lowers it)."""
        self.seen = max(self.seen or 0, ballot)

    def fenced_write(self, process_id: str, token: int, stamp: int = 0) -> None:
        """The protected resource accepts a write (the fence check is the checker's business)."""
        writes = self.resource.writes if self.resource is not None else 0
        self.resource = ResourceRecord(token, process_id, writes + 1, stamp)

    # -- replay -------------------------------------------------------------------

    def apply(self, op: OpCall, version: int) -> str:
        """Run one recorded operation; the model's result as :func:`result_text` writes it."""
        pid = op.process_id or ""
        now = op.now_ns or 0
        prio = op.priority or 0
        try:
            if op.name == "register_candidate":
                self.register_candidate(pid, prio, now, version)
                value: object = None
            elif op.name == "heartbeat_candidate":
                self.heartbeat_candidate(pid, prio, now, op.stamp)
                value = None
            elif op.name == "unregister_candidate":
                self.unregister_candidate(pid)
                value = None
            elif op.name == "evict_dead_candidates":
                value = self.evict_dead_candidates(now, op.limit)
            elif op.name == "try_claim_leadership":
                value = self.try_claim_leadership(pid, prio, now)
            elif op.name == "refresh_lease":
                value = self.refresh_lease(pid, now, op.stamp)
            elif op.name == "resign_leadership":
                value = self.resign_leadership(pid, op.stamp)
            elif op.name == "hand_over_leadership":
                value = self.hand_over_leadership(pid, op.successor or "", now, op.stamp)
            elif op.name == "get_leader_raw":
                value = self.get_leader_raw()
            elif op.name in ("write_config", "initialize_with_config") and op.config is not None:
                getter = getattr(self, op.name)
                value = getter(op.config)
            elif op.name == "note_observed_ballot" and op.ballot is not None:
                self.note_observed_ballot(op.ballot)
                value = None
            elif op.name == "fenced_write":
                self.fenced_write(pid, prio, op.stamp or 0)
                value = None
            else:
                return op.result  # a read the model does not need to predict
        except ModelError as exc:
            return result_text(exc)
        return result_text(value)


def replay(history: History) -> list[tuple[float, str]]:
    """Replay every committed operation; (time, difference) for each disagreement found."""
    model = ElectionModel()
    problems: list[tuple[float, str]] = []
    for commit in history.commits():
        for op in commit.ops:
            expected = model.apply(op, commit.version)
            if op.name in CHECKED_RESULTS and expected != op.result:
                problems.append(
                    (
                        commit.time,
                        f"commit v{commit.version}: {op.name}({op.process_id}) returned "
                        f"{op.result}, the model says {expected}",
                    )
                )
        diff = snapshot_difference(model.snapshot(), commit.after)
        if diff is not None:
            problems.append((commit.time, f"after commit v{commit.version}: {diff}"))
            model = ElectionModel.from_snapshot(commit.after)  # resynchronise, report once
    if history.final is not None:
        diff = snapshot_difference(model.snapshot(), history.final)
        if diff is not None:
            problems.append((history.end_time, f"at the end of the run: {diff}"))
    return problems
