"""``fdb-election simulate``: the simulator behind the installed command, arguments as given."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from fdb_election.cli.main import cli
from fdb_election.sim.cli import main as simulator


def test_simulate_runs_seeds_and_reports_the_machine_readable_line() -> None:
    result = CliRunner().invoke(cli, ["simulate", "--seeds", "2", "--hours", "0.005"])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().splitlines()[-1] == "seeds=2 violations=0"


def test_simulate_draws_the_same_timeline_as_the_module(tmp_path: Path) -> None:
    via_cli = tmp_path / "cli.svg"
    via_module = tmp_path / "module.svg"
    result = CliRunner().invoke(
        cli, ["simulate", "--scenario", "handover", "--timeline", str(via_cli)]
    )
    assert result.exit_code == 0, result.output
    assert simulator(["--scenario", "handover", "--timeline", str(via_module)]) == 0
    assert via_cli.read_bytes() == via_module.read_bytes()
    assert b"<svg" in via_cli.read_bytes()[:200]


def test_simulate_help_and_errors_name_the_command() -> None:
    shown = CliRunner().invoke(cli, ["simulate", "--help"])
    assert shown.exit_code == 0 and "usage: fdb-election simulate" in shown.output
    wrong = CliRunner().invoke(cli, ["simulate", "--scenario", "nope"])
    assert wrong.exit_code == 2
    assert "fdb-election simulate" in wrong.output and "crash" in wrong.output
