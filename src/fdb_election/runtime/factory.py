"""Building an :class:`~.core.ElectorCore` from the arguments both electors take."""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Callable, Mapping
from typing import Any

from fdb_election.election import ElectionConfig, LeaderElection
from fdb_election.runtime.clock import Clock, SystemClock
from fdb_election.runtime.core import DEFAULT_CLOCK_DRIFT, ElectorCore
from fdb_election.runtime.events import Release
from fdb_election.runtime.metrics import ElectorMetrics
from fdb_election.runtime.naming import resolve_election

__all__ = ["build_core", "default_process_id"]


def default_process_id(rng: random.Random) -> str:
    """``hostname-pid-random``: unique per process and per elector, readable in ``status``."""
    return f"{socket.gethostname()}-{os.getpid()}-{rng.getrandbits(32):08x}"


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
    if (
        isinstance(config, ElectionConfig)
        and config.candidate_timeout_ns <= config.heartbeat_interval_ns
    ):
        raise ValueError(
            f"config.candidate_timeout ({config.candidate_timeout}) must be above its "
            f"heartbeat_interval ({config.heartbeat_interval}), or live candidates are judged "
            "dead between two heartbeats; several heartbeats is better"
        )
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
