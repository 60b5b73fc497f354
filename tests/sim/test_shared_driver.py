"""Electors that share one driver, as the elections of one process do: batched steps and
commits, and a stall in one member's step holding the others."""

from __future__ import annotations

import pytest
from planted import PLANTED
from runs import CONFIG, clean

from fdb_election.sim import cli
from fdb_election.sim.faults import SimConfig
from fdb_election.sim.history import Commit, Frozen
from fdb_election.sim.world import run_seed

SHARED = SimConfig(duration=60.0, electors_per_driver=2)
ALONE = SimConfig(duration=60.0, electors_per_driver=1)


def test_no_violation_with_shared_drivers() -> None:
    failing = [report for report in (clean(seed, SHARED) for seed in range(60)) if report]
    assert not failing, "\n\n".join(failing[:3])


def test_members_of_one_driver_commit_together() -> None:
    shared = run_seed(3, SHARED)
    assert shared.batches > 20
    assert shared.batched >= 2 * shared.batches
    assert run_seed(3, ALONE).batches == 0


def test_a_stall_in_a_step_holds_every_member_of_its_driver() -> None:
    """While one member's step is stalled in flight no other member of its driver steps: the
    driver's one thread is stuck. Its application's fenced writes still go on."""
    held = 0
    for seed in range(6):
        history = run_seed(seed, SHARED).history
        spans = [
            e for e in history.events if isinstance(e, Frozen) and e.why == "stall of its driver"
        ]
        held += len(spans)
        for span in spans:
            steps = [
                e
                for e in history.events
                if isinstance(e, Commit)
                and e.process == span.process
                and span.time < e.time < span.until
                and any(op.name != "fenced_write" for op in e.ops)
            ]
            assert steps == [], f"seed {seed}: {span.process} stepped while held: {steps[:2]}"
    assert held > 0  # the seeds do hold a driver


def test_only_shared_drivers_see_a_batch_that_misreports_outcomes() -> None:
    """A driver that reports a whole batch committed lets a member adopt a claim that lost to
    the other member's: two leaders. Electors on drivers of their own never batch."""
    with PLANTED["batch_reports_all_committed"]():
        shared = [run_seed(seed, SHARED).violations for seed in range(25)]
        alone = [run_seed(seed, ALONE).violations for seed in range(5)]
    assert any(shared)
    assert not any(alone)


def test_the_replay_command_keeps_the_driver_setting() -> None:
    assert "--electors-per-driver" not in run_seed(1, SimConfig(duration=20.0)).replay_command()
    command = run_seed(1, SimConfig(duration=20.0, electors_per_driver=2)).replay_command()
    assert command.endswith("--electors-per-driver 2")
    args = cli.parse_args(command.split()[3:])
    assert args.electors_per_driver == 2


def test_electors_per_driver_must_be_positive() -> None:
    with pytest.raises(ValueError, match="electors_per_driver must be >= 1"):
        SimConfig(electors_per_driver=0)
    assert CONFIG.electors_per_driver == 1  # the planted-bug tests run every elector alone


def test_a_service_write_keeps_the_start_of_the_step_it_interrupts() -> None:
    """The service's fenced writes go on while its elector's step waits in a held batch; the
    step's commit must still be judged by when the step started (a lease written then expires
    after that start), not by when the last fenced write started."""
    from fdb_election.sim.world import World, run_world

    writes = 0

    def checked(world: World) -> None:
        original = world._fenced_write

        def fenced_write(proc, core, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal writes
            before = proc.step_wall
            original(proc, core, **kwargs)
            writes += 1
            assert proc.step_wall == before, f"{proc.name}: a fenced write moved its step's start"

        world._fenced_write = fenced_write  # type: ignore[method-assign]

    for seed in range(3):
        world = World(seed, SHARED)
        checked(world)
        assert not run_world(world).violations
    assert writes > 0
