"""Planted bugs (``fdb_election._mutations``) are caught, and the same seeds are clean without them.

Each mutation is switched on around whole simulated runs; the checker must report it within a
bounded number of seeds. ``lease_not_checked`` breaks the election layer in a way the elector
never exercises (it only claims once its own rules say the lease is over), so the reference-model
test of ``LeaderElection`` is what must catch it.
"""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from fdb_election import _mutations
from fdb_election.election import operations
from fdb_election.runtime import core
from fdb_election.sim.faults import SimConfig
from fdb_election.sim.world import run_seed

CONFIG = SimConfig(duration=60.0)
#: A planted bug must be reported within this many seeds.
BOUND = 25

#: Where each mutation point lives.
POINTS = {
    "ballot_not_incremented": operations,
    "lease_not_checked": operations,
    "resign_resets_ballot": operations,
    "fence_not_checked": operations,
    "adopt_before_commit": core,
    "skew_ignored": core,
    "claim_without_observation": core,
}


def _require_point(name: str) -> None:
    module = POINTS[name]
    if f'enabled("{name}")' not in inspect.getsource(module):
        pytest.skip(f"the mutation point {name!r} is not planted in {module.__name__} yet")


def _load_stateful_machine() -> Any:
    path = Path(__file__).parents[1] / "election" / "test_stateful_model.py"
    spec = importlib.util.spec_from_file_location("_stateful_model_for_mutations", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ElectionMachine


def test_every_known_mutation_has_a_test() -> None:
    assert set(POINTS) == set(_mutations.KNOWN)


def test_registry_is_off_by_default_and_scoped() -> None:
    assert not _mutations.enabled_names()
    with _mutations.active("skew_ignored"):
        assert _mutations.enabled("skew_ignored")
    assert not _mutations.enabled("skew_ignored")
    with pytest.raises(ValueError, match="unknown mutation"):
        with _mutations.active("no_such_bug"):
            pass


@pytest.mark.parametrize("name", sorted(set(POINTS) - {"lease_not_checked"}))
def test_simulation_catches_planted_bug(name: str) -> None:
    _require_point(name)
    caught = None
    with _mutations.active(name):
        for seed in range(BOUND):
            outcome = run_seed(seed, CONFIG)
            if outcome.violations:
                caught = outcome
                break
    assert caught is not None, f"{name} was not caught within {BOUND} seeds"
    assert f"--mutation {name}" in caught.replay_command()
    for seed in range(caught.seed + 1):
        clean = run_seed(seed, CONFIG)
        assert clean.violations == [], clean.report(20)


def test_reference_model_catches_lease_not_checked(db: Any) -> None:
    _require_point("lease_not_checked")
    machine = _load_stateful_machine()
    with _mutations.active("lease_not_checked"), pytest.raises(AssertionError):
        run_state_machine_as_test(
            lambda: machine(db),
            settings=settings(max_examples=200, stateful_step_count=40, deadline=None),
        )
