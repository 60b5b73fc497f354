"""Cross-process wake-up channel for the file store's watches.

Processes that share one database file find out about each other's commits through a directory
next to the file (``<file>.wake/``). A process that has watches binds a Unix datagram socket there
(:class:`WakeupListener`); every committer sends a one-byte datagram to every socket in it after its
commit (:class:`WakeupNotifier`). The listening process then re-checks its watched keys. Sockets
of processes that died are found when a send is refused and removed by the sender.

A datagram is only a hint ("something committed"): the listener always re-reads the database, so
a lost or coalesced datagram costs latency, never correctness, and a slow fallback re-check (every
second by default) covers anything missed. While idle the listener thread sleeps in ``recv`` and
uses no CPU.

Wake-ups are targeted. A listener publishes the keys its process watches in ``<name>.keys`` beside
its socket (:meth:`WakeupListener.publish`, before the process compares a new watch's value), and
a committer sends only to listeners that watch a key it changed, or that published nothing (a
process of an older version). Waking a process costs a context switch or two on an idle machine
(hundreds of microseconds on some virtual machines): without targeting, every heartbeat of every
candidate woke every other process on the file. The order makes it safe: the committer reads the
published keys after its commit, the watcher publishes before it reads the value it compares, so
either the committer sees the key or the watcher sees the commit.

The keys file only grows (one hex line per key, appended), so publishing a thousand watches one
by one writes each key once, and a committer reads only what was appended since it last looked
(one ``stat`` per listener and commit tells it). It is rewritten whole (a new file renamed over
it) only to drop keys no longer watched, once they outnumber the watched ones.

Unix socket paths are limited to about 107 bytes. When ``<file>.wake/<name>`` is longer, both
sides address the socket through ``/proc/self/fd/<directory fd>/<name>`` (Linux), which is short.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterable

__all__ = ["WakeupListener", "WakeupNotifier", "wake_directory"]

_SUFFIX = ".sock"
_KEYS_SUFFIX = ".keys"  # beside a socket: the keys its process watches, hex, one per line
_FEW_KEYS = 16  # a listener watching this many keys or fewer publishes exactly those
_MAX_SOCKET_PATH = 107  # sizeof(sockaddr_un.sun_path) - 1 on Linux
# A directory listing is trusted from cache only when it was taken this long after the directory's
# last change: file-system timestamps are coarse (a clock tick), so two changes within one tick
# can leave the modification time unchanged (the "racy timestamp" problem).
_RACY_NS = 50_000_000


def wake_directory(database_path: str) -> str:
    """The wake-up directory that belongs to a database file: ``<file>.wake``."""
    return os.path.abspath(database_path) + ".wake"


def _ensure_directory(directory: str) -> None:
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        if not os.path.isdir(directory):
            raise NotADirectoryError(
                f"{directory!r} exists but is not a directory; the file store keeps its wake-up "
                "sockets there, so remove or rename it"
            ) from None


class _Directory:
    """An open handle on the wake-up directory, to build short socket addresses."""

    def __init__(self, directory: str) -> None:
        _ensure_directory(directory)
        self.path = directory
        self._fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def address(self, name: str) -> str:
        """A path that reaches ``name`` inside the directory and fits in a socket address."""
        full = os.path.join(self.path, name)
        if len(os.fsencode(full)) <= _MAX_SOCKET_PATH:
            return full
        return f"/proc/self/fd/{self._fd}/{name}"

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class _Interest:
    """What a notifier knows of one listener's keys file: the file's identity, how much of it
    was read (whole lines only) and the keys in that part."""

    __slots__ = ("inode", "keys", "offset")

    def __init__(self) -> None:
        self.inode = -1
        self.offset = 0
        self.keys: set[bytes] = set()

    def refresh(self, path: str) -> set[bytes]:
        """Bring the keys up to date with the file (raises OSError when it is gone)."""
        info = os.stat(path)
        if info.st_ino != self.inode or info.st_size < self.offset:
            self.inode, self.offset, self.keys = info.st_ino, 0, set()  # rewritten: read all
        if info.st_size > self.offset:
            with open(path, "rb") as f:
                if os.fstat(f.fileno()).st_ino != self.inode:
                    raise FileNotFoundError(path)  # replaced meanwhile: read it next time
                f.seek(self.offset)
                data = f.read()
            complete = data.rfind(b"\n") + 1  # a line being appended is read next time
            self.keys.update(
                bytes.fromhex(line.decode("ascii")) for line in data[:complete].split()
            )
            self.offset += complete
        return self.keys


def _listener_gone(exc: OSError) -> bool:
    """Whether sending to (or connecting to) a listener's socket failed because nobody is
    there any more: its process is gone, or the file is no socket of ours."""
    return isinstance(exc, ConnectionRefusedError | FileNotFoundError) or exc.errno in (
        errno.ENOTSOCK,
        errno.EPROTOTYPE,
    )


class WakeupNotifier:
    """Sends "something committed" to the listeners of a database file that watch what changed.

    Cheap enough to call after every commit: the directory listing is cached while the
    directory's modification time says it did not change, each listener's keys while its keys
    file keeps its identity and size (one ``stat``), and sends never block (a listener whose
    queue is full already has a wake-up pending).
    """

    def __init__(self, directory: str) -> None:
        self._dir = _Directory(directory)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._lock = threading.Lock()
        self._names: list[str] = []
        self._listed_mtime = -1
        self._listed_at = 0
        self._interests: dict[str, _Interest] = {}

    def _listeners(self) -> list[str]:
        try:
            mtime = os.stat(self._dir.path).st_mtime_ns
        except FileNotFoundError:
            return []
        if mtime == self._listed_mtime and self._listed_at - mtime > _RACY_NS:
            return self._names
        now = time.time_ns()
        with os.scandir(self._dir.path) as entries:
            self._names = [e.name for e in entries if e.name.endswith(_SUFFIX)]
        listed = set(self._names)
        for gone in [name for name in self._interests if name not in listed]:
            del self._interests[gone]
        self._listed_mtime = mtime
        self._listed_at = now
        return self._names

    def _watched(self, name: str) -> set[bytes] | None:
        """The keys listener ``name`` published, or None (none published: wake it always)."""
        path = os.path.join(self._dir.path, name[: -len(_SUFFIX)] + _KEYS_SUFFIX)
        interest = self._interests.get(name)
        if interest is None:
            interest = self._interests[name] = _Interest()
        try:
            return interest.refresh(path)
        except (OSError, ValueError):
            del self._interests[name]
            return None  # missing, unreadable or garbled: wake it for everything

    def notify(self, changed: Iterable[bytes] | None = None, exclude: str | None = None) -> int:
        """Wake the listeners that watch a key in ``changed`` (None: every listener), except
        ``exclude`` (a socket name); return how many were sent to.

        A socket whose process is gone refuses the datagram and is removed.
        """
        keys = None if changed is None else set(changed)
        sent = 0
        with self._lock:
            for name in list(self._listeners()):
                if name == exclude:
                    continue
                if keys is not None:
                    watched = self._watched(name)
                    if watched is not None and watched.isdisjoint(keys):
                        continue
                try:
                    self._sock.sendto(b"!", self._dir.address(name))
                    sent += 1
                except BlockingIOError:
                    sent += 1  # its queue is full: it has wake-ups pending already
                except OSError as exc:
                    if not _listener_gone(exc):
                        raise
                    self._remove_stale(name)
        return sent

    def sweep(self, exclude: str | None = None) -> int:
        """Remove the socket and keys file of every listener whose process is gone; how many.

        A process killed with SIGKILL leaves both behind, and committers would look at its keys
        file at every commit until one changed a key it watched. The probe connects a datagram
        socket, which sends nothing: a live listener is not woken.
        """
        removed = 0
        with self._lock:
            for name in list(self._listeners()):
                if name == exclude:
                    continue
                probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                try:
                    probe.connect(self._dir.address(name))
                except OSError as exc:
                    if _listener_gone(exc):
                        self._remove_stale(name)
                        removed += 1
                finally:
                    probe.close()
        return removed

    def _remove_stale(self, name: str) -> None:
        for stale in (name, name[: -len(_SUFFIX)] + _KEYS_SUFFIX):
            path = os.path.join(self._dir.path, stale)
            try:
                if not stat.S_ISDIR(os.lstat(path).st_mode):
                    os.unlink(path)
            except FileNotFoundError:
                pass
        self._interests.pop(name, None)
        self._listed_mtime = -1

    def close(self) -> None:
        """Release the socket and the directory handle."""
        with self._lock:
            self._sock.close()
            self._dir.close()


class WakeupListener:
    """Calls ``on_wake`` in a background thread when another process commits.

    Example::

        listener = WakeupListener(wake_directory(path), recheck_watches)
        ...
        listener.close()

    ``on_wake`` runs after each burst of datagrams (all pending ones are drained first) and at
    least every ``fallback_interval`` seconds, so a missed datagram delays a watch by at most that
    long. It must not raise; exceptions are swallowed so the thread keeps serving.
    """

    def __init__(
        self,
        directory: str,
        on_wake: Callable[[], None],
        *,
        fallback_interval: float = 1.0,
    ) -> None:
        if fallback_interval <= 0:
            raise ValueError(
                f"fallback_interval must be a positive number of seconds, got {fallback_interval!r}"
            )
        self._dir = _Directory(directory)
        # os.urandom is what secrets.token_hex reads; importing secrets would load OpenSSL's
        # libcrypto (hashlib, via hmac): about 4 MiB of resident memory nothing else here needs.
        self.name = f"{os.getpid()}-{os.urandom(6).hex()}{_SUFFIX}"
        self._path = os.path.join(directory, self.name)
        self._keys_path = self._path[: -len(_SUFFIX)] + _KEYS_SUFFIX
        self._published: frozenset[bytes] = frozenset()
        self._publish_lock = threading.Lock()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            # Published before the socket exists: a notifier that finds the socket finds the
            # (still empty) list of keys too, and wakes this process for nothing until it grows.
            self._write_keys(frozenset())
            self._sock.bind(self._dir.address(self.name))
        except BaseException:
            self._sock.close()
            self._dir.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._keys_path)
            raise
        self._fallback = fallback_interval
        self._sock.settimeout(fallback_interval)
        self._on_wake = on_wake
        self._closing = False
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"fdb-election-wakeup-{self.name}", daemon=True
        )
        self._thread.start()

    def publishes(self, key: bytes) -> bool:
        """Whether committers already wake this process for ``key``."""
        return key in self._published

    def publish(self, keys: Iterable[bytes]) -> None:
        """Make sure committers wake this process for ``keys`` (call it before comparing the
        value of a newly watched key).

        New keys are appended; a watch that fired and is not armed again yet stays published,
        so a process that re-arms many watches writes nothing. Keys no longer watched are
        dropped (the file rewritten) when a new key comes: at once while ``keys`` are few (a
        stale key may be written often, say a leader record refreshed three times a lease),
        else once the published ones outnumber ``keys`` two to one.
        """
        current = frozenset(keys)
        with self._publish_lock:
            if self._closing or current <= self._published:
                return
            stale = len(self._published - current)
            if stale and (len(current) <= _FEW_KEYS or stale > len(current) + 16):
                self._write_keys(current)
                self._published = current
                return
            added = current - self._published
            with open(self._keys_path, "a", encoding="ascii") as f:
                f.write("".join(key.hex() + "\n" for key in sorted(added)))
            self._published = self._published | added

    def _write_keys(self, keys: frozenset[bytes]) -> None:
        """Replace the ``.keys`` file at once (a rename): readers see the old or the new list."""
        temporary = f"{self._keys_path}.{threading.get_ident()}.tmp"
        with open(temporary, "w", encoding="ascii") as f:
            f.write("".join(key.hex() + "\n" for key in sorted(keys)))
        os.replace(temporary, self._keys_path)

    def _run(self) -> None:
        while not self._closing:
            try:
                self._sock.recv(64)
            except TimeoutError:
                pass
            except OSError:
                if self._closing:
                    return
                self._stopped.wait(self._fallback)  # unexpected: degrade to the slow re-check
            if self._closing:
                return
            self._drain()
            try:
                self._on_wake()
            except Exception:  # a failed re-check must not kill the listener
                pass

    def _drain(self) -> None:
        self._sock.setblocking(False)
        try:
            while True:
                self._sock.recv(64)
        except (BlockingIOError, OSError):
            pass
        finally:
            if not self._closing:
                self._sock.settimeout(self._fallback)

    def close(self) -> None:
        """Stop the thread, remove this process's socket and release the handles."""
        if self._closing:
            return
        with self._publish_lock:  # a publish racing with close leaves no file behind
            self._closing = True
        self._stopped.set()
        with contextlib.suppress(OSError):
            poke = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            with poke:
                poke.setblocking(False)
                poke.sendto(b"x", self._dir.address(self.name))
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        for path in (self._path, self._keys_path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        self._sock.close()
        self._dir.close()
