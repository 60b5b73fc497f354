"""Invariants over a recorded :class:`~fdb_election.sim.history.History`.

Each ``check_*`` function reads the history and returns the violations it found; :func:`check`
runs them all. They are written against the two independent records of a run (the database
timeline read back after every commit, and what each process reported), so a bug in the election
layer, in the elector, or in the store shows up as a disagreement. ``tests/sim`` proves each one
can fail: hand-made bad histories, and planted bugs (``tests/sim/planted.py``, patches of the
code's seams that live in the test tree only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fdb_election.sim.history import (
    CmdChange,
    Commit,
    History,
    LeaderRecord,
    LeadershipChange,
    ResourceWrite,
)
from fdb_election.sim.model import replay as default_replay

__all__ = [
    "INVARIANTS",
    "Violation",
    "check",
    "check_adopted_ballots_committed",
    "check_ballots_increase",
    "check_fencing",
    "check_lease_after_claim",
    "check_leader_registered",
    "check_liveness",
    "check_one_holder_per_ballot",
    "check_replay",
    "check_single_cmd",
    "check_single_leader",
    "leaderless_gaps",
]


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken invariant: which, when (virtual seconds), and what exactly."""

    invariant: str
    time: float
    message: str

    def __str__(self) -> str:
        return f"[{self.invariant}] at {self.time:.6f}s: {self.message}"


def _leader_changes(history: History) -> list[tuple[Commit, LeaderRecord | None, LeaderRecord]]:
    """Commits that wrote a new leader record: (commit, previous record, new record)."""
    out = []
    previous: LeaderRecord | None = None
    for commit in history.commits():
        leader = commit.after.leader
        if leader is not None and leader != previous:
            out.append((commit, previous, leader))
        previous = leader
    return out


def check_ballots_increase(history: History) -> list[Violation]:
    """Every leader record written carries a ballot above every ballot written before it.

    Holds across resignations (the cleared leader key does not reset the count), and the ballot
    high-water mark never goes down or disappears.
    """
    violations = []
    highest = 0
    mark_seen: int | None = None
    for commit, _previous, leader in _leader_changes(history):
        if leader.ballot <= highest:
            violations.append(
                Violation(
                    "ballots_increase",
                    commit.time,
                    f"commit v{commit.version} wrote ballot {leader.ballot} for "
                    f"{leader.leader_id!r}, but ballot {highest} was already issued",
                )
            )
        highest = max(highest, leader.ballot)
    for commit in history.commits():
        mark = commit.after.mark
        if mark_seen is not None and (mark is None or mark < mark_seen):
            violations.append(
                Violation(
                    "ballots_increase",
                    commit.time,
                    f"commit v{commit.version} moved the ballot high-water mark from "
                    f"{mark_seen} to {mark}",
                )
            )
        if mark is not None:
            mark_seen = mark if mark_seen is None else max(mark, mark_seen)
    return violations


def check_one_holder_per_ballot(history: History) -> list[Violation]:
    """No ballot is ever stored for two different processes."""
    holder: dict[int, str] = {}
    violations = []
    for commit, _previous, leader in _leader_changes(history):
        first = holder.setdefault(leader.ballot, leader.leader_id)
        if first != leader.leader_id:
            violations.append(
                Violation(
                    "one_holder_per_ballot",
                    commit.time,
                    f"ballot {leader.ballot} held by {first!r} and then by {leader.leader_id!r}",
                )
            )
    return violations


def _tenures(history: History) -> dict[int, tuple[str, int, float]]:
    """For every stored ballot: (holder, first ballot of that holder's tenure, commit time).

    A tenure is one registration's: a claim by another registration of the same process id
    (a restart, or a second process using the id) starts a new one, and so does a refresh
    that says so (``new_tenure``: its holder had stopped counting itself leader).
    """
    out: dict[int, tuple[str, int, float]] = {}
    start = 0
    previous: LeaderRecord | None = None
    for commit in history.commits():
        leader = commit.after.leader
        if leader is not None and leader != previous:
            renewed = any(
                op.name == "refresh_lease"
                and op.new_tenure
                and op.result == f"ballot={leader.ballot}"
                for op in commit.ops
            )
            if (
                previous is None
                or previous.leader_id != leader.leader_id
                or previous.stamp_version != leader.stamp_version
                or renewed
            ):
                start = leader.ballot
            out.setdefault(leader.ballot, (leader.leader_id, start, commit.time))
        previous = leader
    return out


