"""fdb-election: leader election on FoundationDB, with an embedded store for one machine.

Everything a user needs is importable from here::

    import fdb_election

    db = fdb_election.connect("sqlite:/tmp/demo.fdbe")     # or "memory:", "fdb:"
    with fdb_election.Elector(db, "jobs", on_elected=print) as elector:
        if elector.wait_for_leadership(timeout=30):
            ...  # lead; protect writes with elector.fence(tr)

``serve_http(elector, port=8080)`` answers health and leadership probes over HTTP.

The layers (docs/architecture.md): :mod:`fdb_election.election` holds the seed's
``LeaderElection`` operations on one transaction; :mod:`fdb_election.runtime` the electors;
:mod:`fdb_election.aio` the asyncio elector; :mod:`fdb_election.embedded` the
FoundationDB-compatible store. ``import fdb_election`` is enough to reach all of them
(``fdb_election.aio.Elector``, ``fdb_election.embedded.open()``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    Departure,
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

if TYPE_CHECKING:
    from fdb_election import aio as aio
    from fdb_election import embedded as embedded
    from fdb_election.runtime.http import serve_http as serve_http

__all__ = [
    "CandidateInfo",
    "Demoted",
    "Departure",
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
    "serve_http",
    "transactional",
]

__version__ = "0.1.0"


#: Subpackages imported on first use (``fdb_election.aio`` loads asyncio, which the command line
#: and thread services do not need).
_LAZY_SUBMODULES = ("aio", "embedded")
#: Names imported on first use, with their modules: ``serve_http`` needs ``http.server``, which
#: brings ``http.client``, ``email`` and ``ssl`` (about 8 MiB resident) into every process that
#: imports fdb_election, though few of them serve HTTP.
_LAZY_NAMES = {"serve_http": "fdb_election.runtime.http"}


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"fdb_election.{name}")
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(_LAZY_NAMES[name]), name)
        globals()[name] = value  # found directly from now on
        return value
    raise AttributeError(f"module 'fdb_election' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_SUBMODULES, *_LAZY_NAMES})
