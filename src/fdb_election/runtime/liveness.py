"""Which candidates a leader has seen heartbeat, judged on its own monotonic clock.

The seed judges a candidate alive by comparing the wall-clock stamp of its last heartbeat with
the judge's wall clock, so a leader whose clock runs ahead evicts live candidates (they register
again, over and over), and a crashed candidate still looks alive for ``candidate_timeout``. The
leader's elector instead remembers each candidate's stamp with the monotonic time it first saw
that value: a stamp that changed recently means the candidate heartbeats now, whatever the
clocks say, and a stamp unchanged for a whole ``candidate_timeout`` means it has stopped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from fdb_election.election import CandidateInfo

__all__ = ["HeartbeatObserver"]


@dataclass(frozen=True, slots=True)
class _Sighting:
    stamp: int  # the stored last_heartbeat_nanos
    since: float  # monotonic seconds when this stamp was first seen
    changed: bool  # whether it replaced an earlier stamp seen by this observer


class HeartbeatObserver:
    """Each candidate's heartbeat stamp as last seen, and since when (monotonic seconds).

    Feed it every candidate read in a scan with :meth:`observe`; candidates missing from the
    scan are forgotten, so it holds at most one entry per registered candidate.
    """

    def __init__(self) -> None:
        self._seen: dict[str, _Sighting] = {}

    def observe(
        self, candidates: Iterable[CandidateInfo], now: float, *, count_changes: bool = True
    ) -> None:
        """Record a full scan of the candidates, read just before ``now``.

        With ``count_changes`` false, stamps that differ from the last scan are recorded but do
        not count as heartbeats seen (the scans were too far apart to say the candidate runs
        now, e.g. across a time when this process did not lead).
        """
        seen: dict[str, _Sighting] = {}
        for candidate in candidates:
            earlier = self._seen.get(candidate.process_id)
            stamp = candidate.last_heartbeat_nanos
            if earlier is None:
                seen[candidate.process_id] = _Sighting(stamp, now, changed=False)
            elif earlier.stamp != stamp:
                seen[candidate.process_id] = _Sighting(stamp, now, changed=count_changes)
            else:
                seen[candidate.process_id] = earlier
        self._seen = seen

    def heartbeating(
        self, process_id: str, now: float, within: float, *, after: float = -math.inf
    ) -> bool:
        """Whether ``process_id`` was seen to heartbeat (its stamp change) in the last ``within``
        seconds before ``now``, and later than ``after``."""
        sighting = self._seen.get(process_id)
        return (
            sighting is not None
            and sighting.changed
            and now - sighting.since < within
            and sighting.since > after
        )

    def silent_for(self, process_id: str, now: float) -> float:
        """Seconds its current stamp has been seen unchanged (0 when never seen)."""
        sighting = self._seen.get(process_id)
        return 0.0 if sighting is None else max(0.0, now - sighting.since)
