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
