"""Helpers for the election tests: a retrying transaction runner, explicit instants, raw reads.

Everything here uses only the binding API (the store contract in docs/architecture.md), so the
tests run unchanged on the embedded stores and on a real FoundationDB cluster.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from fdb_election.election import ElectionConfig, LeaderElection

T = TypeVar("T")

#: A fixed "now" for tests: 2023-11-14T22:13:20Z, as time since the Unix epoch.
T0 = timedelta(seconds=1_700_000_000)


def at(seconds: float) -> timedelta:
    """``T0`` plus ``seconds``: explicit instants instead of sleeping."""
    return T0 + timedelta(seconds=seconds)


def run(db: Any, body: Callable[[Any], T]) -> T:
    """Run ``body(tr)`` and commit, retrying retryable database errors via ``on_error``."""
    tr = db.create_transaction()
    while True:
        try:
            result = body(tr)
            tr.commit().wait()
            return result
        except Exception as exc:
            if not isinstance(getattr(exc, "code", None), int):
                raise
            tr.on_error(exc).wait()


def attempt(db: Any, body: Callable[[Any], T]) -> T:
    """Run ``body(tr)`` and commit once, without retrying (errors propagate)."""
    tr = db.create_transaction()
    result = body(tr)
    tr.commit().wait()
    return result


def read_raw(db: Any, key: bytes) -> bytes | None:
    """The stored bytes at ``key`` (``None`` when absent), read in a fresh transaction."""

    def body(tr: Any) -> bytes | None:
        value = tr.get(key)
        return bytes(value) if value.present() else None

    return run(db, body)


def write_raw(db: Any, key: bytes, value: bytes | None) -> None:
    """Store ``value`` at ``key`` as raw bytes (``None`` clears it), in its own transaction."""

    def body(tr: Any) -> None:
        if value is None:
            del tr[key]
        else:
            tr[key] = value

    run(db, body)


def snapshot_all(db: Any) -> list[tuple[bytes, bytes]]:
    """Every key and value in the test key space, to check that nothing was written."""

    def body(tr: Any) -> list[tuple[bytes, bytes]]:
        return [(bytes(kv.key), bytes(kv.value)) for kv in tr.get_range(b"", b"\xff")]

    return run(db, body)


class RecordingTransaction:
    """A real transaction that also records the ``set_versionstamped_value`` calls made on it."""

    def __init__(self, tr: Any) -> None:
        self._tr = tr
        self.versionstamped_values: list[tuple[bytes, bytes]] = []

    def set_versionstamped_value(self, key: bytes, param: bytes) -> None:
        self.versionstamped_values.append((bytes(key), bytes(param)))
        self._tr.set_versionstamped_value(key, param)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tr, name)


def register(
    db: Any, election: LeaderElection, process_id: str, priority: int = 0, when: timedelta = T0
) -> bytes:
    """Register a candidate in its own committed transaction; return its 12-byte versionstamp."""

    def body(tr: Any) -> Any:
        election.register_candidate(tr, process_id, priority, when)
        return tr.get_versionstamp()

    stamp = run(db, body)
    return bytes(stamp.wait()) + b"\x00\x00"


def register_then_disable(
    db: Any, election: LeaderElection, config: ElectionConfig, process_id: str = "a"
) -> None:
    """Initialize with ``config``, register ``process_id``, then disable the election."""
    run(db, lambda tr: election.initialize_with_config(tr, config))
    register(db, election, process_id)
    run(
        db,
        lambda tr: election.write_config(tr, dataclasses.replace(config, election_enabled=False)),
    )
