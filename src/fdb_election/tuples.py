"""Tuple-layer helpers that work with or without the FoundationDB C library.

The official ``fdb.tuple`` module is used for all encoding. Its only defect without libfdb_c is
``Versionstamp.to_bytes``, which looks up ``fdb.impl.Value`` (a module that cannot be imported
without the C library). :class:`Versionstamp` here is a subclass that overrides ``to_bytes`` and
nothing else, so packing a versionstamp works everywhere and produces the same bytes.
"""

from __future__ import annotations

import struct
from typing import Any

import fdb.tuple as _fdb_tuple

__all__ = ["Versionstamp", "pack", "pack_with_versionstamp", "unpack"]


class Versionstamp(_fdb_tuple.Versionstamp):  # type: ignore[misc]
    """``fdb.tuple.Versionstamp`` whose ``to_bytes`` does not need libfdb_c.

    Example::

        key = subspace.pack_with_versionstamp(("log", Versionstamp.incomplete()))
    """

    def to_bytes(self) -> bytes:
        """The 12 packed bytes (10-byte transaction version, then the 2-byte user version)."""
        tr_version: Any = self.tr_version
        if not isinstance(tr_version, bytes | type(None)):
            # A Key future from a real cluster's get_versionstamp(): take its bytes.
            tr_version = bytes(tr_version)
        return struct.pack(
            self._STRUCT_FORMAT_STRING,
            tr_version if self.is_complete() else self._UNSET_TR_VERSION,
            self.user_version,
        )

    @classmethod
    def incomplete(cls, user_version: int = 0) -> Versionstamp:
        """A placeholder that the commit fills in (``pack_with_versionstamp``)."""
        return cls(None, user_version)

    @classmethod
    def from_bytes(cls, v: bytes, start: int = 0) -> Versionstamp:
        """Decode the 12 bytes at ``v[start:]``."""
        base = _fdb_tuple.Versionstamp.from_bytes(v, start)
        return cls(base.tr_version, base.user_version)

    def completed(self, new_tr_version: bytes) -> Versionstamp:
        """This incomplete versionstamp with ``new_tr_version`` (10 bytes) filled in."""
        if self.is_complete():
            raise RuntimeError("Versionstamp already completed")
        return Versionstamp(new_tr_version, self.user_version)


def pack(t: tuple[Any, ...], prefix: bytes | None = None) -> bytes:
    """``fdb.tuple.pack``; re-exported so callers need one import."""
    return bytes(_fdb_tuple.pack(t, prefix))


def pack_with_versionstamp(t: tuple[Any, ...], prefix: bytes | None = None) -> bytes:
    """``fdb.tuple.pack_with_versionstamp`` (API >= 520 offset format)."""
    return bytes(_fdb_tuple.pack_with_versionstamp(t, prefix))


def unpack(key: bytes, prefix_len: int = 0) -> tuple[Any, ...]:
    """``fdb.tuple.unpack``."""
    return tuple(_fdb_tuple.unpack(key, prefix_len))
