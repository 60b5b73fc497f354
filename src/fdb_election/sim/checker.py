"""Invariants over a recorded :class:`~fdb_election.sim.history.History`.

Each ``check_*`` function reads the history and returns the violations it found; :func:`check`
runs them all. They are written against the two independent records of a run (the database
timeline read back after every commit, and what each process reported), so a bug in the election
layer, in the elector, or in the store shows up as a disagreement. ``tests/sim`` proves each one
can fail: hand-made bad histories, and planted bugs (``tests/sim/planted.py``, patches of the
code's seams that live in the test tree only).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fdb_election.sim.history import (
    CmdChange,
    Commit,
    ConfigRecord,
    Fault,
    Frozen,
    History,
    LeaderRecord,
    LeadershipChange,
    ProcessState,
    ResourceWrite,
)
from fdb_election.sim.model import replay as default_replay

__all__ = [
    "INVARIANTS",
    "Availability",
    "Violation",
    "availability",
    "check",
    "check_adopted_ballots_committed",
    "check_ballots_increase",
    "check_fencing",
    "check_lease_after_claim",
    "check_leader_again",
    "check_leader_registered",
    "check_live_not_evicted",
    "check_liveness",
    "check_one_holder_per_ballot",
    "check_registered_again",
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


# ---------------------------------------------------------------------------- availability
#
# The invariants below are judged throughout the run, after every fault window, not only in the
# quiet tail. They read what could happen from the history itself: which hosts ran an elector
# and when (ProcessState), when one was frozen (Frozen: paused, or a transaction stalled in
# flight), when the database refused work (the unavailable and flaky faults) and when elections
# were disabled (the stored configuration). Time during which something legitimately prevents
# progress does not count against a bound; the count starts again when it ends.

Spans = list[tuple[float, float]]


def _merge(spans: Iterable[tuple[float, float]]) -> Spans:
    """Sorted, non-overlapping spans covering the same time (empty spans dropped)."""
    out: Spans = []
    for begin, end in sorted(s for s in spans if s[1] > s[0]):
        if out and begin <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((begin, end))
    return out


def _minus(base: Spans, cut: Spans) -> Spans:
    """The parts of ``base`` outside ``cut`` (both merged)."""
    out: Spans = []
    for begin, end in base:
        cursor = begin
        for c_begin, c_end in cut:
            if c_end <= cursor or c_begin >= end:
                continue
            if c_begin > cursor:
                out.append((cursor, c_begin))
            cursor = max(cursor, c_end)
            if cursor >= end:
                break
        if cursor < end:
            out.append((cursor, end))
    return out


def _intersect(a: Spans, b: Spans) -> Spans:
    """The time both ``a`` and ``b`` cover (both merged)."""
    out: Spans = []
    i = j = 0
    while i < len(a) and j < len(b):
        begin, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if begin < end:
            out.append((begin, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


@dataclass(slots=True)
class Availability:
    """What could make progress when, as the history records it.

    ``blocked``: the database refused work (unavailable, flaky) or elections were disabled;
    ``stalls``: some transaction was frozen in flight (its commit may land late, whoever made
    it); ``eligible``: per host, when its elector ran, was not stopping, and was neither paused
    nor stalled; ``ids``: each host's process id.
    """

    blocked: Spans
    stalls: Spans
    eligible: dict[str, Spans]
    ids: dict[str, str]

    def eligible_ids(self) -> dict[str, Spans]:
        """Per process id, when at least one host running it was eligible."""
        by_id: dict[str, list[tuple[float, float]]] = {}
        for host, spans in self.eligible.items():
            by_id.setdefault(self.ids[host], []).extend(spans)
        return {pid: _merge(spans) for pid, spans in by_id.items()}


def availability(history: History) -> Availability:
    """Read from ``history`` what could make progress when (see :class:`Availability`)."""
    end = history.end_time
    blocked: list[tuple[float, float]] = []
    stalls: dict[str, list[tuple[float, float]]] = {}
    pauses: dict[str, list[tuple[float, float]]] = {}
    running: dict[str, list[tuple[float, float]]] = {}
    since: dict[str, float] = {}
    ids: dict[str, str] = {}
    disabled_since: float | None = None
    for event in history.events:
        if isinstance(event, Fault) and event.kind in ("unavailable", "flaky"):
            blocked.append((event.time, event.until))
        elif isinstance(event, Commit) and event.after.config is not None:
            enabled = event.after.config.election_enabled
            if not enabled and disabled_since is None:
                disabled_since = event.time
            elif enabled and disabled_since is not None:
                blocked.append((disabled_since, event.time))
                disabled_since = None
        elif isinstance(event, Frozen):
            # A stall of a transaction, or of the driver thread another elector shares.
            spans = stalls if event.why.startswith("stall") else pauses
            spans.setdefault(event.process, []).append((event.time, event.until))
        elif isinstance(event, ProcessState):
            ids[event.process] = event.process_id
            host = event.process
            began = since.pop(host, None)
            if began is not None:
                running.setdefault(host, []).append((began, event.time))
            if event.state == "start":
                since[host] = event.time
            elif event.state == "crash":  # a crash ends a pause (the restart is not paused)
                pauses[host] = [(b, min(e, event.time)) for b, e in pauses.get(host, [])]
    if disabled_since is not None:
        blocked.append((disabled_since, end))
    for host, began in since.items():
        running.setdefault(host, []).append((began, end))
    eligible = {
        host: _minus(_merge(spans), _merge([*pauses.get(host, []), *stalls.get(host, [])]))
        for host, spans in running.items()
    }
    all_stalls = _merge(span for spans in stalls.values() for span in spans)
    return Availability(_merge(blocked), all_stalls, eligible, ids)


class _Timings:
    """The configurations stored over a run, to bound waits by the timings in effect."""

    def __init__(self, history: History) -> None:
        self.changes: list[tuple[float, ConfigRecord]] = []
        for commit in history.commits():
            config = commit.after.config
            if config is not None and (not self.changes or self.changes[-1][1] != config):
                self.changes.append((commit.time, config))
        leases = [c.lease_ns / 1e9 for _, c in self.changes]
        self.longest_lease = max(leases, default=0.0)
        self.drift = history.drift_bound
        self.jitter = history.jitter
        self.fallback = history.liveness_bound  # no configuration stored: the run's bound

    def in_effect(self, begin: float, end: float) -> list[ConfigRecord]:
        """The configurations stored at some time in ``[begin, end]`` (the first one, if none
        was stored before ``end``: electors start with it)."""
        found = []
        for i, (since, config) in enumerate(self.changes):
            until = self.changes[i + 1][0] if i + 1 < len(self.changes) else math.inf
            if since <= end and until >= begin:
                found.append(config)
        return found or [c for _, c in self.changes[:1]]

    def leader_bound(self, begin: float, end: float) -> float:
        """How long the election may stay leaderless from ``begin`` (see
        :func:`check_leader_again`), with the longest timings in effect from a lease before
        ``begin`` (the record waited out may have been written then, and a process that was
        frozen until ``begin`` may still use the configuration it read before)."""
        configs = self.in_effect(begin - self.longest_lease, end)
        if not configs:
            return self.fallback
        lease = max(c.lease_ns for c in configs) / 1e9
        heartbeat = max(c.heartbeat_ns for c in configs) / 1e9
        return lease / (1.0 - self.drift) + heartbeat * (2.0 + self.jitter) + 0.05

    def registration_bound(self, begin: float, end: float) -> float:
        """How long a running process may stay unregistered from ``begin`` (see
        :func:`check_registered_again`), with the longest heartbeat in effect from a lease
        before ``begin``."""
        configs = self.in_effect(begin - self.longest_lease, end)
        if not configs:
            return self.fallback
        heartbeat = max(c.heartbeat_ns for c in configs) / 1e9
        return heartbeat * (2.0 + self.jitter) + 0.05


def _last_free(eligible: Spans, begin: float) -> float:
    """When a process eligible at ``begin`` last ran freely before: the end of its eligible
    span before the one containing ``begin`` (it may still use what it read then), or
    ``begin``."""
    before = [end for _, end in eligible if end < begin]
    return min(before[-1], begin) if before else begin


def _unregistered(history: History, process_ids: Iterable[str]) -> dict[str, Spans]:
    """Per process id, when the store held no candidate record for it."""
    missing_since = dict.fromkeys(process_ids, 0.0)
    out: dict[str, list[tuple[float, float]]] = {pid: [] for pid in missing_since}
    for commit in history.commits():
        present = {c.process_id for c in commit.after.candidates}
        for pid in out:
            began = missing_since.get(pid)
            if pid in present and began is not None:
                out[pid].append((began, commit.time))
                del missing_since[pid]
            elif pid not in present and began is None:
                missing_since[pid] = commit.time
    for pid, began in missing_since.items():
        out[pid].append((began, history.end_time))
    return {pid: _merge(spans) for pid, spans in out.items()}


def check_registered_again(history: History) -> list[Violation]:
    """A running, unpaused process is registered again within two heartbeats.

    Judged per process id over the time when some host runs it (started, not stopping, not
    paused, not stalled) while the database accepts work and elections are enabled: the
    registration may be missing (after an eviction) for at most ``heartbeat * (2 + jitter) +
    50 ms`` of that time at a stretch, with the longest heartbeat configured meanwhile: its next
    heartbeat (within a heartbeat and jitter) finds the registration gone and it registers at
    once; one more heartbeat covers a failed attempt. Unchecked when ``history.liveness_bound``
    is 0.
    """
    if history.liveness_bound <= 0:
        return []
    timings = _Timings(history)
    able = availability(history)
    eligible = able.eligible_ids()
    violations = []
    for pid, missing in sorted(_unregistered(history, eligible).items()):
        for begin, end in _minus(_intersect(missing, eligible[pid]), able.blocked):
            bound = timings.registration_bound(_last_free(eligible[pid], begin), end)
            if end - begin > bound:
                violations.append(
                    Violation(
                        "registered_again",
                        begin + bound,
                        f"{pid!r} runs, unpaused, but is not registered from {begin:.6f}s to "
                        f"{end:.6f}s ({end - begin:.3f} s) with nothing in the way; allowed "
                        f"{bound:.3f} s",
                    )
                )
    return violations


def check_leader_again(history: History) -> list[Violation]:
    """A process that runs unhindered sees a leader within a lease and two heartbeats.

    Leaderless time counts against each host while its elector runs, unpaused, unstalled and
    not stopping, while no transaction is stalled in flight anywhere (a late commit changes the
    record the others watch), the database accepts work and elections are enabled; its count
    starts again after anything else. Counting per host matters: a process that starts (or
    wakes) while the others are frozen has to observe the record for a whole lease itself.
    The bound is ``lease / (1 - drift_bound) + heartbeat * (2 + jitter) + 50 ms`` with the
    longest lease and heartbeat configured since a lease before the gap: the process waits out
    the record it last saw for a lease on its own (possibly slow) clock, its step comes within
    a heartbeat and jitter, and one more heartbeat covers the wait for a higher-priority
    candidate (or a preemption handover). Unchecked when ``history.liveness_bound`` is 0.
    """
    if history.liveness_bound <= 0:
        return []
    timings = _Timings(history)
    able = availability(history)
    obstructed = _merge([*able.blocked, *able.stalls])
    gaps = _merge(leaderless_gaps(history))
    violations = []
    for host, eligible in sorted(able.eligible.items()):
        for gap in gaps:
            for begin, end in _minus(_intersect([gap], eligible), obstructed):
                since = min(gap[0], _last_free(eligible, begin))
                bound = timings.leader_bound(since, end)
                if end - begin > bound:
                    violations.append(
                        Violation(
                            "leader_again",
                            begin + bound,
                            f"no leader from {begin:.6f}s to {end:.6f}s ({end - begin:.3f} s) "
                            f"while {host} ran with nothing in the way (leaderless since "
                            f"{gap[0]:.6f}s); allowed {bound:.3f} s",
                        )
                    )
                    break
    return violations


def check_live_not_evicted(history: History) -> list[Violation]:
    """A candidate whose heartbeats never stopped for ``candidate_timeout`` is never evicted.

    A heartbeat is a commit that changed the candidate's record (its stamp or registration);
    an eviction is a commit by another process id that removed it. The leader judges silence on
    its own monotonic clock from its first sighting of the stamp, so the eviction must come at
    least ``candidate_timeout / (1 + drift_bound)`` after the last heartbeat, with the shortest
    timeout configured meanwhile.
    """
    ids = {e.process: e.process_id for e in history.events if isinstance(e, ProcessState)}
    factor = 1.0 + history.drift_bound
    last_beat: dict[str, tuple[float, int]] = {}  # pid -> (time, shortest timeout since, ns)
    previous: dict[str, tuple[int, int]] = {}
    violations = []
    for commit in history.commits():
        config = commit.after.config
        timeout_ns = config.candidate_timeout_ns if config is not None else None
        current = {
            c.process_id: (c.last_heartbeat_ns, c.stamp_version) for c in commit.after.candidates
        }
        for pid, beat in last_beat.items():
            if timeout_ns is not None and timeout_ns < beat[1]:
                last_beat[pid] = (beat[0], timeout_ns)
        for pid, record in current.items():
            if previous.get(pid) != record:
                last_beat[pid] = (commit.time, timeout_ns if timeout_ns is not None else 1 << 62)
        evictor = ids.get(commit.process) if commit.process is not None else None
        for pid in sorted(previous.keys() - current.keys()):
            if evictor is None or evictor == pid or pid not in last_beat:
                continue
            beat_time, shortest_ns = last_beat[pid]
            allowed = shortest_ns / 1e9 / factor
            if commit.time - beat_time < allowed - 1e-9:
                violations.append(
                    Violation(
                        "live_not_evicted",
                        commit.time,
                        f"{evictor!r} evicted {pid!r} at v{commit.version}, "
                        f"{commit.time - beat_time:.3f} s after its last heartbeat "
                        f"({beat_time:.6f}s); candidate_timeout allows that only after "
                        f"{allowed:.3f} s",
                    )
                )
        previous = current
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
    "registered_again": check_registered_again,
    "leader_again": check_leader_again,
    "live_not_evicted": check_live_not_evicted,
}


def check(history: History) -> list[Violation]:
    """Run every invariant; the violations found, in time order."""
    found: list[Violation] = []
    for invariant in INVARIANTS.values():
        found.extend(invariant(history))
    return sorted(found, key=lambda v: v.time)
