"""Fixtures for the election tests (helpers are in election_helpers.py)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from election_helpers import run

from fdb_election.election import ElectionConfig, LeaderElection

_election_names = itertools.count()


@pytest.fixture
def election() -> LeaderElection:
    """A LeaderElection under a subspace of its own."""
    return LeaderElection(("election-tests", next(_election_names)))


@pytest.fixture
def config() -> ElectionConfig:
    """The configuration the tests initialize with: a 10 s lease, 15 s candidate timeout."""
    return ElectionConfig(lease_duration=10, heartbeat_interval=3, candidate_timeout=15)


@pytest.fixture
def ready(db: Any, election: LeaderElection, config: ElectionConfig) -> Any:
    """``db`` with ``election`` initialized with ``config``."""
    run(db, lambda tr: election.initialize_with_config(tr, config))
    return db
