"""A digest of every simulated seed's history, to prove that a refactor changed no behaviour.

Usage::

    python tools/sim_digest.py --seeds 500 --out before.txt      # on the old code
    python tools/sim_digest.py --seeds 500 --compare before.txt  # on the new code: same digests?

The simulator is deterministic: the same code and seed give the same history, event for event.
The digest of a seed is the SHA-256 of its trace (every event, as the trace prints it) and its
final stored state; a pure refactor leaves every digest unchanged, and a deliberate behaviour
change shows exactly which seeds it touched.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
from pathlib import Path

from fdb_election.sim.faults import ELECTORS_PER_DRIVER, SimConfig
from fdb_election.sim.history import describe
from fdb_election.sim.world import run_seed


def digest(seed: int, config: SimConfig) -> str:
    """The digest of one seed's history."""
    outcome = run_seed(seed, config)
    history = outcome.history
    sha = hashlib.sha256()
    for event in history.events:
        sha.update(describe(event).encode())
        sha.update(b"\n")
    sha.update(repr(history.final).encode())
    return sha.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=500, help="how many seeds (default 500)")
    parser.add_argument("--start", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--out", type=Path, help="write 'seed digest' lines here")
    parser.add_argument("--compare", type=Path, help="compare with a file written by --out")
    parser.add_argument(
        "--electors-per-driver",
        type=int,
        default=ELECTORS_PER_DRIVER,
        help=f"electors sharing one driver (default {ELECTORS_PER_DRIVER})",
    )
    args = parser.parse_args(argv)
    # The electors' warnings are the injected faults at work, thousands per run: not the output.
    logging.getLogger("fdb_election").setLevel(logging.CRITICAL)
    config = SimConfig(electors_per_driver=args.electors_per_driver)
    lines = [
        f"{seed} {digest(seed, config)}" for seed in range(args.start, args.start + args.seeds)
    ]
    overall = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    if args.out is not None:
        args.out.write_text("\n".join(lines) + "\n")
    print(f"{len(lines)} seeds from {args.start}: overall digest {overall}")
    if args.compare is None:
        return 0
    expected = dict(line.split() for line in args.compare.read_text().splitlines() if line)
    differ = [line.split()[0] for line in lines if expected.get(line.split()[0]) != line.split()[1]]
    if differ:
        print(f"{len(differ)} seed(s) differ: {', '.join(differ[:50])}")
        return 1
    print("every seed's history is identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
