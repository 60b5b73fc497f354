"""Planted bugs for proving that the simulation checker catches real mistakes (test-only).

Production code calls :func:`enabled` at a few marked spots (``# mutation point``); when no
mutation is active that is one function call and a membership test on an empty frozenset. Tests
and ``python -m fdb_election.sim --mutation NAME`` switch a bug on for a block::

    with _mutations.active("ballot_not_incremented"):
        run_simulation(seed)   # the checker must report a violation

Never enable a mutation outside tests: each one breaks a safety property on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["KNOWN", "active", "enabled", "enabled_names"]

#: Every mutation that has a mutation point somewhere, and what bug it plants.
KNOWN: dict[str, str] = {
    "ballot_not_incremented": "a claim reuses the previous ballot instead of taking a higher one",
    "lease_not_checked": "a claim ignores the current leader's unexpired lease",
    "adopt_before_commit": "the elector adopts a claim's result before (or without) its commit",
    "skew_ignored": "the leader's local deadline comes from the stored wall-clock expiry",
    "resign_resets_ballot": "resignation forgets the ballot high-water mark (ballots restart)",
    "claim_without_observation": "a follower claims without watching the record for a full lease",
    "fence_not_checked": "fence() accepts any ballot and holder",
}

_active: frozenset[str] = frozenset()


def enabled(name: str) -> bool:
    """Whether the planted bug ``name`` is switched on (always False outside tests)."""
    return name in _active


def enabled_names() -> frozenset[str]:
    """The mutations switched on right now."""
    return _active


@contextmanager
def active(*names: str) -> Iterator[None]:
    """Switch the named mutations on for the duration of a ``with`` block."""
    global _active
    unknown = [n for n in names if n not in KNOWN]
    if unknown:
        raise ValueError(
            f"unknown mutation(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(sorted(KNOWN))}"
        )
    previous = _active
    _active = previous | frozenset(names)
    try:
        yield
    finally:
        _active = previous
