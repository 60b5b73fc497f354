"""From an election name to its ``LeaderElection``: ``("fdb-election", name)`` is the subspace."""

from __future__ import annotations

from fdb.subspace_impl import Subspace

from fdb_election.election import LeaderElection

__all__ = ["ELECTIONS_ROOT", "election_subspace", "resolve_election"]

#: First element of every named election's subspace tuple.
ELECTIONS_ROOT = "fdb-election"


def election_subspace(name: str) -> Subspace:
    """The subspace of the election called ``name``: ``Subspace(("fdb-election", name))``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"an election name must be a non-empty str, got {name!r}")
    return Subspace((ELECTIONS_ROOT, name))


def resolve_election(name_or_election: str | LeaderElection) -> tuple[LeaderElection, str]:
    """The ``LeaderElection`` and a display name for an election name or an existing election."""
    if isinstance(name_or_election, LeaderElection):
        prefix = bytes(name_or_election.subspace.key())
        return name_or_election, prefix.hex() or "(root)"
    if isinstance(name_or_election, str):
        return LeaderElection(election_subspace(name_or_election)), name_or_election
    raise TypeError(
        "expected an election name (str) or a LeaderElection, "
        f"got {type(name_or_election).__name__}"
    )
