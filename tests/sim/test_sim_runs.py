"""Whole simulated runs: deterministic per seed, clean on the real code, and the command line."""

from __future__ import annotations

import io
import logging

import pytest
from planted import PLANTED
from runs import CONFIG as CLEAN
from runs import LONG, clean

from fdb_election.sim import cli
from fdb_election.sim.faults import SimConfig
from fdb_election.sim.world import run_seed

#: 200 seeds of one simulated minute each (see ``runs.CONFIG``).
SEEDS = range(200)
#: 30 seeds of long leases (``runs.LONG``: 400 simulated seconds each, lease 10 s).
LONG_SEEDS = range(30)


def test_a_seed_replays_exactly() -> None:
    first = run_seed(11, CLEAN)
    again = run_seed(11, CLEAN)
    assert first.history.trace(10_000) == again.history.trace(10_000)
    assert first.events == again.events > 500
    assert run_seed(12, CLEAN).history.trace(10_000) != first.history.trace(10_000)


def test_runs_inject_every_kind_of_fault_and_elect_leaders() -> None:
    faults: set[str] = set()
    changes = 0
    for seed in range(10):
        outcome = run_seed(seed, CLEAN)
        faults |= set(outcome.faults)
        changes += outcome.leadership_changes
    assert faults == set(CLEAN.kinds)
    assert changes >= 20


def test_no_violation_over_many_seeds() -> None:
    failing = [report for report in map(clean, SEEDS) if report]
    assert not failing, "\n\n".join(failing[:3])


def test_no_violation_with_long_leases() -> None:
    failing = [report for report in (clean(seed, LONG) for seed in LONG_SEEDS) if report]
    assert not failing, "\n\n".join(failing[:3])


def test_lowering_the_lease_mid_run_keeps_a_single_leader() -> None:
    """Seed 6 of the simulator as it was then found it: a follower waited the new, shorter
    lease while the leader's deadline used the old one. Followers now wait the lease recorded
    with the leader's last write (tests/runtime/test_core_lease_change.py has the case itself);
    this seed stays as a longer run with lease-lowering configuration faults."""
    outcome = run_seed(6, SimConfig(duration=120.0))
    assert outcome.violations == [], outcome.report(30)


def test_command_line_summary_and_exit_status() -> None:
    out = io.StringIO()
    status = cli.main(["--seeds", "3", "--hours", "0.0125", "--no-shrink-leases"], out=out)
    lines = out.getvalue().splitlines()
    assert status == 0
    assert lines[-1] == "seeds=3 violations=0"
    assert any(line.startswith("faults injected:") for line in lines)
    assert any(line.startswith("failover (leaderless gaps):") for line in lines)


def test_the_command_line_quiets_the_electors_logs_only_while_it_runs() -> None:
    library_log = logging.getLogger("fdb_election")
    before = library_log.level
    library_log.setLevel(logging.INFO)
    try:
        assert cli.main(["--seeds", "1", "--hours", "0.005"], out=io.StringIO()) == 0
        assert library_log.level == logging.INFO, "a test or program that calls main() after"
    finally:
        library_log.setLevel(before)


def test_command_line_reports_and_replays_a_failing_seed() -> None:
    out = io.StringIO()
    with PLANTED["fence_not_checked"]():
        status = cli.main(["--seeds", "2", "--start", "5", "--hours", "0.0125"], out=out)
    text = out.getvalue()
    assert status == 1
    assert "replay: python -m fdb_election.sim --replay" in text
    assert text.splitlines()[-1].startswith("seeds=2 violations=")


def test_bad_arguments_are_refused_with_a_reason(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--seeds", "0"])
    assert exc.value.code == 2
    assert "must be a positive integer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--mutation", "fence_not_checked"])  # planted bugs live in the test tree
