"""Which database a command opens, and what it says when that is the wrong one.

These run the CLI in-process without a given database, so ``--db``, ``$FDB_ELECTION_DB`` and
the default file in the state directory are resolved as on a user's machine (a fresh ``HOME``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fdb_election.cli.main import cli
from fdb_election.connect import ENV_VAR

READ_COMMANDS = [
    ["status"],
    ["candidates"],
    ["config", "show"],
    ["config", "set", "--lease", "5"],
    ["evict"],
    ["resign", "--id", "web-1"],
]


@pytest.fixture
def fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user with no state directory yet and no database variable set."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.delenv(ENV_VAR, raising=False)
    return home


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_init_then_status_work_on_a_fresh_account_without_db(fresh_home: Path) -> None:
    default = fresh_home / ".local" / "state" / "fdb-election" / "default.fdbe"
    created = invoke("init", "--lease", "2")
    assert created.exit_code == 0, created.output
    assert default.is_file()
    shown = invoke("status")
    assert shown.exit_code == 0, shown.output
    assert "leader:" in shown.stdout


@pytest.mark.parametrize("args", READ_COMMANDS, ids=" ".join)
def test_commands_on_an_existing_election_never_create_the_default_database(
    fresh_home: Path, args: list[str]
) -> None:
    result = invoke(*args)
    assert result.exit_code == 3, result.output
    assert "(the default database" in result.stderr
    assert "fdb-election init" in result.stderr
    assert not (fresh_home / ".local").exists()


@pytest.mark.parametrize("args", READ_COMMANDS, ids=" ".join)
def test_a_mistyped_path_is_reported_with_the_path_and_nothing_is_created(
    tmp_path: Path, fresh_home: Path, args: list[str]
) -> None:
    typo = tmp_path / "tpyo.fdbe"
    result = invoke("--db", f"sqlite:{typo}", *args)
    assert result.exit_code == 3, result.output
    assert f"no database at sqlite:{typo} (from --db)" in result.stderr
    assert f"{str(typo)!r} does not exist" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]  # no file, no .wake


def test_the_variable_is_named_as_the_source_of_the_database(
    tmp_path: Path, fresh_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:{tmp_path / 'other.fdbe'}"
    monkeypatch.setenv(ENV_VAR, url)
    assert invoke("init").exit_code == 0
    result = invoke("--election", "nightly", "status")
    assert result.exit_code == 3, result.output
    assert f"election 'nightly' is not initialized in {url} (from ${ENV_VAR})" in result.stderr, (
        result.stderr
    )


def test_an_existing_file_without_the_election_names_the_file(
    tmp_path: Path, fresh_home: Path
) -> None:
    url = f"sqlite:{tmp_path / 'jobs.fdbe'}"
    assert invoke("--db", url, "init").exit_code == 0
    result = invoke("--db", url, "--election", "nightly", "candidates")
    assert result.exit_code == 3
    assert f"not initialized in {url} (from --db)" in result.stderr


def test_a_database_given_as_an_object_is_named_by_its_url(tmp_path: Path) -> None:
    from fdb_election import embedded
    from fdb_election.cli.context import CliContext

    path = tmp_path / "given.fdbe"
    for db, name in ((embedded.open(str(path)), f"sqlite:{path}"), (embedded.open(), "memory:")):
        result = CliRunner().invoke(cli, ["status"], obj=CliContext(database_object=db))
        assert result.exit_code == 3
        assert f"election 'default' is not initialized in {name}" in result.stderr
        assert "the given database" not in result.stderr
