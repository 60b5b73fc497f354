"""``LeaderElection``: the seed's operations, each inside the caller's transaction.

Example::

    election = LeaderElection(("my-election",))

    @fdb.transactional
    def setup(tr):
        election.initialize(tr)                               # idempotent, any process
        election.register_candidate(tr, "worker-1", 0, now())  # commit before cycling

    @fdb.transactional
    def cycle(tr):
        return election.run_election_cycle(tr, "worker-1", 0, now())

    setup(db)
    result = cycle(db)  # then again every heartbeat_interval

Semantics follow the Rust recipe (``foundationdb`` 0.11) exactly, with four documented
improvements: ballots never go backwards (a high-water mark under ``("ballot",)``, and the
highest ballot our processes read in the leader key under ``("ballot_seen",)``), a fencing
check for protected writes (:meth:`LeaderElection.fence`), a clear error when a candidate is
read in the transaction that registered it, and leadership that belongs to one *registration*
of a process id rather than to the id alone (see :meth:`LeaderElection.try_claim_leadership`).
Database errors propagate unwrapped so retry loops keep working; only the election's own
conditions raise :class:`LeaderElectionError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fdb_election.election import layout, rules
from fdb_election.election.cycle import ElectionCycle, ElectionKeys
from fdb_election.election.errors import (
    InvalidState,
    NotLeader,
    RegistrationNotCommitted,
)
from fdb_election.election.rules import alive
from fdb_election.election.times import TimeLike, to_nanos
from fdb_election.election.types import (
    CandidateInfo,
    ElectionConfig,
    ElectionResult,
    Follower,
    Leader,
    LeaderState,
)
from fdb_election.election.validation import (
    check_priority,
    check_process_id,
    check_u64,
    check_versionstamp,
)

__all__ = ["LeaderElection", "alive"]

#: Candidate keys (and process ids) each election remembers: the same few recur every cycle.
_PROCESS_ID_MEMO = 4096


class LeaderElection:
    """One election, stored under one subspace; every method takes the transaction first.

    Example::

        election = LeaderElection(fdb.Subspace(("elections", "billing")))
        match election.run_election_cycle(tr, "worker-1", 0, fdb_election.now()):
            case Leader(state):
                print("leading with fencing token", state.ballot)
            case Follower(state):
                print("following", state.leader_id if state else "nobody")

    Nothing is committed here: the caller owns the transaction (use ``fdb.transactional`` or
    ``fdb_election.transactional`` for retries). Times are a ``timedelta`` or seconds since the
    Unix epoch (``time.time()``); durations likewise. The instance holds only its subspace and is
    safe to share between threads.

    What can surprise you:

    * Register a candidate in its own committed transaction before heartbeating or claiming: the
      registration's versionstamp only exists after commit (``RegistrationNotCommitted``).
    * ``ballot`` grows on every claim *and* every refresh (as in the seed); :meth:`fence`
      accepts any ballot of the current tenure.
    """

    __slots__ = (
        "_candidate_keys",
        "_candidates_range",
        "_keys",
        "_process_ids",
        "_subspace",
    )

    def __init__(self, subspace: Any) -> None:
        """``subspace``: an ``fdb.Subspace`` (or anything with pack/unpack/range), or a tuple
        prefix such as ``("my-election",)``."""
        self._subspace = layout.as_subspace(subspace)
        self._candidates_range = layout.candidates_range(self._subspace)
        self._keys = ElectionKeys(
            layout.config_key(self._subspace),
            layout.leader_key(self._subspace),
            layout.ballot_key(self._subspace),
            layout.ballot_seen_key(self._subspace),
            layout.tenure_key(self._subspace),
            layout.succession_key(self._subspace),
        )
        self._process_ids: dict[bytes, str] = {}  # candidate key -> process id (bounded)
        self._candidate_keys: dict[str, bytes] = {}  # valid process id -> its key (bounded)

    @property
    def subspace(self) -> Any:
        """The subspace this election's keys live under."""
        return self._subspace

    def __repr__(self) -> str:
        return f"LeaderElection(prefix={self._keys.config[: -len(b'config') - 2]!r})"

    def cycle(self, tr: Any, process_id: str) -> ElectionCycle:
        """The operations of one candidate in ``tr``, each key read at most once (ours).

        For a loop that runs several operations per transaction, such as a heartbeat, a read
        of the leader and a refresh or a claim: see :class:`ElectionCycle`.
        """
        return self._cycle(tr, process_id)

    def _cycle(self, tr: Any, process_id: str) -> ElectionCycle:
        """An :class:`ElectionCycle` for one of this class's own operations (never overridden
        with :meth:`cycle`, so a subclass that wraps both sees each operation once)."""
        check_process_id(process_id)
        return ElectionCycle(tr, self._keys, process_id, self._candidate_key)

    # -----------------------------------------------------------------------------------------
    # Configuration

    def initialize(self, tr: Any) -> None:
        """Store the default configuration unless one exists (idempotent).

        Defaults: 10 s lease, 3 s heartbeat, 15 s candidate timeout, elections enabled,
        preemption allowed.
        """
        self.initialize_with_config(tr, ElectionConfig())

    def initialize_with_config(self, tr: Any, config: ElectionConfig) -> None:
        """Store ``config`` unless a configuration exists already (idempotent: the first wins)."""
        rules.check_config(config)
        if not tr.get(self._keys.config).present():
            tr.set(self._keys.config, layout.encode_config(config))

    def read_config(self, tr: Any) -> ElectionConfig:
        """The stored configuration; :class:`NotInitialized` when there is none."""
        return self._config(tr.get(self._keys.config))

    def write_config(self, tr: Any, config: ElectionConfig) -> None:
        """Replace the configuration, initialized or not.

        Changing it during an active election may briefly unsettle leadership (new lease
        lengths apply from the next claim or refresh).
        """
        rules.check_config(config)
        tr.set(self._keys.config, layout.encode_config(config))

    # -----------------------------------------------------------------------------------------
    # Candidates

    def register_candidate(
        self, tr: Any, process_id: str, priority: int, current_time: TimeLike
    ) -> None:
        """Join the election as a candidate (once per process, in its own transaction).

        The candidate is written with ``set_versionstamped_value``, so it gets the commit's
        versionstamp, which orders candidates and is kept by heartbeats; read it back with
        :meth:`get_candidate` after the commit. Registering again replaces the stamp.
        Raises :class:`NotInitialized`, :class:`ElectionDisabled`.
        """
        key = self._candidate_key(process_id)
        check_priority(priority)
        now_ns = to_nanos(current_time, "current_time")
        self._enabled_config(tr.get(self._keys.config))
        tr.set_versionstamped_value(key, layout.registration_param(priority, now_ns))
        rules.remember_registration(tr, key, process_id)

    def heartbeat_candidate(
        self,
        tr: Any,
        process_id: str,
        priority: int,
        current_time: TimeLike,
        *,
        registration: bytes | None = None,
    ) -> None:
        """Record that the candidate is alive at ``current_time`` (and update its priority).

        A plain ``set`` that keeps the registration versionstamp. With ``registration`` (ours:
        the 12-byte versionstamp of the caller's own registration) the heartbeat is refused
        with :class:`DuplicateProcessId`, writing nothing, when the stored candidate was
        registered by someone else since: another process uses the same id. Raises
        :class:`ProcessNotFound` when not registered, :class:`NotInitialized`,
        :class:`ElectionDisabled`, :class:`RegistrationNotCommitted`.
        """
        self._cycle(tr, process_id).heartbeat(priority, current_time, registration=registration)

    def unregister_candidate(self, tr: Any, process_id: str) -> None:
        """Leave the election (a no-op when not registered). A leader should resign first."""
        tr.clear(self._candidate_key(process_id))

    def get_candidate(self, tr: Any, process_id: str) -> CandidateInfo | None:
        """The candidate's registration, alive or not, or ``None`` when not registered."""
        return self._cycle(tr, process_id).candidate()

    def list_candidates(self, tr: Any, current_time: TimeLike) -> list[CandidateInfo]:
        """Alive candidates (heartbeat within ``candidate_timeout``), oldest registration first.

        Reads every candidate: meant for monitoring, not for every cycle.
        """
        now_ns = to_nanos(current_time, "current_time")
        config = self._config(tr.get(self._keys.config))
        live = [
            candidate
            for _key, candidate in self._scan_candidates(tr)
            if alive(candidate, now_ns, config)
        ]
        live.sort(key=lambda candidate: candidate.versionstamp)
        return live

    def read_candidates(self, tr: Any) -> tuple[list[CandidateInfo], dict[bytes, InvalidState]]:
        """Every registered candidate, alive or not, in registration (versionstamp) order, and
        the candidate records that do not decode, by key, with the error (ours).

        :meth:`list_candidates` raises :class:`InvalidState` for such a record, as the seed
        does; tools and the elector's leader use this to go on without it. Raises
        :class:`RegistrationNotCommitted` for this transaction's own registration.
        """
        unreadable: dict[bytes, InvalidState] = {}
        found = [candidate for _key, candidate in self._scan_candidates(tr, unreadable)]
        found.sort(key=lambda candidate: candidate.versionstamp)
        return found, unreadable

    def evict_dead_candidates(
        self, tr: Any, current_time: TimeLike, *, limit: int | None = None
    ) -> int:
        """Remove candidates whose last heartbeat is ``candidate_timeout`` old or older.

        Returns how many were removed. Without ``limit`` it reads every candidate (the seed's
        behaviour); the seed suggests the leader calls it now and then. With ``limit`` (ours)
        it removes at most ``limit`` dead candidates, scanning in key order in batches and
        stopping once it has found them, so one transaction stays within FoundationDB's
        10 MB limit (2101) however many candidates there are: call it in fresh transactions
        until it returns less than ``limit``. Raises :class:`NotInitialized`; ``TypeError`` /
        ``ValueError`` for a ``limit`` that is not a positive ``int``.

        Example::

            @fdb.transactional
            def evict_some(tr):
                return election.evict_dead_candidates(tr, fdb_election.now(), limit=1_000)

            while evict_some(db) == 1_000:
                pass
        """
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int):
                raise TypeError(f"limit must be a positive int or None, got {type(limit).__name__}")
            if limit < 1:
                raise ValueError(f"limit must be a positive int (at least 1) or None, got {limit}")
        now_ns = to_nanos(current_time, "current_time")
        config = self._config(tr.get(self._keys.config))
        if limit is None:
            found: Iterable[tuple[bytes, CandidateInfo]] = self._scan_candidates(tr)
        else:
            # Batches about as large as the limit (within bounds): few round trips, and the
            # read conflict range ends near where the eviction stopped.
            found = self._scan_candidates_in_batches(tr, min(max(limit, 100), 1_000))
        evicted = 0
        for key, candidate in found:
            if not alive(candidate, now_ns, config):
                tr.clear(key)
                evicted += 1
                if evicted == limit:
                    break
        return evicted

    # -----------------------------------------------------------------------------------------
    # Leadership

    def try_claim_leadership(
        self, tr: Any, process_id: str, priority: int, current_time: TimeLike
    ) -> LeaderState | None:
        """Become (or stay) leader when allowed; ``None`` when another valid leader holds on.

        A registered candidate may claim when there is no leader, when it already leads (this
        refreshes the lease), when the leader's lease has expired at ``current_time``, or when
        preemption is allowed and ``priority`` is strictly higher than the leader's. "Already
        leads" means the record names ``process_id`` *and* carries this candidate's registration
        versionstamp (ours; the seed compares ids only): a record left by an earlier run of the
        same id, or by another process using it, belongs to someone else and is taken only when
        its lease has expired, so a restarted or duplicated process never takes over a lease
        its predecessor may still be acting on. The claim
        writes a lease of ``lease_duration`` from ``current_time``, the candidate's versionstamp
        and the next ballot: ``max(leader ballot, high-water mark, highest ballot seen) + 1``,
        so ballots never go backwards, even after a resignation cleared the leader key (the
        seed restarts at 1), and never repeat one our processes read (see
        :meth:`note_observed_ballot`).
        Raises :class:`UnregisteredCandidate`, :class:`NotInitialized`,
        :class:`ElectionDisabled`, :class:`RegistrationNotCommitted`.
        """
        return self._cycle(tr, process_id).try_claim(priority, current_time)

    def refresh_lease(
        self,
        tr: Any,
        process_id: str,
        current_time: TimeLike,
        *,
        versionstamp: bytes | None = None,
        new_tenure: bool = False,
    ) -> LeaderState | None:
        """Extend the lease of the current leader ``process_id``; ``None`` if it does not lead.

        As in the seed, this succeeds whenever the leader key still names the process, even if
        its lease ran out meanwhile (nobody took over), and it works while elections are
        disabled (the leader keeps its role). The new ballot is
        ``max(leader ballot, mark, highest ballot seen) + 1``.
        With ``versionstamp`` (ours: the ``LeaderState.versionstamp`` of the caller's claim)
        a record made by another registration of the same id is not refreshed. With
        ``new_tenure`` (ours) the refresh starts a new tenure at its ballot, so the ballots of
        the one before stop passing :meth:`fence`: for a holder that stopped counting itself
        leader (its own deadline passed) and takes up its record again. Raises
        :class:`NotInitialized`.
        """
        return self._cycle(tr, process_id).refresh(
            current_time, versionstamp=versionstamp, new_tenure=new_tenure
        )

    def resign_leadership(
        self, tr: Any, process_id: str, *, versionstamp: bytes | None = None
    ) -> bool:
        """Step down at once if ``process_id`` leads; ``True`` if it did, ``False`` otherwise.

        Clears the leader key (as the seed does, so Rust processes see no leader), the tenure
        record and the succession key (which wakes the waiting processes), and raises the ballot
        high-water mark to the resigned ballot first, so the next claim continues above it. With
        ``versionstamp`` (ours, as for :meth:`refresh_lease`) only a record of that registration
        is cleared: a stale run of a process never ends the leadership of a newer one with the
        same id.
        """
        return self._cycle(tr, process_id).resign(versionstamp=versionstamp)

    def hand_over_leadership(
        self,
        tr: Any,
        process_id: str,
        successor: str,
        current_time: TimeLike,
        *,
        versionstamp: bytes | None = None,
    ) -> LeaderState | None:
        """Resign in favour of ``successor`` (ours): the leader record names it at once.

        If ``process_id`` leads (with ``versionstamp``, that registration, as for
        :meth:`resign_leadership`), writes the claim ``successor`` would make at
        ``current_time``: the next ballot, a lease of ``lease_duration`` from ``current_time``,
        and the successor's priority and registration versionstamp. Returns that state, or
        ``None`` when ``process_id`` does not lead. One commit instead of a resignation and a
        claim; Rust processes see an ordinary claim. The caller must have stopped acting as
        leader before this commits, as before a resignation. The successor learns of it by
        reading the record: an elector of this library takes it up at its next step (see
        docs/elector.md). Raises :class:`UnregisteredCandidate` when ``successor`` is not
        registered, :class:`ElectionDisabled` (nobody could take the lease up),
        :class:`NotInitialized`, and ``ValueError`` when ``successor`` is ``process_id``.
        """
        return self._cycle(tr, process_id).hand_over(
            successor, current_time, versionstamp=versionstamp
        )

    def is_leader(self, tr: Any, process_id: str, current_time: TimeLike) -> bool:
        """Whether ``process_id`` leads with a lease valid at ``current_time``.

        Raises :class:`NotInitialized`, :class:`ElectionDisabled` (as the seed does).
        """
        check_process_id(process_id)
        now_ns = to_nanos(current_time, "current_time")
        config_future = tr.get(self._keys.config)
        leader_future = tr.get(self._keys.leader)
        self._enabled_config(config_future)
        leader = self._leader_if_valid(leader_future, now_ns)
        return leader is not None and leader.leader_id == process_id

    def get_leader(self, tr: Any, current_time: TimeLike) -> LeaderState | None:
        """The leader, or ``None`` when there is none or its lease expired at ``current_time``."""
        now_ns = to_nanos(current_time, "current_time")
        return self._leader_if_valid(tr.get(self._keys.leader), now_ns)

    def get_leader_raw(self, tr: Any) -> LeaderState | None:
        """The stored leader whatever its lease (for monitoring, debugging, invariant checks)."""
        value = rules.value_of(tr.get(self._keys.leader))
        return None if value is None else layout.decode_leader(value)

    def leader_lease_ns(self, tr: Any) -> int | None:
        """The lease duration (ns) the current leader record was written with, if known.

        Every claim and refresh by this library records the configured lease it used in the
        tenure record, in the same transaction. A follower deciding how long an unchanged
        leader record must be observed before the leader is presumed gone should wait at least
        this long: after ``lease_duration`` was lowered, the leader still holds the longer lease
        it claimed with. ``None`` when nobody leads, or when this library did not write the
        current leader value (a Rust process, or a tenure record in the older format without a
        lease); callers must then assume the worst lease they know of.

        Reads the leader and tenure keys without snapshot, so a change of either before commit
        makes the commit fail with a conflict (1020). Raises :class:`InvalidState` for stored
        values that do not decode.
        """
        return ElectionCycle(tr, self._keys, None).leader_lease_ns()

    def tenure_token(self, tr: Any) -> int | None:
        """The fencing token of the current leader's tenure (ours): the ballot of the claim that
        began it, which ``Elector.ballot`` and ``fdb-election run``'s ``FDB_ELECTION_BALLOT``
        hold for that leader, while the record's own ballot grows at every refresh.

        ``None`` when nobody leads, or when this library did not write the current leader value
        (a Rust process keeps no tenure record; its ballot is its token). The record's lease is
        not checked. Reads the leader and tenure keys without snapshot; raises
        :class:`InvalidState` for stored values that do not decode.
        """
        tenure = ElectionCycle(tr, self._keys, None).tenure()
        return None if tenure is None else tenure.first_ballot

    def leadership_key(self, tr: Any) -> bytes:
        """The key to watch to learn that leadership changed hands (ours).

        The succession key while the current leader record was written by this library and its
        tenure announced there: a watch on it fires when another tenure begins or the leader
        resigns, and never at a refresh, so a waiting process is not woken several times a lease
        for nothing. Otherwise the leader key, which every claim, refresh and resignation
        changes: when nobody leads, or the record was written by a Rust process (or by an
        earlier version of this library, which did not announce tenures).

        A Rust process that takes over an expired lease of ours changes the leader key only; a
        process watching the succession key then learns of it from its next read. Snapshot
        reads only: the answer chooses a watch, it decides nothing. A succession value that
        does not decode counts as no announcement.
        """
        return ElectionCycle(tr, self._keys, None).leadership_key()

    def highest_ballot(self, tr: Any) -> int:
        """The highest ballot known: the current leader's, the high-water mark, or the highest
        ballot our processes read in the leader key (:meth:`note_observed_ballot`); 0 if none.

        The next claim or refresh takes a ballot above it. Use it to carry an election to
        another database (with :meth:`raise_ballot_floor` there) or to seed an external fence.
        Reads the leader and ballot keys without snapshot, and ``ballot_seen`` as a snapshot
        (it only grows, and followers raise it every cycle: no conflict with them).
        """
        leader_future = tr.get(self._keys.leader)
        mark_future = tr.get(self._keys.ballot)
        seen_future = tr.snapshot.get(self._keys.seen)
        leader_value = rules.value_of(leader_future)
        leader = 0 if leader_value is None else layout.decode_leader(leader_value).ballot
        return max(leader, rules.floor(rules.value_of(mark_future), rules.value_of(seen_future)))

    def raise_ballot_floor(self, tr: Any, ballot: int) -> bool:
        """Make every later claim or refresh take a ballot above ``ballot``; True if it changed.

        Raises the high-water mark to ``ballot`` when neither it nor the highest ballot seen
        is as high; never lowers anything. For moving an election to a new database, so that
        fencing tokens keep growing across the move (Rust processes ignore the mark: see
        docs/differences-from-rust.md). ``ballot`` must be an ``int`` in [0, 2**64 - 1],
        checked before anything is written.
        """
        floor = check_u64(ballot, "ballot")
        mark_future = tr.get(self._keys.ballot)
        seen_future = tr.snapshot.get(self._keys.seen)
        if floor <= rules.floor(rules.value_of(mark_future), rules.value_of(seen_future)):
            return False
        tr.set(self._keys.ballot, layout.encode_ballot_mark(floor))
        return True

    def note_observed_ballot(self, tr: Any, ballot: int) -> None:
        """Record that this process read ``ballot`` in the leader key (ours; for mixed elections).

        Raises ``ballot_seen`` to at least ``ballot`` with the atomic MAX: a blind write, with no
        read and so no read conflict; concurrent MAXes by many followers never conflict with
        each other. Every later claim or refresh takes a ballot above it. Call it in the same
        transaction as the non-snapshot read of the leader key that returned ``ballot`` (as
        :meth:`get_leader_raw` does): that read makes the commit fail with 1020 if the leader
        key changed before commit, so a committed ``ballot_seen`` never holds a ballot that a
        concurrent claim could have missed in the leader key (which is why claims can read
        ``ballot_seen`` as a snapshot and never conflict with followers).

        Records written by this library never need it (claims and refreshes raise the
        high-water mark); a Rust process keeps no mark and, after a resignation, restarts at
        ballot 1, so the ballots of Rust leaders are known to Python processes only through
        it. ``ballot`` must be an ``int`` in [0, 2**64 - 1].
        """
        tr.max(self._keys.seen, layout.encode_ballot_seen(ballot))

    def run_election_cycle(
        self, tr: Any, process_id: str, priority: int, current_time: TimeLike
    ) -> ElectionResult:
        """Heartbeat, then claim or keep leadership: the call for a candidate's main loop.

        Returns :class:`Leader` with the state just written (a leader refreshes its lease
        through the claim, with a new ballot) or :class:`Follower` with the current valid
        leader, or ``None`` when nobody holds a valid lease. A follower also records the
        ballot it read (:meth:`note_observed_ballot`, ours). Raises what
        :meth:`heartbeat_candidate` and :meth:`try_claim_leadership` raise.
        """
        # One pass over the reads both steps need (the seed reads config and candidate twice):
        # the same checks in the same order, the same writes.
        cycle = self._cycle(tr, process_id)
        cycle.read_all()
        cycle.heartbeat(priority, current_time)
        state = cycle.try_claim(priority, current_time)
        if state is not None:
            return Leader(state)
        leader = cycle._leader_record()
        if leader is not None:
            cycle.note_observed_ballot(leader.ballot)
        now_ns = to_nanos(current_time, "current_time")
        return Follower(
            leader if leader is not None and rules.lease_valid(leader, now_ns) else None
        )

    # -----------------------------------------------------------------------------------------
    # Fencing (ours)

    def fence(
        self,
        tr: Any,
        process_id: str,
        ballot: int,
        current_time: TimeLike | None = None,
        *,
        versionstamp: bytes | None = None,
    ) -> LeaderState:
        """Check, inside the caller's transaction, that ``process_id`` still holds the tenure
        in which it received ``ballot``; raise :class:`NotLeader` otherwise.

        Example::

            @fdb.transactional
            def protected_write(tr):
                election.fence(tr, "worker-1", token)
                tr[b"resource"] = b"..."  # commits only while worker-1 still leads

        A *tenure* is one uninterrupted leadership of one registration of a process: a claim,
        then its refreshes (each increments the ballot, the seed's rule). Any ballot of the
        current tenure passes (``first <= ballot <= current``); a ballot of an earlier tenure,
        even the same process's or an earlier run's, is refused, as is any ballot when the
        leader key was last written by a process that keeps no tenure record (the Rust recipe:
        conservative, never unsafe). With ``current_time`` the lease must be valid then; with
        ``versionstamp`` (the claim's ``LeaderState.versionstamp``) the record must carry it.

        The leader and tenure keys are read without snapshot, so if leadership changes before
        this transaction commits, the commit fails with a conflict (1020) instead of writing
        on behalf of a former leader. Returns the current leader state.
        """
        check_process_id(process_id)
        check_u64(ballot, "ballot")
        if versionstamp is not None:
            check_versionstamp(versionstamp)
        now_ns = None if current_time is None else to_nanos(current_time, "current_time")
        leader_future = tr.get(self._keys.leader)
        tenure_future = tr.get(self._keys.tenure)
        leader_value = rules.value_of(leader_future)
        if leader_value is None:
            raise NotLeader(process_id, ballot, "nobody leads now")
        leader = layout.decode_leader(leader_value)
        reason = rules.fence_refusal(
            leader,
            leader_value,
            rules.value_of(tenure_future),
            process_id,
            ballot,
            versionstamp,
            now_ns,
        )
        if reason is not None:
            raise NotLeader(process_id, ballot, reason)
        return leader

    # -----------------------------------------------------------------------------------------
    # Helpers

    def _candidate_key(self, process_id: str) -> bytes:
        key = self._candidate_keys.get(process_id) if type(process_id) is str else None
        if key is None:
            check_process_id(process_id)
            key = layout.candidate_key(self._subspace, process_id)
            check_process_id(process_id, len(key))
            if len(self._candidate_keys) >= _PROCESS_ID_MEMO:
                self._candidate_keys.clear()
            self._candidate_keys[process_id] = key
        return key

    def _config(self, future: Any) -> ElectionConfig:
        return rules.config_of(rules.value_of(future))

    def _enabled_config(self, future: Any) -> ElectionConfig:
        return rules.enabled(self._config(future))

    def _process_id_of(self, key: bytes) -> str:
        """The process id in a candidate key, remembered: every scan sees the same keys."""
        known = self._process_ids.get(key)
        if known is None:
            known = layout.candidate_process_id(self._subspace, key)
            if len(self._process_ids) >= _PROCESS_ID_MEMO:
                self._process_ids.clear()
            self._process_ids[key] = known
        return known

    def _scan_candidates(
        self, tr: Any, unreadable: dict[bytes, InvalidState] | None = None
    ) -> list[tuple[bytes, CandidateInfo]]:
        """Every candidate in key order. A record that does not decode raises, or with
        ``unreadable`` is put there (by key) and skipped."""
        begin, end = self._candidates_range
        found: list[tuple[bytes, CandidateInfo]] = []
        try:
            for item in tr.get_range(begin, end):
                key = bytes(item.key)
                try:
                    process_id = self._process_id_of(key)
                    found.append((key, rules.candidate_of(tr, key, process_id, bytes(item.value))))
                except InvalidState as exc:
                    if unreadable is None:
                        raise
                    unreadable[key] = exc
        except Exception as exc:
            if rules.is_unreadable(exc):
                raise RegistrationNotCommitted(rules.registered_here(tr, None)) from exc
            raise
        return found

    def _scan_candidates_in_batches(
        self, tr: Any, batch: int
    ) -> Iterator[tuple[bytes, CandidateInfo]]:
        """Every candidate in key order, read ``batch`` rows at a time (stop whenever)."""
        begin, end = self._candidates_range
        while True:
            try:
                rows = list(tr.get_range(begin, end, limit=batch))
            except Exception as exc:
                if rules.is_unreadable(exc):
                    raise RegistrationNotCommitted(rules.registered_here(tr, None)) from exc
                raise
            for item in rows:
                key = bytes(item.key)
                process_id = self._process_id_of(key)
                yield key, rules.candidate_of(tr, key, process_id, bytes(item.value))
            if len(rows) < batch:
                return
            begin = bytes(rows[-1].key) + b"\x00"

    def _leader_if_valid(self, future: Any, now_ns: int) -> LeaderState | None:
        value = rules.value_of(future)
        if value is None:
            return None
        leader = layout.decode_leader(value)
        return leader if rules.lease_valid(leader, now_ns) else None
