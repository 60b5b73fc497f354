"""Futures as the binding returns them: ``Value``, ``Key``, ``FutureVoid``, ``FutureInt64``.

The embedded store answers reads synchronously, so most futures are born ready; what matters is
*when errors surface*: a failed read is stored in its future and raised at first use, exactly like
the binding. Watches are the one kind that completes later, from the committing thread.

A read that went to the store stands for a request that, on a cluster, is still in flight until
its first use. FoundationDB cancels such requests (error 1025 ``transaction_cancelled``) when
their transaction is reset, cancelled or destroyed, so such a future keeps a link to its
transaction's :class:`Attempt`: if the attempt was abandoned before the future's first use, that
use raises 1025. A commit waits for every read of its transaction first, so reads made before a
commit keep their results.

Callbacks given to ``on_ready`` run exactly once: at once, in the calling thread, when the future
is already complete, otherwise in the thread that completes it (the committing thread, or the file
store's watch thread). A cluster runs them on its network thread, so ``wait()`` and
``wait_for_any()`` may return there before a callback has run: code that needs the callback's
effect must wait for a signal the callback itself gives (an event, a queue).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, NoReturn

from fdb_election.embedded.errors import FDBError

__all__ = ["Future", "FutureInt64", "FutureVoid", "Key", "Value"]

# One lock for the (rare) completion of pending futures; ready-born futures never touch it.
_LOCK = threading.Lock()
_PENDING: Any = object()


class Attempt:
    """One attempt of a transaction, shared by the lazy reads made during it.

    ``code`` stays None while the attempt lives or once it has reached its commit; the
    transaction sets it (to 1025) when the attempt is abandoned: reset, ``on_error``, cancelled or
    the transaction object destroyed. Reads not yet used then fail with that code.
    """

    # A class default and no __init__: one is made per transaction attempt, so creating it is
    # kept as cheap as Python allows.
    code: int | None = None


class Future:
    """Base future: ``wait``, ``is_ready``, ``block_until_ready``, ``on_ready``, ``cancel``."""

    __slots__ = ("_attempt", "_callbacks", "_canceller", "_error", "_event", "_result")

    def __init__(
        self,
        result: Any = None,
        error: BaseException | None = None,
        attempt: Attempt | None = None,
    ) -> None:
        self._result = result
        self._error = error
        self._callbacks: list[Callable[[Any], None]] | None = None
        self._event: threading.Event | None = None
        self._canceller: Callable[[], None] | None = None
        # Set for a store read: the attempt whose abandonment, before first use, cancels it.
        self._attempt = attempt

    @classmethod
    def _pending(cls) -> Any:
        """A future that some later event completes with :meth:`_set` / :meth:`_set_error`."""
        future = cls()
        future._result = _PENDING
        return future

    def _complete(self, result: Any, error: BaseException | None) -> bool:
        with _LOCK:
            if self._result is not _PENDING:
                return False
            self._error = error
            self._result = result
            callbacks, self._callbacks = self._callbacks, None
            event = self._event
            self._canceller = None
        if event is not None:
            event.set()
        for callback in callbacks or ():
            callback(self)
        return True

    def _set(self, result: Any = None) -> bool:
        """Complete with a result; False when it was already complete."""
        return self._complete(result, None)

    def _fire(self) -> None:
        """Complete with no result (a watch's callback)."""
        self._set()

    def _set_error(self, error: BaseException) -> bool:
        """Complete with an error raised by every later use; False when already complete."""
        return self._complete(None, error)

    def _settle(self) -> None:
        """First use of a store read: fail it with 1025 if its attempt was abandoned before."""
        attempt = self._attempt
        self._attempt = None
        if attempt is not None and attempt.code is not None:
            self._result = None
            self._error = FDBError(attempt.code)

    def is_ready(self) -> bool:
        """True once the future holds a result or an error."""
        if self._attempt is not None:
            self._settle()
        return self._result is not _PENDING

    def block_until_ready(self) -> None:
        """Wait (without a timeout, like the binding) until the future is ready."""
        if self._attempt is not None:
            self._settle()
        if self._result is not _PENDING:
            return
        with _LOCK:
            if self._result is not _PENDING:
                return
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        event.wait()

    def on_ready(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(self)`` once, when ready: at once in this thread if already ready,
        else in the thread that completes the future. Do not rely on it having run when
        ``wait()`` returns: on a cluster it runs on the network thread, possibly later."""
        if self._attempt is not None:
            self._settle()
        with _LOCK:
            if self._result is _PENDING:
                if self._callbacks is None:
                    self._callbacks = []
                self._callbacks.append(callback)
                return
        callback(self)

    def cancel(self) -> None:
        """Cancel a pending future: every use raises error 1101 ``operation_cancelled``."""
        canceller = self._canceller
        if self._set_error(FDBError(1101)) and canceller is not None:
            canceller()

    def _raise_if_error(self) -> None:
        attempt = self._attempt
        if attempt is not None:  # _settle(), inlined: this runs on every use of every read
            self._attempt = None
            if attempt.code is not None:
                self._result = None
                self._error = FDBError(attempt.code)
        if self._result is _PENDING:
            self.block_until_ready()
        if self._error is not None:
            raise self._error

    def wait(self) -> Any:
        """Block until ready and return the result (or raise the error)."""
        self._raise_if_error()
        return self._result

    @staticmethod
    def wait_for_any(*futures: Future) -> int:
        """Block until one of ``futures`` is ready and return its index."""
        if not futures:
            raise ValueError("wait_for_any requires at least one future")
        for index, future in enumerate(futures):
            if future.is_ready():
                return index
        event = threading.Event()
        for future in futures:
            future.on_ready(lambda _f: event.set())
        event.wait()
        for index, future in enumerate(futures):
            if future.is_ready():
                return index
        raise AssertionError("unreachable: an on_ready callback fired for no ready future")


class FutureVoid(Future):
    """A future with no result (commit, on_error, watch): ``wait()`` returns None or raises."""

    __slots__ = ()

    def wait(self) -> None:
        """Block until ready; raise the operation's ``FDBError`` if it failed."""
        self._raise_if_error()


class FutureInt64(Future):
    """A future integer (``get_read_version``): ``wait()`` returns an ``int``."""

    __slots__ = ()

    def wait(self) -> int:
        """Block until ready and return the integer (or raise the operation's ``FDBError``)."""
        self._raise_if_error()
        result: int = self._result
        return result


def _absent(what: str) -> NoReturn:
    raise TypeError(f"{what} is not supported on an absent value (check .present() first)")


class _BytesFuture(Future):
    """A lazy bytes-like result: bytes methods, comparisons and errors at first use."""

    __slots__ = ()

    def _bytes_class(self) -> type:
        return bytes

    # isinstance(v, bytes) is True, as in the binding; type(v) stays the real class.
    __class__ = property(_bytes_class)

    @property
    def value(self) -> bytes | None:
        """The bytes (``None`` when absent); the first use raises the read's error, if any."""
        self._raise_if_error()
        result: bytes | None = self._result
        return result

    def wait(self) -> Any:
        """Block until ready and return the future itself (as the binding's lazy futures do)."""
        self._raise_if_error()
        return self

    def as_foundationdb_key(self) -> bytes | None:
        """The bytes, so the future can be passed where the binding expects a key."""
        return self.value

    def as_foundationdb_value(self) -> bytes | None:
        """The bytes, so the future can be passed where the binding expects a value."""
        return self.value

    def _bytes(self, what: str) -> bytes:
        value = self.value
        if value is None:
            _absent(what)
        return value

    def __bytes__(self) -> bytes:
        return self._bytes("bytes()")

    def __str__(self) -> str:
        return str(self.value)

    def __repr__(self) -> str:
        return repr(self.value)

    def __len__(self) -> int:
        return len(self._bytes("len()"))

    def __bool__(self) -> bool:
        return len(self._bytes("bool()")) > 0

    def __hash__(self) -> int:
        return hash(self._bytes("hash()"))

    def __getitem__(self, index: Any) -> Any:
        return self._bytes("indexing")[index]

    def __int__(self) -> int:
        return int(self._bytes("int()"))

    def __add__(self, other: Any) -> Any:
        if isinstance(other, _BytesFuture):
            other = other.value
        return self.value + other

    def __radd__(self, other: Any) -> Any:
        if isinstance(other, _BytesFuture):
            other = other.value
        return other + self.value

    def __mul__(self, count: Any) -> Any:
        return self.value * count

    def __rmul__(self, count: Any) -> Any:
        return count * self.value

    @staticmethod
    def _other(other: Any) -> Any:
        return other.value if isinstance(other, _BytesFuture) else other

    def __eq__(self, other: object) -> Any:
        return self.value == self._other(other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __lt__(self, other: Any) -> Any:
        return self.value < self._other(other)

    def __le__(self, other: Any) -> Any:
        return self.value <= self._other(other)

    def __gt__(self, other: Any) -> Any:
        return self.value > self._other(other)

    def __ge__(self, other: Any) -> Any:
        return self.value >= self._other(other)

    def __getattr__(self, name: str) -> Any:
        # Forward the public bytes methods (decode, startswith, hex, ...), as the binding does.
        if name.startswith("_") or not hasattr(bytes, name):
            raise AttributeError(name)
        return functools.partial(getattr(bytes, name), self.value)


class Value(_BytesFuture):
    """The lazy result of ``tr.get(key)`` / ``tr[key]``: bytes-like, ``None``-comparable.

    Example::

        v = tr[b"k"]
        if v.present():
            n = int.from_bytes(bytes(v), "little")

    What can surprise you: ``tr[k] is None`` is never true (use ``.present()`` or ``== None``);
    ``bytes(v)``, ``len(v)``, ``bool(v)`` and ``hash(v)`` raise ``TypeError`` when absent.
    """

    __slots__ = ()

    def present(self) -> bool:
        """True when the key exists."""
        return self.value is not None


class Key(_BytesFuture):
    """A future key (``get_key``, ``get_versionstamp``): bytes-like and always present."""

    __slots__ = ()
