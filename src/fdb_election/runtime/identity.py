"""Which runs of a process id are this elector: the versionstamps of its own registrations.

A process id can be reused: by the restart of a crashed process, or by mistake by two live
processes. What tells the runs apart is the versionstamp each registration gets, which the
leader record also carries (the registration of the candidate that claimed it). An elector
registers anew when it starts and remembers its registrations' stamps; a leader record, or a
candidate record, is *its own* only when it carries one of them.
"""

from __future__ import annotations

from fdb_election.election import LeaderState

__all__ = ["REGISTRATION_USER_VERSION", "Registrations"]

#: The user version of a candidate's versionstamp (the registration's incomplete stamp).
REGISTRATION_USER_VERSION = b"\x00\x00"
#: How many registrations an elector remembers (it registers again only after an eviction; a
#: leader record made with an older one is no longer refreshed).
_REMEMBERED = 16


class Registrations:
    """The 12-byte versionstamps of this elector's registrations, newest last."""

    __slots__ = ("_stamps",)

    def __init__(self) -> None:
        self._stamps: list[bytes] = []

    def add(self, transaction_stamp: bytes) -> None:
        """A registration committed with this 10-byte transaction versionstamp."""
        self._stamps.append(bytes(transaction_stamp) + REGISTRATION_USER_VERSION)
        del self._stamps[:-_REMEMBERED]

    @property
    def current(self) -> bytes | None:
        """The stamp of the newest registration (None before the first)."""
        return self._stamps[-1] if self._stamps else None

    def owns(self, versionstamp: bytes) -> bool:
        """Whether ``versionstamp`` is one of this elector's registrations."""
        return versionstamp in self._stamps

    def made(self, record: LeaderState | None, process_id: str) -> bool:
        """Whether the leader ``record`` was claimed by this elector (its id and registration)."""
        return (
            record is not None and record.leader_id == process_id and self.owns(record.versionstamp)
        )
