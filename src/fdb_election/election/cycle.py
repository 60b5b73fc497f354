"""``ElectionCycle``: the seed's operations for one candidate inside one transaction, each key
read at most once (ours). :class:`~.operations.LeaderElection`'s methods run through it too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from fdb_election.election import layout, rules
from fdb_election.election.errors import (
    DuplicateProcessId,
    InvalidState,
    ProcessNotFound,
    RegistrationNotCommitted,
    UnregisteredCandidate,
)
from fdb_election.election.layout import Tenure
from fdb_election.election.times import TimeLike, to_nanos
from fdb_election.election.types import CandidateInfo, ElectionConfig, LeaderState
from fdb_election.election.validation import check_priority, check_versionstamp

__all__ = ["ElectionCycle", "ElectionKeys"]


class ElectionKeys(NamedTuple):
    """The packed keys of one election (packed once, in :class:`LeaderElection`)."""

    config: bytes
    leader: bytes
    ballot: bytes
    seen: bytes
    tenure: bytes
    succession: bytes


class ElectionCycle:
    """The seed's operations for one candidate inside one transaction, each key read at most
    once (ours).

    Example::

        cycle = election.cycle(tr, "worker-1")
        cycle.read_all()  # issue the step's reads together: one round trip on a cluster
        cycle.heartbeat(0, fdb_election.now())
        state = cycle.try_claim(0, fdb_election.now())  # reads nothing again

    An elector's cycle heartbeats, reads the leader record, then refreshes, claims or follows.
    Done with :class:`LeaderElection`'s methods one after another, every operation reads the
    configuration and the leader record again (a heartbeat, a read of the leader and a refresh
    read the configuration three times), and a cluster answers them in several round trips.
    Through one ``ElectionCycle`` each key is read and decoded once, and :meth:`read_cycle`,
    :meth:`read_all` or :meth:`read_resignation` issue a step's reads together. The operations
    are the ones :class:`LeaderElection`'s methods run, with the same checks, reads and writes:
    those methods make a new ``ElectionCycle`` for each call.

    What can surprise you: a key reads as the first read of it in this cycle returned, or as an
    operation of this cycle wrote it since. Writes made to the transaction directly are not
    seen, so use one ``ElectionCycle`` per transaction attempt, for the election's own
    operations. Get one from :meth:`LeaderElection.cycle`.
    """

    __slots__ = (
        "_candidate",
        "_candidate_key",
        "_config",
        "_issued",
        "_key_of",
        "_keys",
        "_known",
        "_leader",
        "_process_id",
        "tr",
    )

    def __init__(
        self,
        tr: Any,
        keys: ElectionKeys,
        process_id: str | None,
        candidate_key: Callable[[str], bytes] | None = None,
    ) -> None:
        """Use :meth:`LeaderElection.cycle`. ``candidate_key`` packs (and checks) a process id's
        candidate key; without ``process_id`` only the operations that name no candidate work
        (:meth:`leader_lease_ns`, :meth:`leadership_key`)."""
        self.tr = tr
        self._keys = keys
        self._key_of = candidate_key
        self._process_id = process_id
        self._candidate_key: bytes | None = None
        # Reads issued (the binding's lazy values), and whether each is a snapshot read.
        self._issued: dict[bytes, tuple[Any, bool]] = {}
        # Values read or written: (value, whether only a snapshot read returned it).
        self._known: dict[bytes, tuple[bytes | None, bool]] = {}
        self._config: ElectionConfig | None = None
        self._leader: tuple[bytes, LeaderState] | None = None
        self._candidate: tuple[bytes, CandidateInfo] | None = None

    # -- reads ------------------------------------------------------------------------------

    def read_cycle(self, *, candidate: bool = True) -> None:
        """Issue the reads of every cycle at once: configuration, this candidate (unless
        ``candidate`` is false: an observer), leader record and tenure record."""
        keys = self._keys
        if candidate:
            self._read(keys.config, self._own_key(), keys.leader, keys.tenure)
        else:
            self._read(keys.config, keys.leader, keys.tenure)

    def read_all(self) -> None:
        """Issue every read a heartbeat and then a refresh or a claim need, at once."""
        keys = self._keys
        self._read(keys.config, self._own_key(), keys.leader, keys.ballot)
        self._read(keys.seen, snapshot=True)
        self._read(keys.tenure)

    def read_resignation(self, *, candidate: bool = False, hand_over: bool = False) -> None:
        """Issue the reads of a resignation at once: leader record and ballot mark, with
        ``candidate`` this candidate's registration (to unregister it), and with ``hand_over``
        what :meth:`hand_over` reads besides its successor's registration."""
        keys = self._keys
        if candidate:
            self._read(keys.leader, keys.ballot, self._own_key())
        else:
            self._read(keys.leader, keys.ballot)
        if hand_over:
            self._read(keys.config)
            self._read(keys.seen, snapshot=True)

    def config(self) -> ElectionConfig:
        """The stored configuration; :class:`NotInitialized` when there is none."""
        if self._config is None:
            self._config = rules.config_of(self._value(self._keys.config))
        return self._config

    def enabled_config(self) -> ElectionConfig:
        """:meth:`config`, or :class:`ElectionDisabled` when elections are disabled."""
        return rules.enabled(self.config())

    def leader(self) -> LeaderState | None:
        """:meth:`LeaderElection.get_leader_raw`: the stored leader record whatever its lease."""
        return self._leader_record()

    def candidate(self) -> CandidateInfo | None:
        """This candidate's registration, alive or not; ``None`` when not registered."""
        key = self._own_key()
        try:
            value = self._value(key)
        except Exception as exc:
            if rules.is_unreadable(exc):
                raise RegistrationNotCommitted(self.process_id) from exc
            raise
        if value is None:
            return None
        known = self._candidate
        if known is None or known[0] != value:
            known = self._candidate = (
                value,
                rules.candidate_of(self.tr, key, self.process_id, value),
            )
        return known[1]

    # -- operations ---------------------------------------------------------------------------

    def heartbeat(
        self, priority: int, current_time: TimeLike, *, registration: bytes | None = None
    ) -> None:
        """:meth:`LeaderElection.heartbeat_candidate`."""
        key = self._own_key()
        check_priority(priority)
        if registration is not None:
            check_versionstamp(registration, "registration")
        now_ns = to_nanos(current_time, "current_time")
        self._read(self._keys.config, key)
        self.enabled_config()
        candidate = self.candidate()
        if candidate is None:
            raise ProcessNotFound(self.process_id)
        if registration is not None and candidate.versionstamp != registration:
            raise DuplicateProcessId(self.process_id, registration, candidate.versionstamp)
        self._set(key, layout.encode_candidate(priority, now_ns, candidate.versionstamp))

    def try_claim(self, priority: int, current_time: TimeLike) -> LeaderState | None:
        """:meth:`LeaderElection.try_claim_leadership`."""
        self._own_key()
        check_priority(priority)
        now_ns = to_nanos(current_time, "current_time")
        self.read_all()
        config = self.enabled_config()
        candidate = self.candidate()
        if candidate is None:
            raise UnregisteredCandidate(self.process_id)
        leader = self._leader_record()
        if not rules.may_claim(config, candidate, leader, priority, now_ns):
            return None
        state = LeaderState(
            ballot=rules.next_ballot(leader, self._floor()),
            leader_id=self.process_id,
            priority=priority,
            lease_expiry_nanos=rules.lease_expiry(now_ns, config),
            versionstamp=candidate.versionstamp,
        )
        self._write_leader(state, config, leader, self._value(self._keys.tenure))
        return state

    def refresh(
        self,
        current_time: TimeLike,
        *,
        versionstamp: bytes | None = None,
        new_tenure: bool = False,
    ) -> LeaderState | None:
        """:meth:`LeaderElection.refresh_lease`."""
        if versionstamp is not None:
            check_versionstamp(versionstamp)
        now_ns = to_nanos(current_time, "current_time")
        keys = self._keys
        self._read(keys.config, keys.leader, keys.ballot)
        self._read(keys.seen, snapshot=True)  # why a snapshot read: see rules.floor
        self._read(keys.tenure)
        config = self.config()
        leader = self._leader_record()
        if not rules.held_by(leader, self.process_id, versionstamp):
            return None
        assert leader is not None
        state = LeaderState(
            ballot=rules.next_ballot(leader, self._floor()),
            leader_id=leader.leader_id,
            priority=leader.priority,
            lease_expiry_nanos=rules.lease_expiry(now_ns, config),
            versionstamp=leader.versionstamp,
        )
        tenure_value = None if new_tenure else self._value(keys.tenure)
        self._write_leader(state, config, leader, tenure_value)
        return state

    def resign(self, *, versionstamp: bytes | None = None) -> bool:
        """:meth:`LeaderElection.resign_leadership`."""
        if versionstamp is not None:
            check_versionstamp(versionstamp)
        keys = self._keys
        self._read(keys.leader, keys.ballot)
        leader = self._leader_record()
        if leader is None or not rules.held_by(leader, self.process_id, versionstamp):
            return False
        mark_value = self._value(keys.ballot)
        mark = 0 if mark_value is None else layout.decode_ballot_mark(mark_value)
        if leader.ballot > mark:
            self._set(keys.ballot, layout.encode_ballot_mark(leader.ballot))
        for key in (keys.leader, keys.tenure, keys.succession):
            self._set(key, None)
        return True

    def hand_over(
        self,
        successor: str,
        current_time: TimeLike,
        *,
        versionstamp: bytes | None = None,
        scanned: CandidateInfo | None = None,
    ) -> LeaderState | None:
        """:meth:`LeaderElection.hand_over_leadership`.

        ``scanned``: the successor's registration as a snapshot read of this transaction
        returned it (a scan of the candidates). It is used as read, with a read conflict on
        the key instead of a second read: the same as reading it, one round trip fewer.
        """
        if versionstamp is not None:
            check_versionstamp(versionstamp)
        now_ns = to_nanos(current_time, "current_time")
        if successor == self.process_id:
            raise ValueError(
                f"a leader cannot hand leadership over to itself ({successor!r}); "
                "refresh_lease renews it"
            )
        if scanned is not None and scanned.process_id != successor:
            raise ValueError(
                f"scanned is the registration of {scanned.process_id!r}, not of {successor!r}"
            )
        successor_key = self._candidate_key_of(successor)
        keys = self._keys
        self._read(keys.config, keys.leader, keys.ballot)
        self._read(keys.seen, snapshot=True)
        if scanned is None:
            self._read(successor_key)
        config = self.enabled_config()
        leader = self._leader_record()
        if not rules.held_by(leader, self.process_id, versionstamp):
            return None
        if scanned is None:
            value = self._value(successor_key)
            if value is None:
                raise UnregisteredCandidate(successor)
            candidate = rules.candidate_of(self.tr, successor_key, successor, value)
        else:
            self.tr.add_read_conflict_key(successor_key)
            candidate = scanned
        state = LeaderState(
            ballot=rules.next_ballot(leader, self._floor()),
            leader_id=successor,
            priority=candidate.priority,
            lease_expiry_nanos=rules.lease_expiry(now_ns, config),
            versionstamp=candidate.versionstamp,
        )
        self._write_leader(state, config, leader, None)
        return state

    def note_observed_ballot(self, ballot: int) -> None:
        """:meth:`LeaderElection.note_observed_ballot`."""
        seen = self._keys.seen
        self.tr.max(seen, layout.encode_ballot_seen(ballot))
        self._issued.pop(seen, None)  # read again, if at all, with the MAX applied
        self._known.pop(seen, None)

    def leader_lease_ns(self) -> int | None:
        """:meth:`LeaderElection.leader_lease_ns`."""
        tenure = self.tenure()
        return None if tenure is None else tenure.lease_ns

    def tenure(self) -> Tenure | None:
        """The tenure record of the current leader record, when this library wrote that record
        last (None otherwise, or when nobody leads)."""
        keys = self._keys
        self._read(keys.leader, keys.tenure)
        leader_value = self._value(keys.leader)
        if leader_value is None:
            return None
        self._decoded_leader(leader_value)  # a corrupt leader is reported, not ignored
        return rules.tenure_of(leader_value, self._value(keys.tenure))

    def leadership_key(self) -> bytes:
        """:meth:`LeaderElection.leadership_key` (snapshot reads, unless this cycle read the
        keys already)."""
        keys = self._keys
        self._read(keys.leader, keys.tenure, keys.succession, snapshot=True)
        leader_value = self._value(keys.leader, snapshot=True)
        tenure_value = self._value(keys.tenure, snapshot=True)
        succession_value = self._value(keys.succession, snapshot=True)
        if leader_value is None or tenure_value is None or succession_value is None:
            return keys.leader
        tenure = rules.tenure_of(leader_value, tenure_value)
        try:
            announced = layout.decode_succession(succession_value)
        except InvalidState:
            return keys.leader
        if tenure is None or announced != tenure.first_ballot:
            return keys.leader
        return keys.succession

    # -- helpers ------------------------------------------------------------------------------

    @property
    def process_id(self) -> str:
        """The candidate this cycle is for."""
        if self._process_id is None:
            raise TypeError("this ElectionCycle was made without a process id")
        return self._process_id

    def _own_key(self) -> bytes:
        """This candidate's key (the process id's length is checked against the key's)."""
        key = self._candidate_key
        if key is None:
            if self._key_of is None:
                raise TypeError("this ElectionCycle was made without a candidate key function")
            key = self._candidate_key = self._key_of(self.process_id)
        return key

    def _candidate_key_of(self, process_id: str) -> bytes:
        """The candidate key of ``process_id`` (checked like this candidate's own)."""
        if self._key_of is None:
            raise TypeError("this ElectionCycle was made without a candidate key function")
        return self._key_of(process_id)

    def _read(self, *keys: bytes, snapshot: bool = False) -> None:
        """Issue reads of ``keys`` not issued yet (as snapshot reads with ``snapshot``)."""
        for key in keys:
            known = self._known.get(key)
            if known is None or (known[1] and not snapshot):
                self._issue(key, snapshot)

    def _issue(self, key: bytes, snapshot: bool) -> Any:
        issued = self._issued.get(key)
        if issued is None or (issued[1] and not snapshot):
            issued = ((self.tr.snapshot if snapshot else self.tr).get(key), snapshot)
            self._issued[key] = issued
        return issued[0]

    def _value(self, key: bytes, *, snapshot: bool = False) -> bytes | None:
        """The value of ``key`` in this cycle. A snapshot read is not enough for a read that
        must conflict: that one is issued again without snapshot."""
        known = self._known.get(key)
        if known is not None and (snapshot or not known[1]):
            return known[0]
        value = rules.value_of(self._issue(key, snapshot))
        self._known[key] = (value, snapshot)
        return value

    def _set(self, key: bytes, value: bytes | None) -> None:
        """Write ``value`` to ``key`` (``None``: clear it), and read it so from now on."""
        if value is None:
            self.tr.clear(key)
        else:
            self.tr.set(key, value)
        self._known[key] = (value, False)
        self._issued.pop(key, None)

    def _leader_record(self) -> LeaderState | None:
        value = self._value(self._keys.leader)
        return None if value is None else self._decoded_leader(value)

    def _decoded_leader(self, value: bytes) -> LeaderState:
        known = self._leader
        if known is None or known[0] != value:
            known = self._leader = (value, layout.decode_leader(value))
        return known[1]

    def _floor(self) -> int:
        """:func:`.rules.floor` of this cycle's ballot mark and ballot seen (a snapshot read)."""
        return rules.floor(
            self._value(self._keys.ballot), self._value(self._keys.seen, snapshot=True)
        )

    def _write_leader(
        self,
        state: LeaderState,
        config: ElectionConfig,
        previous: LeaderState | None,
        tenure_value: bytes | None,
    ) -> None:
        """Write the leader, raise the ballot mark and carry or start the tenure record.

        The tenure record also stores the lease ``state`` was written with (see
        :meth:`leader_lease_ns`). A tenure continues only through the same registration (id
        and versionstamp): a claim by a restarted process starts a new one. A tenure that
        starts is announced in the succession key (see :meth:`leadership_key`).
        """
        keys = self._keys
        previous_value = self._value(keys.leader)
        first_ballot = state.ballot
        if previous is not None and rules.held_by(previous, state.leader_id, state.versionstamp):
            tenure = None if tenure_value is None else layout.decode_tenure(tenure_value)
            if tenure is not None and tenure.leader_value == previous_value:
                first_ballot = tenure.first_ballot
        value = layout.encode_leader(state)
        self._set(keys.leader, value)
        self._leader = (value, state)
        self._set(keys.ballot, layout.encode_ballot_mark(state.ballot))
        tenure = Tenure(first_ballot, value, config.lease_duration_ns)
        self._set(keys.tenure, layout.encode_tenure(tenure))
        if first_ballot == state.ballot:
            self._set(keys.succession, layout.encode_succession(first_ballot))
