"""Every code block in README.md and docs/ that is meant to run does run.

The rules, which the README's Development section states for writers:

* A ``python`` block runs as a program of its own (``python -c``), in an empty directory with a
  fresh ``HOME`` and no ``FDB_ELECTION_DB``, and must exit 0 without a traceback. Paths under
  ``/tmp/`` in it are moved into a directory of the test's own, so snippets can name the file a
  reader would use without two test runs sharing it.
* A ``sh`` block is checked, not run (its commands start servers, wait for terminals or run the
  test suite itself): every ``fdb-election ...`` line must parse against the real command tree,
  every ``make TARGET`` must be a target of the Makefile, every ``python examples/NAME.py
  --option`` must name an existing example and options it defines, and every ``python -m
  fdb_election.sim ...`` must parse.
* A ``python`` block whose first line is ``# from examples/NAME`` is an excerpt, checked line for
  line against that file by tests/examples/test_examples.py.
* A block that must not run says why on the line just above its fence:
  ``<!-- not run: REASON -->``. A file whose first lines contain ``<!-- not run (file): REASON
  -->`` has no block run (the generated API reference: signatures and docstring excerpts).
* Blocks in other languages (output, YAML, none) are text.

A ``python`` or ``sh`` block that is neither marked nor passing fails the test.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from fdb_election.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!-- not run: (?P<reason>\S.*?) -->$")
FILE_MARKER = re.compile(r"^<!-- not run \(file\): (?P<reason>\S.*?) -->$")
FENCE = re.compile(r"^(?P<fence>`{3,})(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language, its text and why it is not run."""

    path: Path
    line: int
    language: str
    code: str
    not_run: str | None

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks_of(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, with the marker (if any) that applies to each."""
    lines = path.read_text(encoding="utf-8").splitlines()
    file_reason = next(
        (m["reason"] for line in lines[:10] if (m := FILE_MARKER.match(line.strip()))), None
    )
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence, info = opening["fence"], opening["info"].strip()
        end = i + 1
        while end < len(lines) and not (lines[end].startswith(fence) and not lines[end].strip("`")):
            end += 1
        marker = MARKER.match(lines[i - 1].strip()) if i > 0 else None
        reason = marker["reason"] if marker else file_reason
        language = info.split()[0] if info else ""
        found.append(Block(path, i + 1, language, "\n".join(lines[i + 1 : end]) + "\n", reason))
        i = end + 1
    return found


def all_blocks() -> list[Block]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [block for path in files for block in blocks_of(path)]


def is_excerpt(block: Block) -> bool:
    return block.code.startswith("# from examples/")


PYTHON = [b for b in all_blocks() if b.language == "python" and not b.not_run and not is_excerpt(b)]
SHELL = [b for b in all_blocks() if b.language in ("sh", "bash", "shell") and not b.not_run]


def run_python(code: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Run a snippet as a reader would, with ``/tmp/`` moved into ``workdir``."""
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    scratch = workdir / "tmp"
    scratch.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("FDB_ELECTION_DB", "XDG_STATE_HOME")}
    env["HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-c", code.replace("/tmp/", f"{scratch}/")],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("block", PYTHON, ids=lambda b: b.id)
def test_python_block_runs(block: Block, tmp_path: Path) -> None:
    done = run_python(block.code, tmp_path)
    assert done.returncode == 0, f"{block.id} exited {done.returncode}:\n{done.stderr}"
    assert "Traceback" not in done.stderr, f"{block.id}:\n{done.stderr}"


def test_the_readme_and_docs_have_runnable_python() -> None:
    where = {b.path.name for b in PYTHON}
    assert {"README.md", "operating.md", "elector.md", "embedded.md"} <= where, where


# -- sh blocks: checked against the real commands ---------------------------------------------


def commands(code: str) -> list[list[str]]:
    """The simple commands of a shell snippet: comments, ``&`` and pipelines' tails removed."""
    found = []
    for line in code.splitlines():
        words = shlex.split(line, comments=True)
        for end in ("|", "&&", ";"):
            if end in words:
                words = words[: words.index(end)]
        if words and words[-1] == "&":
            words = words[:-1]
        if words:
            found.append(words)
    return found


