"""Argument checks shared by the types and the operations.

Every check runs before anything is written, and every message names the argument and says what
is allowed, so a caller never has to guess why a value was refused.
"""

from __future__ import annotations

from fdb_election.election.times import U64_MAX

__all__ = [
    "I32_MAX",
    "I32_MIN",
    "MAX_KEY_BYTES",
    "check_bool",
    "check_priority",
    "check_process_id",
    "check_u64",
    "check_versionstamp",
]

#: Range of the seed's ``i32`` priority.
I32_MIN = -(2**31)
I32_MAX = 2**31 - 1

#: FoundationDB's key size limit; a candidate key must fit in it.
MAX_KEY_BYTES = 10_000


def check_priority(value: object, name: str = "priority") -> int:
    """Return ``value`` if it is an ``int`` in the signed 32-bit range (``bool`` refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{name} must be an int from {I32_MIN} to {I32_MAX}, got {type(value).__name__}"
        )
    if not I32_MIN <= value <= I32_MAX:
        raise ValueError(f"{name} must be from {I32_MIN} to {I32_MAX} (signed 32-bit), got {value}")
    return value


def check_u64(value: object, name: str) -> int:
    """Return ``value`` if it is an ``int`` from 0 to 2**64-1 (``bool`` refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int from 0 to 2**64-1, got {type(value).__name__}")
    if not 0 <= value <= U64_MAX:
        raise ValueError(f"{name} must be from 0 to 2**64-1 (unsigned 64-bit), got {value}")
    return value


def check_versionstamp(value: object, name: str = "versionstamp") -> bytes:
    """Return ``value`` if it is a 12-byte ``bytes`` (a tuple-layer versionstamp)."""
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be bytes (12 bytes), got {type(value).__name__}")
    if len(value) != 12:
        raise ValueError(f"{name} must be exactly 12 bytes, got {len(value)}")
    return value


def check_bool(value: object, name: str) -> bool:
    """Return ``value`` if it is a ``bool`` (ints are refused: the layout stores true/false)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return value


def check_process_id(process_id: object, key_size: int | None = None) -> str:
    """Return ``process_id`` if it is a usable candidate name.

    It must be a non-empty ``str`` that encodes as UTF-8 (no lone surrogates). When
    ``key_size`` (the packed candidate key's length) is given, it must fit FoundationDB's
    10,000-byte key limit.
    """
    if not isinstance(process_id, str):
        raise TypeError(f"process_id must be a str, got {type(process_id).__name__}")
    if not process_id:
        raise ValueError("process_id must be a non-empty str")
    try:
        process_id.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"process_id must be valid Unicode text (encodable as UTF-8): {exc.reason} "
            f"at position {exc.start}"
        ) from None
    if key_size is not None and key_size > MAX_KEY_BYTES:
        raise ValueError(
            f"process_id is too long: its candidate key would be {key_size} bytes and "
            f"FoundationDB keys are at most {MAX_KEY_BYTES} bytes"
        )
    return process_id
