"""Building an :class:`~.core.ElectorCore` from the arguments both electors take."""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Callable, Mapping
from typing import Any

from fdb_election.election import ElectionConfig, LeaderElection, layout
from fdb_election.election.validation import check_process_id
from fdb_election.runtime.clock import Clock, SystemClock
from fdb_election.runtime.core import DEFAULT_CLOCK_DRIFT, ElectorCore
from fdb_election.runtime.events import Release
from fdb_election.runtime.metrics import ElectorMetrics
from fdb_election.runtime.naming import resolve_election

__all__ = ["MIN_LEASE_S", "build_core", "check_elector_config", "default_process_id"]

MIN_LEASE_S = 0.1
"""The shortest lease an elector accepts in a configuration it writes, in seconds.

A leader leads until the start of its last committed refresh plus the lease minus a margin
(``lease x clock drift + 5 ms``), and refreshes every heartbeat (a third of the lease by default,
give or take the jitter), so the lease has to cover the margin, a heartbeat, one commit and the
delays of a busy machine. Measured on the file store with the derived heartbeat (2 cores): a
10 ms lease is lost hundreds of times in 5 s, 20 ms holds on an idle machine but is lost dozens of
times with both cores busy, 50 ms holds in both; 100 ms keeps a factor of two above that and of
twenty above the 5 ms margin.
"""


def default_process_id(rng: random.Random) -> str:
    """``hostname-pid-random``: unique per process and per elector, readable in ``status``."""
    return f"{socket.gethostname()}-{os.getpid()}-{rng.getrandbits(32):08x}"


def check_elector_config(config: ElectionConfig, label: str = "config") -> None:
    """Raise ValueError for a configuration electors cannot keep a leader with.

    The seed (and Rust) store any positive durations; electors refuse a lease below
    :data:`MIN_LEASE_S`, with which nobody would ever stay leader, and a candidate timeout not
    above the heartbeat, with which live candidates are judged dead between two heartbeats.
    """
    lease_s = config.lease_duration_ns / 1e9
    if lease_s < MIN_LEASE_S:
        raise ValueError(
            f"{label}.lease_duration ({lease_s:g} s) is too short for an elector: it must be at "
            f"least {MIN_LEASE_S:g} s, so that the lease covers a commit, a heartbeat and the "
            "clock-drift margin (lease x 1 % + 5 ms); below about 20 ms nobody stays leader"
        )
    if config.candidate_timeout_ns <= config.heartbeat_interval_ns:
        raise ValueError(
            f"{label}.candidate_timeout ({config.candidate_timeout}) must be above its "
            f"heartbeat_interval ({config.heartbeat_interval}), or live candidates are judged "
            "dead between two heartbeats; several heartbeats is better"
        )


def build_core(
    db: Any,
    name_or_election: str | LeaderElection,
    *,
    process_id: str | None,
    priority: int,
    config: ElectionConfig | None,
    clock: Clock | None,
    rng: random.Random | None,
    jitter: float,
    observer: bool,
    clock_drift: float = DEFAULT_CLOCK_DRIFT,
    metrics: bool = True,
    before_release: Callable[[Release], object] | None = None,
    callbacks: Mapping[str, object] | None = None,
) -> ElectorCore:
    """Validate the arguments and build the core (raises ValueError/TypeError on bad input).

    ``callbacks`` are the elector's own callbacks by argument name (``on_elected``, ...): they
    are checked here, first, but not handed to the core.
    """
    for label, callback in (callbacks or {}).items():
        if callback is not None and not callable(callback):
            raise TypeError(f"{label} must be callable or None, got {type(callback).__name__}")
    if db is None or not callable(getattr(db, "create_transaction", None)):
        raise TypeError(
            "db must be a database with create_transaction() (fdb.open(), "
            f"fdb_election.embedded.open() or fdb_election.connect()), got {type(db).__name__}"
        )
    if isinstance(config, ElectionConfig):
        check_elector_config(config)
    election, name = resolve_election(name_or_election)
    if clock is None:
        clock = SystemClock()
    elif not isinstance(clock, Clock):
        raise TypeError(
            f"clock must have monotonic() and wall() methods, got {type(clock).__name__}"
        )
    if rng is None:
        rng = random.Random()
    elif not isinstance(rng, random.Random):
        raise TypeError(f"rng must be a random.Random, got {type(rng).__name__}")
    if process_id is None:
        process_id = default_process_id(rng)
    # The election layer's own rule, checked now rather than by every step, which would log
    # the error (with the whole id in it) on every attempt.
    check_process_id(process_id)
    check_process_id(process_id, len(layout.candidate_key(election.subspace, process_id)))
    if not isinstance(observer, bool):
        raise TypeError(f"observer must be a bool, got {type(observer).__name__}")
    return ElectorCore(
        db,
        election,
        process_id=process_id,
        priority=priority,
        config=config,
        clock=clock,
        rng=rng,
        jitter=jitter,
        observer=observer,
        clock_drift=clock_drift,
        name=name,
        metrics=ElectorMetrics(name, process_id, enabled=metrics),
        before_release=before_release,
    )
