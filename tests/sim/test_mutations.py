"""Planted bugs (``planted.py``) are caught, and the same seeds are clean without them.

Each bug is switched on around whole simulated runs; the checker must report it within a bounded
number of seeds. ``lease_not_checked`` breaks the election layer in a way the elector never
exercises (it only claims once its own rules say the lease is over), so the reference-model test
of ``LeaderElection`` is what must catch it. The bugs of the one-id-one-leader and guard rules
are tested in ``test_planted_identity.py``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test
from planted import PLANTED

from fdb_election.sim.faults import SimConfig
from fdb_election.sim.world import run_seed

CONFIG = SimConfig(duration=60.0)
#: A planted bug must be reported within this many seeds.
BOUND = 25
#: The planted bugs random simulated runs must catch.
CAUGHT_BY_SIMULATION = (
    "ballot_not_incremented",
    "resign_resets_ballot",
    "fence_not_checked",
    "adopt_before_commit",
    "skew_ignored",
    "claim_without_observation",
)


def _load_stateful_machine() -> Any:
    path = Path(__file__).parents[1] / "election" / "test_stateful_model.py"
    spec = importlib.util.spec_from_file_location("_stateful_model_for_mutations", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ElectionMachine


def test_every_planted_bug_has_a_test() -> None:
    identity = {"adopts_by_process_id", "tenure_ignores_registration", "guard_ignores_deadline"}
    assert set(PLANTED) == {*CAUGHT_BY_SIMULATION, "lease_not_checked", *identity}


def test_no_planted_bug_ships() -> None:
    import fdb_election

    package = Path(fdb_election.__file__).parent
    shipped = "\n".join(p.read_text() for p in package.rglob("*.py"))
    assert "mutation point" not in shipped
    assert not (package / "_mutations.py").exists()
    for name in PLANTED:
        assert name not in shipped, f"{name} is named in shipped code"


@pytest.mark.parametrize("name", CAUGHT_BY_SIMULATION)
def test_simulation_catches_planted_bug(name: str) -> None:
    caught = None
    with PLANTED[name]():
        for seed in range(BOUND):
            outcome = run_seed(seed, CONFIG)
            if outcome.violations:
                caught = outcome
                break
    assert caught is not None, f"{name} was not caught within {BOUND} seeds"
    for seed in range(caught.seed + 1):
        clean = run_seed(seed, CONFIG)
        assert clean.violations == [], clean.report(20)


def test_reference_model_catches_lease_not_checked(db: Any) -> None:
    machine = _load_stateful_machine()
    with PLANTED["lease_not_checked"](), pytest.raises(AssertionError):
        run_state_machine_as_test(
            lambda: machine(db),
            settings=settings(
                max_examples=200, stateful_step_count=40, deadline=None, derandomize=True
            ),
        )
