"""Handing leadership over: resignation, priority preemption, operator step-down requests."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest
from elector_harness import (
    CONFIG,
    LEASE,
    VirtualDriver,
    make_core,
    new_election,
    start,
    write_config,
)

from fdb_election.election import ElectionConfig, InvalidState, LeaderElection, layout
from fdb_election.runtime import (
    Demoted,
    Departure,
    ElectorCore,
    ManualClock,
    Phase,
    Release,
    request_step_down,
)
from fdb_election.runtime import core as core_module
from fdb_election.runtime.core import DEFAULT_CLOCK_DRIFT, PendingCommit, safety_margin

WAIT = 5.0  # bound on real-time waits for a watch to fire


def wait_for_wake(core: ElectorCore) -> bool:
    """Wait (bounded) until one of the core's watches fires."""
    fired = threading.Event()
    for future in core.wake_futures():
        future.on_ready(lambda *_: fired.set())
    return fired.wait(WAIT)


def refresh_until_seen(incumbent: ElectorCore, preemptor: ElectorCore, clock: ManualClock) -> None:
    """Refresh ``incumbent`` 0.3 s apart, ``preemptor`` heartbeating in between, until the scan
    due a lease after the claim's has seen ``preemptor`` for the first time."""
    for _ in range(4):
        preemptor.step()
        clock.advance(0.3)
        incumbent.step()
    assert incumbent.is_leader, "the preemptor has been seen once, not yet heartbeating"


def test_resignation_is_taken_over_at_once_through_the_watch(db: Any, clock: ManualClock) -> None:
    leader, follower = leader_and_follower(db, clock)
    assert not follower.is_leader
    leader.request_stop()
    leader.step()
    assert not leader.is_leader
    assert wait_for_wake(follower), "the follower's watch on the leader key must fire"
    follower.step()  # no virtual time has passed
    assert follower.is_leader


def leader_and_follower(db: Any, clock: ManualClock) -> tuple[ElectorCore, ElectorCore]:
    """Two started electors: "a" leads, "b" follows."""
    leader = make_core(db, clock, "a")
    follower = make_core(db, clock, "b")
    start(leader)
    start(follower)
    return leader, follower


