"""Threads for the steps that call ``before_release``, with one kept waiting ahead of time.

A step that gives leadership up calls the elector's ``before_release`` hook, which may take as
long as the hook does (``run`` waits there for its command to exit), so the driver runs it on a
thread of its own and goes on stepping the other electors. Starting a thread when leadership is
given up cost about 0.2 ms of the hand-over on a small VM; a thread started earlier and waiting
takes the step at the cost of a wake-up. One such spare is kept per driver while an elector of
it has a hook; a second release at the same time gets a new thread, which ends afterwards
unless the spare is gone.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import NamedTuple

__all__ = ["ReleaseThreads"]

#: What a release thread is handed: the name to take and the step to run, or None: end.
_Job = tuple[str, Callable[[], object]] | None


class _Spare(NamedTuple):
    thread: threading.Thread
    jobs: queue.SimpleQueue[_Job]


class ReleaseThreads:
    """Runs each release step on a thread of its own, handing it to a waiting spare when there
    is one. ``name`` prefixes the spare's name while it waits."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._spare: _Spare | None = None
        self._wanted = False  # whether a spare should wait (an elector with a hook is attached)

    def keep_spare(self, wanted: bool) -> None:
        """Keep a spare thread waiting (``wanted``), or let the waiting one end."""
        with self._lock:
            self._wanted = wanted
            spare = self._take_spare()
            if wanted:
                self._spare = spare or self._start(None)
            elif spare is not None:
                spare.jobs.put(None)

    def run(self, name: str, step: Callable[[], object]) -> None:
        """Run ``step`` on a thread named ``name``: the spare if one waits, else a new one."""
        with self._lock:
            spare = self._take_spare()
            if spare is None:
                self._start((name, step))
                return
        spare.jobs.put((name, step))

    def _take_spare(self) -> _Spare | None:
        """The waiting spare, taken out of its place; None if there is none, or if its thread
        is gone (this process was forked since it started: the child has no such thread)."""
        spare, self._spare = self._spare, None
        return spare if spare is not None and spare.thread.is_alive() else None

    def _start(self, job: _Job) -> _Spare:
        jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        if job is not None:
            jobs.put(job)
        thread = threading.Thread(
            target=self._serve, args=(jobs,), name=self._spare_name(), daemon=True
        )
        spare = _Spare(thread, jobs)
        thread.start()
        return spare

    def _serve(self, jobs: queue.SimpleQueue[_Job]) -> None:
        thread = threading.current_thread()
        while True:
            job = jobs.get()
            if job is None:
                return
            name, step = job
            thread.name = name
            step()  # the driver's step function logs its own errors
            with self._lock:
                if not self._wanted or self._spare is not None:
                    return
                self._spare = _Spare(thread, jobs)
                thread.name = self._spare_name()  # after: the name says it waits

    def _spare_name(self) -> str:
        return f"{self._name}-release-spare"
