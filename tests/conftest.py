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


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line per distinct skip reason (instead of one per test), so the reasons stay readable."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    if reasons:
        terminalreporter.section("skipped tests, by reason")
        for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
            terminalreporter.write_line(f"{count:5d}  {reason}")
