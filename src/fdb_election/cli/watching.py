"""Waiting on a database watch with a timeout, using only the binding's future API.

Usage::

    watch = arm_watch(tr, key)          # in the transaction that read the key; then commit
    fired = wait_for_future(watch, 1.0)  # True: the key changed; False: timed out

The binding's futures have ``on_ready`` but no timed wait, so the callback sets an event and the
caller waits on that. Watches only say "changed" (a change and change back can be missed), so
callers re-read after a wake-up instead of trusting what they last saw.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

__all__ = ["arm_watch", "wait_for_future"]


def wait_for_future(future: Any, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``future``; cancel it and return False on timeout."""
    ready = threading.Event()
    future.on_ready(lambda _f: ready.set())
    if ready.wait(max(0.0, timeout)):
        return True
    with contextlib.suppress(Exception):
        future.cancel()
    return False


def arm_watch(tr: Any, key: bytes) -> Any:
    """Create a watch on ``key`` in ``tr`` (it becomes active when ``tr`` commits)."""
    return tr.watch(key)
