"""Memory and import cost of a candidate process: a service with one Elector, and ``run``.

Measures, on the file store with a 1 s lease (heartbeat 1/3 s), each in fresh processes:

* a process that imports ``fdb_election``, opens the file store and runs one ``Elector``
  (public API, default options): resident memory (VmRSS) once elected and after a few
  heartbeats;
* ``fdb-election run -- sleep 100``: the ``run`` process's resident memory once CMD started and
  after a few heartbeats, and its guard process's, separately;
* the import time of each (``-X importtime``, every import over the process's life: the sum of
  the top-level cumulative times) and the number of modules imported;
* the floor: a bare ``python -c`` process (its RSS and its start-up imports).

The figures are medians over a few repetitions; ratios to the floor are what compares across
machines. ``--baseline REV`` measures the sources of git revision REV the same way, alternating
with the working tree, and prints both (how an import change is judged: same run, same noise).

Usage: ``python benchmarks/footprint.py [--quick] [--baseline REV]``.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from failover import _rss_mib

HERE = Path(__file__).resolve().parent
LEASE = 1.0
HEARTBEAT = LEASE / 3
WAIT = 10.0
#: Modules a candidate has no use for (counted in each figure ``*_heavy_modules``): ``run``
#: needs click to parse its command line, a service with an Elector nothing of the CLI.
HEAVY = ("rich", "prometheus_client", "fdb_election.sim", "http.server", "asyncio")
HEAVY_FOR_SERVICE = (*HEAVY, "click")

ELECTOR_WORKER = """
import sys, time
import fdb_election

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

db = fdb_election.connect("sqlite:" + sys.argv[1])
config = fdb_election.ElectionConfig.with_lease_duration(float(sys.argv[2]))
with fdb_election.Elector(db, "footprint", process_id="solo", config=config) as elector:
    if not elector.wait_for_leadership(10):
        raise SystemExit("not elected")
    print("started", rss(), flush=True)
    time.sleep(float(sys.argv[3]))
    print("heartbeats", rss(), flush=True)
"""

FLOOR_WORKER = """
import sys
for line in open("/proc/self/status"):
    if line.startswith("VmRSS:"):
        print("started", int(line.split()[1]) / 1024, flush=True)
"""


def _import_figures(stderr: str, heavy: tuple[str, ...] = HEAVY) -> dict[str, float]:
    """From the ``-X importtime`` lines on ``stderr``: the total import time (s), the number of
    modules imported, and how many of ``heavy`` are among them."""
    total_us = 0
    names = set()
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)", line)
        if match is None:
            continue
        names.add(match.group(4))
        if len(match.group(3)) == 1:  # top level: its cumulative time holds its imports' times
            total_us += int(match.group(2))
    return {
        "import_s": total_us / 1e6,
        "modules": float(len(names)),
        "heavy_modules": float(sum(1 for name in heavy if name in names)),
    }


def _env(src: Path | None, importtime: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FDB_ELECTION")}
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    if importtime:
        env["PYTHONPROFILEIMPORTTIME"] = "1"
    return env


def _lines(text: str, word: str) -> list[str]:
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == word:
            return parts[1:]
    raise RuntimeError(f"no {word!r} line in {text!r}")


def measure_floor(importtime: bool) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", FLOOR_WORKER],
        capture_output=True,
        text=True,
        check=True,
        env=_env(None, importtime),
    )
    figures = {"rss_mib": float(_lines(proc.stdout, "started")[0])}
    if importtime:
        figures.update(_import_figures(proc.stderr))
    return figures


def measure_elector(src: Path | None, importtime: bool) -> dict[str, float]:
    """One Elector process on a fresh file: RSS once elected and after a few heartbeats."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                ELECTOR_WORKER,
                str(Path(tmp) / "e.fdbe"),
                str(LEASE),
                str(4 * HEARTBEAT),
            ],
            capture_output=True,
            text=True,
            check=True,
            env=_env(src, importtime),
            timeout=60,
        )
    figures = {
        "rss_mib_started": float(_lines(proc.stdout, "started")[0]),
        "rss_mib_heartbeats": float(_lines(proc.stdout, "heartbeats")[0]),
    }
    if importtime:
        figures.update(_import_figures(proc.stderr, HEAVY_FOR_SERVICE))
    return figures


def _command(src: Path | None) -> list[str]:
    """``fdb-election`` as installed next to this interpreter (else the same entry point)."""
    script = Path(sys.executable).with_name("fdb-election")
    if src is None and script.exists():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "import sys; from fdb_election.cli.main import main; main()"]


def _guard_pid(run_pid: int) -> int:
    """The guard: the child of ``run`` whose command line names guard.py."""
    children = Path(f"/proc/{run_pid}/task/{run_pid}/children").read_text().split()
    for child in children:
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        if any(part.endswith(b"guard.py") for part in cmdline):
            return int(child)
    raise RuntimeError(f"no guard process among the children of {run_pid}: {children}")


