"""The clock leadership deadlines are measured on: the boot clock where the host offers it."""

from __future__ import annotations

import sys
import time

import pytest

from fdb_election.cli import guard
from fdb_election.runtime import clock


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="CLOCK_BOOTTIME is Linux's")
def test_on_linux_the_electors_and_the_guard_read_the_boot_clock() -> None:
    assert clock.HOST_CLOCK_ID == time.CLOCK_BOOTTIME
    assert guard._CLOCK_ID == clock.HOST_CLOCK_ID, "run's guard measures the same deadlines"
    before = time.clock_gettime(time.CLOCK_BOOTTIME)
    now = clock.host_monotonic()
    assert before <= now <= time.clock_gettime(time.CLOCK_BOOTTIME)


@pytest.mark.parametrize("module", [clock, guard], ids=["electors", "guard"])
def test_without_a_readable_boot_clock_both_fall_back_to_the_monotonic_clock(
    module: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = time.clock_gettime

    def refused(clock_id: int) -> float:
        if clock_id == getattr(time, "CLOCK_BOOTTIME", None):
            raise OSError(22, "Invalid argument")
        return real(clock_id)

    monkeypatch.setattr(time, "clock_gettime", refused)
    assert module._boot_clock() is None  # type: ignore[attr-defined]
