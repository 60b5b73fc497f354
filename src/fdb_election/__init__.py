"""fdb-election: leader election on FoundationDB, with an embedded store for one machine."""

from __future__ import annotations

from fdb_election.tuples import Versionstamp

__all__ = ["Versionstamp", "__version__"]

__version__ = "0.1.0"
