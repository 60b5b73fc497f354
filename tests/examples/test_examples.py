"""Every program in examples/ runs to completion and prints what its guide says it prints.

Each example runs as its own process, as a reader would run it: on its default database (a
temporary embedded file) and, when a FoundationDB cluster is available (``FDB_CLUSTER_FILE`` and
libfdb_c, as for the ``db`` fixture), with ``--db fdb:CLUSTER_FILE``. The guides' excerpts of the
examples are checked against the files, so the docs cannot drift from the code they quote.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from backends import fdb_skip_reason

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
GUIDES = ROOT / "docs" / "guides"

Check = Callable[[str], None]


def _threaded_service(out: str) -> None:
    assert re.search(r"^elected with ballot \d+$", out, re.M)
    done = re.search(r"^did (\d+) units of work as leader$", out, re.M)
    assert done and int(done[1]) >= 1
    assert out.rstrip().endswith("stopped: left the election")


def _asyncio_service(out: str) -> None:
    lines = out.splitlines()
    elected = next(i for i, line in enumerate(lines) if line.startswith("event: elected with"))
    demoted = lines.index("event: demoted (stopping)")
    assert elected < demoted
    writes = re.search(r"^made (\d+) fenced writes as leader$", out, re.M)
    assert writes and int(writes[1]) >= 1
    assert lines[-1] == "stopped: left the election"


def _fenced_fdb_write(out: str) -> None:
    a = re.search(r"^replica-a elected with ballot (\d+)$", out, re.M)
    b = re.search(r"^replica-b elected with ballot (\d+)$", out, re.M)
    assert a and b and int(b[1]) > int(a[1])
    assert "stale write refused: 'replica-b' leads now" in out
    assert f"owner is still replica-b@{b[1]}" in out


def _fenced_external_resource(out: str) -> None:
    assert re.search(r"^resource refused replica-a's write: token \d+ is below \d+", out, re.M)
    assert out.rstrip().endswith("resource holds: written by replica-b")


def _shard_leaders(out: str) -> None:
    both, _, after = out.partition("worker-0 stopped:")
    assert re.findall(r"shard-(\d+) led by worker-(\d)", both) == [
        (str(i), str(i % 2)) for i in range(6)
    ]
    assert re.findall(r"shard-\d+ led by (worker-\d)", after) == ["worker-1"] * 6


def _move_to_cluster(out: str) -> None:
    moved = re.search(r"^moved election 'nightly': lease 3 s, highest ballot (\d+)$", out, re.M)
    new = re.search(r"^new store: elected with ballot (\d+)$", out, re.M)
    assert moved and new and int(new[1]) > int(moved[1]) >= 3


def _singleton_job(out: str) -> None:
    starts = re.findall(r"start (host-[ab]) ballot (\d+)", out)
    assert sorted(host for host, _ in starts) == ["host-a", "host-b"]
    assert int(starts[1][1]) > int(starts[0][1])  # in time order: the second tenure is higher
    assert "the job ran on one host at a time" in out


#: Each example, the arguments that keep it short, and what its output must show.
EXPECTED: dict[str, tuple[list[str], Check]] = {
    "threaded_service.py": (["--seconds", "0.5"], _threaded_service),
    "asyncio_service.py": (["--seconds", "0.5"], _asyncio_service),
    "fenced_fdb_write.py": ([], _fenced_fdb_write),
    "fenced_external_resource.py": ([], _fenced_external_resource),
    "shard_leaders.py": (["--shards", "6"], _shard_leaders),
    "singleton_job.py": ([], _singleton_job),
    "move_to_cluster.py": ([], _move_to_cluster),
}
#: The option that points an example at the cluster, when it is not ``--db``.
CLUSTER_OPTION = {"move_to_cluster.py": "--to"}


def _run(name: str, extra: list[str]) -> str:
    """Run examples/NAME with the example's own arguments; return stdout (exit 0 asserted)."""
    args, check = EXPECTED[name]
    env = {k: v for k, v in os.environ.items() if k != "FDB_ELECTION_DB"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args, *extra],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, f"{name} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    check(done.stdout)
    return done.stdout


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_on_its_default_database(name: str) -> None:
    _run(name, [])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_on_a_cluster(name: str) -> None:
    reason = fdb_skip_reason()
    if reason:
        pytest.skip(reason)
    option = CLUSTER_OPTION.get(name, "--db")
    _run(name, [option, f"fdb:{os.environ['FDB_CLUSTER_FILE']}"])


def test_every_example_is_run_by_this_module() -> None:
    present = {
        path.name for path in EXAMPLES.iterdir() if path.is_file() and not path.name.startswith(".")
    }
    assert present == set(EXPECTED), "add new examples to EXPECTED (and remove deleted ones)"


def _excerpts() -> list[tuple[str, str, str]]:
    """(guide, example file, excerpt) for every code block that starts ``# from examples/X``."""
    found = []
    for guide in sorted(GUIDES.glob("*.md")):
        for block in re.findall(r"```python\n(.*?)```", guide.read_text(), re.S):
            first, _, body = block.partition("\n")
            source = re.fullmatch(r"# from (examples/\S+)", first.strip())
            if source:
                found.append((guide.name, source[1], body))
    return found


def _quotes(text: str, chunk: str) -> bool:
    """Whether ``chunk`` is a run of lines of ``text``, allowing one indent removed from all."""
    lines, want = text.splitlines(), chunk.strip("\n").splitlines()
    for start, first in enumerate(lines):
        indent = first[: len(first) - len(want[0])]
        if not first.endswith(want[0]) or indent.strip():
            continue
        run = lines[start : start + len(want)]
        if len(run) == len(want) and all(
            have == (indent + line if line else "") for have, line in zip(run, want, strict=True)
        ):
            return True
    return False


def test_quotes_accepts_dedented_runs_and_rejects_changes() -> None:
    text = "def f():\n    a = 1\n\n    return a\n"
    assert _quotes(text, "a = 1\n\nreturn a\n")
    assert _quotes(text, "    a = 1\n")
    assert not _quotes(text, "a = 2\n")
    assert not _quotes(text, "a = 1\nreturn a\n")  # a line left out without "..."


def test_guides_quote_the_examples_verbatim() -> None:
    excerpts = _excerpts()
    assert excerpts, "the guides quote no example (blocks starting '# from examples/NAME')"
    for guide, source, body in excerpts:
        text = (ROOT / source).read_text()
        for chunk in re.split(r"^\s*\.\.\.\n", body, flags=re.M):  # "..." elides lines
            assert _quotes(text, chunk), f"{guide}: this excerpt is not in {source}:\n{chunk}"


def test_guides_link_only_to_existing_examples() -> None:
    for guide in sorted(GUIDES.glob("*.md")):
        for target in re.findall(r"\]\((?:\.\./)+(examples/[^)#\s]+)\)", guide.read_text()):
            assert (ROOT / target).is_file(), f"{guide.name} links to missing {target}"
