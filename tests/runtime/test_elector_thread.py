"""The thread elector on real time: every wait is on an event with a bounded timeout."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from typing import Any

import pytest
from elector_harness import wait_until

from fdb_election.election import DuplicateProcessId, ElectionConfig, NotLeader
from fdb_election.runtime import Demoted, Departure, Elected, Elector, ElectorEvent, LeaderChanged

FAST = ElectionConfig.with_lease_duration(0.6)
WAIT = 10.0


class Recorder:
    """Collects an elector's callbacks and lets a test wait for one kind of event."""

    def __init__(self) -> None:
        self.events: list[ElectorEvent] = []
        self._lock = threading.Condition()

    def __call__(self, event: ElectorEvent) -> None:
        with self._lock:
            self.events.append(event)
            self._lock.notify_all()

    def wait_for(self, kind: type, count: int = 1) -> bool:
        with self._lock:
            return self._lock.wait_for(
                lambda: sum(isinstance(e, kind) for e in self.events) >= count, WAIT
            )

    def kinds(self) -> list[str]:
        with self._lock:
            return [type(e).__name__ for e in self.events]


def elector(db: Any, recorder: Recorder | None = None, **kwargs: Any) -> Elector:
    kwargs.setdefault("config", FAST)
    if recorder is not None:
        kwargs.update(on_elected=recorder, on_demoted=recorder, on_leader_change=recorder)
    return Elector(db, "thread-test", **kwargs)


def test_leads_then_hands_over_on_graceful_stop(db: Any) -> None:
    a_events, b_events = Recorder(), Recorder()
    a = elector(db, a_events, process_id="a").start()
    try:
        assert a.wait_for_leadership(WAIT)
        assert a.ballot is not None and a.leader is not None and a.leader.leader_id == "a"
        b = elector(db, b_events, process_id="b").start()
        try:
            assert b_events.wait_for(LeaderChanged)
            assert not b.is_leader
            assert a.departure is None
            assert a.stop(WAIT)
            assert not a.is_leader
            assert b.wait_for_leadership(WAIT)
            assert b.ballot is not None and b.ballot > (a_events.events[1].ballot)  # type: ignore[union-attr]
            handed = a.departure.successor if a.departure is not None else None
            assert handed is not None and (handed.leader_id, handed.ballot) == ("b", b.ballot)
        finally:
            assert b.stop(WAIT)
        assert b.departure == Departure(resigned=True), "nobody left to hand over to"
    finally:
        a.stop(WAIT)
    assert a_events.wait_for(Demoted)
    assert a_events.kinds()[:3] == ["LeaderChanged", "Elected", "Demoted"]


