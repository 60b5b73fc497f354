"""Election names → ``LeaderElection`` objects, the same mapping the runtime uses.

An election NAME lives under the subspace ``("fdb-election", NAME)`` (``runtime.naming``), so
``fdb-election --election web status`` looks at the election an ``Elector(db, "web")`` takes part
in.
"""

from __future__ import annotations

from typing import Any

__all__ = ["election_for", "leader_key"]


def election_for(name: str) -> Any:
    """The ``LeaderElection`` of election ``name``."""
    from fdb_election.runtime.naming import resolve_election

    return resolve_election(name)[0]


def leader_key(name: str) -> bytes:
    """The key of election ``name``'s leader record (what ``status --watch`` watches)."""
    from fdb_election.election import layout

    return layout.leader_key(election_for(name).subspace)
