"""fdb-election: leader election on FoundationDB, with an embedded store for one machine.

Everything a user needs is importable from here::

    import fdb_election

    db = fdb_election.connect("sqlite:/tmp/demo.fdbe")     # or "memory:", "fdb:"
    with fdb_election.Elector(db, "jobs", on_elected=print) as elector:
        if elector.wait_for_leadership(timeout=30):
            ...  # lead; protect writes with elector.fence(tr)

The layers (DESIGN.md): :mod:`fdb_election.election` holds the seed's ``LeaderElection``
operations on one transaction; :mod:`fdb_election.runtime` the electors; :mod:`fdb_election.aio`
the asyncio elector; :mod:`fdb_election.embedded` the FoundationDB-compatible store.
"""

from __future__ import annotations

from fdb.subspace_impl import Subspace

from fdb_election.connect import connect, default_url
from fdb_election.election import (
    CandidateInfo,
    DuplicateProcessId,
    ElectionConfig,
    ElectionDisabled,
    ElectionResult,
    Follower,
    InvalidState,
    Leader,
    LeaderElection,
    LeaderElectionError,
    LeaderState,
    NotInitialized,
    NotLeader,
    ProcessNotFound,
    RegistrationNotCommitted,
    UnregisteredCandidate,
    now,
)
from fdb_election.runtime import (
    Demoted,
    Elected,
    Elector,
    ElectorEvent,
    LeaderChanged,
    Release,
    election_subspace,
    request_step_down,
)
from fdb_election.transactional import transactional
from fdb_election.tuples import Versionstamp

__all__ = [
    "CandidateInfo",
    "Demoted",
    "DuplicateProcessId",
    "Elected",
    "ElectionConfig",
    "ElectionDisabled",
    "ElectionResult",
    "Elector",
    "ElectorEvent",
    "Follower",
    "InvalidState",
    "Leader",
    "LeaderChanged",
    "LeaderElection",
    "LeaderElectionError",
    "LeaderState",
    "NotInitialized",
    "NotLeader",
    "ProcessNotFound",
    "RegistrationNotCommitted",
    "Release",
    "Subspace",
    "UnregisteredCandidate",
    "Versionstamp",
    "__version__",
    "connect",
    "default_url",
    "election_subspace",
    "now",
    "request_step_down",
    "transactional",
]

__version__ = "0.1.0"