def check_adopted_ballots_committed(history: History) -> list[Violation]:
    """A process reports leading with ballot b only if b was committed with it as holder, earlier.

    Catches electors that adopt a claim whose commit failed, is unknown, or has not happened yet.
    """
    tenures = _tenures(history)
    violations = []
    for event in history.events:
        if not isinstance(event, LeadershipChange) or not event.is_leader:
            continue
        found = tenures.get(event.ballot) if event.ballot is not None else None
        if found is None or found[0] != event.elector_id or found[2] > event.time:
            what = (
                "was never committed"
                if found is None
                else f"was committed for {found[0]!r} at {found[2]:.6f}s"
            )
            violations.append(
                Violation(
                    "adopted_ballots_committed",
                    event.time,
                    f"{event.process} reports leading with ballot {event.ballot}, which {what}",
                )
            )
    return violations


def check_leader_registered(history: History) -> list[Violation]:
    """Whoever becomes leader is a registered candidate at the version of its claim."""
    violations = []
    for commit, previous, leader in _leader_changes(history):
        claimed = previous is None or previous.leader_id != leader.leader_id
        if claimed and commit.after.candidate(leader.leader_id) is None:
            violations.append(
                Violation(
                    "leader_registered",
                    commit.time,
                    f"{leader.leader_id!r} became leader (ballot {leader.ballot}) at commit "
                    f"v{commit.version} without being a registered candidate",
                )
            )
    return violations


def check_lease_after_claim(history: History) -> list[Violation]:
    """A lease written by a claim or refresh expires after the moment its writer started it."""
    violations = []
    for commit, _previous, leader in _leader_changes(history):
        if commit.process != leader.leader_id or commit.wall_at_start is None:
            continue
        started_ns = int(commit.wall_at_start * 1e9)
        if leader.lease_expiry_ns <= started_ns:
            violations.append(
                Violation(
                    "lease_after_claim",
                    commit.time,
                    f"{leader.leader_id!r} wrote ballot {leader.ballot} with a lease expiring at "
                    f"{leader.lease_expiry_ns} ns, not after its claim at {started_ns} ns",
                )
            )
    return violations


def check_replay(
    history: History, replay: Callable[[History], list[tuple[float, str]]] | None = None
) -> list[Violation]:
    """Replaying the committed operations through the reference model gives the stored state.

    ``replay`` (default: :func:`fdb_election.sim.model.replay`) returns (time, difference) pairs.
    """
    if replay is None:
        replay = default_replay
    return [Violation("replay_matches_store", t, text) for t, text in replay(history)]


def check_fencing(history: History) -> list[Violation]:
    """The protected resource accepts only current tokens, and accepted tokens never go back.

    At the version of every accepted write the writer holds the leader record, with a token
    within its tenure; tokens are non-decreasing, and one token is never used by two writers.
    """
    violations = []
    tenures = _tenures(history)
    previous_resource = None
    last_token = 0
    last_writer = ""
    for commit in history.commits():
        resource = commit.after.resource
        if resource is None or resource == previous_resource:
            previous_resource = resource
            continue
        previous_resource = resource
        leader = commit.after.leader
        tenure = tenures.get(leader.ballot) if leader is not None else None
        if (
            leader is None
            or tenure is None
            or leader.leader_id != resource.writer
            or leader.stamp_version != resource.writer_stamp
        ):
            holder = (
                f"{leader.leader_id} (registration v{leader.stamp_version})"
                if leader is not None
                else "nobody"
            )
            violations.append(
                Violation(
                    "fencing",
                    commit.time,
                    f"write with token {resource.token} by {resource.writer!r} (registration "
                    f"v{resource.writer_stamp}) accepted at v{commit.version} while {holder} "
                    "holds the leader record",
                )
            )
        elif not tenure[1] <= resource.token <= leader.ballot:
            violations.append(
                Violation(
                    "fencing",
                    commit.time,
                    f"write by {resource.writer!r} with stale token {resource.token} accepted "
                    f"at v{commit.version}; its tenure spans ballots {tenure[1]}..{leader.ballot}",
                )
            )
        if resource.token < last_token or (
            resource.token == last_token and resource.writer != last_writer
        ):
            violations.append(
                Violation(
                    "fencing",
                    commit.time,
                    f"token {resource.token} by {resource.writer!r} accepted after token "
                    f"{last_token} by {last_writer!r}",
                )
            )
        last_token, last_writer = resource.token, resource.writer
    accepted = sum(1 for e in history.events if isinstance(e, ResourceWrite) and e.accepted)
    stored = previous_resource.writes if previous_resource is not None else 0
    if history.final is not None and history.final.resource is not None:
        stored = history.final.resource.writes
    if accepted > stored:
        violations.append(
            Violation(
                "fencing",
                history.end_time,
                f"{accepted} fenced writes were reported accepted, but the resource "
                f"recorded only {stored}",
            )
        )
    return violations