def test_an_on_step_that_raises_is_logged_and_every_elector_goes_on(
    db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    steps: list[None] = []

    def broken() -> None:
        steps.append(None)
        raise RuntimeError("a bug in the caller's hook")

    a = elector(db, process_id="a").start(on_step=broken)
    b = elector(db, process_id="b").start()  # the same driver: the shared one of this database
    try:
        assert a.wait_for_leadership(WAIT), "a's own steps go on"
        seen = len(steps)
        assert wait_until(lambda: len(steps) >= seen + 3, WAIT), "and keep going"
        assert b.leader is not None and b.leader.leader_id == "a" and b.healthy()
    finally:
        assert a.stop(WAIT)
        assert b.stop(WAIT)
    assert "on_step failed" in caplog.text and "a bug in the caller's hook" in caplog.text


def test_context_manager_resigns_and_unregisters(db: Any) -> None:
    with elector(db, process_id="solo") as solo:
        assert solo.wait_for_leadership(WAIT)
        assert solo.healthy()
        election = solo.core.election
    assert not solo.is_leader
    assert not solo.healthy()
    tr = db.create_transaction()
    assert election.get_leader_raw(tr) is None
    assert election.get_candidate(tr, "solo") is None


def test_fence_inside_the_callers_transaction(db: Any) -> None:
    with elector(db) as leader:
        assert leader.wait_for_leadership(WAIT)
        tr = db.create_transaction()
        leader.fence(tr)
        tr.set(b"protected", b"written by the leader")
        tr.commit().wait()
    with pytest.raises(NotLeader):
        leader.fence(db.create_transaction())


def test_observer_follows_and_never_leads(db: Any) -> None:
    seen = Recorder()
    observer = elector(db, seen, observer=True).start()
    try:
        with pytest.raises(RuntimeError):
            observer.wait_for_leadership(0)
        with elector(db, process_id="boss") as boss:
            assert boss.wait_for_leadership(WAIT)
            assert seen.wait_for(LeaderChanged)
            assert observer.leader is not None and observer.leader.leader_id == "boss"
        assert seen.wait_for(LeaderChanged, 2), "the observer sees the resignation (its watch)"
        assert not observer.is_leader
        assert not any(isinstance(e, Elected) for e in seen.events)
    finally:
        observer.stop(WAIT)


def test_callbacks_that_raise_do_not_stop_the_elector(db: Any) -> None:
    def broken(event: ElectorEvent) -> None:
        raise RuntimeError("callback bug")

    with elector(db, on_elected=broken) as e:
        assert e.wait_for_leadership(WAIT)
        assert e.healthy()


def test_default_process_id_is_host_pid_random(db: Any) -> None:
    e = elector(db)
    pattern = rf"{re.escape(socket.gethostname())}-{os.getpid()}-[0-9a-f]{{8}}"
    assert re.fullmatch(pattern, e.process_id)
    assert e.stop() is True, "stopping an elector that never started is a no-op"


def test_start_twice_is_refused(db: Any) -> None:
    e = elector(db).start()
    try:
        with pytest.raises(RuntimeError, match="already started"):
            e.start()
    finally:
        e.stop(WAIT)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((None, "x"), {}, TypeError, "create_transaction"),
        (("db", 42), {}, TypeError, "election name"),
        (("db", ""), {}, ValueError, "non-empty"),
        (("db", "x"), {"on_elected": 3}, TypeError, "on_elected"),
        (("db", "x"), {"rng": 3}, TypeError, "random.Random"),
        (("db", "x"), {"clock": object()}, TypeError, "monotonic"),
        (("db", "x"), {"priority": 2**40}, ValueError, "32-bit"),
        (
            ("db", "x"),
            {"config": ElectionConfig(lease_duration=9, heartbeat_interval=3, candidate_timeout=3)},
            ValueError,
            "candidate_timeout",
        ),
    ],
)
def test_bad_arguments(
    memory_db: Any, args: tuple[Any, ...], kwargs: dict[str, Any], error: type, match: str
) -> None:
    real_args = tuple(memory_db if a == "db" else a for a in args)
    with pytest.raises(error, match=match):
        Elector(*real_args, **kwargs)


def test_stop_timeout_is_validated(memory_db: Any) -> None:
    with pytest.raises(ValueError, match="timeout"):
        elector(memory_db).stop(timeout=-1)


def test_metrics_follow_leadership(db: Any) -> None:
    prometheus = pytest.importorskip("prometheus_client")
    with elector(db, process_id="metered") as e:
        assert e.wait_for_leadership(WAIT)
        value = prometheus.REGISTRY.get_sample_value(
            "fdb_election_is_leader", {"election": "thread-test", "process": "metered"}
        )
        assert value == 1.0
    value = prometheus.REGISTRY.get_sample_value(
        "fdb_election_is_leader", {"election": "thread-test", "process": "metered"}
    )
    assert value == 0.0


