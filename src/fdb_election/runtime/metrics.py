"""Optional Prometheus metrics for electors; a no-op when ``prometheus_client`` is absent.

Metrics (labels ``election`` and ``process``):

* ``fdb_election_is_leader`` gauge (1 while this process leads locally);
* ``fdb_election_ballot`` gauge (fencing token of the current or last tenure);
* ``fdb_election_transitions_total`` counter, extra label ``kind`` (elected, demoted);
* ``fdb_election_cycle_seconds`` histogram of one elector step (one transaction);
* ``fdb_election_errors_total`` counter, extra label ``kind`` (an FDB error code or an
  exception class name).

A driver of many electors (``runtime.driver``) adds, with label ``driver``:

* ``fdb_election_driver_saturated`` gauge (1 while the store cannot keep up);
* ``fdb_election_driver_lag_heartbeats`` gauge (how late the most overdue step is);
* ``fdb_election_driver_batch_size`` histogram of the transactions committed together.

They are registered once per process in the default registry, on first use.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["DriverMetrics", "ElectorMetrics", "metrics_available"]

_lock = threading.Lock()
_families: dict[str, Any] | None = None


def metrics_available() -> bool:
    """Whether ``prometheus_client`` can be imported (metrics are recorded only then)."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        return False
    return True


def _metric_families() -> dict[str, Any] | None:
    global _families
    with _lock:
        if _families is not None:
            return _families
        try:
            import prometheus_client as prom
        except ImportError:
            return None
        labels = ["election", "process"]
        _families = {
            "is_leader": prom.Gauge(
                "fdb_election_is_leader", "1 while this process leads the election", labels
            ),
            "ballot": prom.Gauge(
                "fdb_election_ballot", "Fencing token of the current or last tenure", labels
            ),
            "transitions": prom.Counter(
                "fdb_election_transitions",
                "Leadership transitions of this process",
                [*labels, "kind"],
            ),
            "cycle": prom.Histogram(
                "fdb_election_cycle_seconds",
                "Duration of one elector step (one transaction)",
                labels,
                buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            ),
            "errors": prom.Counter(
                "fdb_election_errors", "Failed elector steps by kind", [*labels, "kind"]
            ),
            "saturated": prom.Gauge(
                "fdb_election_driver_saturated", "1 while the store cannot keep up", ["driver"]
            ),
            "lag": prom.Gauge(
                "fdb_election_driver_lag_heartbeats",
                "How late the most overdue elector step is, in heartbeats",
                ["driver"],
            ),
            "batch": prom.Histogram(
                "fdb_election_driver_batch_size",
                "Transactions committed together by a driver",
                ["driver"],
                buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            ),
        }
        return _families


class ElectorMetrics:
    """The metrics of one elector; every method does nothing without ``prometheus_client``."""

    __slots__ = ("_children", "_families", "_labels")

    def __init__(self, election: str, process_id: str, *, enabled: bool = True) -> None:
        self._families = _metric_families() if enabled else None
        self._labels = (election, process_id)
        self._children: dict[str, Any] = {}
        if self._families is not None:
            for name in ("is_leader", "ballot", "cycle"):
                self._children[name] = self._families[name].labels(*self._labels)

    def leadership(self, leading: bool, ballot: int | None) -> None:
        """Record whether this process leads, and its tenure's ballot."""
        if self._families is None:
            return
        self._children["is_leader"].set(1 if leading else 0)
        if ballot is not None:
            self._children["ballot"].set(ballot)

    def transition(self, kind: str) -> None:
        """Count an ``elected`` or ``demoted`` transition."""
        if self._families is not None:
            self._families["transitions"].labels(*self._labels, kind).inc()

    def step_duration(self, seconds: float) -> None:
        """Record how long one step took."""
        if self._families is not None:
            self._children["cycle"].observe(seconds)

    def error(self, kind: str) -> None:
        """Count a failed step by kind."""
        if self._families is not None:
            self._families["errors"].labels(*self._labels, kind).inc()


class DriverMetrics:
    """The metrics of one driver of many electors; no-ops without ``prometheus_client``."""

    __slots__ = ("_children",)

    def __init__(self, driver: str, *, enabled: bool = True) -> None:
        families = _metric_families() if enabled else None
        self._children: dict[str, Any] = {}
        if families is not None:
            for name in ("saturated", "lag", "batch"):
                self._children[name] = families[name].labels(driver)

    def saturated(self, value: bool) -> None:
        """Record whether the store keeps up."""
        if self._children:
            self._children["saturated"].set(1 if value else 0)

    def lag(self, heartbeats: float) -> None:
        """Record how late the most overdue step is."""
        if self._children:
            self._children["lag"].set(heartbeats)

    def batch(self, size: int) -> None:
        """Record a batch of ``size`` transactions committed together."""
        if self._children:
            self._children["batch"].observe(size)
