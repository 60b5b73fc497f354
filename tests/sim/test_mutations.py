"""Planted bugs (``planted.py``) are caught, and the same seeds are clean without them.

Each bug is switched on around whole simulated runs; the checker must report it, through the
invariants expected for it, within ``BOUND`` seeds, and the seeds up to the one that caught it
must be clean on the shipped code. ``lease_not_checked`` breaks the election layer in a way the
elector never exercises (it only claims once its own rules say the lease is over), so the
reference-model test of ``LeaderElection`` is what must catch it. The bugs of the
one-id-one-leader and guard rules are tested in ``test_planted_identity.py``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test
from planted import PLANTED
from runs import CONFIG, LONG, clean

from fdb_election.sim.faults import PlannedFault, SimConfig
from fdb_election.sim.history import LeadershipChange
from fdb_election.sim.scenarios import leader_at
from fdb_election.sim.world import Outcome, World, run_seed, run_world

#: A planted bug must be reported within this many seeds.
BOUND = 25
#: The planted bugs random simulated runs must catch, and the invariants that must catch them.
CAUGHT_BY_SIMULATION: dict[str, set[str]] = {
    "ballot_not_incremented": {"ballots_increase", "replay_matches_store", "fencing"},
    "resign_resets_ballot": {"ballots_increase", "replay_matches_store"},
    "fence_not_checked": {"fencing"},
    "adopt_before_commit": {"adopted_ballots_committed"},
    "skew_ignored": {"single_leader"},
    "claim_without_observation": {"single_leader"},
    "fence_ignores_tenure_start": {"fencing"},
    "margin_without_lease_part": {"single_leader"},
    "deadline_from_commit_return": {"single_leader"},
    "observation_before_read": {"single_leader"},
    "stop_demotes_after_commit": {"single_leader"},
    "evicted_never_registers": {"registered_again"},
    "lease_wait_summed": {"leader_again"},
    "liveness_tracker_slip": {"live_not_evicted"},
}


def _load_stateful_machine() -> Any:
    path = Path(__file__).parents[1] / "election" / "test_stateful_model.py"
    spec = importlib.util.spec_from_file_location("_stateful_model_for_mutations", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ElectionMachine


def first_caught(name: str, config: SimConfig, expected: set[str]) -> int:
    """The first seed whose run reports one of ``expected`` with the bug ``name`` planted."""
    with PLANTED[name]():
        for seed in range(BOUND):
            found = {v.invariant for v in run_seed(seed, config).violations}
            if found & expected:
                return seed
    raise AssertionError(f"{name} was not caught ({sorted(expected)}) within {BOUND} seeds")


def test_every_planted_bug_has_a_test() -> None:
    identity = {"adopts_by_process_id", "tenure_ignores_registration", "guard_ignores_deadline"}
    shared = {"batch_reports_all_committed"}  # test_shared_driver.py
    scripted = {"hand_over_dated_by_its_read"}  # below: an interleaving random runs rarely hit
    assert set(PLANTED) == {
        *CAUGHT_BY_SIMULATION,
        "lease_not_checked",
        *identity,
        *shared,
        *scripted,
    }


def test_no_planted_bug_ships() -> None:
    import fdb_election

    package = Path(fdb_election.__file__).parent
    shipped = "\n".join(p.read_text() for p in package.rglob("*.py"))
    assert "mutation point" not in shipped
    assert not (package / "_mutations.py").exists()
    for name in PLANTED:
        assert name not in shipped, f"{name} is named in shipped code"


@pytest.mark.parametrize("name", sorted(CAUGHT_BY_SIMULATION))
def test_simulation_catches_planted_bug(name: str) -> None:
    caught = first_caught(name, CONFIG, CAUGHT_BY_SIMULATION[name])
    for seed in range(caught + 1):
        assert clean(seed) == "", clean(seed)


def test_long_leases_catch_the_margin_without_its_lease_part() -> None:
    """At a 10 s lease, clocks drifting as documented need the margin's 100 ms, not the 5 ms."""
    caught = first_caught("margin_without_lease_part", LONG, {"single_leader"})
    for seed in range(caught + 1):
        assert clean(seed, LONG) == "", clean(seed, LONG)


def test_reference_model_catches_lease_not_checked(db: Any) -> None:
    machine = _load_stateful_machine()
    with PLANTED["lease_not_checked"](), pytest.raises(AssertionError):
        run_state_machine_as_test(
            lambda: machine(db),
            settings=settings(
                max_examples=200, stateful_step_count=40, deadline=None, derandomize=True
            ),
        )


#: A short run with no random faults, for the scripted interleavings below.
SCRIPTED = SimConfig(processes=3, duration=12.0, lease=2.0, heartbeat=0.6, leases=(2.0,), kinds=())


def scripted_world(*faults: PlannedFault) -> World:
    world = World(1, SCRIPTED)
    for process in world.processes.values():
        process.priority = 0  # nobody preempts
    world.plan.faults.extend(faults)
    return world


def hand_over_to_a_paused_successor() -> Outcome:
    """The leader stops at 4 s while its successor is paused (3.8-4.4 s); the successor takes
    the tenure up as it resumes, and is paused again at once, for longer than the lease."""
    leader = leader_at(scripted_world().run(), 4.0)
    assert leader is not None
    stop = PlannedFault(4.0, "resign", leader, duration=3.0)
    rises = [
        e
        for e in scripted_world(stop).run().events
        if isinstance(e, LeadershipChange) and e.is_leader and e.time >= 4.0
    ]
    successor = rises[0].process
    return run_world(
        scripted_world(
            PlannedFault(3.8, "pause", successor, duration=0.6),
            stop,
            PlannedFault(4.45, "pause", successor, duration=3.0),
        )
    )


def test_a_successor_resuming_late_counts_its_tenure_from_before_the_hand_over() -> None:
    clean_run = hand_over_to_a_paused_successor()
    assert clean_run.violations == []
    assert clean_run.leadership_changes >= 3, "the successor led, then the third process"
    with PLANTED["hand_over_dated_by_its_read"]():
        planted = hand_over_to_a_paused_successor()
    assert "single_leader" in {v.invariant for v in planted.violations}