def test_before_release_runs_on_a_thread_of_its_own_before_a_step_down_resigns(db: Any) -> None:
    from fdb_election.runtime import Release, request_step_down

    seen: list[tuple[str, bool, str | None]] = []
    released = threading.Event()
    a: Elector | None = None

    def before_release(release: Release) -> None:
        assert a is not None
        seen.append((threading.current_thread().name, a.is_leader, _holder(db)))
        released.set()

    a = elector(db, process_id="a", before_release=before_release).start()
    try:
        assert a.wait_for_leadership(WAIT)
        assert request_step_down(db, "thread-test", "a")
        assert released.wait(WAIT)
        assert seen == [("elector-a-release", False, "a")]
    finally:
        a.stop(WAIT)


def test_the_release_step_runs_on_a_thread_started_before_leadership_was_given_up(
    db: Any,
) -> None:
    """Starting a thread when the hand-over begins cost it about 0.2 ms: one waits ahead."""
    ran_on: list[threading.Thread] = []

    def before_release(_release: object) -> None:
        ran_on.append(threading.current_thread())

    a = elector(db, process_id="a", before_release=before_release).start()
    try:
        assert a.wait_for_leadership(WAIT)
        waiting = [t for t in threading.enumerate() if t.name.endswith("-release-spare")]
    finally:
        assert a.stop(WAIT)
    assert len(ran_on) == 1 and ran_on[0] in waiting
    ran_on[0].join(WAIT)  # the elector left its driver: nothing waits for a release any more
    assert not ran_on[0].is_alive()


def test_an_elector_without_a_release_hook_keeps_no_thread_waiting(db: Any) -> None:
    def spares() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.endswith("-release-spare")]

    before = set(spares())  # other tests' spares may still be ending
    with elector(db, process_id="plain") as plain:
        assert plain.wait_for_leadership(WAIT)
        assert set(spares()) - before == set()


def _holder(db: Any) -> str | None:
    from fdb_election.runtime import resolve_election

    election, _ = resolve_election("thread-test")
    tr = db.create_transaction()
    record = election.get_leader_raw(tr)
    tr.commit().wait()
    return None if record is None else record.leader_id


def test_before_release_must_be_callable(db: Any) -> None:
    with pytest.raises(TypeError, match="before_release must be callable"):
        elector(db, before_release="stop-cmd")


def test_a_second_elector_with_the_same_id_retires_the_first(db: Any) -> None:
    first_events = Recorder()
    first = elector(db, first_events, process_id="same").start()
    try:
        assert first.wait_for_leadership(WAIT)
        second = elector(db, process_id="same").start()
        try:
            # The first sees the newer registration at its next heartbeat, hands over and stops;
            # the second then claims at once (the first resigned), never both at once.
            assert second.wait_for_leadership(WAIT)
            assert first_events.wait_for(Demoted)
            assert not first.is_leader
            assert isinstance(first.failure, DuplicateProcessId)
            assert not first.healthy()
            assert second.failure is None and second.healthy()
        finally:
            assert second.stop(WAIT)
    finally:
        first.stop(WAIT)


def test_a_slow_release_hook_holds_up_no_other_elector_of_the_database(db: Any) -> None:
    from fdb_election.runtime import Release, request_step_down

    hook_started, finish_hook = threading.Event(), threading.Event()

    def slow(release: Release) -> None:
        hook_started.set()
        finish_hook.wait(WAIT)

    other_events = Recorder()
    slowpoke = Elector(db, "slow-release", process_id="a", config=FAST, before_release=slow)
    other = Elector(db, "other-election", process_id="b", config=FAST, on_demoted=other_events)
    with slowpoke, other:
        assert slowpoke.wait_for_leadership(WAIT) and other.wait_for_leadership(WAIT)
        assert request_step_down(db, "slow-release", "a")
        assert hook_started.wait(WAIT)
        start = other.leader.ballot if other.leader is not None else 0
        # Four refreshes (more than the 0.6 s lease) while the hook still runs.
        deadline = time.monotonic() + WAIT
        while (other.leader is None or other.leader.ballot < start + 4) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.01)  # polls a condition with a deadline
        assert not finish_hook.is_set()
        assert other.is_leader and other_events.kinds() == []
        assert other.leader is not None and other.leader.ballot >= start + 4
        finish_hook.set()
