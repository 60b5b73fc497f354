"""Which databases the shared test-suites run on.

Every test that touches a database takes the ``db`` fixture, which is parametrised over:

* ``memory`` — the embedded in-memory store;
* ``sqlite`` — the embedded file store (when it exists);
* ``fdb`` — a real FoundationDB cluster, only when ``FDB_CLUSTER_FILE`` is set and libfdb_c loads.
  The cluster is treated as a scratch cluster: the test key space is cleared before each test.

Tests must not care which one they get: they use only the binding API (the store contract in
docs/architecture.md), compare errors by ``.code`` and never check the store's type.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BACKENDS = ["memory", "sqlite", "fdb"]


def fdb_skip_reason() -> str | None:
    """Why the real-cluster backend cannot run here, or None when it can."""
    cluster_file = os.environ.get("FDB_CLUSTER_FILE")
    if not cluster_file:
        return "FDB_CLUSTER_FILE is not set: no FoundationDB cluster to test against"
    try:
        import fdb

        if not fdb.is_api_version_selected():
            fdb.api_version(710)
    except Exception as exc:  # any failure to load libfdb_c means skip
        return f"libfdb_c could not be loaded ({exc}); install the FoundationDB client package"
    return None


def open_backend(name: str, tmp_path: Path) -> Any:
    """Open a fresh, empty database of the given kind (or skip the test)."""
    if name == "memory":
        from fdb_election import embedded

        return embedded.open()
    if name == "sqlite":
        from fdb_election import embedded

        if not getattr(embedded, "SUPPORTS_FILES", False):
            pytest.skip("the embedded file store is not built yet")
        return embedded.open(str(tmp_path / "test.fdbe"))
    if name == "fdb":
        reason = fdb_skip_reason()
        if reason:
            pytest.skip(reason)
        import fdb

        db = fdb.open(os.environ["FDB_CLUSTER_FILE"])
        del db[b"":b"\xff"]
        return db
    raise ValueError(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}")


def close_backend(db: Any) -> None:
    close = getattr(db, "close", None)
    if callable(close):
        close()


def db_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    db = open_backend(request.param, tmp_path)
    try:
        yield db
    finally:
        close_backend(db)
