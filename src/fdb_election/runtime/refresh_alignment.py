"""When a follower that no refresh wakes reads the leader record: just after the next refresh.

A follower watches the succession key, which only claims and resignations change, so the
leader's refreshes (several a lease) wake nobody. It still reads the record at every heartbeat,
and the observation rule counts an unchanged record from just after the read that first
returned it: a read long after a refresh committed would start that count late and make
failover after a crash slower. So the follower times its heartbeat to land just after the
leader's next refresh is due.

The record says when the leader began the refresh that wrote it, on the leader's wall clock:
its lease expiry less the lease it was written with. The leader refreshes again at most a
heartbeat later. To place that on its own clock, the follower *probes*: it watches the leader
key itself for one refresh, and the read that the refresh wakes gives the offset between the
leader's start time and its own wall clock (skew and commit latency together). It probes at the
first read of a tenure, after a planned read found no refresh yet (a miss: the leader's clock
or its own stepped, or a refresh came late), and when the leader is late. Every later read of a
refresh can only be later than a probe's, so it shows a smaller offset, unless the clocks moved
the other way: then it raises the offset at once. A slack after the due time covers the spread
of commit times; it doubles at each miss and shrinks by a twentieth at each hit.

Clock skew and wall-clock steps only move these reads (liveness), never a claim: the observation
rule uses the follower's monotonic clock alone. Pure state, no I/O.
"""

from __future__ import annotations

__all__ = ["MIN_SLACK", "RefreshAlignment"]

#: The smallest slack (seconds) after a refresh's due time.
MIN_SLACK = 0.02

#: Who holds a tenure: the leader record's process id and registration versionstamp.
Holder = tuple[str, bytes]


class RefreshAlignment:
    """The offset to the leader's clock, the slack, and the read planned from them."""

    __slots__ = ("_holder", "_offset", "_planned", "_probing", "missed", "slack")

    def __init__(self) -> None:
        self.slack = MIN_SLACK
        #: The last planned read found the record unchanged, and no read found a change since.
        self.missed = False
        self._planned: float | None = None  # monotonic time of the planned read, if any
        self._probing = False  # the current watch is on the leader key, to measure the offset
        self._holder: Holder | None = None  # the tenure the offset was measured for
        self._offset = 0.0  # leader's start time of a refresh minus our wall clock when read

    def observed(
        self, start: float, changed: bool, holder: Holder | None, began: float | None, wall: float
    ) -> None:
        """A step that began at ``start`` (monotonic; ``wall`` on the wall clock) read the
        leader record: ``changed`` whether it differs from the previous read, ``holder`` and
        ``began`` (the leader's start of that refresh) when this library wrote it.

        A change read while probing measures the offset, and any later one may raise it; a
        planned read adjusts the slack (a step that came earlier than planned was woken, or
        timed by another rule)."""
        planned, self._planned = self._planned, None
        probing, self._probing = self._probing, False
        if changed:
            self.missed = False
            if holder is not None and began is not None:
                if probing:
                    self._holder, self._offset = holder, began - wall
                elif holder == self._holder:
                    self._offset = max(self._offset, began - wall)
        if planned is None or start < planned:
            return
        if changed:
            self.slack = max(MIN_SLACK, self.slack * 0.95)
        else:
            self.slack *= 2
            self.missed = True

    def plan(
        self,
        holder: Holder,
        began: float,
        heartbeat: float,
        wall: float,
        monotonic: float,
        longest: float,
    ) -> float | None:
        """Seconds until just after the next refresh of ``holder`` is due; None to probe
        instead (watch the leader key until the next refresh).

        ``began``: when the leader began the refresh that wrote the record (its wall clock);
        ``wall`` and ``monotonic``: this process's clocks now. A refresh due within half a
        heartbeat is skipped for the one after (one heartbeat comes late rather than two close
        together), but the delay never passes ``longest``. A leader more than half a heartbeat
        late is probed. The slack used is at most a quarter heartbeat.
        """
        if self.missed or holder != self._holder:
            self._probing = True
            return None
        self.slack = min(self.slack, heartbeat / 4)
        due = began - self._offset + heartbeat + self.slack - wall
        if due < heartbeat / 2:
            due += heartbeat
        if not heartbeat / 2 <= due <= longest:
            self._probing = True
            return None
        self._planned = monotonic + due
        return due
