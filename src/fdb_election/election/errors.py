"""Errors of the election layer (the seed's ``LeaderElectionError`` and its variants).

Database errors (``FDBError``, from a real cluster or the embedded store) are deliberately *not*
wrapped, unlike the seed's ``LeaderElectionError::Fdb``: retry loops such as
``fdb.transactional`` recognise them by ``.code`` and must keep seeing them. Bad arguments raise
``ValueError`` / ``TypeError``.
"""

from __future__ import annotations

__all__ = [
    "DuplicateProcessId",
    "ElectionDisabled",
    "InvalidState",
    "LeaderElectionError",
    "NotInitialized",
    "NotLeader",
    "ProcessNotFound",
    "RegistrationNotCommitted",
    "UnregisteredCandidate",
]


class LeaderElectionError(Exception):
    """Base class of every election error; catch it to handle them all."""


class ElectionDisabled(LeaderElectionError):
    """The election's configuration has ``election_enabled`` false.

    Raised by registration, heartbeats, claims and ``is_leader``, as in the seed.
    """

    def __init__(self) -> None:
        super().__init__(
            "the election is disabled (election_enabled is false in its configuration); "
            "enable it with write_config to register, heartbeat or claim leadership"
        )


class ProcessNotFound(LeaderElectionError):
    """A heartbeat named a process that is not registered as a candidate."""

    def __init__(self, process_id: str) -> None:
        self.process_id = process_id
        super().__init__(
            f"process {process_id!r} is not registered as a candidate "
            "(call register_candidate first, or it was evicted or unregistered)"
        )


class NotInitialized(LeaderElectionError):
    """The election has no configuration yet: call ``initialize`` once first."""

    def __init__(self) -> None:
        super().__init__(
            "the election is not initialized (no configuration stored); "
            "call initialize or initialize_with_config once first"
        )


class InvalidState(LeaderElectionError):
    """Stored election data does not decode or does not make sense."""

    def __init__(self, message: str) -> None:
        self.detail = message
        super().__init__(f"invalid election state: {message}")


class UnregisteredCandidate(LeaderElectionError):
    """A process tried to claim leadership without being a registered candidate."""

    def __init__(self, process_id: str) -> None:
        self.process_id = process_id
        super().__init__(
            f"process {process_id!r} is not a registered candidate and cannot claim leadership "
            "(call register_candidate and commit it first)"
        )


class RegistrationNotCommitted(LeaderElectionError):
    """A candidate registered in this transaction was read again before the commit.

    Registration writes the candidate with a versionstamped operation, and FoundationDB refuses
    reads of such a key in the same transaction (error 1036, ``accessed_unreadable``). Commit the
    registration in its own transaction, then heartbeat or claim in the next ones.
    """

    def __init__(self, process_id: str | None) -> None:
        self.process_id = process_id
        who = "a candidate" if process_id is None else f"candidate {process_id!r}"
        super().__init__(
            f"{who} was registered in this same transaction; its versionstamp is only assigned "
            "at commit, so it cannot be read (heartbeat, claim, list) until then. "
            "Commit register_candidate in its own transaction first"
        )


class NotLeader(LeaderElectionError):
    """A fencing check failed: the process no longer holds the tenure of the given ballot.

    Attributes: ``process_id`` and ``ballot`` (what was checked) and ``reason``.
    """

    def __init__(self, process_id: str, ballot: int, reason: str) -> None:
        self.process_id = process_id
        self.ballot = ballot
        self.reason = reason
        super().__init__(
            f"process {process_id!r} does not hold the leadership of ballot {ballot}: {reason}"
        )


class DuplicateProcessId(LeaderElectionError):
    """The candidate was registered again, by another run of this process id, after this one.

    Raised by a heartbeat that names the registration it expects (``registration=``): the stored
    candidate carries another registration versionstamp, so another process (or a restart of
    this one) now uses the same process id. Two live processes must never share an id; the
    elector that gets this stops campaigning. Attributes: ``process_id``, ``expected`` and
    ``found`` (the 12-byte versionstamps).
    """

    def __init__(self, process_id: str, expected: bytes, found: bytes) -> None:
        self.process_id = process_id
        self.expected = expected
        self.found = found
        super().__init__(
            f"process id {process_id!r} was registered again by another elector after this one "
            f"(registration {found.hex()}, not this elector's {expected.hex()}): another "
            "process, or a newer run of this one, uses the same id. Give every live process a "
            "unique id; this elector stops competing"
        )
