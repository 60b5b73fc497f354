"""What a process loads: a service with an Elector and ``fdb-election run`` stay light.

Each check runs in a fresh interpreter (this test process has imported everything already):
``import fdb_election`` and an Elector on the file store load neither the command line's
libraries (click, rich) nor prometheus_client (until something imports it to export metrics),
the simulator, the HTTP server or asyncio; ``fdb-election run`` loads click but not rich, the
simulator or prometheus_client. benchmarks/footprint.py measures what that saves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fdb_election import embedded

#: Modules a service with an Elector has no use for.
NOT_IN_A_SERVICE = (
    "click",
    "rich",
    "prometheus_client",
    "fdb_election.sim",
    "fdb_election.cli",
    "http.server",
    "asyncio",
)
#: ``run`` parses its command line with click; the rest it has no use for either.
NOT_IN_RUN = ("rich", "prometheus_client", "fdb_election.sim", "http.server", "asyncio")


def loaded(code: str, *args: str) -> set[str]:
    """``sys.modules`` of a fresh interpreter after running ``code`` (given ``args``)."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def among(modules: set[str], unwanted: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules for u in unwanted if m == u or m.startswith(u + "."))


def test_import_fdb_election_loads_nothing_heavy() -> None:
    modules = loaded("import fdb_election\nfdb_election.Elector, fdb_election.connect")
    assert among(modules, NOT_IN_A_SERVICE) == []


@pytest.mark.skipif(
    not getattr(embedded, "SUPPORTS_FILES", False), reason="the file store is not available"
)
def test_an_elector_on_the_file_store_loads_nothing_heavy(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import sys
        import fdb_election

        db = fdb_election.connect("sqlite:" + sys.argv[1])
        config = fdb_election.ElectionConfig.with_lease_duration(1.0)
        with fdb_election.Elector(db, "light", config=config) as elector:
            assert elector.wait_for_leadership(10)
        """
    )
    modules = loaded(code, str(tmp_path / "light.fdbe"))
    assert "fdb_election.embedded.sqlite" in modules  # it did run on the file store
    assert among(modules, NOT_IN_A_SERVICE) == []


def test_serve_http_is_still_importable_from_the_package() -> None:
    modules = loaded(
        "from fdb_election import serve_http\n"
        "from fdb_election.runtime.http import serve_http as same\n"
        "assert serve_http is same"
    )
    assert "http.server" in modules


@pytest.mark.slow
@pytest.mark.skipif(
    not getattr(embedded, "SUPPORTS_FILES", False), reason="the file store is not available"
)
def test_run_loads_no_rich_simulator_or_prometheus(tmp_path: Path) -> None:
    """Every module ``run`` imports over its life, from ``-X importtime`` on its stderr."""
    url = f"sqlite:{tmp_path / 'run.fdbe'}"
    command = [sys.executable, "-m", "fdb_election.cli.main", "--db", url]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FDB_ELECTION")}
    subprocess.run([*command, "init", "--lease", "1"], check=True, capture_output=True, env=env)
    done = subprocess.run(
        [*command, "run", "--id", "light", "--", sys.executable, "-c", "pass"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "started CMD" in done.stderr  # it did lead and run CMD
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    } - {"imported package"}  # the header line
    assert {"click", "fdb_election.cli.run", "fdb_election.runtime.elector"} <= modules
    assert among(modules, NOT_IN_RUN) == []


def test_metrics_off_never_import_prometheus_client() -> None:
    modules = loaded(
        "import fdb_election\n"
        "from fdb_election import embedded\n"
        "e = fdb_election.Elector(embedded.open(), 'off', metrics=False).start()\n"
        "assert e.wait_for_leadership(10)\n"
        "e.stop(10)\n"
        "from fdb_election.runtime.metrics import metrics_available\n"
        "metrics_available()\n"
    )
    assert "prometheus_client" not in modules
