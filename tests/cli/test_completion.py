"""Shell completion, as docs/reference/cli.md tells users to enable it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

COMMAND = [sys.executable, "-m", "fdb_election.cli.main"]


def complete(**env: str) -> str:
    done = subprocess.run(
        COMMAND, env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(
    ("shell", "expected"),
    [("bash", "complete -o nosort -F"), ("zsh", "compdef"), ("fish", "complete --no-files")],
)
def test_each_shell_gets_a_script(shell: str, expected: str) -> None:
    script = complete(_FDB_ELECTION_COMPLETE=f"{shell}_source")
    assert expected in script
    assert "fdb-election" in script


def test_commands_and_options_complete() -> None:
    words = complete(
        _FDB_ELECTION_COMPLETE="bash_complete", COMP_WORDS="fdb-election st", COMP_CWORD="1"
    )
    assert words.split() == ["plain,status"]
    options = complete(
        _FDB_ELECTION_COMPLETE="bash_complete", COMP_WORDS="fdb-election run --", COMP_CWORD="2"
    )
    assert {"plain,--http", "plain,--grace", "plain,--id"} <= set(options.split())