def _leadership_intervals(history: History) -> tuple[list[Violation], list[tuple[float, float]]]:
    """Overlaps of reported leadership, and the intervals during which someone led."""
    leading: dict[str, float] = {}
    violations = []
    busy: list[tuple[float, float]] = []
    busy_since: float | None = None
    for event in history.events:
        if not isinstance(event, LeadershipChange):
            continue
        if event.is_leader:
            if leading and event.process not in leading:
                others = ", ".join(sorted(leading))
                violations.append(
                    Violation(
                        "single_leader",
                        event.time,
                        f"{event.process} reports is_leader (ballot {event.ballot}) while "
                        f"{others} also report is_leader",
                    )
                )
            leading[event.process] = event.time
            if busy_since is None:
                busy_since = event.time
        else:
            leading.pop(event.process, None)
            if not leading and busy_since is not None:
                busy.append((busy_since, event.time))
                busy_since = None
    if busy_since is not None:
        busy.append((busy_since, history.end_time))
    return violations, busy


def check_single_cmd(history: History) -> list[Violation]:
    """Two hosts' CMDs (what ``run`` supervises) never run at the same virtual time."""
    running: dict[str, float] = {}
    violations = []
    for event in history.events:
        if not isinstance(event, CmdChange):
            continue
        if event.running:
            if running and event.process not in running:
                others = ", ".join(sorted(running))
                violations.append(
                    Violation(
                        "single_cmd",
                        event.time,
                        f"{event.process}'s CMD starts while {others}'s CMD still runs",
                    )
                )
            running[event.process] = event.time
        else:
            running.pop(event.process, None)
    return violations


def check_single_leader(history: History) -> list[Violation]:
    """Two processes never report ``is_leader`` at the same virtual time."""
    return _leadership_intervals(history)[0]


def leaderless_gaps(history: History, start: float = 0.0) -> list[tuple[float, float]]:
    """Intervals after ``start`` during which no process reported ``is_leader``."""
    _, busy = _leadership_intervals(history)
    gaps = []
    cursor = start
    for begin, end in busy:
        if end <= cursor:
            continue
        if begin > cursor:
            gaps.append((cursor, begin))
        cursor = max(cursor, end)
    if cursor < history.end_time:
        gaps.append((cursor, history.end_time))
    return gaps


def check_liveness(history: History) -> list[Violation]:
    """After the last fault, nobody-leads never lasts longer than ``history.liveness_bound``."""
    if history.liveness_bound <= 0:
        return []
    quiet_from = history.last_fault_end()
    if history.end_time < quiet_from + history.liveness_bound:
        return []
    violations = []
    for begin, end in leaderless_gaps(history, quiet_from):
        if end - begin > history.liveness_bound:
            violations.append(
                Violation(
                    "liveness",
                    begin,
                    f"no leader from {begin:.6f}s to {end:.6f}s ({end - begin:.3f} s) after "
                    f"the last fault ended at {quiet_from:.6f}s; allowed "
                    f"{history.liveness_bound:.3f} s",
                )
            )
    return violations


#: Every invariant, by name, in the order :func:`check` runs them.
INVARIANTS: dict[str, Callable[[History], list[Violation]]] = {
    "ballots_increase": check_ballots_increase,
    "one_holder_per_ballot": check_one_holder_per_ballot,
    "adopted_ballots_committed": check_adopted_ballots_committed,
    "leader_registered": check_leader_registered,
    "lease_after_claim": check_lease_after_claim,
    "replay_matches_store": check_replay,
    "fencing": check_fencing,
    "single_leader": check_single_leader,
    "single_cmd": check_single_cmd,
    "liveness": check_liveness,
}


def check(history: History) -> list[Violation]:
    """Run every invariant; the violations found, in time order."""
    found: list[Violation] = []
    for invariant in INVARIANTS.values():
        found.extend(invariant(history))
    return sorted(found, key=lambda v: v.time)
