"""Open a database by URL: the embedded store (memory or one file) or a FoundationDB cluster.

Example::

    db = connect("sqlite:/var/lib/myapp/election.fdbe")   # shared by processes on this host
    db = connect("memory:")                               # this process only, for tests
    db = connect("fdb:")                                  # the default FoundationDB cluster
    db = connect()                                        # $FDB_ELECTION_DB, else a file in
                                                          # the user's state directory

Every URL gives an object with the FoundationDB binding's ``Database`` API, so code written
against one runs unchanged on the others. What can surprise you: ``memory:`` gives a new, empty
database on every call; ``sqlite:PATH`` creates the file when it is missing (pass
``create=False`` to get :class:`DatabaseNotFoundError` instead, as read-only tools should), but
not its directory, except for the default file's; and ``fdb:`` needs the FoundationDB client
library (libfdb_c) installed on the machine, not only the ``foundationdb`` Python package.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = [
    "ENV_VAR",
    "SCHEMES",
    "DatabaseNotFoundError",
    "FdbUnavailableError",
    "connect",
    "default_url",
]

ENV_VAR = "FDB_ELECTION_DB"
"""Environment variable that names the database when none is given."""

SCHEMES = ("memory:", "sqlite:PATH", "fdb:", "fdb:CLUSTER_FILE")
"""The URL forms :func:`connect` accepts, as shown in error messages."""

_INSTALL_HINT = (
    "install the FoundationDB client package for your platform (it provides libfdb_c: "
    "foundationdb-clients .deb/.rpm, or the macOS/Windows installer) in the version of your "
    "cluster, and the matching Python binding (pip install 'foundationdb==<cluster version>'); "
    "or use the embedded store instead: 'memory:' or 'sqlite:PATH'"
)


class FdbUnavailableError(RuntimeError):
    """``fdb:`` was asked for but the FoundationDB client library cannot be used here."""


class DatabaseNotFoundError(FileNotFoundError):
    """``connect(url, create=False)`` named a database file that does not exist.

    ``path`` is the absolute path that was looked for.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"database file {path!r} does not exist")


def default_url() -> str:
    """The database to use when none is given.

    ``$FDB_ELECTION_DB`` when set and not empty, otherwise ``sqlite:`` on
    ``$XDG_STATE_HOME/fdb-election/default.fdbe`` (``~/.local/state/...`` when
    ``XDG_STATE_HOME`` is unset or not absolute, as the XDG specification says).
    """
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        return configured
    return f"sqlite:{_default_state_file()}"


def _default_state_file() -> Path:
    state_home = os.environ.get("XDG_STATE_HOME", "")
    base = Path(state_home) if os.path.isabs(state_home) else Path.home() / ".local" / "state"
    return base / "fdb-election" / "default.fdbe"


def connect(url: str | None = None, *, create: bool = True) -> Any:
    """Open the database named by ``url`` (module docstring); ``None`` means :func:`default_url`.

    ``create=False`` refuses to create an embedded database file that does not exist yet
    (:class:`DatabaseNotFoundError`), so that a mistyped path is reported instead of becoming a
    new, empty database. The directory of the default file (:func:`default_url`) is created
    when needed (mode 0700); any other file's directory must exist.

    Raises ``ValueError`` for an unknown or malformed URL, :class:`FdbUnavailableError` when
    ``fdb:`` cannot load the FoundationDB client library, and the file store's errors for a
    file that cannot be opened.
    """
    if url is None:
        url = default_url()
    if not isinstance(url, str):
        raise TypeError(f"database URL must be a str, got {type(url).__name__}")
    scheme, sep, rest = url.partition(":")
    if not sep:
        raise ValueError(_unknown(url, "it has no scheme"))
    scheme = scheme.lower()
    if scheme == "memory":
        if rest:
            raise ValueError(f"'memory:' takes nothing after the colon, got {url!r}")
        from fdb_election import embedded

        return embedded.open()
    if scheme == "sqlite":
        path = rest[2:] if rest.startswith("///") else rest  # accept sqlite:///abs/path too
        if not path:
            raise ValueError(
                f"'sqlite:' needs a file path, e.g. 'sqlite:/tmp/election.fdbe'; got {url!r}"
            )
        path = os.path.abspath(os.path.expanduser(path))
        if not create and not os.path.exists(path):
            raise DatabaseNotFoundError(path)
        default = _default_state_file()
        if create and Path(path) == default:
            default.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        from fdb_election import embedded

        return embedded.open(path)
    if scheme == "fdb":
        return _open_cluster(os.path.expanduser(rest) if rest else None)
    raise ValueError(_unknown(url, f"unknown scheme {scheme + ':'!r}"))


def _unknown(url: str, why: str) -> str:
    return f"cannot open database {url!r}: {why}; allowed: {', '.join(SCHEMES)}"


def _open_cluster(cluster_file: str | None) -> Any:
    """Open a FoundationDB cluster through the official binding."""
    if cluster_file is not None and not os.path.isfile(cluster_file):
        raise ValueError(
            f"FoundationDB cluster file {cluster_file!r} does not exist or is not a file; "
            "use 'fdb:' for the default cluster file or 'fdb:PATH' with an existing one"
        )
    import fdb

    if not fdb.is_api_version_selected():
        try:
            fdb.api_version(fdb.LATEST_API_VERSION)
        except Exception as exc:
            message = str(exc)
            if "shared library" in message or isinstance(exc, OSError):
                reason = "the FoundationDB client library (libfdb_c) is not installed here"
            elif "not supported by the installed" in message:
                reason = (
                    f"the installed libfdb_c is older than this Python binding "
                    f"(foundationdb {fdb.__version__}) requires ({message})"
                )
            else:
                reason = f"the FoundationDB client library could not be loaded ({message})"
            raise FdbUnavailableError(f"cannot open 'fdb:': {reason}; {_INSTALL_HINT}") from exc
    return fdb.open(cluster_file)
