"""Deterministic simulation of electors in virtual time, with fault injection and a checker.

Run it from the command line (``python -m fdb_election.sim --seeds 100``) or from code::

    from fdb_election.sim import SimConfig, run_seed
    outcome = run_seed(42, SimConfig(processes=3, duration=600.0))
    assert not outcome.violations, outcome.report()

Modules: ``scheduler`` (virtual time), ``clocks`` (per-process skewed and drifting clocks),
``faults`` (the fault schedule), ``history`` (what happened), ``observe`` (reading the stored
state back), ``model`` (the reference semantics and the replay check), ``checker`` (the
invariants), ``world`` (the simulated processes and the run), ``scenarios`` (scripted failovers
for the docs), ``timeline`` (the SVG picture of a run), ``cli`` (the command line).
See docs/simulation.md.
"""
