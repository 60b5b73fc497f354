"""Moving an election from the embedded store to a cluster: configuration and ballots carry over.

Nothing copies an embedded file into a cluster; the election's state is rebuilt there instead.
Candidates and the leader record need no copying (electors register and claim again), but two
things do: the configuration, and the highest ballot issued so far, so that ballots keep growing
and an external resource fenced with them (see ``fenced_external_resource.py``) does not refuse
the new cluster's leaders as stale.

Run it::

    python examples/move_to_cluster.py --from sqlite:/var/lib/app/election.fdbe --to fdb: \\
        --election nightly

Stop every elector of that election first. Without ``--from`` it demonstrates the move: it issues
a few ballots in election ``nightly`` on a temporary embedded file, moves it to ``--to`` (default:
another temporary file) and leads there.
"""

from __future__ import annotations

import argparse
import tempfile
from typing import Any

import fdb_election


@fdb_election.transactional
def read_state(tr: Any, election: fdb_election.LeaderElection) -> tuple[Any, int]:
    """The configuration and the highest ballot issued (the leader's or the high-water mark)."""
    return election.read_config(tr), election.highest_ballot(tr)


@fdb_election.transactional
def write_state(tr: Any, election: fdb_election.LeaderElection, config: Any, ballot: int) -> None:
    """Store the configuration; later claims take ballots above ``ballot``."""
    election.write_config(tr, config)
    election.raise_ballot_floor(tr, ballot)


def move(source_url: str, target_url: str, name: str) -> None:
    """Copy election ``name``'s configuration and highest ballot from source to target."""
    election = fdb_election.LeaderElection(fdb_election.election_subspace(name))
    config, ballot = read_state(fdb_election.connect(source_url), election)
    write_state(fdb_election.connect(target_url), election, config, ballot)
    lease = config.lease_duration.total_seconds()
    print(f"moved election {name!r}: lease {lease:g} s, highest ballot {ballot}", flush=True)


def demonstrate(old: str, new: str) -> None:
    """Issue a few ballots on ``old``, move to ``new``, and lead there with a higher ballot."""
    config = fdb_election.ElectionConfig.with_lease_duration(3)
    for _ in range(3):  # three tenures on the old store: ballots 1, 2, 3 at least
        with fdb_election.Elector(fdb_election.connect(old), "nightly", config=config) as elector:
            elector.wait_for_leadership(timeout=30)
            print(f"old store: elected with ballot {elector.ballot}", flush=True)
    move(old, new, "nightly")
    with fdb_election.Elector(fdb_election.connect(new), "nightly") as elector:
        elector.wait_for_leadership(timeout=30)
        print(f"new store: elected with ballot {elector.ballot}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="move an election to another database")
    parser.add_argument("--from", dest="source", help="the database to move from")
    parser.add_argument("--to", dest="target", help="the database to move to, e.g. fdb:")
    parser.add_argument("--election", default="default", help="election name (default: default)")
    args = parser.parse_args()
    if args.source:
        move(args.source, args.target or parser.error("--from needs --to"), args.election)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            demonstrate(f"sqlite:{scratch}/old.fdbe", args.target or f"sqlite:{scratch}/new.fdbe")
