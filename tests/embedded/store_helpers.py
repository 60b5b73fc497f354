"""Small helpers for the conformance tests (work on every backend, compare errors by code)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def error_code(action: Callable[[], Any]) -> int | None:
    """Run ``action``; the ``.code`` of the FDBError it raised, or None when it succeeded."""
    try:
        action()
    except Exception as e:
        code = getattr(e, "code", None)
        if code is None:
            raise
        return int(code)
    return None


def committed(db: Any, body: Callable[[Any], Any]) -> Any:
    """Run ``body(tr)`` in a new transaction and commit it (no retry)."""
    tr = db.create_transaction()
    result = body(tr)
    tr.commit().wait()
    return result


def ready_event(future: Any) -> threading.Event:
    """An event set when ``future`` becomes ready (for bounded waits in tests)."""
    event = threading.Event()
    future.on_ready(lambda _f: event.set())
    return event


class StubCLibrary:
    """Stands in for libfdb_c: every function accepts any arguments, returns 1 and is recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        calls = self.calls

        class Function:
            argtypes: Any = None
            restype: Any = None
            errcheck: Any = None

            def __call__(self, *args: Any) -> int:
                calls.append((name, args))
                return 1

        function = Function()
        setattr(self, name, function)
        return function


def binding_over_stub(monkeypatch: Any) -> tuple[Any, StubCLibrary]:
    """The official binding's ``fdb/impl.py``, run over :class:`StubCLibrary`, registered as
    ``fdb.impl`` until the test ends (as it is once a real libfdb_c is loaded).

    Without libfdb_c the binding cannot be imported at all; this runs its real Python code, so
    a test can check what the binding does with our objects. Only for calls that create
    futures: nothing can wait on them. Skips when a real ``fdb.impl`` is loaded already.
    """
    import ctypes
    import importlib.util
    import sys

    import pytest

    if "fdb.impl" in sys.modules:
        pytest.skip("the real binding is loaded: the fdb backend exercises it instead")
    spec = importlib.util.find_spec("fdb")
    assert spec is not None and spec.submodule_search_locations
    path = f"{next(iter(spec.submodule_search_locations))}/impl.py"
    impl_spec = importlib.util.spec_from_file_location("fdb.impl", path)
    assert impl_spec is not None and impl_spec.loader is not None
    module = importlib.util.module_from_spec(impl_spec)
    stub = StubCLibrary()
    monkeypatch.setitem(sys.modules, "fdb.impl", module)
    with monkeypatch.context() as patch:
        patch.setattr(ctypes, "CDLL", lambda *args, **kwargs: stub)
        impl_spec.loader.exec_module(module)
    return module, stub
