"""``FDBError`` and the error predicates, as the official binding shapes them.

Callers compare errors by ``.code`` only, so the same retry code works against the embedded store
and a real cluster. Descriptions are FoundationDB's own strings (``flow/error_definitions.h``) and,
as in the binding under Python 3, are ``bytes``.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "DESCRIPTIONS",
    "FDBError",
    "FileStoreError",
    "MAYBE_COMMITTED",
    "RETRYABLE_NOT_COMMITTED",
    "is_maybe_committed",
    "is_retryable",
    "is_retryable_not_committed",
]

#: FoundationDB's description for every code this store can produce (and a few it passes on).
DESCRIPTIONS: Final[dict[int, str]] = {
    1007: "Transaction is too old to perform reads or be committed",
    1009: "Request for future version",
    1020: "Transaction not committed due to conflict with another transaction",
    1021: "Transaction may or may not have committed",
    1025: "Operation aborted because the transaction was cancelled",
    1031: "Operation aborted because the transaction timed out",
    1032: "Too many watches currently set",
    1034: "Watches cannot be set if read your writes is disabled",
    1036: "Read or wrote an unreadable key",
    1037: "Storage process does not have recent mutations",
    1038: "Database is locked",
    1039: "The protocol version of the cluster has changed",
    1042: "CommitProxy commit memory limit exceeded",
    1051: "Batch GRV request rate limit exceeded",
    1078: "GetReadVersion proxy memory limit exceeded",
    1101: "Asynchronous operation cancelled",
    1213: "Transaction tag is being throttled",
    1223: "Exceeded maximum proxy tag throttling duration",
    1510: "Disk i/o operation failed",
    2000: "Invalid API call",
    2004: "Key outside legal range",
    2005: "Range begin key larger than end key",
    2006: "Option set with an invalid value",
    2010: "Transaction already has a read version set",
    2012: "Range limits not valid",
    2017: "Operation issued while a commit was outstanding",
    2020: "Transaction does not have a valid commit version",
    2021: "Transaction is read-only and therefore does not have a commit version",
    2101: "Transaction exceeds byte limit",
    2102: "Key length exceeds limit",
    2103: "Value length exceeds limit",
    2210: "EXACT streaming mode requires limits, but none were given",
    4100: "An internal error occurred",
}

#: Codes whose commit may have succeeded (``fdb.predicates.is_maybe_committed``).
MAYBE_COMMITTED: Final[frozenset[int]] = frozenset({1021, 1039})
#: Codes that are safe to retry because nothing was committed.
RETRYABLE_NOT_COMMITTED: Final[frozenset[int]] = frozenset(
    {1020, 1007, 1009, 1038, 1078, 1042, 1051, 1037, 1213, 1223}
)


class FDBError(Exception):
    """A FoundationDB error: ``code`` is what callers test; ``description`` is ``bytes``.

    Example::

        try:
            tr.commit().wait()
        except FDBError as e:
            tr.on_error(e).wait()

    ``detail`` (embedded store only, usually None) says in words what went wrong where the code
    alone cannot: the file store's 1510 ``io_error`` names the file and whether its disk is full.
    ``str(e)`` appends it after the binding's ``"b'description' (code)"``; ``e.args`` stays
    ``(code,)`` as in the binding.
    """

    code: int
    detail: str | None

    def __init__(self, code: int, detail: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail

    @property
    def description(self) -> bytes:
        """FoundationDB's description of the code, as ``bytes`` (the binding's ``c_char_p``)."""
        return DESCRIPTIONS.get(self.code, "UNKNOWN_ERROR").encode()

    def __str__(self) -> str:
        text = f"{self.description!r} ({self.code})"
        return f"{text}: {self.detail}" if self.detail else text

    def __repr__(self) -> str:
        return "FDBError(%d)" % self.code  # noqa: UP031


def is_retryable(error: FDBError) -> bool:
    """True when retrying the transaction may succeed (committed-or-not both included)."""
    return is_maybe_committed(error) or is_retryable_not_committed(error)


def is_maybe_committed(error: FDBError) -> bool:
    """True when the failed commit may nevertheless have been applied (1021, 1039)."""
    return error.code in MAYBE_COMMITTED


def is_retryable_not_committed(error: FDBError) -> bool:
    """True when the transaction surely did not commit and can be retried."""
    return error.code in RETRYABLE_NOT_COMMITTED


class FileStoreError(Exception):
    """The database file cannot be used: not ours, a newer format, or not openable/writable.

    Not an ``FDBError``: no retry helps; the message says what is wrong with the file.
    """
