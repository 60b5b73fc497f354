"""Pure mutation rules: FoundationDB's atomic operations and versionstamp substitution.

Every backend applies mutations with these functions, so the rules live in one place. A mutation is
a ``(type, key, param)`` triple; for :data:`CLEAR_RANGE` the param is the (exclusive) end key.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from enum import IntEnum
from typing import Final

__all__ = [
    "CLEAR_RANGE",
    "SET_VALUE",
    "VALUE_SIZE_LIMIT",
    "Mutation",
    "MutationType",
    "apply_atomic",
    "substitute_versionstamp",
    "versionstamp_bytes",
    "versionstamp_offset",
]

#: A buffered write: (mutation type, key, value / atomic parameter / clear-range end).
Mutation = tuple[int, bytes, bytes]

#: Plain set (FoundationDB's ``MutationRef::SetValue``).
SET_VALUE: Final = 0
#: Clear of ``[key, param)`` (``MutationRef::ClearRange``); a single-key clear ends at key+0x00.
CLEAR_RANGE: Final = 1
#: Largest value ``append_if_fits`` may produce (and the value size limit).
VALUE_SIZE_LIMIT: Final = 100_000


class MutationType(IntEnum):
    """Atomic-operation codes, as ``fdb.options.MutationType`` numbers them."""

    ADD = 2
    BIT_AND = 6
    BIT_OR = 7
    BIT_XOR = 8
    APPEND_IF_FITS = 9
    MAX = 12
    MIN = 13
    SET_VERSIONSTAMPED_KEY = 14
    SET_VERSIONSTAMPED_VALUE = 15
    BYTE_MIN = 16
    BYTE_MAX = 17
    COMPARE_AND_CLEAR = 20


def _fit(existing: bytes, width: int) -> bytes:
    """``existing`` cut or zero-padded to ``width`` bytes (little-endian numbers)."""
    return existing[:width].ljust(width, b"\x00")


def _le(data: bytes) -> int:
    return int.from_bytes(data, "little")


def add(existing: bytes | None, param: bytes) -> bytes | None:
    """Little-endian addition with carry, width ``len(param)``, overflow dropped."""
    if not existing or not param:
        return param
    width = len(param)
    total = (_le(_fit(existing, width)) + _le(param)) & ((1 << (8 * width)) - 1)
    return total.to_bytes(width, "little")


def bit_and(existing: bytes | None, param: bytes) -> bytes | None:
    """Bitwise AND; bytes past the end of ``existing`` count as zero."""
    if existing is None or not param:
        return param
    width = len(param)
    return (_le(_fit(existing, width)) & _le(param)).to_bytes(width, "little")


def bit_or(existing: bytes | None, param: bytes) -> bytes | None:
    """Bitwise OR over the shared length; the rest comes from ``param``."""
    if not existing or not param:
        return param
    width = len(param)
    return (_le(_fit(existing, width)) | _le(param)).to_bytes(width, "little")


def bit_xor(existing: bytes | None, param: bytes) -> bytes | None:
    """Bitwise XOR over the shared length; the rest comes from ``param``."""
    if not existing or not param:
        return param
    width = len(param)
    return (_le(_fit(existing, width)) ^ _le(param)).to_bytes(width, "little")


def max_(existing: bytes | None, param: bytes) -> bytes | None:
    """The larger as unsigned little-endian of width ``len(param)``; a tie keeps ``param``."""
    if not existing or not param:
        return param
    fitted = _fit(existing, len(param))
    return fitted if _le(fitted) > _le(param) else param


def min_(existing: bytes | None, param: bytes) -> bytes | None:
    """The smaller as unsigned little-endian of width ``len(param)``; a tie keeps ``param``."""
    if existing is None or not param:
        return param
    fitted = _fit(existing, len(param))
    return fitted if _le(fitted) < _le(param) else param


def byte_min(existing: bytes | None, param: bytes) -> bytes | None:
    """The lexicographically smaller byte string."""
    if existing is None:
        return param
    return min(existing, param)


def byte_max(existing: bytes | None, param: bytes) -> bytes | None:
    """The lexicographically larger byte string."""
    if existing is None:
        return param
    return max(existing, param)


def compare_and_clear(existing: bytes | None, param: bytes) -> bytes | None:
    """Clear the key when it equals ``param`` (or is missing); otherwise keep it."""
    if existing is None or existing == param:
        return None
    return existing


def append_if_fits(existing: bytes | None, param: bytes) -> bytes | None:
    """Concatenate, unless the result would exceed the value size limit (then keep)."""
    if not existing:
        return param
    if not param or len(existing) + len(param) > VALUE_SIZE_LIMIT:
        return existing
    return existing + param


#: The rule for each atomic operation that transforms an existing value.
ATOMIC_RULES: Final[dict[int, Callable[[bytes | None, bytes], bytes | None]]] = {
    MutationType.ADD: add,
    MutationType.BIT_AND: bit_and,
    MutationType.BIT_OR: bit_or,
    MutationType.BIT_XOR: bit_xor,
    MutationType.APPEND_IF_FITS: append_if_fits,
    MutationType.MAX: max_,
    MutationType.MIN: min_,
    MutationType.BYTE_MIN: byte_min,
    MutationType.BYTE_MAX: byte_max,
    MutationType.COMPARE_AND_CLEAR: compare_and_clear,
}


def apply_atomic(op: int, existing: bytes | None, param: bytes) -> bytes | None:
    """The value after atomic operation ``op`` on ``existing`` (``None`` = missing/cleared)."""
    return ATOMIC_RULES[op](existing, param)


def versionstamp_offset(data: bytes) -> int | None:
    """Where the 10-byte placeholder starts in a versionstamped key/value, or None if malformed.

    The last 4 bytes are the little-endian offset (API >= 520); they are not part of the result.
    """
    if len(data) < 14:
        return None
    (pos,) = struct.unpack_from("<I", data, len(data) - 4)
    if pos + 10 > len(data) - 4:
        return None
    return int(pos)


def substitute_versionstamp(data: bytes, stamp: bytes) -> bytes:
    """``data`` without its 4-byte offset suffix, the placeholder replaced by ``stamp``.

    ``data`` must have been validated with :func:`versionstamp_offset`.
    """
    pos = versionstamp_offset(data)
    if pos is None:
        raise ValueError("malformed versionstamp operation: bad length or offset")
    body = data[:-4]
    return body[:pos] + stamp + body[pos + 10 :]


def versionstamp_bytes(version: int, batch_order: int = 0) -> bytes:
    """The 10-byte transaction versionstamp: 8-byte big-endian version + 2-byte batch order."""
    return struct.pack(">QH", version, batch_order)
