"""The checker catches the planted bugs of ``planted.py``; the same runs are clean without them.

The ``same-id`` scenario (a leader hangs while a replacement with its process id starts) catches
each one deterministically; random seeds, which draw ``duplicate`` and ``pause`` faults among
all the others, must catch the two that any overlap of the twins exposes within ``BOUND``.
"""

from __future__ import annotations

import pytest
from planted import PLANTED
from runs import CONFIG, clean

from fdb_election.sim import world
from fdb_election.sim.scenarios import run_scenario

BOUND = 25
EXPECTED = {
    "adopts_by_process_id": {"single_leader", "single_cmd"},
    "tenure_ignores_registration": {"fencing"},
    "guard_ignores_deadline": {"single_cmd"},
}


def test_the_same_id_scenario_is_clean() -> None:
    outcome = run_scenario("same-id")
    assert outcome.violations == [], outcome.report(30)
    assert outcome.faults["duplicate"] == 1


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_same_id_scenario_catches(name: str) -> None:
    with PLANTED[name]():
        outcome = run_scenario("same-id")
    found = {v.invariant for v in outcome.violations}
    assert found & EXPECTED[name], outcome.report(30)


@pytest.mark.parametrize("name", ["adopts_by_process_id", "guard_ignores_deadline"])
def test_random_seeds_catch(name: str) -> None:
    caught = None
    with PLANTED[name]():
        for seed in range(BOUND):
            outcome = world.run_seed(seed, CONFIG)
            if {v.invariant for v in outcome.violations} & EXPECTED[name]:
                caught = seed
                break
    assert caught is not None, f"{name} was not caught within {BOUND} seeds"
    for seed in range(caught + 1):
        assert clean(seed) == "", clean(seed)