def check_fdb_election(args: list[str]) -> None:
    """Parse ``fdb-election ARGS`` down to the command, as click would, without running it."""
    context = cli.make_context("fdb-election", list(args), resilient_parsing=False)
    command: click.Command = cli
    rest = [*context._protected_args, *context.args]
    while isinstance(command, click.Group) and rest:
        name, sub, rest = command.resolve_command(context, rest)
        assert sub is not None, f"no command {name!r}"
        command = sub
        context = command.make_context(name or "", rest, parent=context)
        rest = [*context._protected_args, *context.args] if isinstance(command, click.Group) else []


def check_make(args: list[str]) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for word in args[1:]:
        if "=" in word:
            continue  # a variable such as SEEDS=1000
        assert re.search(rf"^{re.escape(word)}:", makefile, re.M), f"no make target {word!r}"


def check_example(args: list[str]) -> None:
    path = ROOT / args[1]
    assert path.is_file(), f"{args[1]} does not exist"
    source = path.read_text(encoding="utf-8")
    for word in args[2:]:
        if word.startswith("--"):
            assert f'"{word}"' in source, f"{args[1]} has no option {word}"


def check_simulator(args: list[str]) -> None:
    from fdb_election.sim.cli import parse_args

    parse_args(args[3:])


def check_command(words: list[str]) -> None:
    if words[0] == "fdb-election":
        check_fdb_election(words[1:])
    elif words[0] == "make":
        check_make(words)
    elif words[0] in ("python", "python3") and words[1:2] == ["-m"]:
        assert words[2] == "fdb_election.sim", f"unknown module {words[2]}"
        check_simulator(words)
    elif words[0] in ("python", "python3") and words[1].startswith("examples/"):
        check_example(words)


@pytest.mark.parametrize("block", SHELL, ids=lambda b: b.id)
def test_shell_block_commands_exist(block: Block) -> None:
    for words in commands(block.code):
        try:
            check_command(words)
        except (click.ClickException, SystemExit, AssertionError) as exc:
            detail = exc.format_message() if isinstance(exc, click.ClickException) else exc
            pytest.fail(f"{block.id}: `{shlex.join(words)}`: {detail}")


# -- the rules themselves -----------------------------------------------------------------------


def test_markers_and_excerpts_are_recognised(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "intro\n\n```python\nprint(1)\n```\n\n<!-- not run: needs a cluster -->\n```python\n"
        "connect('fdb:')\n```\n\n```\nplain output\n```\n\n```python\n# from examples/x.py\n"
        "x = 1\n```\n",
        encoding="utf-8",
    )
    found = blocks_of(page)
    assert [(b.language, b.not_run, is_excerpt(b)) for b in found] == [
        ("python", None, False),
        ("python", "needs a cluster", False),
        ("", None, False),
        ("python", None, True),
    ]
    whole = tmp_path / "generated.md"
    whole.write_text("# T\n<!-- not run (file): generated -->\n```python\nx\n```\n")
    assert [b.not_run for b in blocks_of(whole)] == ["generated"]


def test_a_failing_snippet_is_caught(tmp_path: Path) -> None:
    assert run_python("import fdb_election\nfdb_election.no_such_name\n", tmp_path).returncode
    assert run_python("open('/tmp/x', 'w').write('ok')\n", tmp_path).returncode == 0
    assert (tmp_path / "tmp" / "x").read_text() == "ok", "/tmp/ is moved into the test's dir"


@pytest.mark.parametrize(
    "line",
    [
        "fdb-election status --no-such-option",
        "fdb-election no-such-command",
        "fdb-election init --lease abc",
        "make no-such-target",
        "python examples/threaded_service.py --no-such-option",
        "python examples/missing.py",
        "python -m fdb_election.sim --no-such-option",
    ],
)
def test_a_wrong_command_line_is_caught(line: str) -> None:
    with pytest.raises((click.ClickException, SystemExit, AssertionError)):
        check_command(shlex.split(line))


def test_command_lines_are_split_as_a_shell_would() -> None:
    code = (
        "export X=1\nfdb-election run --id a -- sleep 9 &   # comment\n"
        "fdb-election status --json | jq .leader\n"
    )
    assert commands(code) == [
        ["export", "X=1"],
        ["fdb-election", "run", "--id", "a", "--", "sleep", "9"],
        ["fdb-election", "status", "--json"],
    ]
