"""Building an :class:`~.core.ElectorCore` from what every elector is given."""

from __future__ import annotations

import dataclasses
import os
import random
import socket
from collections.abc import Callable
from typing import Any

from fdb_election.election import LeaderElection, layout
from fdb_election.election.validation import check_process_id
from fdb_election.runtime.clock import Clock, SystemClock
from fdb_election.runtime.core import ElectorCore
from fdb_election.runtime.events import Release
from fdb_election.runtime.metrics import ElectorMetrics
from fdb_election.runtime.naming import resolve_election
from fdb_election.runtime.settings import (
    MIN_LEASE_S,
    ElectorSettings,
    check_elector_config,
)

__all__ = ["MIN_LEASE_S", "build_core", "check_elector_config", "default_process_id"]


def default_process_id(rng: random.Random) -> str:
    """``hostname-pid-random``: unique per process and per elector, readable in ``status``."""
    return f"{socket.gethostname()}-{os.getpid()}-{rng.getrandbits(32):08x}"


def build_core(
    db: Any,
    name_or_election: str | LeaderElection,
    settings: ElectorSettings,
    *,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    before_release: Callable[[Release], object] | None = None,
) -> ElectorCore:
    """Check what settings cannot check alone, complete them, and build the core.

    Raises TypeError for a ``db`` that is not a database, a ``clock`` or ``rng`` of the wrong
    kind, and ValueError for a process id too long for the election's keys.
    """
    if db is None or not callable(getattr(db, "create_transaction", None)):
        raise TypeError(
            "db must be a database with create_transaction() (fdb.open(), "
            f"fdb_election.embedded.open() or fdb_election.connect()), got {type(db).__name__}"
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
    process_id = settings.process_id
    if process_id is None:
        process_id = default_process_id(rng)
        settings = dataclasses.replace(settings, process_id=process_id)
    # The election layer's own rule, checked now rather than by every step, which would log
    # the error (with the whole id in it) on every attempt.
    check_process_id(process_id, len(layout.candidate_key(election.subspace, process_id)))
    return ElectorCore(
        db,
        election,
        settings,
        clock=clock,
        rng=rng,
        name=name,
        metrics=ElectorMetrics(name, process_id, enabled=settings.metrics),
        before_release=before_release,
    )
