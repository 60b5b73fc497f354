"""Asking a leader to step down, safely: a request key that the leader honours itself.

Clearing the leader key from outside (``resign_leadership`` on behalf of another process) would let
a follower claim at once while the old leader still believes it leads until its next refresh.
Instead an operator (``fdb-election resign --id``) calls :func:`request_step_down`, which records
``(process_id, ballot, requested_by)`` under ``S.pack(("step_down",))`` for the CURRENT leader.
The leader watches that key; at its next step it gives up local leadership first, then hands
leadership over to the best live candidate (or resigns when there is none) and clears the request
in one transaction; the successor, or a follower claiming the empty key, takes over through its
watch. The recorded ballot makes a request apply to one tenure only: a request left over from
an earlier tenure (ballot below the tenure's claim ballot) is ignored.

The key is ours only; Rust processes of the recipe ignore it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import fdb.tuple

from fdb_election.election import LeaderElection

__all__ = ["StepDownRequest", "read_step_down", "request_step_down", "step_down_key"]

_log = logging.getLogger("fdb_election")


def step_down_key(subspace: Any) -> bytes:
    """The key of the step-down request of the election stored under ``subspace``."""
    return bytes(subspace.pack(("step_down",)))


@dataclass(frozen=True, slots=True)
class StepDownRequest:
    """A request that the leader ``process_id`` step down (made while it held ``ballot``)."""

    process_id: str
    ballot: int
    requested_by: str

    def applies_to(self, process_id: str, tenure_ballot: int) -> bool:
        """Whether a leader whose tenure began at ``tenure_ballot`` must honour this request."""
        return self.process_id == process_id and self.ballot >= tenure_ballot

    def encode(self) -> bytes:
        """The stored value: tuple ``(process_id, ballot, requested_by)``."""
        return bytes(fdb.tuple.pack((self.process_id, self.ballot, self.requested_by)))

    @classmethod
    def decode(cls, value: bytes) -> StepDownRequest | None:
        """The request in ``value``, or None when it does not decode (it is then ignored)."""
        try:
            items = fdb.tuple.unpack(value)
        except Exception:
            return None
        if (
            len(items) != 3
            or not isinstance(items[0], str)
            or not isinstance(items[1], int)
            or not isinstance(items[2], str)
        ):
            return None
        return cls(items[0], items[1], items[2])


def read_step_down(
    tr: Any, subspace: Any, *, key: bytes | None = None, issued: Any = None
) -> StepDownRequest | None:
    """The pending request in ``tr`` (snapshot read: it never makes a refresh conflict).

    ``key``: :func:`step_down_key` of ``subspace``, when the caller has it already. ``issued``:
    that snapshot read, when the caller issued it with its other reads (one round trip).
    """
    if issued is None:
        issued = tr.snapshot.get(step_down_key(subspace) if key is None else key)
    value = issued.wait()
    if not value.present():
        return None
    request = StepDownRequest.decode(bytes(value))
    if request is None:
        _log.warning("ignoring an undecodable step-down request: %r", bytes(value))
    return request


def request_step_down(
    db: Any,
    election: str | LeaderElection,
    process_id: str,
    *,
    requested_by: str = "operator",
) -> bool:
    """Ask ``process_id`` to step down if it leads ``election`` now; True when a request was
    recorded.

    Returns False (and records nothing) when ``process_id`` is not the current leader. The leader
    hands over (or resigns) at its next step (within milliseconds: it watches the request key);
    watch the leader key or poll ``get_leader_raw`` to see it happen. ``election`` is a name or a
    LeaderElection.
    """
    from fdb_election.runtime.naming import resolve_election

    if not isinstance(process_id, str) or not process_id:
        raise ValueError(f"process_id must be a non-empty str, got {process_id!r}")
    le, _ = resolve_election(election)
    tr = db.create_transaction()
    while True:
        try:
            record = le.get_leader_raw(tr)
            recorded = record is not None and record.leader_id == process_id
            if record is not None and recorded:
                request = StepDownRequest(process_id, record.ballot, requested_by)
                tr.set(step_down_key(le.subspace), request.encode())
            tr.commit().wait()
            return recorded
        except Exception as exc:
            if not isinstance(getattr(exc, "code", None), int):
                raise
            tr.on_error(exc).wait()