def measure_run(src: Path | None, importtime: bool) -> dict[str, float]:
    """``fdb-election run -- sleep 100`` alone on a fresh file (1 s lease)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:{Path(tmp) / 'run.fdbe'}"
        base = [*_command(src), "--db", url]
        subprocess.run(
            [*base, "init", "--lease", str(LEASE), "--heartbeat", f"{HEARTBEAT:.6f}"],
            check=True,
            capture_output=True,
            env=_env(src, False),
        )
        proc = subprocess.Popen(
            [*base, "run", "--id", "footprint", "--", "sleep", "100"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(src, importtime),
        )
        assert proc.stderr is not None
        try:
            err = io.StringIO()
            for line in proc.stderr:
                err.write(line)
                if "started CMD" in line:
                    break
            else:
                raise RuntimeError(f"run exited before starting CMD: {err.getvalue()}")
            started = _rss_mib(proc.pid)
            guard = _guard_pid(proc.pid)
            time.sleep(4 * HEARTBEAT)
            figures = {
                "rss_mib_started": started,
                "rss_mib_heartbeats": _rss_mib(proc.pid),
                "guard_rss_mib": _rss_mib(guard),
            }
        finally:
            proc.send_signal(signal.SIGTERM)
            err.write(proc.stderr.read())
            proc.wait(WAIT)
    if importtime:
        figures.update(_import_figures(err.getvalue()))
    return figures


def _median(samples: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(s[key] for s in samples) for key in samples[0]}


def measure_all(src: Path | None, repetitions: int) -> dict[str, float]:
    """Every figure of one source tree (``None``: the installed one), medians."""
    figures: dict[str, float] = {}
    parts: dict[str, Callable[[Path | None, bool], dict[str, float]]] = {
        "elector": measure_elector,
        "run": measure_run,
    }
    for name, measure in parts.items():
        samples = [measure(src, i % 2 == 1) for i in range(2 * repetitions)]
        plain = _median([s for s in samples if "import_s" not in s])
        timed = _median([s for s in samples if "import_s" in s])
        figures.update({f"{name}_{k}": v for k, v in plain.items()})
        figures[f"{name}_import_ms"] = timed["import_s"] * 1000
        figures[f"{name}_modules"] = timed["modules"]
        figures[f"{name}_heavy_modules"] = timed["heavy_modules"]
    return figures


def run(quick: bool = False) -> dict[str, float]:
    """All figures of the working tree, with the floor measured in the same run."""
    repetitions = 2 if quick else 5
    floor = _median([measure_floor(i % 2 == 1) for i in range(2 * repetitions)])
    timed_floor = _median([measure_floor(True) for _ in range(repetitions)])
    figures = measure_all(None, repetitions)
    figures["python_floor_rss_mib"] = floor["rss_mib"]
    figures["python_floor_import_ms"] = timed_floor["import_s"] * 1000
    figures["python_floor_modules"] = timed_floor["modules"]
    figures["elector_rss_over_floor_ratio"] = (
        figures["elector_rss_mib_heartbeats"] / figures["python_floor_rss_mib"]
    )
    figures["run_rss_over_floor_ratio"] = (
        figures["run_rss_mib_heartbeats"] / figures["python_floor_rss_mib"]
    )
    return figures


def _export(rev: str, into: Path) -> Path:
    """The ``src`` folder of git revision ``rev``, extracted under ``into``."""
    data = subprocess.run(
        ["git", "archive", "--format=tar", rev, "src"],
        cwd=HERE.parent,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(into, filter="data")
    return into / "src"


def compare(rev: str, repetitions: int) -> None:
    """Baseline ``rev`` and the working tree, alternating, in one run; a table on stdout."""
    with tempfile.TemporaryDirectory() as tmp:
        old_src = _export(rev, Path(tmp))
        rounds: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
        for _ in range(repetitions):
            rounds["before"].append(measure_all(old_src, 1))
            rounds["after"].append(measure_all(Path(HERE.parent / "src"), 1))
    before, after = _median(rounds["before"]), _median(rounds["after"])
    floor = _median([measure_floor(False) for _ in range(repetitions)])
    print(f"medians of {repetitions} rounds; python floor RSS {floor['rss_mib']:.1f} MiB")
    print(f"{'figure':<28} {'before ' + rev:>18} {'after':>10} {'after/before':>13}")
    for key in before:
        ratio = after[key] / before[key] if before[key] else float("nan")
        print(f"{key:<28} {before[key]:>18.2f} {after[key]:>10.2f} {ratio:>13.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--baseline", metavar="REV", help="compare with git revision REV")
    args = parser.parse_args(argv)
    if args.baseline:
        compare(args.baseline, 2 if args.quick else 5)
        return
    figures = run(quick=args.quick)
    width = max(len(name) for name in figures)
    for name, value in figures.items():
        print(f"{name:<{width}}  {value:.4g}")
    checks = {
        "Elector process <= 25 MiB resident": figures["elector_rss_mib_heartbeats"] <= 25,
        "run process <= 25 MiB resident": figures["run_rss_mib_heartbeats"] <= 25,
        "no heavy module in an Elector process": figures["elector_heavy_modules"] == 0,
        "no heavy module in a run process": figures["run_heavy_modules"] == 0,
    }
    for label, ok in checks.items():
        print(f"{'ok  ' if ok else 'MISS'} {label}")


if __name__ == "__main__":
    main()
