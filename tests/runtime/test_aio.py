"""The asyncio elector (pytest-asyncio is not installed: each test runs its own loop)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from fdb_election import aio
from fdb_election.election import ElectionConfig, NotLeader
from fdb_election.runtime import Demoted, Elected, ElectorEvent, LeaderChanged

FAST = ElectionConfig.with_lease_duration(0.6)
WAIT = 10.0


def test_async_elector_leads_hands_over_and_streams_events(db: Any) -> None:
    async def scenario() -> list[ElectorEvent]:
        elected_by_callback = asyncio.Event()

        async def on_elected(event: Elected) -> None:  # coroutine callbacks are awaited
            elected_by_callback.set()

        async with aio.Elector(
            db, "aio-test", process_id="a", config=FAST, on_elected=on_elected
        ) as a:
            assert await a.wait_for_leadership(WAIT)
            await asyncio.wait_for(elected_by_callback.wait(), WAIT)
            b = aio.Elector(db, "aio-test", process_id="b", config=FAST)
            stream = b.events()
            collected: list[ElectorEvent] = []

            async def collect() -> None:
                async for event in stream:
                    collected.append(event)

            await b.start()
            collector = asyncio.create_task(collect())
            assert not await b.wait_for_leadership(0.05)
            assert await a.stop(WAIT)
            assert not a.is_leader
            assert await b.wait_for_leadership(WAIT)
            assert b.ballot is not None
            assert a.departure is not None and a.departure.successor is not None
            assert a.departure.successor.leader_id == "b"
            assert await b.stop(WAIT)
            assert b.departure is not None and b.departure.resigned
            await asyncio.wait_for(collector, WAIT)
            return collected

    events = asyncio.run(scenario())
    kinds = [type(e) for e in events]
    # b sees a, claims the empty key in the step its watch triggered, then stops.
    assert kinds == [LeaderChanged, LeaderChanged, Elected, Demoted, LeaderChanged]
    assert [e.leader_id for e in events if isinstance(e, LeaderChanged)] == ["a", "b", None]


def test_async_fence_and_health(db: Any) -> None:
    async def scenario() -> None:
        async with aio.Elector(db, "aio-test", config=FAST) as e:
            assert await e.wait_for_leadership(WAIT)
            assert e.healthy()

            def protected_write() -> None:
                tr = db.create_transaction()
                e.fence(tr)
                tr.set(b"aio-protected", b"1")
                tr.commit().wait()

            await asyncio.to_thread(protected_write)
        assert not e.healthy()
        with pytest.raises(NotLeader):
            e.fence(db.create_transaction())

    asyncio.run(scenario())


def test_async_observer_and_misuse(memory_db: Any) -> None:
    async def scenario() -> None:
        observer = aio.Elector(memory_db, "aio-test", observer=True, config=FAST)
        with pytest.raises(RuntimeError, match="observer"):
            await observer.wait_for_leadership(0)
        plain = aio.Elector(memory_db, "aio-test", config=FAST)
        with pytest.raises(RuntimeError, match="start"):
            await plain.wait_for_leadership(0)
        with pytest.raises(ValueError, match="timeout"):
            await plain.stop(-1)

    asyncio.run(scenario())
    with pytest.raises(TypeError, match="on_demoted"):
        aio.Elector(memory_db, "aio-test", on_demoted="nope")  # type: ignore[arg-type]


def test_async_before_release_is_awaited_before_stop_resigns(db: Any) -> None:
    from fdb_election.runtime import Release, resolve_election

    election, _ = resolve_election("aio-release")

    def holder() -> str | None:
        tr = db.create_transaction()
        record = election.get_leader_raw(tr)
        tr.commit().wait()
        return None if record is None else record.leader_id

    async def scenario() -> list[tuple[bool, str | None]]:
        seen: list[tuple[bool, str | None]] = []
        elector: aio.Elector | None = None

        async def before_release(release: Release) -> None:
            await asyncio.sleep(0)  # a real await: the step waits for the whole coroutine
            assert elector is not None
            seen.append((elector.is_leader, await asyncio.to_thread(holder)))

        elector = aio.Elector(
            db, "aio-release", process_id="a", config=FAST, before_release=before_release
        )
        async with elector:
            assert await elector.wait_for_leadership(WAIT)
        assert holder() is None
        return seen

    assert asyncio.run(scenario()) == [(False, "a")]


def test_async_on_step_runs_on_the_loop_and_what_it_raises_is_logged(
    db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> tuple[int, set[int], bool]:
        loop_thread = threading.get_ident()
        threads: set[int] = set()
        steps = 0
        stepped = asyncio.Event()

        def on_step() -> None:
            nonlocal steps
            steps += 1
            threads.add(threading.get_ident())
            if steps >= 3:
                stepped.set()
            raise RuntimeError("a bug in the caller's hook")

        elector = aio.Elector(db, "aio-step", process_id="a", config=FAST)
        await elector.start(on_step=on_step)
        try:
            await asyncio.wait_for(stepped.wait(), WAIT)
            leads = await elector.wait_for_leadership(WAIT)
        finally:
            assert await elector.stop(WAIT)
        return steps, threads - {loop_thread}, leads

    steps, elsewhere, leads = asyncio.run(scenario())
    assert steps >= 3 and leads, "the elector went on stepping and leads"
    assert not elsewhere, "on_step ran on the event loop's thread only"
    assert "on_step failed" in caplog.text


def test_async_on_step_must_be_callable(memory_db: Any) -> None:
    async def scenario() -> None:
        with pytest.raises(TypeError, match="on_step must be callable"):
            await aio.Elector(memory_db, "aio-step", process_id="a").start(on_step=5)  # type: ignore[arg-type]

    asyncio.run(scenario())
