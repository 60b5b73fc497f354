"""What every command shares: which database, which election, and how errors become exit codes.

``--db URL`` and ``--election NAME`` are accepted before the command (``fdb-election --db X
status``) and after it (``fdb-election status --db X``); the later one wins. Commands call
:meth:`CliContext.database` and :meth:`CliContext.election` and wrap their work in
:func:`database_errors`, so every failure leaves with a message and a documented exit code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from fdb_election.cli.exit_codes import CliFailure, NotFound
from fdb_election.cli.output import error_text

__all__ = [
    "DEFAULT_ELECTION",
    "DB_ENV_VAR",
    "CliContext",
    "common_options",
    "database_errors",
    "pass_cli",
    "transact",
]

DEFAULT_ELECTION = "default"
DB_ENV_VAR = "FDB_ELECTION_DB"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliContext:
    """The options given on the command line and the database opened from them (lazily)."""

    db_url: str | None = None
    election_name: str = DEFAULT_ELECTION
    database_object: Any = field(default=None, repr=False)
    """An already-open database to use instead of ``--db`` (for embedding and tests)."""
    _opened: bool = field(default=False, repr=False)

    def resolved_url(self) -> str:
        """``--db``, else ``$FDB_ELECTION_DB``, else the file store in the user's state dir."""
        if self.db_url:
            return self.db_url
        if self.database_object is not None and not self._opened:
            return _describe_database(self.database_object)
        from fdb_election.connect import default_url

        return str(default_url())

    def database_source(self) -> str:
        """Which database this is and where the choice came from, for messages.

        ``sqlite:/x.fdbe (from --db)``, ``... (from $FDB_ELECTION_DB)`` or ``... (the default
        database)``: a user who set the variable in another shell sees it at once.
        """
        url = self.resolved_url()
        if self.db_url:
            return f"{url} (from --db)"
        if self.database_object is not None and not self._opened:
            return url
        import os

        if os.environ.get(DB_ENV_VAR, "").strip():
            return f"{url} (from ${DB_ENV_VAR})"
        return f"{url} (the default database; choose another with --db or ${DB_ENV_VAR})"

    def database(self, *, create: bool = True) -> Any:
        """The database named by the URL (opened once); bad URLs are usage errors (exit 2).

        ``create=False`` is for commands that need an existing election: a database file
        that does not exist is reported (exit 3) instead of being created empty.
        """
        if self.database_object is None:
            url = self.resolved_url()
            from fdb_election.connect import DatabaseNotFoundError, connect

            try:
                self.database_object = connect(url, create=create)
                self._opened = True
            except DatabaseNotFoundError as exc:
                raise NotFound(
                    f"no database at {self.database_source()}: the file {exc.path!r} does not "
                    "exist; check the path, or create the election there with `fdb-election init`"
                ) from exc
            except (ValueError, TypeError) as exc:
                raise click.BadParameter(str(exc), param_hint="'--db'") from exc
            except Exception as exc:
                if _is_database_error(exc):
                    raise
                # Connecting problems (libfdb_c missing, unreadable file, ...) are operational.
                raise CliFailure(f"cannot open database {url}: {exc}") from exc
        return self.database_object

    def existing_database(self) -> Any:
        """:meth:`database` for commands that read or change an existing election."""
        return self.database(create=False)

    def election(self) -> Any:
        """The ``LeaderElection`` for ``--election`` (subspace ``("fdb-election", NAME)``)."""
        from fdb_election.cli.naming import election_for

        return election_for(self.election_name)

    def close(self) -> None:
        """Close the database if this context opened it (a given one is left open)."""
        if not self._opened:
            return
        db, self.database_object, self._opened = self.database_object, None, False
        close = getattr(db, "close", None)
        if callable(close):
            close()


pass_cli = click.make_pass_decorator(CliContext, ensure=True)


def _validate_election_name(name: str) -> str:
    if not name or not name.strip():
        raise click.BadParameter("the election name must not be empty", param_hint="'--election'")
    if len(name.encode()) > 1000:
        raise click.BadParameter(
            "the election name must be at most 1000 bytes of UTF-8", param_hint="'--election'"
        )
    return name


def _store_db(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(CliContext).db_url = value


def _store_election(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(CliContext).election_name = _validate_election_name(value)


def common_options(func: F) -> F:
    """Add ``--db`` and ``--election`` to a command (or the group); values land in CliContext."""
    func = click.option(
        "--db",
        "db_url",
        metavar="URL",
        default=None,
        expose_value=False,
        callback=_store_db,
        is_eager=True,
        help=(
            f"Database: memory:, sqlite:PATH or fdb:[CLUSTER_FILE]. Default: ${DB_ENV_VAR}, "
            "else a file in your state directory."
        ),
    )(func)
    func = click.option(
        "--election",
        "election_name",
        metavar="NAME",
        default=None,
        expose_value=False,
        callback=_store_election,
        is_eager=True,
        help=f"Election name (default: {DEFAULT_ELECTION}).",
    )(func)
    return func


def _describe_database(db: Any) -> str:
    """A database object given instead of a URL, named as well as it can be (a URL if known)."""
    from fdb_election import embedded

    if isinstance(db, embedded.Database):
        return (
            "memory: (an in-memory embedded database)" if db.path is None else f"sqlite:{db.path}"
        )
    return f"the given database ({type(db).__module__}.{type(db).__qualname__})"


def _is_database_error(exc: BaseException) -> bool:
    """An FDBError from the embedded store or the official binding (compared by its int code)."""
    return type(exc).__name__ == "FDBError" and isinstance(getattr(exc, "code", None), int)


@contextlib.contextmanager
def database_errors(cli: CliContext) -> Iterator[None]:
    """Turn election and database errors into CliFailure with the documented exit codes."""
    from fdb_election import election as election_pkg

    not_initialized = getattr(election_pkg, "NotInitialized", None)
    election_error = getattr(election_pkg, "LeaderElectionError", None)
    try:
        yield
    except CliFailure:
        raise
    except Exception as exc:
        if not_initialized is not None and isinstance(exc, not_initialized):
            raise NotFound(
                f"election {cli.election_name!r} is not initialized in "
                f"{cli.database_source()}; create it with "
                f"`fdb-election --election {cli.election_name} init`, or point --db at the "
                "database that holds it"
            ) from exc
        if election_error is not None and isinstance(exc, election_error):
            raise CliFailure(f"election {cli.election_name!r}: {exc}") from exc
        if _is_database_error(exc):
            raise CliFailure(
                f"database error on {cli.database_source()}: {error_text(exc)}"
            ) from exc
        raise


T = TypeVar("T")


def transact(db: Any, body: Callable[[Any], T]) -> T:
    """Run ``body(tr)`` in a new transaction and commit, retrying as ``@fdb.transactional`` does.

    Database errors go to ``tr.on_error`` (which backs off and retries the retryable ones and
    re-raises the others); any other exception propagates at once without committing.
    """
    tr = db.create_transaction()
    while True:
        try:
            result = body(tr)
            tr.commit().wait()
            return result
        except Exception as exc:
            if not _is_database_error(exc):
                raise
            tr.on_error(exc).wait()
