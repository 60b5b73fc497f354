"""What this process has seen of the leader record, and when that lets it claim.

Pure state, no I/O: the core feeds it every read of the leader record with the monotonic time
just after the read, and asks when a claim is allowed. The rule (docs/elector.md, rule 2): a
follower takes over from another leader only after it has seen the *same* record, unchanged, for
a full lease on its own monotonic clock, counted from just after the read that first returned it;
every refresh changes the record (the ballot grows), so an unchanged record means no refresh. The
"full lease" is the longest of the configured lease and the lease the record was written with
(or, when that is unknown, the longest configured lease seen since the record was first read).
An empty leader key may be claimed at once, except for a heartbeat after this process stepped
down, and for two heartbeats while a live higher-priority candidate may claim first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta

from fdb_election.election import LeaderState

__all__ = ["LeaderObservation"]


class LeaderObservation:
    """The leader record as last read, since when it has been seen, and the claim rules.

    Times are monotonic seconds; ``lease`` and ``heartbeat`` arguments are the configured ones.
    """

    __slots__ = ("empty_since", "hold_off_until", "lease", "lease_recorded", "record", "since")

    def __init__(self) -> None:
        self.record: LeaderState | None = None
        self.since: float | None = None  # just after the first read of ``record``
        # How long ``record`` must stay unchanged before it is presumed gone: the lease it was
        # written with, or the longest configured lease seen since it was first read.
        self.lease: float | None = None
        self.lease_recorded = False  # whether ``lease`` came from the record itself
        self.empty_since: float | None = None  # just after the first read of an empty key
        self.hold_off_until = -math.inf  # no claim of an empty key before (after stepping down)

    def observe(self, record: LeaderState | None, read_done: float) -> None:
        """A read of the leader record that completed just before ``read_done``."""
        if record != self.record or (record is None and self.empty_since is None):
            self.record = record
            self.since = read_done if record is not None else None
            self.empty_since = read_done if record is None else None
            self.lease = None
            self.lease_recorded = False

    def wrote(self, state: LeaderState, attempt_start: float, lease: float) -> None:
        """This process's own claim or refresh committed: it has seen ``state`` since then."""
        self.record = state
        self.since = attempt_start
        self.lease = lease
        self.lease_recorded = True

    def note_lease(self, recorded_ns: int | None, config_lease: float) -> None:
        """The lease the observed record was written with (None: unknown), and the configured
        one, both read in the same transaction as the record."""
        if recorded_ns is not None:
            self.lease = max(recorded_ns / 1e9, self.lease or 0.0)
            self.lease_recorded = True
        elif not self.lease_recorded:
            # Unknown (written by another implementation): the longest lease configured since
            # the record was first read. A lease lowered BEFORE that read is not covered.
            self.lease = max(config_lease, self.lease or 0.0)

    def presumed_dead_after(self, config_lease: float) -> float:
        """Seconds of unchanged observation after which the observed leader is presumed gone."""
        return max(config_lease, self.lease or 0.0)

    def view(self, now: float, config_lease: float, *, mine: bool) -> LeaderState | None:
        """The leader as seen at ``now``: None once another's record went a full lease unchanged."""
        record = self.record
        if record is None or self.since is None:
            return record
        if not mine and now >= self.since + self.presumed_dead_after(config_lease):
            return None  # not refreshed for a full lease: presumed gone
        return record

    def claim_time(
        self,
        record: LeaderState | None,
        now: float,
        wall: float,
        *,
        heartbeat: float,
        config_lease: float,
        higher_priority_waiting: Callable[[], bool],
    ) -> timedelta | None:
        """The ``current_time`` to claim with now, or None when the rules do not allow it yet.

        ``higher_priority_waiting()`` (asked only while an empty key is young) says whether a
        live higher-priority candidate should be let claim first.
        """
        if record is None:
            if now < self.hold_off_until:
                return None
            since = self.empty_since if self.empty_since is not None else now
            if now < since + 2 * heartbeat and higher_priority_waiting():
                return None  # let the live higher-priority candidate take it first
            return timedelta(seconds=wall)
        if self.since is None or now < self.since + self.presumed_dead_after(config_lease):
            return None
        # Unchanged for a full lease on our clock. The seed also wants the stored expiry passed
        # on the wall clock it is given: never pass an earlier time than expiry + 1 µs.
        expiry = timedelta(microseconds=-(-record.lease_expiry_nanos // 1000) + 1)
        return max(timedelta(seconds=wall), expiry)

    def wait_hint(
        self,
        record: LeaderState | None,
        now: float,
        *,
        heartbeat: float,
        config_lease: float,
        next_heartbeat: Callable[[], float],
    ) -> float:
        """Seconds until the rules could allow a claim."""
        if record is None:
            since = self.empty_since if self.empty_since is not None else now
            return max(0.0, max(self.hold_off_until, since + 2 * heartbeat) - now)
        if self.since is None:
            return next_heartbeat()
        return max(0.0, self.since + self.presumed_dead_after(config_lease) - now)
