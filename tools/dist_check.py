"""Build the sdist and wheel, install the wheel into a clean virtual environment, smoke-test it.

Usage::

    python tools/dist_check.py             # what `make dist-check` runs (CI too)
    python tools/dist_check.py --keep      # keep the temporary directory and print its path

The wheel is built from the sdist by the standard front end (``python -m build``), so a file
missing from the sdist fails here. It is installed, not editable, with the ``metrics`` extra into
a new venv, and every check runs from an empty directory outside the repository with a fresh
``HOME``, so nothing can come from the source tree: the command (``--help``, ``--version``,
``demo``, ``init``/``status``), the library (an election on the embedded stores, a fenced write,
the HTTP endpoints) and two examples copied out of the repository. Ends with one line
``dist-check: N passed, M failed``; exit 1 if anything failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LIBRARY_SMOKE = textwrap.dedent(
    """
    import json, os, sys, tempfile, urllib.request
    import fdb_election

    assert os.path.realpath(fdb_election.__file__).startswith(os.path.realpath(sys.prefix)), (
        "fdb_election was not imported from the virtual environment: " + fdb_election.__file__
    )

    @fdb_election.transactional
    def fenced_write(tr, elector):
        elector.fence(tr)
        tr[b"owner"] = elector.process_id.encode()

    path = os.path.join(tempfile.mkdtemp(), "smoke.fdbe")
    for url in ("memory:", "sqlite:" + path):
        db = fdb_election.connect(url)
        config = fdb_election.ElectionConfig.with_lease_duration(1)
        with fdb_election.Elector(db, "smoke", process_id="a", config=config) as elector:
            assert elector.wait_for_leadership(timeout=30), "not elected"
            fenced_write(db, elector)
            assert db[b"owner"] == b"a"
            with fdb_election.serve_http(elector) as http:
                for path_, status in (("/healthz", 200), ("/leader", 200), ("/metrics", 200)):
                    with urllib.request.urlopen(http.url + path_, timeout=10) as answer:
                        assert answer.status == status, (path_, answer.status)
                        body = answer.read()
                with urllib.request.urlopen(http.url + "/leader", timeout=10) as answer:
                    assert json.load(answer)["leader"]["process_id"] == "a"
                assert b"fdb_election_is_leader" in body
        print(url.split(":")[0], "ok")
    assert fdb_election.embedded.open() is not None and fdb_election.aio.Elector
    """
)


class Checks:
    """Runs named checks, prints each outcome, counts them."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def run(self, name: str, check: Callable[[], None]) -> None:
        started = time.monotonic()
        try:
            check()
        except Exception as exc:
            self.failed.append(name)
            print(f"FAIL {name} ({time.monotonic() - started:.1f} s): {exc}", flush=True)
        else:
            self.passed += 1
            print(f"ok   {name} ({time.monotonic() - started:.1f} s)", flush=True)


def run(
    argv: Sequence[str | Path], *, cwd: Path, env: dict[str, str] | None = None, timeout: float
) -> str:
    """Run ``argv``; return stdout; raise with the output when it exits non-zero."""
    done = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, argv))} exited {done.returncode}\n{done.stdout}{done.stderr}"
        )
    return done.stdout


def build(out: Path) -> tuple[Path, Path]:
    """``python -m build`` (sdist, then the wheel from it); the two files."""
    run([sys.executable, "-m", "build", "--outdir", out, ROOT], cwd=ROOT, timeout=600)
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        raise RuntimeError(f"expected one wheel and one sdist in {out}, got {list(out.iterdir())}")
    return wheels[0], sdists[0]


def clean_env(home: Path, venv: Path) -> dict[str, str]:
    """The environment of a new user with only the venv on PATH (nothing from this shell's
    virtual environment, PYTHONPATH or database choice)."""
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', os.defpath)}"
    env["HOME"] = str(home)
    env["VIRTUAL_ENV"] = str(venv)
    return env


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="fdb-election-dist-"))
    checks = Checks()
    try:
        dist, venv, home, cwd = (workdir / name for name in ("dist", "venv", "home", "cwd"))
        for directory in (home, cwd):
            directory.mkdir()
        built: list[Path] = []
        checks.run("build sdist and wheel (python -m build)", lambda: built.extend(build(dist)))
        if not built:
            return finish(checks, started)
        wheel = built[0]

        def contents() -> None:
            names = zipfile.ZipFile(wheel).namelist()
            for needed in ("fdb_election/py.typed", "fdb_election/cli/main.py"):
                if needed not in names:
                    raise RuntimeError(f"{needed} is not in {wheel.name}")
            if any(name.startswith(("tests/", "examples/")) for name in names):
                raise RuntimeError(f"{wheel.name} carries the test suite or the examples")

        def install() -> None:
            run([sys.executable, "-m", "venv", venv], cwd=cwd, timeout=120)
            pip: list[str | Path] = [venv / "bin" / "python", "-m", "pip", "install", "--quiet"]
            run([*pip, "--upgrade", "pip"], cwd=cwd, timeout=300)
            run([*pip, f"{wheel}[metrics]"], cwd=cwd, timeout=600)

        checks.run(f"wheel contents ({wheel.name})", contents)
        checks.run("install the wheel with [metrics] into a clean venv", install)
        env = clean_env(home, venv)
        py = venv / "bin" / "python"
        command = venv / "bin" / "fdb-election"

        def cli_basics() -> None:
            if "Usage: fdb-election" not in run([command, "--help"], cwd=cwd, env=env, timeout=60):
                raise RuntimeError("--help does not show the usage")
            version = run([command, "--version"], cwd=cwd, env=env, timeout=60)
            if "fdb-election, version" not in version:
                raise RuntimeError(f"unexpected --version output: {version!r}")
            run([command, "init", "--lease", "2"], cwd=cwd, env=env, timeout=60)
            status = run([command, "status", "--json"], cwd=cwd, env=env, timeout=60)
            if '"lease_s": 2.0' not in status:
                raise RuntimeError(f"status does not show the new election: {status}")
            default = home / ".local" / "state" / "fdb-election" / "default.fdbe"
            if not default.is_file():
                raise RuntimeError(f"the default database is not at {default}")

        def demo() -> None:
            summary = run([command, "demo"], cwd=cwd, env=env, timeout=120)
            if "graceful handover:" not in summary:
                raise RuntimeError(f"the demo printed no summary:\n{summary}")

        def library() -> None:
            out = run([py, "-c", LIBRARY_SMOKE], cwd=cwd, env=env, timeout=120)
            if out.split() != ["memory", "ok", "sqlite", "ok"]:
                raise RuntimeError(f"unexpected output: {out!r}")

        def examples() -> None:
            for name, extra in (
                ("threaded_service.py", ["--seconds", "0.5"]),
                ("fenced_fdb_write.py", []),
            ):
                copy = cwd / name
                shutil.copy(ROOT / "examples" / name, copy)
                out = run([py, copy, *extra], cwd=cwd, env=env, timeout=120)
                if not out.strip():
                    raise RuntimeError(f"{name} printed nothing")

        checks.run(
            "fdb-election --help, --version, init and status on the default database", cli_basics
        )
        checks.run("fdb-election demo", demo)
        checks.run("import, elections on memory: and sqlite:, fence, serve_http", library)
        checks.run("examples run with the installed package", examples)
        return finish(checks, started)
    finally:
        if args.keep:
            print(f"kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def finish(checks: Checks, started: float) -> int:
    print(f"dist-check took {time.monotonic() - started:.0f} s")
    print(f"dist-check: {checks.passed} passed, {len(checks.failed)} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
