"""Shared fixtures: ``db`` runs a test on every database backend (see backends.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends import BACKENDS, db_fixture


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh empty database: memory, sqlite (file store) and fdb (real cluster, when present)."""
    yield from db_fixture(request, tmp_path)


@pytest.fixture
def memory_db() -> Any:
    """The in-memory embedded store only, for tests of embedded-only behaviour."""
    from fdb_election import embedded

    return embedded.open()