def count_scans(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """A list that gets an entry at every scan of the candidates from now on."""
    scans: list[object] = []
    scan = LeaderElection.read_candidates

    def counted(self: LeaderElection, tr: Any) -> Any:
        scans.append(tr)
        return scan(self, tr)

    monkeypatch.setattr(LeaderElection, "read_candidates", counted)
    return scans


def test_a_claim_after_a_resignation_reads_the_candidates_once(
    db: Any, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The claim of an empty key asks whether a higher priority waits, then looks for a
    # preemptor of the new tenure: one scan of the candidates serves both (it is on the
    # path of a resignation by a leader that does not hand over: a Rust process, say).
    leader, follower = leader_and_follower(db, clock)
    tr = db.create_transaction()
    assert leader.election.resign_leadership(tr, "a")
    tr.commit().wait()
    assert wait_for_wake(follower)
    scans = count_scans(monkeypatch)
    follower.step()
    assert follower.is_leader
    assert len(scans) == 1, f"the claim step scanned the candidates {len(scans)} times"


def test_a_claim_of_an_empty_key_still_lets_a_live_higher_priority_go_first(
    db: Any, clock: ManualClock
) -> None:
    leader = make_core(db, clock, "a")
    low = make_core(db, clock, "low", priority=0)
    high = make_core(db, clock, "high", priority=5)
    for core in (leader, low, high):
        start(core)
    leader.request_stop()
    leader.step()
    assert wait_for_wake(low)
    low.step()  # the shared scan saw "high" alive: low holds back
    assert not low.is_leader
    high.step()
    assert high.is_leader


def test_preemption_is_a_handover_never_two_leaders(db: Any, clock: ManualClock) -> None:
    incumbent = make_core(db, clock, "a", priority=0)
    start(incumbent)
    low = make_core(db, clock, "c", priority=0)
    preemptor = make_core(db, clock, "b", priority=5)
    start(low)
    start(preemptor)
    # The preemptor never claims over a live lease by priority alone.
    assert incumbent.is_leader and not preemptor.is_leader
    driver = VirtualDriver(clock, [incumbent, low, preemptor])  # low runs first on ties
    driver.run_for(2 * LEASE)
    assert preemptor.is_leader
    assert driver.leaders_seen == {"a", "b"}, "the low-priority follower must let b claim"
    reasons = [e.reason for e in incumbent.take_events() if isinstance(e, Demoted)]
    assert reasons == [] or "preempted" in reasons[0]
    # The handover took a heartbeat at most, not a lease: b did not wait for a's lease to end
    # (a store whose watches fire asynchronously may make b wait for its next heartbeat).
    assert driver.leader_time > 2 * LEASE - CONFIG.heartbeat_interval.total_seconds() - 0.05


def test_incumbent_demoted_event_names_the_preemptor(db: Any, clock: ManualClock) -> None:
    incumbent = make_core(db, clock, "a", priority=0)
    start(incumbent)
    preemptor = make_core(db, clock, "b", priority=5)
    start(preemptor)
    incumbent.take_events()
    refreshes = 0
    while incumbent.is_leader and refreshes < 10:
        preemptor.step()  # b heartbeats: its stamp changes
        clock.advance(0.3)
        incumbent.step()  # refresh (and, when due, a scan for a preemptor)
        refreshes += 1
    assert not incumbent.is_leader
    demoted = [e for e in incumbent.take_events() if isinstance(e, Demoted)]
    assert len(demoted) == 1 and "'b'" in demoted[0].reason


def test_a_refresh_scans_for_preemptors_once_a_lease_until_one_is_seen(
    db: Any, clock: ManualClock
) -> None:
    # b registers with a higher priority after a's claim, whose scan saw nobody above a. a's
    # refreshes do not scan again until a lease after that scan; the first scan after it sees
    # b, and from then on every refresh scans, so the next one sees b heartbeating.
    incumbent = make_core(db, clock, "a", priority=0)
    start(incumbent)
    preemptor = make_core(db, clock, "b", priority=5)
    start(preemptor)
    elapsed = 0.0
    while elapsed < LEASE - 0.3:
        preemptor.step()
        clock.advance(0.3)
        elapsed += 0.3
        incumbent.step()
        assert incumbent.is_leader, f"a scanned {elapsed:.1f} s after its claim's scan"
    preemptor.step()
    clock.advance(0.3)
    incumbent.step()  # a lease after the last scan: this refresh scans and first sees b
    assert incumbent.is_leader, "b has been seen once, not yet heartbeating"
    preemptor.step()
    clock.advance(0.3)
    incumbent.step()  # b is a possible preemptor now: this refresh scans and sees b's heartbeat
    assert not incumbent.is_leader


def test_no_preemption_when_the_config_forbids_it(db: Any, clock: ManualClock) -> None:
    config = ElectionConfig(
        lease_duration=LEASE, heartbeat_interval=LEASE / 3, allow_preemption=False
    )
    incumbent = make_core(db, clock, "a", config=config)
    preemptor = make_core(db, clock, "b", priority=5, config=config)
    start(incumbent)
    start(preemptor)
    driver = VirtualDriver(clock, [incumbent, preemptor])
    driver.run_for(3 * LEASE)
    assert incumbent.is_leader and driver.leaders_seen == {"a"}


def test_step_down_request_is_honoured_by_the_leader(db: Any, clock: ManualClock) -> None:
    leader, follower = leader_and_follower(db, clock)
    leader.step()  # the leader now watches the step-down key
    assert not request_step_down(db, leader.election, "b"), "b does not lead: no request"
    assert request_step_down(db, leader.election, "a", requested_by="test")
    assert wait_for_wake(leader), "the leader watches its step-down key"
    leader.step()  # leadership ends ...
    assert not leader.is_leader
    demoted = [e for e in leader.take_events() if isinstance(e, Demoted)]
    assert demoted and "test" in demoted[0].reason
    leader.step()  # ... then the resignation commits (after the release hook, if any)
    assert wait_for_wake(follower)
    follower.step()
    assert follower.is_leader
    # The request was consumed: the old leader does not step down again later.
    driver = VirtualDriver(clock, [leader, follower])
    driver.run_for(2 * LEASE)
    assert follower.is_leader


def test_the_leader_reads_the_step_down_key_only_when_its_watch_fired(
    db: Any, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[float] = []
    real = core_module.read_step_down

    def counting(tr: Any, subspace: Any, **options: Any) -> Any:
        reads.append(clock.monotonic())
        return real(tr, subspace, **options)

    monkeypatch.setattr(core_module, "read_step_down", counting)
    leader = make_core(db, clock, "a")
    start(leader)
    for _ in range(5):
        clock.advance(0.3)
        leader.step()
    assert len(reads) == 1, "read once, when the watch was set; not again while it is pending"
    assert request_step_down(db, leader.election, "a", requested_by="test")
    assert wait_for_wake(leader)
    leader.step()
    assert len(reads) == 2 and not leader.is_leader


def test_the_deadline_listener_hears_why_leadership_ended(db: Any, clock: ManualClock) -> None:
    """``last_demotion_reason`` is the reason of the tenure that ended, already set when the
    deadline listener (run's loop) hears of the end, and None again once a tenure begins."""
    leader, _follower = leader_and_follower(db, clock)
    heard: list[tuple[float | None, str | None]] = []
    leader.set_deadline_listener(lambda d: heard.append((d, leader.last_demotion_reason)))
    assert leader.last_demotion_reason is None
    leader.step()  # the leader now watches the step-down key
    assert request_step_down(db, leader.election, "a", requested_by="ops")
    assert wait_for_wake(leader)
    leader.step()
    assert heard[-1] == (None, "step-down requested by ops")
    heard.clear()
    clock.advance(3 * LEASE)  # the successor never took over: "a" claims again in time
    driver = VirtualDriver(clock, [leader])
    driver.run_for(3 * LEASE)
    assert leader.is_leader
    assert heard and heard[0][0] is not None and heard[0][1] is None


def test_step_down_request_by_name(db: Any, clock: ManualClock) -> None:
    assert not request_step_down(db, "nobody-runs-this", "x")


def test_leader_evicts_a_dead_candidate_within_two_candidate_timeouts(
    db: Any, clock: ManualClock
) -> None:
    leader = make_core(db, clock, "a")
    dead = make_core(db, clock, "b")
    start(leader)
    start(dead)  # registers, then never runs again
    died_at = clock.monotonic()
    timeout = CONFIG.candidate_timeout.total_seconds()
    driver = VirtualDriver(clock, [leader])

    def registered() -> bool:
        tr = db.create_transaction()
        found = leader.election.get_candidate(tr, "b") is not None
        tr.commit().wait()
        return found

    driver.run_for(died_at + timeout - 0.05 - clock.monotonic())
    assert registered(), "a candidate is alive for candidate_timeout after its last heartbeat"
    # Eviction runs once per candidate_timeout, so a candidate that just died is evicted at the
    # latest one timeout (plus a heartbeat) after it became dead.
    driver.run_for(timeout + CONFIG.heartbeat_interval.total_seconds() + 0.1)
    assert not registered()
    assert leader.is_leader


def test_an_eviction_pass_that_evicts_nobody_needs_no_transaction_of_its_own(
    db: Any, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pass chooses from the scan of the refresh it follows; only writing (an eviction)
    # takes a transaction of its own.
    leader, follower = leader_and_follower(db, clock)
    transactions = 0
    new_transaction = ElectorCore._transaction

    def counted(self: ElectorCore) -> Any:
        nonlocal transactions
        if self is leader:
            transactions += 1
        return new_transaction(self)

    monkeypatch.setattr(ElectorCore, "_transaction", counted)
    scans = count_scans(monkeypatch)
    timeout = CONFIG.candidate_timeout.total_seconds()
    refreshes = 0
    while refreshes * 0.3 < 3 * timeout:
        follower.step()
        clock.advance(0.3)
        transactions = 0
        leader.step()
        refreshes += 1
        assert leader.is_leader
        assert transactions == 1, f"refresh {refreshes} took {transactions} transactions"
    # The passes ran (each scanned): at least one per candidate_timeout.
    assert len(scans) >= 3


@pytest.mark.parametrize("preemption", [True, False])
def test_a_candidate_record_that_does_not_decode_is_ignored_by_the_leader(
    db: Any, clock: ManualClock, caplog: pytest.LogCaptureFixture, preemption: bool
) -> None:
    # The leader's scans (for a preemptor, for eviction) run in its claim or refresh
    # transaction. One record nobody can read must cost neither the leadership nor the duties
    # for everyone else; it is warned about once, and left alone (nobody can tell if it lives).
    config = ElectionConfig(
        lease_duration=LEASE, heartbeat_interval=LEASE / 3, allow_preemption=preemption
    )
    leader = make_core(db, clock, "a", config=config)
    dead = make_core(db, clock, "c", config=config)
    start(leader)
    start(dead)  # registers, then never steps again
    garbled = layout.candidate_key(leader.election.subspace, "garbled")
    tr = db.create_transaction()
    tr[garbled] = b"not a tuple"
    tr.commit().wait()
    timeout = config.candidate_timeout.total_seconds()
    with caplog.at_level("WARNING", logger="fdb_election"):
        for _ in range(int(3 * timeout / 0.3) + 1):
            clock.advance(0.3)
            leader.step()
            assert leader.is_leader
    found, unreadable = leader.election.read_candidates(db.create_transaction())
    assert [c.process_id for c in found] == ["a"], "the dead candidate was evicted"
    assert list(unreadable) == [garbled], "the unreadable record was left alone"
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "'garbled'" in warnings[0], warnings
    assert leader.last_error is None


def test_a_failing_leader_duty_is_warned_about_once_until_it_succeeds_again(
    db: Any, clock: ManualClock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A scan that keeps failing for a reason retries cannot fix: one warning for the episode
    # (not one per refresh), one info line when scans succeed again.
    config = ElectionConfig(
        lease_duration=LEASE, heartbeat_interval=LEASE / 3, allow_preemption=False
    )
    leader = make_core(db, clock, "a", config=config)
    start(leader)
    timeout = config.candidate_timeout.total_seconds()
    broken = [True]
    scan = LeaderElection.read_candidates

    def failing(self: LeaderElection, tr: Any) -> Any:
        if broken[0]:
            raise InvalidState("the candidate range is broken")
        return scan(self, tr)

    monkeypatch.setattr(LeaderElection, "read_candidates", failing)

    def refresh_for(seconds: float) -> list[str]:
        caplog.clear()
        with caplog.at_level("INFO", logger="fdb_election"):
            for _ in range(int(seconds / 0.3) + 1):
                clock.advance(0.3)
                leader.step()
                assert leader.is_leader
        return [f"{r.levelname} {r.getMessage()}" for r in caplog.records]

    logged = refresh_for(3 * timeout)  # at least two eviction passes fail
    warnings = [line for line in logged if line.startswith("WARNING")]
    assert len(warnings) == 1, logged
    assert "eviction scan failed" in warnings[0] and "is broken" in warnings[0]
    broken[0] = False
    logged = refresh_for(2 * timeout)
    assert "INFO" in " ".join(line for line in logged if "eviction scan succeeds again" in line)
    assert not any(line.startswith("WARNING") for line in logged), logged
    broken[0] = True  # a new episode is warned about again
    logged = refresh_for(2 * timeout)
    assert sum(line.startswith("WARNING") for line in logged) == 1, logged


def test_a_leader_whose_wall_clock_runs_ahead_evicts_no_live_candidate(
    db: Any, clock: ManualClock
) -> None:
    """Liveness is judged by stamps changing on the leader's monotonic clock, not wall clocks."""
    timeout = CONFIG.candidate_timeout.total_seconds()
    leader = make_core(db, clock, "a", wall_offset=3 * timeout)  # far ahead of everyone
    follower = make_core(db, clock, "b")
    dead = make_core(db, clock, "c", wall_offset=10 * timeout)  # ahead too: looks alive for long
    for core in (leader, follower, dead):
        start(core)
    assert leader.is_leader

    def registration(pid: str) -> bytes | None:
        tr = db.create_transaction()
        found = leader.election.get_candidate(tr, pid)
        return None if found is None else found.versionstamp

    first = registration("b")
    driver = VirtualDriver(clock, [leader, follower])  # "c" died after registering
    driver.run_for(3 * timeout)
    assert registration("c") is None, "the dead candidate was evicted"
    # A re-registration gets a new versionstamp: the same one means never evicted.
    assert registration("b") == first, "the live follower was never evicted"
    assert leader.is_leader and driver.leaders_seen == {"a"}


class ReleaseProbe:
    """A ``before_release`` hook that records what was true while it ran."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.core: ElectorCore | None = None
        self.calls: list[tuple[Release, bool, str | None]] = []

    def __call__(self, release: Release) -> None:
        assert self.core is not None
        tr = self.db.create_transaction()
        record = new_election().get_leader_raw(tr)
        tr.commit().wait()
        holder = None if record is None else record.leader_id
        self.calls.append((release, self.core.is_leader, holder))


def probed_core(db: Any, clock: ManualClock, name: str, priority: int = 0) -> ReleaseProbe:
    probe = ReleaseProbe(db)
    probe.core = make_core(db, clock, name, priority=priority, before_release=probe)
    return probe


def read_holder(db: Any) -> str | None:
    tr = db.create_transaction()
    record = new_election().get_leader_raw(tr)
    tr.commit().wait()
    return None if record is None else record.leader_id


def test_release_hook_runs_before_a_step_down_resignation_commits(
    db: Any, clock: ManualClock
) -> None:
    probe = probed_core(db, clock, "a")
    leader = probe.core
    assert leader is not None
    start(leader)
    leader.step()
    deadline = leader.deadline
    assert request_step_down(db, leader.election, "a", requested_by="test")
    leader.step()
    leader.step()
    assert len(probe.calls) == 1
    release, leading, holder = probe.calls[0]
    assert not leading, "the hook never runs while the elector leads"
    assert holder == "a", "the hook runs before the resignation commits"
    assert release.deadline == deadline and "test" in release.reason
    assert read_holder(db) is None, "the resignation commits after the hook"


def test_release_hook_runs_before_a_preemption_handover(db: Any, clock: ManualClock) -> None:
    probe = probed_core(db, clock, "a")
    incumbent = probe.core
    assert incumbent is not None
    start(incumbent)
    preemptor = make_core(db, clock, "b", priority=5)
    start(preemptor)
    refresh_until_seen(incumbent, preemptor, clock)
    preemptor.step()  # b heartbeats
    clock.advance(0.3)
    incumbent.step()  # refresh; its scan finds b heartbeating: leadership ends
    assert not incumbent.is_leader and probe.calls == []
    assert read_holder(db) == "a"
    incumbent.step()  # the hook, then the hand-over
    assert [(leading, holder) for _, leading, holder in probe.calls] == [(False, "a")]
    assert "'b'" in probe.calls[0][0].reason
    assert read_holder(db) == "b"
    preemptor.step()
    assert preemptor.is_leader and not incumbent.is_leader


def test_release_hook_runs_before_stop_resigns_and_not_for_lost_leadership(
    db: Any, clock: ManualClock
) -> None:
    probe = probed_core(db, clock, "a")
    core = probe.core
    assert core is not None
    start(core)
    clock.advance(LEASE)  # the deadline passes without a refresh: not a release
    core.step()
    assert probe.calls == []
    assert core.is_leader, "re-claimed its own expired record"
    core.request_stop()
    core.step()
    assert core.phase is Phase.STOPPED
    assert [(leading, holder) for _, leading, holder in probe.calls] == [(False, "a")]
    assert read_holder(db) is None


def test_a_failing_release_hook_does_not_block_the_resignation(db: Any, clock: ManualClock) -> None:
    def broken(release: Release) -> None:
        raise RuntimeError("hook bug")

    core = make_core(db, clock, "a", before_release=broken)
    start(core)
    core.request_stop()
    core.step()
    assert core.phase is Phase.STOPPED
    assert read_holder(db) is None


def test_a_crashed_higher_priority_candidate_does_not_preempt(db: Any, clock: ManualClock) -> None:
    """It stays "alive" until candidate_timeout but never heartbeats again: no handover to it."""
    config = ElectionConfig(lease_duration=LEASE, heartbeat_interval=LEASE / 3, candidate_timeout=5)
    high = make_core(db, clock, "high", priority=5, config=config)
    low = make_core(db, clock, "low", priority=0, config=config)
    start(high)
    start(low)
    assert high.is_leader
    driver = VirtualDriver(clock, [low])  # "high" crashed: it never steps again
    driver.run_for(1.5 * LEASE)
    assert low.is_leader, "low took over after the lease"
    driver.leader_time = 0.0
    driver.run_for(4.0)  # "high" still counts as alive for all of it
    assert low.is_leader
    assert driver.leader_time >= 4.0 - 0.011, "low stepped down for a candidate that is gone"


def test_a_preemptor_that_died_after_its_heartbeat_is_handed_over_to_once(
    db: Any, clock: ManualClock
) -> None:
    """Its last heartbeat landed between two of the leader's scans, so it looks heartbeating
    for a candidate_timeout after: the leader hands over once; when nobody takes over and it
    leads again, it does not hand over to that same, unchanged heartbeat again and again."""
    leader = make_core(db, clock, "a")
    ghost = make_core(db, clock, "c", priority=1)
    start(leader)
    start(ghost)  # a live lease: it follows
    for _ in range(4):  # the refresh a lease after the claim's scan scans, and first sees c
        clock.advance(0.3)
        leader.step()
    clock.advance(0.1)
    ghost.step()  # c heartbeats once more, then dies
    driver = VirtualDriver(clock, [leader])
    driver.run_for(CONFIG.heartbeat_interval.total_seconds())
    assert not leader.is_leader, "c's stamp changed: the leader handed over to it"
    handed_over = clock.monotonic()
    driver.run_for(3 * CONFIG.heartbeat_interval.total_seconds() + 0.05)
    assert leader.is_leader, "nobody took over: it leads again, and stays"
    assert clock.monotonic() - handed_over < CONFIG.candidate_timeout.total_seconds()
    driver.leader_time = 0.0
    driver.run_for(CONFIG.candidate_timeout.total_seconds())
    assert driver.leader_time >= CONFIG.candidate_timeout.total_seconds() - 0.011


# ------------------------------------------------------------------ hand-over on stop


def heartbeat_of(db: Any, process_id: str) -> int:
    """The stored heartbeat time of ``process_id``: it changes with each committed step."""
    tr = db.create_transaction()
    candidate = new_election().get_candidate(tr, process_id)
    assert candidate is not None
    return candidate.last_heartbeat_nanos


def leader_record(db: Any) -> Any:
    tr = db.create_transaction()
    return new_election().get_leader_raw(tr)


def test_a_stop_hands_over_and_the_successor_leads_without_a_commit(
    db: Any, clock: ManualClock
) -> None:
    leader, follower = leader_and_follower(db, clock)
    read_at = clock.monotonic()  # the follower's last step (its read) began here
    token = leader.ballot
    assert token is not None
    clock.advance(0.1)
    assert leader.departure is None, "nothing committed yet"
    leader.request_stop()
    leader.step()
    record = leader_record(db)
    assert record is not None and record.leader_id == "b" and record.ballot > token
    assert leader.departure == Departure(successor=record), "it says whom it handed over to"
    assert wait_for_wake(follower), "the hand-over wakes the successor"
    clock.advance(0.05)
    heartbeat = heartbeat_of(db, "b")
    follower.step()
    assert follower.is_leader and follower.ballot == record.ballot
    assert leader_record(db) == record and heartbeat_of(db, "b") == heartbeat, (
        "taking the tenure up commits nothing"
    )
    # Counted from the start of the step before the hand-over, whose read did not see it.
    assert follower.deadline == pytest.approx(
        read_at + LEASE - safety_margin(LEASE, DEFAULT_CLOCK_DRIFT)
    )
    clock.advance(0.3)
    follower.step()  # the first refresh continues the tenure
    assert follower.is_leader and follower.ballot == record.ballot


def test_the_hand_over_goes_to_the_highest_priority_that_heartbeats(
    db: Any, clock: ManualClock
) -> None:
    leader = make_core(db, clock, "a", priority=9)
    low, high, silent = (
        make_core(db, clock, pid, priority=p) for pid, p in (("low", 1), ("high", 5), ("gone", 8))
    )
    for core in (leader, low, high, silent):
        start(core)
    for _ in range(3):  # "gone" stops heartbeating: two heartbeats old, it is passed over
        clock.advance(0.25)
        for core in (leader, low, high):
            core.step()
    leader.request_stop()
    leader.step()
    record = leader_record(db)
    assert record is not None and (record.leader_id, record.priority) == ("high", 5)


def test_a_leader_with_nobody_heartbeating_resigns(db: Any, clock: ManualClock) -> None:
    leader, follower = leader_and_follower(db, clock)
    for _ in range(3):
        clock.advance(0.25)
        leader.step()
    leader.request_stop()
    leader.step()
    assert leader_record(db) is None
    assert leader.departure == Departure(resigned=True)
    assert wait_for_wake(follower)
    follower.step()  # claims the empty key
    assert follower.is_leader
    follower_left = make_core(db, clock, "c")
    start(follower_left)
    follower_left.request_stop()
    follower_left.step()
    assert follower_left.phase is Phase.STOPPED
    assert follower_left.departure == Departure(), "a follower neither hands over nor resigns"


def test_a_hand_over_found_late_is_taken_up_by_a_refresh(db: Any, clock: ManualClock) -> None:
    # The successor's wall clock runs 0.6 s ahead, so its heartbeat still looks recent after
    # 0.7 s; its last read, 0.7 s before, leaves less than a heartbeat of that lease.
    leader = make_core(db, clock, "a")
    follower = make_core(db, clock, "b", wall_offset=0.6)
    start(leader)
    start(follower)
    for _ in range(2):
        clock.advance(0.35)
        leader.step()
    record = stop_handing_over(leader, db, "b")
    assert wait_for_wake(follower)
    follower.step()
    assert follower.is_leader and follower.ballot == record.ballot + 1, "a refresh committed"
    assert follower.deadline == pytest.approx(
        clock.monotonic() + LEASE - safety_margin(LEASE, DEFAULT_CLOCK_DRIFT)
    )


def step_at_shared_version(core: ElectorCore, db: Any, *, since: float | None = None) -> None:
    """One step of ``core`` at a read version fetched now, as a driver's batch shares one."""
    tr = db.create_transaction()
    pending = core.begin_step(read_version=tr.get_read_version().wait(), read_version_since=since)
    while isinstance(pending, PendingCommit):
        pending.transaction.commit().wait()
        pending = core.resume_step(pending, None)


def stop_handing_over(leader: ElectorCore, db: Any, successor: str) -> Any:
    """Stop ``leader``; the record its hand-over wrote (checked to name ``successor``)."""
    leader.request_stop()
    leader.step()
    record = leader_record(db)
    assert record is not None and record.leader_id == successor
    return record


def test_a_read_at_a_shared_read_version_does_not_date_a_hand_over(
    db: Any, clock: ManualClock
) -> None:
    # A read version shared in a batch may be older than the step's start: a record the step
    # did not see may have been written before it started.
    leader, follower = leader_and_follower(db, clock)
    clock.advance(0.1)
    step_at_shared_version(follower, db)
    record = stop_handing_over(leader, db, "b")
    assert wait_for_wake(follower)
    follower.step()
    assert follower.is_leader and follower.ballot == record.ballot + 1, "taken up by a refresh"


def test_no_hand_over_while_elections_are_disabled(db: Any, clock: ManualClock) -> None:
    leader, follower = leader_and_follower(db, clock)
    write_config(db, dataclasses.replace(CONFIG, election_enabled=False))
    leader.request_stop()
    leader.step()
    assert leader_record(db) is None
    assert leader.departure == Departure(resigned=True)
    assert not follower.is_leader


def test_a_preempted_leader_hands_over_to_the_preemptor_it_saw_heartbeating(
    db: Any, clock: ManualClock
) -> None:
    incumbent = make_core(db, clock, "a")
    preemptor = make_core(db, clock, "b", priority=5)
    start(incumbent)
    start(preemptor)
    refresh_until_seen(incumbent, preemptor, clock)
    preemptor.step()
    clock.advance(0.3)
    incumbent.step()  # its scan sees b heartbeating: leadership ends, the hand-over is next
    assert not incumbent.is_leader
    newcomer = make_core(db, clock, "c", priority=9)  # a higher priority, never seen heartbeat
    start(newcomer)
    incumbent.step()
    assert read_holder(db) == "b"


def test_a_successor_that_never_took_over_is_not_handed_leadership_again(
    db: Any, clock: ManualClock
) -> None:
    # b heartbeats under a while preemption is off; a steps down and hands over to b, which
    # is paused from then on; preemption is turned on. Once a claims b's unchanged record
    # again, b's old heartbeats must not make it the preemptor again (a lease lost each time).
    write_config(db, dataclasses.replace(CONFIG, allow_preemption=False))
    leader = make_core(db, clock, "a")
    high = make_core(db, clock, "b", priority=5)
    start(leader)
    start(high)
    for _ in range(16):  # eviction passes (one per candidate timeout) see b's stamp change
        high.step()
        clock.advance(0.25)
        leader.step()
        if leader._duties.liveness.heartbeating("b", clock.monotonic(), 0.5):
            break
    assert leader.is_leader
    assert leader._duties.liveness.heartbeating("b", clock.monotonic(), 0.5)
    assert request_step_down(db, leader.election, "a", requested_by="test")
    leader.step()
    leader.step()  # hands over to b, which never takes the tenure up
    assert read_holder(db) == "b"
    write_config(db, CONFIG)
    for _ in range(5):  # a lease: a claims b's unchanged record
        clock.advance(0.25)
        leader.step()
    assert leader.is_leader
    clock.advance(0.25)
    leader.step()
    assert leader.is_leader and read_holder(db) == "a", "not preempted by the silent b"


def test_a_shared_read_version_dates_a_hand_over_by_the_time_the_driver_gives(
    db: Any, clock: ManualClock
) -> None:
    leader, follower = leader_and_follower(db, clock)
    clock.advance(0.1)
    batch_began = clock.monotonic()  # as the driver reads it, before the batch's first step
    clock.advance(0.05)
    step_at_shared_version(follower, db, since=batch_began)
    record = stop_handing_over(leader, db, "b")
    assert wait_for_wake(follower)
    follower.step()
    assert follower.is_leader and follower.ballot == record.ballot, "taken up without a commit"
    assert follower.deadline == pytest.approx(
        batch_began + LEASE - safety_margin(LEASE, DEFAULT_CLOCK_DRIFT)
    )
