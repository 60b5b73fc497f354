"""A singleton job with ``fdb-election run``: two hosts want to run it, one runs it at a time.

From a shell, on every host that may run the job::

    fdb-election --db sqlite:/tmp/jobs.fdbe --election nightly run -- ./nightly-report.sh

``run`` campaigns; on the leader it starts the command with ``FDB_ELECTION_BALLOT`` (the fencing
token), ``FDB_ELECTION_NAME``, ``FDB_ELECTION_PROCESS_ID`` and ``FDB_ELECTION_DB`` in its
environment. When the command exits, ``run`` resigns and exits with the command's exit code, and
the next candidate is elected within milliseconds.

This script does that with two ``run`` processes (``host-a`` and ``host-b``) on one database. Each
job prints when it starts and ends; the script checks that the two never overlapped.

Run it::

    python examples/singleton_job.py                     # a temporary embedded file
    python examples/singleton_job.py --db fdb:           # a FoundationDB cluster

``--db`` defaults to ``$FDB_ELECTION_DB`` when it is set.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

# The job: what ./nightly-report.sh would be. It reads its tenure from the environment.
JOB = """
import os, time
who, ballot = os.environ["FDB_ELECTION_PROCESS_ID"], os.environ["FDB_ELECTION_BALLOT"]
print(f"{time.time():.6f} start {who} ballot {ballot}", flush=True)
time.sleep(0.5)
print(f"{time.time():.6f} end {who}", flush=True)
"""


def run_command(url: str, host: str) -> list[str]:
    """``fdb-election --db URL --election nightly run --id HOST -- python -c JOB``."""
    cli = [sys.executable, "-m", "fdb_election.cli.main"]  # the same as the fdb-election script
    options = ["--db", url, "--election", "nightly", "run", "--id", host, "--grace", "0.5"]
    return [*cli, *options, "--", sys.executable, "-c", JOB]


def main(url: str) -> None:
    """Start both candidates, wait for both to finish, check the jobs never overlapped."""
    hosts = ["host-a", "host-b"]
    procs = [
        subprocess.Popen(run_command(url, host), stdout=subprocess.PIPE, text=True)
        for host in hosts
    ]
    lines: list[str] = []
    for host, proc in zip(hosts, procs, strict=True):
        out, _ = proc.communicate(timeout=60)
        if proc.returncode != 0:
            raise SystemExit(f"{host}: fdb-election run exited with {proc.returncode}")
        lines += out.splitlines()
    events = sorted(line.split(maxsplit=1) for line in lines)  # by timestamp
    for stamp, what in events:
        print(f"{stamp}  {what}", flush=True)
    kinds = [what.split()[0] for _, what in events]
    if kinds != ["start", "end", "start", "end"]:
        raise SystemExit(f"BUG: the jobs overlapped: {kinds}")
    print("the job ran on one host at a time, each under its own ballot", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="a singleton job with fdb-election run")
    parser.add_argument("--db", help="memory:, sqlite:PATH or fdb: (default: a temporary file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        default = os.environ.get("FDB_ELECTION_DB") or f"sqlite:{scratch}/example.fdbe"
        main(args.db or default)
