"""Fixtures of the elector tests (helpers are in elector_harness.py)."""

from __future__ import annotations

import pytest

from fdb_election.runtime import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock shared by the electors of one test (1000 s on the monotonic clock)."""
    return ManualClock(start=1000.0)
