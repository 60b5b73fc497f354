"""Short scripted runs that show one failover each, for the documentation's timeline pictures.

Usage::

    from fdb_election.sim.scenarios import run_scenario
    outcome = run_scenario("crash")      # or "handover"; SCENARIOS lists them

A scenario is an ordinary simulated run (three processes, lease 2 s, heartbeat 0.6 s, the same
clocks and jitter as any seed) with no random faults and one scripted fault: at ``at`` seconds the
process that leads then is hit, and it comes back ``restart_after`` seconds later as a follower.
All candidates have the same priority, so nobody preempts and the picture shows only the failover.

Who leads at ``at`` is found by running the same seed without the fault first: adding a fault does
not change anything that happens before it, so the process hit is the leader in the scripted run
too (:func:`run_scenario` checks it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fdb_election.sim.faults import PlannedFault, SimConfig
from fdb_election.sim.history import History, LeadershipChange
from fdb_election.sim.world import Outcome, World, run_world

__all__ = ["SCENARIOS", "Scenario", "leader_at", "run_scenario"]


def _docs_config() -> SimConfig:
    return SimConfig(processes=3, duration=12.0, lease=2.0, heartbeat=0.6, leases=(2.0,), kinds=())


@dataclass(frozen=True, slots=True)
class Scenario:
    """One scripted run: the leader at ``at`` suffers ``fault`` (a fault kind of ``faults.py``).

    ``action`` says what the leader does and ``expect`` what follows, for :attr:`summary`.
    """

    name: str
    fault: str
    title: str
    action: str
    expect: str
    at: float = 4.0
    restart_after: float = 3.0
    seed: int = 1
    config: SimConfig = field(default_factory=_docs_config)
    amount: float = 0.0

    @property
    def summary(self) -> str:
        """What happens, in one line."""
        back = self.at + self.restart_after
        if self.fault == "duplicate":
            return f"At {self.at:g} s the leader {self.action}. {self.expect}"
        return (
            f"At {self.at:g} s the leader {self.action}; it restarts at {back:g} s. {self.expect}"
        )


#: The scenarios by name.
SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "crash",
            "crash",
            "Failover after the leader crashes",
            "crashes",
            "A follower claims once the lease of the last refresh has run out.",
        ),
        Scenario(
            "handover",
            "resign",
            "Graceful handover",
            "stops gracefully (hands over)",
            "The successor's watch fires; it leads at once, with no commit.",
        ),
        Scenario(
            "same-id",
            "duplicate",
            "A replacement with the same process id while the leader hangs",
            "hangs for 3 s while a replacement with its process id starts (killed at 12 s)",
            "The replacement waits out the lease; the hung one then gives the id up.",
            restart_after=8.0,
            amount=3.0,
            config=SimConfig(
                processes=1, duration=16.0, lease=2.0, heartbeat=0.6, leases=(2.0,), kinds=()
            ),
        ),
    )
}


def _world(scenario: Scenario) -> World:
    world = World(scenario.seed, scenario.config)
    for process in world.processes.values():
        process.priority = 0
        process.eager = False  # a scenario shows the elector as it runs: no eager followers
    return world


def leader_at(history: History, time: float) -> str | None:
    """The process reporting ``is_leader`` just before ``time`` (the last to start, if several)."""
    leader = None
    for event in history.events:
        if not isinstance(event, LeadershipChange) or event.time >= time:
            continue
        if event.is_leader:
            leader = event.process
        elif event.process == leader:
            leader = None
    return leader


def run_scenario(name: str) -> Outcome:
    """Run the scenario ``name`` and check it like any seed.

    Raises ``ValueError`` for an unknown name (the message lists the known ones) and
    ``RuntimeError`` if nobody leads when the fault is due (a scenario that no longer shows what
    it should).
    """
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    victim = leader_at(_world(scenario).run(), scenario.at)
    if victim is None:
        raise RuntimeError(
            f"scenario {name!r}: nobody leads at {scenario.at} s to {scenario.fault}"
        )
    world = _world(scenario)
    world.plan.faults.append(
        PlannedFault(
            scenario.at,
            scenario.fault,
            victim,
            duration=scenario.restart_after,
            amount=scenario.amount,
        )
    )
    outcome = run_world(world, scenario=name)
    if leader_at(outcome.history, scenario.at) != victim:
        raise RuntimeError(f"scenario {name!r}: {victim} no longer leads at {scenario.at} s")
    return outcome
