"""Reading an election's stored state back as a :class:`~fdb_election.sim.history.Snapshot`.

Uses only the binding API and the election's own codecs, so it works on any store (the
stateful test runs it on every backend).
"""

from __future__ import annotations

from typing import Any

from fdb_election import tuples
from fdb_election.election import LeaderElection, layout
from fdb_election.sim.history import (
    CandidateRecord,
    ConfigRecord,
    LeaderRecord,
    ResourceRecord,
    Snapshot,
)

__all__ = ["config_record", "decode_resource", "encode_resource", "read_snapshot", "stamp_version"]


def stamp_version(versionstamp: bytes) -> int:
    """The commit version inside a versionstamp (its first 8 bytes, big-endian)."""
    return int.from_bytes(versionstamp[:8], "big")


def config_record(config: Any) -> ConfigRecord:
    """An ``ElectionConfig`` as the history stores it."""
    return ConfigRecord(
        config.lease_duration_ns,
        config.heartbeat_interval_ns,
        config.candidate_timeout_ns,
        config.election_enabled,
        config.allow_preemption,
    )


def encode_resource(record: ResourceRecord) -> bytes:
    """The protected resource's value: ``(token, writer, writes, writer_stamp)``."""
    return tuples.pack((record.token, record.writer, record.writes, record.writer_stamp))


def decode_resource(value: bytes) -> ResourceRecord:
    """The inverse of :func:`encode_resource`."""
    token, writer, writes, writer_stamp = tuples.unpack(value)
    return ResourceRecord(token, writer, writes, writer_stamp)


def _value(future: Any) -> bytes | None:
    return bytes(future) if future.present() else None


def read_snapshot(tr: Any, election: LeaderElection, resource_key: bytes | None = None) -> Snapshot:
    """The election's stored state as ``tr`` sees it (and the protected resource, if given)."""
    subspace = election.subspace
    config_value = _value(tr.get(layout.config_key(subspace)))
    leader_value = _value(tr.get(layout.leader_key(subspace)))
    mark_value = _value(tr.get(layout.ballot_key(subspace)))
    seen_value = _value(tr.get(layout.ballot_seen_key(subspace)))
    begin, end = layout.candidates_range(subspace)
    candidates = []
    for item in tr.get_range(begin, end):
        key = bytes(item.key)
        info = layout.decode_candidate(
            layout.candidate_process_id(subspace, key), bytes(item.value)
        )
        candidates.append(
            CandidateRecord(
                info.process_id,
                info.priority,
                info.last_heartbeat_nanos,
                stamp_version(info.versionstamp),
            )
        )
    leader = None
    if leader_value is not None:
        state = layout.decode_leader(leader_value)
        leader = LeaderRecord(
            state.ballot,
            state.leader_id,
            state.priority,
            state.lease_expiry_nanos,
            stamp_version(state.versionstamp),
        )
    resource = None
    if resource_key is not None:
        resource_value = _value(tr.get(resource_key))
        resource = None if resource_value is None else decode_resource(resource_value)
    return Snapshot(
        config=None if config_value is None else config_record(layout.decode_config(config_value)),
        leader=leader,
        mark=None if mark_value is None else layout.decode_ballot_mark(mark_value),
        candidates=tuple(candidates),
        resource=resource,
        seen=None if seen_value is None else layout.decode_ballot_seen(seen_value),
    )
