"""``fdb.predicates`` for the embedded store: tests on an :class:`FDBError` (not an int)."""

from __future__ import annotations

from fdb_election.embedded.errors import (
    is_maybe_committed,
    is_retryable,
    is_retryable_not_committed,
)

__all__ = ["is_maybe_committed", "is_retryable", "is_retryable_not_committed"]
