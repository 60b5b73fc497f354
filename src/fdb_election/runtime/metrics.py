"""Optional Prometheus metrics for electors; recorded once something in the process can export them.

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

They are registered once per process in the default registry, when there is a way to export
them: once ``prometheus_client`` has been imported in the process (by the application's exporter
such as ``prometheus_client.start_http_server``, by :func:`~fdb_election.runtime.http.serve_http`
or ``run --http``, by a test). Until then nothing is imported (``prometheus_client`` brings
``http.server`` and costs a process about 13 MiB) and each elector keeps its gauges and counters
itself; they are carried into the registry when it starts recording, so the gauges and the
counters read the same as if they had been recorded all along. The histograms count from then on.
"""

from __future__ import annotations

import sys
import threading
import weakref
from typing import Any

__all__ = ["DriverMetrics", "ElectorMetrics", "export", "metrics_available"]

_lock = threading.Lock()
_families: dict[str, Any] | None = None
#: Enabled metrics not recording yet, because nothing has imported prometheus_client.
_waiting: weakref.WeakSet[_Recorder] = weakref.WeakSet()


def metrics_available() -> bool:
    """Whether ``prometheus_client`` can be imported (metrics are recorded only then).

    Looks for it without importing it: importing it is what starts the recording.
    """
    if "prometheus_client" in sys.modules:
        return sys.modules["prometheus_client"] is not None
    from importlib.util import find_spec

    return find_spec("prometheus_client") is not None


def export() -> bool:
    """Import ``prometheus_client`` and start recording every elector's and driver's metrics in
    its default registry now; False when it is not installed.

    :func:`~fdb_election.runtime.http.serve_http` calls it. An application that exports the
    default registry itself needs not: importing ``prometheus_client`` is enough, the metrics
    start recording at their next update (an elector's next step).
    """
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        return False
    with _lock:
        waiting = list(_waiting)
    for recorder in waiting:
        recorder._recording()
    return True


def _metric_families() -> dict[str, Any] | None:
    """The families, registered on the first call (``_lock`` held by the caller)."""
    global _families
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


class _Recorder:
    """What both kinds of metrics share: when to start recording in Prometheus.

    ``_children`` holds the labelled metrics once recording, and is empty until then (and for
    good when disabled or without ``prometheus_client``). While waiting, subclasses keep their
    gauges and counters in plain attributes, changed under ``_lock`` so that the switch to
    recording (:meth:`_start`, under ``_lock`` too) carries every update exactly once.
    """

    __slots__ = ("__weakref__", "_children", "_enabled", "_families")

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._families: dict[str, Any] | None = None
        self._children: dict[str, Any] = {}
        if enabled:
            with _lock:
                _waiting.add(self)
            self._recording()

    def _recording(self) -> bool:
        """True when updates go to Prometheus; starts that once prometheus_client is imported."""
        if self._families is not None:
            return True
        if not self._enabled or sys.modules.get("prometheus_client") is None:
            return False
        with _lock:
            if self._families is None:
                families = _metric_families()
                if families is None:
                    return False
                self._start(families)
                self._families = families
                _waiting.discard(self)
        return True

    def _start(self, families: dict[str, Any]) -> None:
        """Create the labelled metrics in ``families`` and carry the values kept so far."""
        raise NotImplementedError


class ElectorMetrics(_Recorder):
    """The metrics of one elector; every method does nothing without ``prometheus_client``."""

    __slots__ = ("_ballot", "_errors", "_labels", "_leading", "_transitions")

    def __init__(self, election: str, process_id: str, *, enabled: bool = True) -> None:
        self._labels = (election, process_id)
        self._leading: bool | None = None
        self._ballot: int | None = None
        self._transitions: dict[str, int] = {}
        self._errors: dict[str, int] = {}
        super().__init__(enabled)

    def _start(self, families: dict[str, Any]) -> None:
        for name in ("is_leader", "ballot", "cycle"):
            self._children[name] = families[name].labels(*self._labels)
        if self._leading is not None:
            self._children["is_leader"].set(1 if self._leading else 0)
        if self._ballot is not None:
            self._children["ballot"].set(self._ballot)
        for kind, count in self._transitions.items():
            families["transitions"].labels(*self._labels, kind).inc(count)
        for kind, count in self._errors.items():
            families["errors"].labels(*self._labels, kind).inc(count)

    def leadership(self, leading: bool, ballot: int | None) -> None:
        """Record whether this process leads, and its tenure's ballot."""
        if not self._recording():
            if not self._enabled:
                return
            with _lock:
                if self._families is None:
                    self._leading = leading
                    if ballot is not None:
                        self._ballot = ballot
                    return
        self._children["is_leader"].set(1 if leading else 0)
        if ballot is not None:
            self._children["ballot"].set(ballot)

    def transition(self, kind: str) -> None:
        """Count an ``elected`` or ``demoted`` transition."""
        self._count("transitions", self._transitions, kind)

    def step_duration(self, seconds: float) -> None:
        """Record how long one step took."""
        if self._recording():
            self._children["cycle"].observe(seconds)

    def error(self, kind: str) -> None:
        """Count a failed step by kind."""
        self._count("errors", self._errors, kind)

    def _count(self, family: str, waiting: dict[str, int], kind: str) -> None:
        if not self._recording():
            if not self._enabled:
                return
            with _lock:
                if self._families is None:
                    waiting[kind] = waiting.get(kind, 0) + 1
                    return
        assert self._families is not None
        self._families[family].labels(*self._labels, kind).inc()


class DriverMetrics(_Recorder):
    """The metrics of one driver of many electors; no-ops without ``prometheus_client``."""

    __slots__ = ("_gauges", "_name")

    def __init__(self, driver: str, *, enabled: bool = True) -> None:
        self._name = driver
        self._gauges: dict[str, float] = {}
        super().__init__(enabled)

    def _start(self, families: dict[str, Any]) -> None:
        for name in ("saturated", "lag", "batch"):
            self._children[name] = families[name].labels(self._name)
        for name, value in self._gauges.items():
            self._children[name].set(value)

    def _set(self, name: str, value: float) -> None:
        if not self._recording():
            if not self._enabled:
                return
            with _lock:
                if self._families is None:
                    self._gauges[name] = value
                    return
        self._children[name].set(value)

    def saturated(self, value: bool) -> None:
        """Record whether the store keeps up."""
        self._set("saturated", 1 if value else 0)

    def lag(self, heartbeats: float) -> None:
        """Record how late the most overdue step is."""
        self._set("lag", heartbeats)

    def batch(self, size: int) -> None:
        """Record a batch of ``size`` transactions committed together."""
        if self._recording():
            self._children["batch"].observe(size)
