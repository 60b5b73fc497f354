"""HeartbeatObserver: who heartbeats, judged by stamps changing on the observer's own clock."""

from __future__ import annotations

from fdb_election.election import CandidateInfo
from fdb_election.runtime.liveness import HeartbeatObserver

STAMP = b"\x00" * 10 + b"\x00\x01"


def candidate(pid: str, heartbeat_ns: int) -> CandidateInfo:
    return CandidateInfo(pid, 0, heartbeat_ns, STAMP)


def test_a_first_sighting_is_not_a_heartbeat_and_starts_the_silence() -> None:
    seen = HeartbeatObserver()
    seen.observe([candidate("a", 5)], now=10.0)
    assert not seen.heartbeating("a", 10.0, within=3.0)
    assert seen.silent_for("a", 14.0) == 4.0


def test_a_changed_stamp_is_a_heartbeat_for_a_while_and_resets_the_silence() -> None:
    seen = HeartbeatObserver()
    seen.observe([candidate("a", 5)], now=10.0)
    seen.observe([candidate("a", 9)], now=11.0)
    assert seen.heartbeating("a", 11.5, within=3.0)
    assert seen.silent_for("a", 11.5) == 0.5
    seen.observe([candidate("a", 9)], now=12.0)  # unchanged: the sighting keeps its time
    assert seen.heartbeating("a", 13.9, within=3.0)
    assert not seen.heartbeating("a", 14.0, within=3.0), "not seen heartbeating for 3 s"
    assert seen.silent_for("a", 16.0) == 5.0


def test_wall_clock_values_do_not_matter_only_changes_do() -> None:
    seen = HeartbeatObserver()
    far_past, far_future = 1, 2**63
    seen.observe([candidate("behind", far_past), candidate("ahead", far_future)], now=0.0)
    seen.observe([candidate("behind", far_past + 1), candidate("ahead", far_future)], now=1.0)
    assert seen.heartbeating("behind", 1.0, within=3.0)
    assert not seen.heartbeating("ahead", 1.0, within=3.0)
    assert seen.silent_for("ahead", 20.0) == 20.0


def test_changes_seen_across_a_gap_can_be_recorded_without_counting() -> None:
    seen = HeartbeatObserver()
    seen.observe([candidate("a", 5)], now=0.0)
    seen.observe([candidate("a", 50)], now=100.0, count_changes=False)
    assert not seen.heartbeating("a", 100.0, within=3.0)
    assert seen.silent_for("a", 101.0) == 1.0, "the new stamp is still the silence's start"
    seen.observe([candidate("a", 53)], now=101.0)
    assert seen.heartbeating("a", 101.0, within=3.0)


def test_candidates_missing_from_a_scan_are_forgotten() -> None:
    seen = HeartbeatObserver()
    seen.observe([candidate("a", 5), candidate("b", 5)], now=0.0)
    seen.observe([candidate("a", 6)], now=1.0)
    assert seen.silent_for("b", 10.0) == 0.0
    seen.observe([candidate("b", 5)], now=2.0)
    assert seen.silent_for("b", 3.0) == 1.0, "seen again: a first sighting"
    assert not seen.heartbeating("b", 3.0, within=3.0)


def test_a_preemptor_must_be_seen_heartbeating_since_the_tenure_began() -> None:
    from fdb_election.election import LeaderElection
    from fdb_election.runtime.leader_duties import LeaderDuties

    duties = LeaderDuties(LeaderElection(("liveness-test",)), "leader")

    def scan(heartbeat_ns: int, at: float, **kw: float) -> str | None:
        rival = CandidateInfo("rival", 5, heartbeat_ns, STAMP)
        found = duties.preemptor(
            None,
            lambda: at,
            priority=0,
            leading=lambda: True,
            within=10.0,
            scanned=([rival], at),
            **kw,
        )
        return None if found is None else found.process_id

    assert scan(1, at=1.0) is None  # first seen
    assert scan(2, at=2.0) == "rival"  # its stamp changed: heartbeating
    # A tenure that began after that sighting: not until the stamp changes again.
    assert scan(2, at=3.0, since=2.5) is None
    assert scan(3, at=4.0, since=2.5) == "rival"
