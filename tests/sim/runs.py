"""Simulated runs shared by the tests of tests/sim: each clean seed runs once per session.

The planted-bug tests check that the seeds which catch a bug are clean without it, and the long
clean-run test covers the same seeds; ``clean`` remembers the answer.
"""

from __future__ import annotations

from functools import cache

from fdb_election.sim.faults import SimConfig
from fdb_election.sim.world import run_seed

#: One simulated minute per seed (faults for the first ~40 s, then quiet for the liveness
#: check), configuration faults lowering the lease included.
CONFIG = SimConfig(duration=60.0)
#: Long leases (10 s, configuration faults pick 5, 10 or 15 s): the lease-proportional part of
#: the safety margin (100 ms at 10 s) dwarfs the fixed 5 ms there.
LONG = SimConfig(duration=400.0, lease=10.0, heartbeat=3.0, leases=(5.0, 10.0, 15.0))


@cache
def clean(seed: int, config: SimConfig = CONFIG) -> str:
    """The report of ``seed`` run on the code as shipped: "" when it has no violation."""
    outcome = run_seed(seed, config)
    return outcome.report(30) if outcome.violations else ""
