"""``LeaderElection`` against the simulator's reference model, driven by Hypothesis.

Every rule runs one operation in its own committed transaction on the real election and the same
operation on :class:`fdb_election.sim.model.ElectionModel`; results must match, and after every
step the stored state (read back with the binding API) must equal the model's. Time is explicit
(``current_time`` arguments), so leases expire and candidates die only when a rule moves time on.

Rust processes take part too (``rust_recipe``: no mark, ballot 1 after a resignation); every
ballot a Python claim or refresh takes must be above every ballot a Python process issued or
recorded reading (``note_observed_ballot``) before it.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import hypothesis.strategies as st
from fdb.subspace_impl import Subspace
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from fdb_election.election import ElectionConfig, LeaderElection
from fdb_election.sim.history import LeaderRecord
from fdb_election.sim.model import ElectionModel, ModelError, result_text
from fdb_election.sim.observe import config_record, read_snapshot
from rust_recipe import rust_claim, rust_resign

PROCESSES = st.sampled_from(["a", "b", "c"])
PRIORITIES = st.integers(min_value=-2, max_value=2)
_runs = itertools.count()

START_US = 1_700_000_000 * 1_000_000


class ElectionMachine(RuleBasedStateMachine):
    """One election in a fresh subspace, and the model beside it."""

    def __init__(self, db: Any) -> None:
        super().__init__()
        self.db = db
        self.election = LeaderElection(Subspace(("stateful-model", next(_runs))))
        self.model = ElectionModel()
        self.now_us = START_US
        # The highest ballot a Python process issued or recorded reading: Python's next is above.
        self.python_floor = 0
        if next(_runs) % 4:  # most runs start initialized, the rest must call configure first
            config = ElectionConfig(lease_duration=5.0)
            self.compare(
                lambda tr: self.election.initialize_with_config(tr, config),
                lambda _v: self.model.initialize_with_config(config_record(config)),
            )

    # -- plumbing ----------------------------------------------------------------

    @property
    def now(self) -> timedelta:
        return timedelta(microseconds=self.now_us)

    @property
    def now_ns(self) -> int:
        return self.now_us * 1000

    def both(self, real: Any, model: Any) -> tuple[str, str]:
        """Run ``real(tr)`` in a committed transaction and ``model(version)``; both results."""
        tr = self.db.create_transaction()
        try:
            got: object = real(tr)
        except Exception as exc:
            got = exc
            if getattr(exc, "code", None) is not None:
                raise
        else:
            tr.commit().wait()
        version = tr.get_committed_version() if not isinstance(got, Exception) else -1
        try:
            expected: object = model(version)
        except ModelError as exc:
            expected = exc
        return result_text(got), result_text(expected)

    def compare(self, real: Any, model: Any) -> str:
        got, expected = self.both(real, model)
        assert got == expected, f"election returned {got}, the model says {expected}"
        return got

    def python_issued(self, result: str) -> None:
        """A Python claim or refresh returned ``result``: its ballot is above every one seen."""
        if "ballot=" in result and not result.startswith("follower"):
            ballot = int(result.rsplit("=", 1)[1])
            assert ballot > self.python_floor, f"ballot {ballot} repeats one Python knew"
            self.python_floor = ballot

    def python_read(self, ballot: int) -> None:
        self.python_floor = max(self.python_floor, ballot)

    # -- rules ---------------------------------------------------------------------

    @rule(
        lease_ms=st.integers(min_value=100, max_value=20_000),
        enabled=st.sampled_from([True, True, True, False]),
        preemption=st.booleans(),
        initialize=st.booleans(),
    )
    def configure(self, lease_ms: int, enabled: bool, preemption: bool, initialize: bool) -> None:
        config = ElectionConfig(
            lease_duration=timedelta(milliseconds=lease_ms),
            heartbeat_interval=timedelta(milliseconds=lease_ms // 3),
            candidate_timeout=timedelta(milliseconds=lease_ms * 3 // 2),
            election_enabled=enabled,
            allow_preemption=preemption,
        )
        record = config_record(config)
        if initialize:
            self.compare(
                lambda tr: self.election.initialize_with_config(tr, config),
                lambda _v: self.model.initialize_with_config(record),
            )
        else:
            self.compare(
                lambda tr: self.election.write_config(tr, config),
                lambda _v: self.model.write_config(record),
            )

    @rule(pid=PROCESSES, priority=PRIORITIES)
    def register(self, pid: str, priority: int) -> None:
        self.compare(
            lambda tr: self.election.register_candidate(tr, pid, priority, self.now),
            lambda v: self.model.register_candidate(pid, priority, self.now_ns, v),
        )

    @rule(pid=PROCESSES, priority=PRIORITIES)
    def heartbeat(self, pid: str, priority: int) -> None:
        self.compare(
            lambda tr: self.election.heartbeat_candidate(tr, pid, priority, self.now),
            lambda _v: self.model.heartbeat_candidate(pid, priority, self.now_ns),
        )

    @rule(pid=PROCESSES)
    def unregister(self, pid: str) -> None:
        self.compare(
            lambda tr: self.election.unregister_candidate(tr, pid),
            lambda _v: self.model.unregister_candidate(pid),
        )

    @rule(pid=PROCESSES, priority=PRIORITIES)
    def claim(self, pid: str, priority: int) -> None:
        result = self.compare(
            lambda tr: self.election.try_claim_leadership(tr, pid, priority, self.now),
            lambda _v: self.model.try_claim_leadership(pid, priority, self.now_ns),
        )
        self.python_issued(result)

    @rule(pid=PROCESSES)
    def refresh(self, pid: str) -> None:
        result = self.compare(
            lambda tr: self.election.refresh_lease(tr, pid, self.now),
            lambda _v: self.model.refresh_lease(pid, self.now_ns),
        )
        self.python_issued(result)

    @rule(pid=PROCESSES)
    def resign(self, pid: str) -> None:
        self.compare(
            lambda tr: self.election.resign_leadership(tr, pid),
            lambda _v: self.model.resign_leadership(pid),
        )

    @rule(pid=PROCESSES, successor=PROCESSES)
    def hand_over(self, pid: str, successor: str) -> None:
        result = self.compare(
            lambda tr: self.election.hand_over_leadership(tr, pid, successor, self.now),
            lambda _v: self.model.hand_over_leadership(pid, successor, self.now_ns),
        )
        self.python_issued(result)

    @rule()
    def evict(self) -> None:
        self.compare(
            lambda tr: self.election.evict_dead_candidates(tr, self.now),
            lambda _v: self.model.evict_dead_candidates(self.now_ns),
        )

    @rule(pid=PROCESSES, priority=PRIORITIES)
    def cycle(self, pid: str, priority: int) -> None:
        """``run_election_cycle`` = heartbeat, then claim, else report the valid leader."""

        def model(_v: int) -> object:
            self.model.heartbeat_candidate(pid, priority, self.now_ns)
            claimed = self.model.try_claim_leadership(pid, priority, self.now_ns)
            if claimed is not None:
                return f"leader ballot={claimed.ballot}"
            leader = self.model.leader
            if leader is not None:
                self.model.note_observed_ballot(leader.ballot)
            if leader is not None and self.now_ns < leader.lease_expiry_ns:
                return f"follower ballot={leader.ballot}"
            return "follower"

        leader_before = self.model.leader
        result = self.compare(
            lambda tr: self.election.run_election_cycle(tr, pid, priority, self.now), model
        )
        self.python_issued(result)
        if result.startswith("follower") and leader_before is not None:
            self.python_read(leader_before.ballot)

    # -- Rust processes, and a Python process reading the leader key -------------------------

    def _model_rust_claim(self, pid: str, priority: int) -> LeaderRecord | None:
        """The Rust recipe's claim on the model: no mark, ``leader ballot + 1`` or 1."""
        model = self.model
        if model.config is None:
            raise ModelError("NotInitialized")
        if not model.config.election_enabled:
            raise ModelError("ElectionDisabled")
        candidate = model.candidates.get(pid)
        if candidate is None:
            raise ModelError("UnregisteredCandidate")
        leader = model.leader
        if not (
            leader is None
            or leader.leader_id == pid
            or self.now_ns >= leader.lease_expiry_ns
            or (model.config.allow_preemption and priority > leader.priority)
        ):
            return None
        model.leader = LeaderRecord(
            1 if leader is None else leader.ballot + 1,
            pid,
            priority,
            self.now_ns + model.config.lease_ns,
            candidate.stamp_version,
        )
        return model.leader

    @rule(pid=PROCESSES, priority=PRIORITIES)
    def rust_claims(self, pid: str, priority: int) -> None:
        self.compare(
            lambda tr: rust_claim(tr, self.election, pid, priority, self.now),
            lambda _v: self._model_rust_claim(pid, priority),
        )

    @rule(pid=PROCESSES)
    def rust_resigns(self, pid: str) -> None:
        def model(_v: int) -> bool:
            if self.model.leader is None or self.model.leader.leader_id != pid:
                return False
            self.model.leader = None
            return True

        self.compare(lambda tr: rust_resign(tr, self.election, pid), model)

    @rule()
    def python_observes(self) -> None:
        """What every Python elector's cycle does: read the leader key, note its ballot."""

        def real(tr: Any) -> object:
            record = self.election.get_leader_raw(tr)
            if record is not None:
                self.election.note_observed_ballot(tr, record.ballot)
            return record

        def model(_v: int) -> object:
            if self.model.leader is not None:
                self.model.note_observed_ballot(self.model.leader.ballot)
            return self.model.leader

        self.compare(real, model)
        if self.model.leader is not None:
            self.python_read(self.model.leader.ballot)

    @rule(seconds=st.sampled_from([0.001, 0.05, 0.5, 2.0, 7.0, 30.0]))
    def advance(self, seconds: float) -> None:
        self.now_us += int(seconds * 1_000_000)

    @rule(pid=PROCESSES)
    def ask_is_leader(self, pid: str) -> None:
        tr = self.db.create_transaction()
        try:
            got: object = self.election.is_leader(tr, pid, self.now)
        except Exception as exc:
            got = exc
        config, leader = self.model.config, self.model.leader
        if config is None:
            expected: object = ModelError("NotInitialized")
        elif not config.election_enabled:
            expected = ModelError("ElectionDisabled")
        else:
            expected = (
                leader is not None
                and leader.leader_id == pid
                and self.now_ns < leader.lease_expiry_ns
            )
        assert result_text(got) == result_text(expected)

    @rule()
    def list_alive(self) -> None:
        if self.model.config is None:
            return
        tr = self.db.create_transaction()
        got = [c.process_id for c in self.election.list_candidates(tr, self.now)]
        timeout = self.model.config.candidate_timeout_ns
        alive = [
            c
            for c in self.model.candidates.values()
            if max(self.now_ns - c.last_heartbeat_ns, 0) < timeout
        ]
        assert got == [c.process_id for c in sorted(alive, key=lambda c: c.stamp_version)]

    # -- the stored state ------------------------------------------------------------

    @invariant()
    def stored_state_matches_the_model(self) -> None:
        tr = self.db.create_transaction()
        stored = read_snapshot(tr, self.election)
        assert stored == self.model.snapshot()


def test_election_matches_the_reference_model(db: Any) -> None:
    run_state_machine_as_test(
        lambda: ElectionMachine(db),
        settings=settings(max_examples=60, stateful_step_count=40, deadline=None),
    )
