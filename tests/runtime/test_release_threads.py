"""The threads that run release steps: one waits ahead of time, and no step waits for another."""

from __future__ import annotations

import os
import threading

from elector_harness import wait_until

from fdb_election.runtime.release_threads import ReleaseThreads

WAIT = 10.0


def _spares(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"{prefix}-release-spare"]


class _Step:
    """A step that notes the thread it ran on (and its name then), and may block."""

    def __init__(self, block: bool = False) -> None:
        self.thread: threading.Thread | None = None
        self.name: str | None = None
        self.started, self.done = threading.Event(), threading.Event()
        self.release = threading.Event()
        if not block:
            self.release.set()

    def __call__(self) -> None:
        self.thread = threading.current_thread()
        self.name = self.thread.name
        self.started.set()
        self.release.wait(WAIT)
        self.done.set()


def test_a_kept_spare_takes_the_step_and_then_waits_again() -> None:
    threads = ReleaseThreads("rt-spare")
    threads.keep_spare(True)
    [spare] = _spares("rt-spare")  # started before keep_spare returned
    first, second = _Step(), _Step()
    threads.run("elector-a-release", first)
    assert first.done.wait(WAIT)
    assert first.thread is spare and first.name == "elector-a-release"
    assert wait_until(lambda: _spares("rt-spare") == [spare])  # waiting again, under its own name
    threads.run("elector-b-release", second)
    assert second.done.wait(WAIT)
    assert second.thread is spare
    threads.keep_spare(False)
    spare.join(WAIT)
    assert not spare.is_alive()


def test_steps_at_the_same_time_each_get_a_thread_and_one_spare_is_left() -> None:
    threads = ReleaseThreads("rt-busy")
    threads.keep_spare(True)
    slow, quick = _Step(block=True), _Step()
    threads.run("slow-release", slow)
    assert slow.started.wait(WAIT)
    threads.run("quick-release", quick)  # the spare is busy: a thread of its own
    assert quick.done.wait(WAIT)
    assert not slow.done.is_set() and quick.thread is not slow.thread
    slow.release.set()
    assert slow.done.wait(WAIT)
    assert slow.thread is not None and quick.thread is not None
    # The first to finish waits as the spare; the other ends.
    assert wait_until(lambda: len(_spares("rt-busy")) == 1)
    assert wait_until(lambda: not (slow.thread.is_alive() and quick.thread.is_alive()))
    threads.keep_spare(False)
    for thread in (slow.thread, quick.thread):
        thread.join(WAIT)
        assert not thread.is_alive()


def test_without_a_spare_wanted_each_step_gets_a_thread_that_then_ends() -> None:
    threads = ReleaseThreads("rt-none")
    step = _Step()
    threads.run("elector-c-release", step)
    assert step.done.wait(WAIT)
    assert step.thread is not None and step.name == "elector-c-release"
    step.thread.join(WAIT)
    assert not step.thread.is_alive()
    assert _spares("rt-none") == []


def test_in_a_forked_child_the_step_gets_a_live_thread_not_the_parent_s_spare() -> None:
    """A forked child has none of its parent's threads: a spare that waited in the parent would
    never take the step, and the hand-over would wait for it until its time ran out."""
    threads = ReleaseThreads("rt-fork")
    threads.keep_spare(True)
    assert len(_spares("rt-fork")) == 1
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        step = _Step()
        threads.run("elector-child-release", step)
        os._exit(0 if step.done.wait(WAIT) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    threads.keep_spare(False)
