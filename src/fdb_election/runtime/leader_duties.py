"""A leader's housekeeping: whom to hand over to (preemption) and whom to evict.

Both decide on heartbeat stamps seen changing on this process's monotonic clock
(:class:`~.liveness.HeartbeatObserver`), never on wall clocks: a candidate preempts only when
seen heartbeating during this tenure, and is evicted only when seen silent for a whole
``candidate_timeout``. The scans are snapshot reads inside the leader's own claim or refresh
transaction (no extra transaction, no conflicts), one per transaction whatever uses it
(:data:`Scan`); eviction chooses from such a scan once per ``candidate_timeout`` and takes a
transaction of its own only to write (:meth:`LeaderDuties.silent`, :meth:`LeaderDuties.evict`).

A scan reads and decodes every candidate, which made it the dearest part of a refresh. So a
leader scans at the claim that starts its tenure, then at every refresh only while the last scan
saw a candidate of higher priority (a possible preemptor, whose heartbeats must be seen), and
otherwise once per ``every`` seconds (:meth:`LeaderDuties.scan_due`; the core passes a lease):
a candidate that registers with a higher priority is found within that time, and from then on
watched at every refresh.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from fdb_election.election import CandidateInfo, InvalidState, LeaderElection
from fdb_election.runtime.liveness import HeartbeatObserver

__all__ = ["EVICTION_BATCH", "LeaderDuties", "Scan", "highest_above", "successor"]

#: Most dead candidates one eviction transaction removes (bounded transaction size, 2101).
EVICTION_BATCH = 1_000

#: Candidates read by one snapshot scan, and the monotonic time just after it.
Scan = tuple[list[CandidateInfo], float]


def highest_above(
    candidates: Iterable[CandidateInfo], process_id: str, priority: int
) -> CandidateInfo | None:
    """The other candidate of the highest priority above ``priority``, if any."""
    best: CandidateInfo | None = None
    for candidate in candidates:
        if candidate.priority > (priority if best is None else best.priority) and (
            candidate.process_id != process_id
        ):
            best = candidate
    return best


def successor(
    candidates: Iterable[CandidateInfo], process_id: str, now_ns: int, within_ns: int
) -> CandidateInfo | None:
    """Whom a leader that gives up hands over to: the candidate of another process id whose
    last heartbeat (its own wall clock) is less than ``within_ns`` before ``now_ns``, of the
    highest priority, the first in ``candidates`` among equals (a scan lists the oldest
    registration first, the seed's order)."""
    best: CandidateInfo | None = None
    for candidate in candidates:
        if (
            candidate.process_id != process_id
            and now_ns - candidate.last_heartbeat_nanos < within_ns
            and (best is None or candidate.priority > best.priority)
        ):
            best = candidate
    return best


class LeaderDuties:
    """Candidate scans for one elector: heartbeat sightings, preemptor, silent candidates."""

    __slots__ = (
        "election",
        "handed_over",
        "last_scan",
        "liveness",
        "process_id",
        "rival_seen",
        "unreadable",
    )

    def __init__(self, election: LeaderElection, process_id: str) -> None:
        self.election = election
        self.process_id = process_id
        # Candidates' heartbeat stamps as this process's leader scans saw them, on the
        # monotonic clock: who may preempt (seen heartbeating) and who is evicted (silent for
        # a candidate_timeout), whatever the wall clocks say.
        self.liveness = HeartbeatObserver()
        # When this process last handed leadership over to each candidate (monotonic).
        self.handed_over: dict[str, float] = {}
        #: When the last scan ran (monotonic), and whether it saw a higher priority than ours.
        self.last_scan = -math.inf
        self.rival_seen = False
        #: The candidate records the last scan could not decode, by key, with the error.
        self.unreadable: dict[bytes, InvalidState] = {}

    def scan_due(self, now: float, *, every: float) -> bool:
        """Whether a refresh at ``now`` scans for a preemptor (see the module docstring)."""
        return self.rival_seen or now - self.last_scan >= every

    def scan(self, tr: Any, monotonic: Callable[[], float]) -> Scan:
        """Every registered candidate (a snapshot read of ``tr``), oldest registration first,
        and ``monotonic()`` read just after the scan.

        Records that do not decode are left out (kept in :attr:`unreadable` until the next
        scan): one such record must not stop preemption and eviction for everyone else. They
        are not evicted either: this process cannot tell whether they are alive.
        """
        candidates, self.unreadable = self.election.read_candidates(tr.snapshot)
        return candidates, monotonic()

    def _observe(self, scanned: Scan, *, leading: Callable[[], bool]) -> list[CandidateInfo]:
        """Record ``scanned`` in the heartbeat observer; its candidates."""
        candidates, seen_at = scanned
        # Only scans while leading are a heartbeat apart: a change seen across a time when this
        # process did not lead says nothing about whether the candidate runs now.
        self.liveness.observe(candidates, seen_at, count_changes=leading())
        return candidates

    def preemptor(
        self,
        tr: Any,
        monotonic: Callable[[], float],
        *,
        priority: int,
        leading: Callable[[], bool],
        within: float,
        scanned: Scan | None = None,
        since: float = -math.inf,
    ) -> CandidateInfo | None:
        """The highest-priority candidate above ``priority`` seen heartbeating within ``within``
        and after ``since`` (the start of the tenure: a heartbeat seen in an earlier one may be
        a crashed candidate's last).

        A candidate that crashed still counts as alive by the seed's wall-clock rule until
        ``candidate_timeout``; stepping down for it would hand leadership to nobody. So a
        candidate qualifies only when its heartbeat stamp changed lately on this clock, and,
        once this process handed over to it, only when its stamp changed again since: one that
        crashed just after its last heartbeat, or never claims, is not handed leadership again
        and again (a leaderless handover each time) for as long as that heartbeat looks recent.
        """
        if scanned is None:
            scanned = self.scan(tr, monotonic)
        candidates = self._observe(scanned, leading=leading)
        now = self.last_scan = monotonic()
        self.rival_seen = highest_above(candidates, self.process_id, priority) is not None
        live = {c.process_id for c in candidates}
        for process_id in [p for p in self.handed_over if p not in live]:
            del self.handed_over[process_id]  # unregistered: a new registration starts afresh
        return highest_above(
            (
                c
                for c in candidates
                if self.liveness.heartbeating(
                    c.process_id,
                    now,
                    within,
                    after=max(since, self.handed_over.get(c.process_id, -math.inf)),
                )
            ),
            self.process_id,
            priority,
        )

    def handing_over(self, process_id: str, now: float) -> None:
        """This process hands leadership over to ``process_id`` at monotonic time ``now``."""
        self.handed_over[process_id] = now

    def silent(
        self,
        scanned: Scan,
        monotonic: Callable[[], float],
        *,
        leading: Callable[[], bool],
        timeout: float,
    ) -> list[CandidateInfo]:
        """The candidates of ``scanned`` seen unchanged for ``timeout`` (at most
        :data:`EVICTION_BATCH`), other than this process: whom :meth:`evict` may remove."""
        candidates = self._observe(scanned, leading=leading)
        now = monotonic()
        return [
            candidate
            for candidate in candidates
            if candidate.process_id != self.process_id
            and self.liveness.silent_for(candidate.process_id, now) >= timeout
        ][:EVICTION_BATCH]

    def evict(self, tr: Any, silent: Iterable[CandidateInfo]) -> None:
        """Unregister ``silent`` candidates in ``tr``. Each is read again without snapshot and
        cleared only if still unchanged, so a heartbeat committing since the scan (or before
        ``tr`` commits) makes it no eviction, or a conflict."""
        for candidate in silent:
            if self.election.get_candidate(tr, candidate.process_id) == candidate:
                self.election.unregister_candidate(tr, candidate.process_id)
