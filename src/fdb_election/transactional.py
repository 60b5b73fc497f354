"""``@transactional``: the binding's retry-loop decorator, for embedded and real databases; and
:func:`commit_many`, which commits several transactions at once on either kind.

Example::

    @transactional
    def increment(tr, key):
        value = tr[key]
        n = int(value) if value.present() else 0
        tr[key] = b"%d" % (n + 1)
        return n + 1

    increment(db, b"counter")   # own transaction, committed, retried on conflicts
    increment(tr, b"counter")   # inside the caller's transaction: runs once, no commit

What can surprise you: the body may run several times (also after a commit that actually
succeeded but reported 1021), so it must be idempotent; the database or transaction must be
passed positionally; generator functions are rejected.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar, overload

__all__ = ["commit_many", "transactional"]

P = ParamSpec("P")
R = TypeVar("R")

_GENERATOR_ERROR = "Generators can not be wrapped with fdb.transactional"


def _database_error_code(error: BaseException) -> int | None:
    """The error code of an ``FDBError`` (embedded or the binding's), else None."""
    if type(error).__name__ != "FDBError":
        return None
    code = getattr(error, "code", None)
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _decorate(func: Callable[P, R], parameter: str) -> Callable[P, R]:
    unwrapped: Any = func
    while getattr(unwrapped, "__wrapped__", None):
        unwrapped = unwrapped.__wrapped__
    try:
        index = inspect.getfullargspec(unwrapped).args.index(parameter)
    except ValueError:
        raise ValueError(
            f"@transactional: {getattr(func, '__qualname__', func)!r} has no positional "
            f"parameter named {parameter!r}; name it so, or use "
            f"@transactional(parameter='<name>')"
        ) from None
    is_generator = inspect.isgeneratorfunction(func)

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if is_generator:
            raise ValueError(_GENERATOR_ERROR)
        target: Any = args[index]
        if not hasattr(target, "create_transaction"):
            return func(*args, **kwargs)  # already a transaction: pass through
        largs: list[Any] = list(args)
        tr = largs[index] = target.create_transaction()
        while True:
            try:
                result = func(*largs, **kwargs)
                if inspect.isgenerator(result):
                    raise ValueError(_GENERATOR_ERROR)
                tr.commit().wait()
                return result
            except Exception as error:
                code = _database_error_code(error)
                if code is None:
                    raise
                tr.on_error(code).wait()

    return wrapper


@overload
def transactional(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def transactional(*, parameter: str = "tr") -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def transactional(*args: Any, **kwargs: Any) -> Any:
    """Run the decorated function in a retried, committed transaction (see module docstring).

    The parameter (default ``tr``; ``@transactional(parameter='name')`` to change it) receives
    either a database, whose transaction is created, committed and retried here, or a
    transaction, which is used as is.
    """
    unknown = set(kwargs) - {"parameter"}
    if unknown or (args and kwargs) or len(args) > 1 or (args and not callable(args[0])):
        raise TypeError(
            "Invalid use of transactional decorator: use @transactional or "
            "@transactional(parameter='name')"
        )
    parameter = kwargs.get("parameter", "tr")
    if not isinstance(parameter, str):
        raise TypeError(f"parameter must be a str naming an argument, not {parameter!r}")
    if args:
        return _decorate(args[0], parameter)
    return functools.partial(_decorate, parameter=parameter)


def commit_many(transactions: Iterable[Any]) -> list[Any]:
    """Commit several transactions at once; return their commit futures, in the same order.

    Example::

        futures = commit_many(transactions)
        for tr, future in zip(transactions, futures):
            try:
                future.wait()
            except Exception as e:  # an FDBError: this transaction alone failed
                tr.on_error(e).wait()

    Transactions of one embedded database are committed by its ``Database.commit_many``: one
    group, so one fsync on the file store. Any other transaction (a FoundationDB cluster's,
    through the official binding) is committed with ``tr.commit()``, all of them before any is
    waited for, so they are in flight together and the cluster's commit proxies batch them.
    Either way each transaction keeps its own outcome; on a cluster, transactions committed
    together may be ordered either way (the embedded store keeps the order given).
    """
    transactions = list(transactions)
    futures: list[Any] = [None] * len(transactions)
    groups: dict[int, tuple[Any, list[int]]] = {}
    for index, tr in enumerate(transactions):
        db = getattr(tr, "db", None)
        if callable(getattr(db, "commit_many", None)):
            groups.setdefault(id(db), (db, []))[1].append(index)
        else:
            futures[index] = tr.commit()
    for db, indices in groups.values():
        committed = db.commit_many([transactions[i] for i in indices])
        for index, future in zip(indices, committed, strict=True):
            futures[index] = future
    return futures
