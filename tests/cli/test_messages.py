"""What the CLI says: one duration format, readable watch lines, honest resign output, and
configurations or ids with which nothing would work refused up front with what is allowed."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from click.testing import CliRunner, Result

import fdb_election
from fdb_election.cli.context import CliContext
from fdb_election.cli.main import cli
from fdb_election.cli.output import error_text, format_seconds
from fdb_election.cli.run import departure_message
from fdb_election.election import ElectionConfig, LeaderState
from fdb_election.runtime import Departure, ElectorDriver, ManualClock
from fdb_election.runtime.settings import MIN_LEASE_S


def invoke(db: Any, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=CliContext(database_object=db))


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "-"),
        (-0.5, "expired"),
        (0, "0 s"),
        (0.0005, "0.5 ms"),
        (0.0125, "12.5 ms"),
        (0.85, "850 ms"),
        (0.9996, "1 s"),
        (1, "1 s"),
        (10 / 6, "1.67 s"),
        (10 / 3, "3.33 s"),
        (10, "10 s"),
        (99.96, "100 s"),
        (3600, "3600 s"),
    ],
)
def test_one_duration_format(seconds: float | None, shown: str) -> None:
    assert format_seconds(seconds) == shown


#: Durations as the CLI may print them; anything else (``0:00:02``, ``1666666666 ns``,
#: ``3.33333 s``) is a second format.
DURATION = re.compile(r"^(?:\d+(?:\.\d+)? (?:ms|s)|-|expired)$")


def test_config_and_status_show_durations_in_the_one_format(db: Any) -> None:
    shown = invoke(db, "init", "--lease", "10", "--heartbeat", "3.333333")
    assert shown.exit_code == 0, shown.output
    values = dict(re.findall(r"^  ([a-z ]+):\s+(.*)$", shown.stdout, re.M))
    assert values["lease"] == "10 s"
    assert values["heartbeat"] == "3.33 s"
    assert values["candidate timeout"] == "15 s"
    for command in (["config", "show"], ["status"]):
        result = invoke(db, *command)
        for name, value in re.findall(r"^  ([a-z ]+):\s+(.*)$", result.stdout, re.M):
            if name in ("lease", "heartbeat", "candidate timeout", "lease left"):
                assert DURATION.match(value), f"{command}: {name}: {value!r}"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["init", "--lease", "2", "--heartbeat", "3"], "interval (3 s) must be at most half"),
        (["init", "--heartbeat", "1", "--candidate-timeout", "0.5"], "timeout (500 ms) must"),
        (["init", "--lease", "0.001"], "a lease of 1 ms is too short"),
    ],
)
def test_configuration_errors_use_the_one_format(db: Any, args: list[str], expected: str) -> None:
    result = invoke(db, *args)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr
    assert " ns" not in result.stderr and "0:00" not in result.stderr


@pytest.mark.parametrize("command", [["init"], ["config", "set"]])
def test_a_lease_nobody_could_lead_with_is_refused_with_the_minimum(
    db: Any, command: list[str]
) -> None:
    if command == ["config", "set"]:
        assert invoke(db, "init").exit_code == 0
    result = invoke(db, *command, "--lease", "0.001", "--heartbeat", "0.0003")
    assert result.exit_code == 2, result.output
    assert "at least 100 ms" in result.stderr
    assert "--lease" in result.stderr
    ok = invoke(db, *command, "--lease", str(MIN_LEASE_S), "--heartbeat", "0.03")
    assert ok.exit_code == 0, ok.output


def test_electors_refuse_a_lease_below_the_minimum() -> None:
    db = fdb_election.connect("memory:")
    too_short = fdb_election.ElectionConfig.with_lease_duration(0.001)
    with pytest.raises(ValueError, match=r"at least 100 ms"):
        fdb_election.Elector(db, "x", config=too_short)
    with pytest.raises(ValueError, match=r"at least 100 ms"):
        fdb_election.aio.Elector(db, "x", config=too_short)


def test_the_minimum_lease_keeps_a_leader() -> None:
    """At the shortest lease allowed, a leader stepped when it asks (plus the most a driver's
    batch window may add) refreshes in time, thirty times over: the same tenure throughout.
    On a manual clock, so that a stall of the test machine cannot decide it."""
    db = fdb_election.connect("memory:")
    clock = ManualClock(start=100.0)
    config = fdb_election.ElectionConfig.with_lease_duration(MIN_LEASE_S)
    elector = fdb_election.Elector(db, "x", config=config, clock=clock)
    core = elector.core
    window = ElectorDriver(db)._window(core.heartbeat)  # a due step waits this much at most
    for _ in range(10):
        clock.advance(core.step())
        if core.is_leader:
            break
    assert core.is_leader, core.last_error
    first = elector.ballot
    stored = elector.leader
    assert stored is not None
    for refresh in range(30):
        clock.advance(core.step() + window)
        assert core.is_leader and elector.ballot == first, f"tenure lost at refresh {refresh}"
    stored_now = elector.leader
    assert stored_now is not None and stored_now.ballot >= stored.ballot + 30, "no refreshes"


def test_an_oversized_process_id_is_refused_by_the_constructor() -> None:
    db = fdb_election.connect("memory:")
    with pytest.raises(ValueError, match="at most 10000 bytes") as caught:
        fdb_election.Elector(db, "x", process_id="p" * 100_000)
    assert len(str(caught.value)) < 200, "the message does not repeat the id"
    with pytest.raises(ValueError, match="at most 10000 bytes"):
        fdb_election.aio.Elector(db, "x", process_id="p" * 10_000)
    with pytest.raises(ValueError, match="valid Unicode"):
        fdb_election.Elector(db, "x", process_id="\ud800")
    fdb_election.Elector(db, "x", process_id="p" * 9_000)  # fits: accepted


def test_run_refuses_an_oversized_id_as_a_usage_error(db: Any) -> None:
    result = invoke(db, "run", "--id", "p" * 100_000, "--", "true")
    assert result.exit_code == 2, result.output
    assert "'--id'" in result.stderr and "at most 10000 bytes" in result.stderr
    assert len(result.stderr) < 1000


def test_watch_lines_quote_values_with_spaces(db: Any) -> None:
    assert invoke(db, "init", "--lease", "5").exit_code == 0
    result = invoke(db, "status", "--watch", "--count", "1")
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d leader=none ballot=- fencing_token=- lease_left=- "
        r'candidates="0 alive of 0"',
        line,
    ), line


def test_resign_names_the_next_leader(db: Any) -> None:
    config = fdb_election.ElectionConfig.with_lease_duration(2)
    with fdb_election.Elector(db, "default", process_id="svc-1", config=config) as a:
        assert a.wait_for_leadership(timeout=10)
        with fdb_election.Elector(db, "default", process_id="svc-2", config=config) as b:
            plain = invoke(db, "resign", "--id", "svc-1", "--timeout", "10")
            assert plain.exit_code == 0, plain.output
            assert b.wait_for_leadership(timeout=10)
            ballot = b.ballot
            assert (
                plain.stdout.strip()
                == f"'svc-1' stepped down; 'svc-2' leads now (ballot {ballot})."
            )
            answer = json.loads(invoke(db, "resign", "--id", "svc-2", "--json").stdout)
            assert answer["stepped_down"] is True
            assert answer["leader"] == "svc-1" and answer["ballot"] > ballot


def test_resign_says_when_nobody_has_taken_over(db: Any) -> None:
    config = fdb_election.ElectionConfig.with_lease_duration(1)
    with fdb_election.Elector(db, "default", process_id="solo", config=config) as elector:
        assert elector.wait_for_leadership(timeout=10)
        # The only candidate steps down; it may claim again itself, so either answer is honest,
        # but "leader is now none" while someone leads is not.
        result = invoke(db, "resign", "--id", "solo", "--timeout", "10")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        r"'solo' stepped down; (?:'solo' leads now \(ballot \d+\)|no other candidate has taken "
        r"over yet \(waited [0-9.]+ m?s; `fdb-election status` shows who leads\))\.",
        result.stdout.strip(),
    ), result.stdout


class _Stopped:
    """What ``departure_message`` reads of an elector after ``stop()``."""

    def __init__(
        self,
        departure: Departure | None,
        *,
        error: BaseException | None = None,
        enabled: bool = True,
    ) -> None:
        self.departure = departure
        self.core = self
        self.last_error = error
        self.config = ElectionConfig(lease_duration=5, election_enabled=enabled)
        self.lease = 5.0


_SUCCESSOR = LeaderState(7, "host-b", 0, 10**18, bytes(12))


@pytest.mark.parametrize(
    ("elector", "stopped", "said"),
    [
        (
            _Stopped(Departure(successor=_SUCCESSOR)),
            True,
            "handed leadership over to 'host-b' (ballot 7) and left the election",
        ),
        (
            _Stopped(Departure(resigned=True)),
            True,
            "resigned leadership (no other candidate is heartbeating) and left the election",
        ),
        (
            _Stopped(Departure(resigned=True), enabled=False),
            True,
            "resigned leadership (elections are disabled) and left the election",
        ),
        (_Stopped(Departure()), True, "left the election"),
        (_Stopped(None), True, "left the election"),  # stopped before it ever stepped
        (
            _Stopped(None),
            False,
            "could not leave the election within 5 s (no answer from the database): its "
            "registration stays until the leader evicts it, and leadership, if this process "
            "held it, passes on once its lease (5 s) runs out",
        ),
        (
            _Stopped(None, error=fdb_election.embedded.FDBError(1031)),
            False,
            "could not leave the election within 5 s (last error: Operation aborted because the "
            "transaction timed out (1031)): its registration stays until the leader evicts it, "
            "and leadership, if this process held it, passes on once its lease (5 s) runs out",
        ),
    ],
)
def test_run_says_last_how_it_left_the_election(elector: Any, stopped: bool, said: str) -> None:
    assert departure_message(elector, stopped, 5.0) == said


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (
            fdb_election.embedded.FDBError(1020),
            "Transaction not committed due to conflict with another transaction (1020)",
        ),
        (
            fdb_election.embedded.FDBError(1510, "cannot write the database file 'x'"),
            "Disk i/o operation failed (1510): cannot write the database file 'x'",
        ),
        (ValueError("bad"), "bad"),
        (TimeoutError(), "TimeoutError"),
    ],
)
def test_errors_are_shown_without_bytes_literals(error: BaseException, shown: str) -> None:
    assert error_text(error) == shown


def test_a_database_error_is_shown_in_words() -> None:
    db = fdb_election.embedded.open()
    assert invoke(db, "init").exit_code == 0
    db.set_fault_hook(lambda event, _tr: 1510 if event == "commit" else None)
    result = invoke(db, "config", "set", "--lease", "20")
    assert result.exit_code == 1
    assert result.stderr.strip().endswith(
        "database error on memory: (an in-memory embedded database): "
        "Disk i/o operation failed (1510)"
    ), result.stderr
