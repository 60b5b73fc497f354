"""The seed's leader election (Rust ``foundationdb`` recipe 0.11), in Python.

Modules: ``layout`` (keys and value codecs, byte-compatible with Rust), ``operations``
(:class:`LeaderElection`), ``cycle`` (:class:`ElectionCycle`: the operations of one transaction,
each key read once), ``rules`` (the claim, ballot, lease and fence rules), ``types`` (config,
states, results), ``errors``, ``times`` (the one conversion of ``timedelta``/seconds to stored
nanoseconds) and ``validation`` (argument checks).
"""

from __future__ import annotations

from fdb_election.election.cycle import ElectionCycle
from fdb_election.election.errors import (
    DuplicateProcessId,
    ElectionDisabled,
    InvalidState,
    LeaderElectionError,
    NotInitialized,
    NotLeader,
    ProcessNotFound,
    RegistrationNotCommitted,
    UnregisteredCandidate,
)
from fdb_election.election.operations import LeaderElection
from fdb_election.election.times import now
from fdb_election.election.types import (
    CandidateInfo,
    ElectionConfig,
    ElectionResult,
    Follower,
    Leader,
    LeaderState,
)

__all__ = [
    "CandidateInfo",
    "DuplicateProcessId",
    "ElectionConfig",
    "ElectionCycle",
    "ElectionDisabled",
    "ElectionResult",
    "Follower",
    "InvalidState",
    "Leader",
    "LeaderElection",
    "LeaderElectionError",
    "LeaderState",
    "NotInitialized",
    "NotLeader",
    "ProcessNotFound",
    "RegistrationNotCommitted",
    "UnregisteredCandidate",
    "now",
]
