"""Every command through click's CliRunner, on each database backend (the ``db`` fixture).

The CLI is given the fixture's open database (``CliContext(database_object=db)``), so these tests
run unchanged on the in-memory store, the file store and a real cluster. Output is not a
terminal here, so the plain and JSON forms are what is checked.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fdb_election.cli.context import CliContext
from fdb_election.cli.main import cli
from fdb_election.cli.naming import election_for
from fdb_election.election import LeaderElection, layout, now


def invoke(db: Any, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=CliContext(database_object=db))


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def commit(db: Any, body: Any) -> Any:
    tr = db.create_transaction()
    while True:
        try:
            value = body(tr)
            tr.commit().wait()
            return value
        except Exception as exc:
            if not isinstance(getattr(exc, "code", None), int):
                raise
            tr.on_error(exc).wait()


def register(db: Any, name: str, process_id: str, *, priority: int = 0, at: Any = None) -> None:
    election = election_for(name)
    commit(db, lambda tr: election.register_candidate(tr, process_id, priority, at or now()))


def claim(db: Any, name: str, process_id: str, *, priority: int = 0) -> Any:
    election = election_for(name)
    return commit(db, lambda tr: election.try_claim_leadership(tr, process_id, priority, now()))


@pytest.mark.parametrize(
    "args",
    [["status"], ["candidates"], ["config", "show"], ["config", "set", "--lease", "5"], ["evict"]],
)
def test_uninitialized_election_exits_3_with_a_hint(db: Any, args: list[str]) -> None:
    result = invoke(db, "--election", "nope", *args)
    assert result.exit_code == 3, result.output
    assert "election 'nope' is not initialized" in result.stderr
    assert "fdb-election --election nope init" in result.stderr


def test_init_is_idempotent_and_reports_what_it_did(db: Any) -> None:
    first = as_json(invoke(db, "init", "--lease", "2", "--json"))
    assert first["created"] is True
    assert first["election"] == "default"
    assert first["config"]["lease_s"] == 2.0
    again = invoke(db, "init", "--lease", "9")
    assert again.exit_code == 0
    assert "already initialized" in again.stdout
    assert "config set" in again.stdout
    config = as_json(invoke(db, "config", "show", "--json"))["config"]
    assert config == {
        "lease_s": 2.0,
        "heartbeat_s": pytest.approx(2 / 3, abs=1e-6),
        "candidate_timeout_s": 3.0,
        "election_enabled": True,
        "allow_preemption": True,
    }


def test_election_option_is_accepted_before_and_after_the_command(db: Any) -> None:
    assert invoke(db, "--election", "a", "init").exit_code == 0
    assert invoke(db, "init", "--election", "b", "--lease", "4").exit_code == 0
    assert (
        as_json(invoke(db, "config", "show", "--election", "a", "--json"))["config"]["lease_s"]
        == 10.0
    )
    shown = as_json(invoke(db, "--election", "a", "config", "show", "--election", "b", "--json"))
    assert shown["election"] == "b"
    assert shown["config"]["lease_s"] == 4.0


def test_config_set_changes_only_the_given_fields(db: Any) -> None:
    invoke(db, "init")
    changed = as_json(invoke(db, "config", "set", "--disable", "--no-preemption", "--json"))
    assert changed["config"] == {
        "lease_s": 10.0,
        "heartbeat_s": 3.0,
        "candidate_timeout_s": 15.0,
        "election_enabled": False,
        "allow_preemption": False,
    }
    changed = as_json(
        invoke(db, "config", "set", "--lease", "20", "--heartbeat", "250ms", "--json")
    )
    assert changed["config"]["lease_s"] == 20.0
    assert changed["config"]["heartbeat_s"] == 0.25
    assert changed["config"]["election_enabled"] is False


def test_config_without_a_command_shows_the_configuration(db: Any) -> None:
    invoke(db, "init", "--lease", "20", "--heartbeat", "5")
    bare, shown = invoke(db, "config"), invoke(db, "config", "show")
    assert bare.exit_code == 0 and bare.stdout == shown.stdout
    assert "lease:             20 s" in bare.stdout
    missing = invoke(db, "--election", "nowhere", "config")
    assert missing.exit_code == 3 and "not initialized" in missing.stderr


def test_config_set_rejects_an_invalid_result_and_writes_nothing(db: Any) -> None:
    invoke(db, "init")
    result = invoke(db, "config", "set", "--heartbeat", "12")
    assert result.exit_code == 2
    assert "heartbeat interval (12 s) must be at most half the lease (10 s)" in result.stderr
    assert as_json(invoke(db, "config", "show", "--json"))["config"]["heartbeat_s"] == 3.0


def test_a_candidate_timeout_not_above_the_heartbeat_is_refused_and_writes_nothing(
    db: Any,
) -> None:
    invoke(db, "init")
    result = invoke(db, "config", "set", "--candidate-timeout", "3")
    assert result.exit_code == 2
    assert "candidate timeout (3 s) must be above the heartbeat interval (3 s)" in result.stderr
    shown = as_json(invoke(db, "config", "show", "--json"))["config"]
    assert shown["candidate_timeout_s"] == 15.0
    fresh = invoke(
        db, "--election", "other", "init", "--heartbeat", "2", "--candidate-timeout", "1"
    )
    assert fresh.exit_code == 2 and "above the heartbeat" in fresh.stderr
    assert invoke(db, "--election", "other", "status").exit_code == 3, "nothing was created"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["config", "set"], "nothing to change"),
        (["config", "set", "--lease", "abc"], "not a duration"),
        (["config", "set", "--lease", "-1"], "positive number of seconds"),
        (["init", "--candidate-timeout", "0"], "positive number of seconds"),
        (["--election", "", "status"], "must not be empty"),
        (["run", "--priority", "99999999999", "--", "true"], "99999999999"),
    ],
)
def test_bad_values_are_usage_errors(db: Any, args: list[str], expected: str) -> None:
    result = invoke(db, *args)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr


def test_bad_url_is_a_usage_error_listing_the_schemes() -> None:
    result = CliRunner().invoke(cli, ["--db", "postgres://x", "status"])
    assert result.exit_code == 2
    assert "--db" in result.stderr
    assert "memory:" in result.stderr and "sqlite:" in result.stderr


def test_a_database_that_cannot_be_opened_is_an_operational_failure(tmp_path: Any) -> None:
    missing = tmp_path / "no-such-dir" / "x.fdbe"
    result = CliRunner().invoke(cli, ["--db", f"sqlite:{missing}", "init"])
    assert result.exit_code == 1, result.output
    assert "cannot open database" in result.output and "does not exist" in result.output
    assert not missing.parent.exists(), "nothing was created"


def test_status_and_candidates_show_leader_and_liveness(db: Any) -> None:
    invoke(db, "init", "--lease", "5")
    register(db, "default", "dead-one", at=now() - timedelta(hours=1))
    register(db, "default", "web-1", priority=5)
    register(db, "default", "web-2")
    state = claim(db, "default", "web-1", priority=5)
    assert state is not None

    status = as_json(invoke(db, "status", "--json"))
    assert status["election"] == "default"
    assert status["leader"]["process_id"] == "web-1"
    assert status["leader"]["ballot"] == state.ballot
    assert status["leader"]["priority"] == 5
    assert status["leader"]["lease_valid"] is True
    assert 0 < status["leader"]["lease_left_s"] <= 5.0
    assert len(status["leader"]["versionstamp"]) == 24
    assert status["candidates_alive"] == 2
    assert status["candidates_registered"] == 3
    assert status["config"]["lease_s"] == 5.0

    listed = as_json(invoke(db, "candidates", "--json"))["candidates"]
    assert [c["process_id"] for c in listed] == ["dead-one", "web-1", "web-2"]
    assert [c["alive"] for c in listed] == [False, True, True]
    assert [c["leader"] for c in listed] == [False, True, False]
    assert listed[0]["heartbeat_age_s"] > 3000
    stamps = [c["versionstamp"] for c in listed]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3

    plain = invoke(db, "candidates")
    assert plain.exit_code == 0
    lines = plain.stdout.splitlines()
    assert lines[1].split()[:2] == ["id", "priority"]
    assert any(line.startswith("web-1 *") for line in lines)
    assert "─" not in plain.stdout and "\x1b[" not in plain.stdout

    text = invoke(db, "status")
    assert "leader:" in text.stdout and "web-1" in text.stdout
    assert "2 alive of 3" in text.stdout


def test_status_shows_the_tenure_s_token_while_refreshes_raise_the_ballot(db: Any) -> None:
    invoke(db, "init", "--lease", "5")
    register(db, "default", "web-1")
    first = claim(db, "default", "web-1")
    refreshed = claim(db, "default", "web-1")  # the holder claiming again refreshes its lease
    assert first is not None and refreshed is not None
    assert refreshed.ballot > first.ballot
    leader = as_json(invoke(db, "status", "--json"))["leader"]
    assert (leader["ballot"], leader["token"]) == (refreshed.ballot, first.ballot)
    assert f"fencing token: {first.ballot}" in invoke(db, "status").stdout
    # A record another implementation wrote (no tenure record of ours belongs to it): no token.
    election = election_for("default")
    commit(
        db,
        lambda tr: tr.set(
            layout.leader_key(election.subspace),
            layout.encode_leader(dataclasses.replace(refreshed, ballot=refreshed.ballot + 1)),
        ),
    )
    assert as_json(invoke(db, "status", "--json"))["leader"]["token"] is None


def test_status_without_a_leader(db: Any) -> None:
    invoke(db, "init")
    status = as_json(invoke(db, "status", "--json"))
    assert status["leader"] is None
    assert status["candidates_alive"] == 0
    plain = invoke(db, "status").stdout
    assert "leader:        none" in plain
    assert "fencing token: -" in plain


def test_evict_removes_only_dead_candidates(db: Any) -> None:
    invoke(db, "init")
    register(db, "default", "gone", at=now() - timedelta(hours=1))
    register(db, "default", "here")
    assert as_json(invoke(db, "evict", "--json")) == {"election": "default", "evicted": 1}
    remaining = as_json(invoke(db, "candidates", "--json"))["candidates"]
    assert [c["process_id"] for c in remaining] == ["here"]
    assert "Evicted 0 dead candidates" in invoke(db, "evict").stdout


def test_evict_removes_a_backlog_in_bounded_transactions(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoke(db, "init")
    for i in range(7):
        register(db, "default", f"gone-{i}", at=now() - timedelta(hours=1))
    register(db, "default", "here")
    calls: list[tuple[int | None, int]] = []
    evict_some = LeaderElection.evict_dead_candidates

    def spy(self: LeaderElection, tr: Any, current_time: Any, *, limit: int | None = None) -> int:
        removed = evict_some(self, tr, current_time, limit=limit)
        calls.append((limit, removed))
        return removed

    monkeypatch.setattr(LeaderElection, "evict_dead_candidates", spy)
    assert as_json(invoke(db, "evict", "--batch", "3", "--json")) == {
        "election": "default",
        "evicted": 7,
    }
    assert calls == [(3, 3), (3, 3), (3, 1)]
    remaining = as_json(invoke(db, "candidates", "--json"))["candidates"]
    assert [c["process_id"] for c in remaining] == ["here"]


def test_candidate_records_that_do_not_decode_are_shown_and_removed_on_request(db: Any) -> None:
    # One garbled record must not hide the others, nor leave the operator without a remedy.
    invoke(db, "init")
    register(db, "default", "gone", at=now() - timedelta(hours=1))
    register(db, "default", "here")
    garbled = layout.candidate_key(election_for("default").subspace, "garbled")
    commit(db, lambda tr: tr.set(garbled, b"not a tuple"))

    listed = as_json(invoke(db, "candidates", "--json"))
    assert [c["process_id"] for c in listed["candidates"]] == ["gone", "here"]
    assert len(listed["unreadable"]) == 1 and "'garbled'" in listed["unreadable"][0]
    text = invoke(db, "candidates").stdout
    assert "do not decode: 1" in text and "evict --unreadable" in text
    assert as_json(invoke(db, "status", "--json"))["candidates_unreadable"] == 1

    refused = invoke(db, "evict")  # the seed's eviction cannot read past it: say what helps
    assert refused.exit_code == 1
    assert "'garbled'" in refused.output and "--unreadable" in refused.output
    assert as_json(invoke(db, "evict", "--unreadable", "--json")) == {
        "election": "default",
        "evicted": 1,
        "unreadable_removed": 1,
    }
    listed = as_json(invoke(db, "candidates", "--json"))
    assert [c["process_id"] for c in listed["candidates"]] == ["here"]
    assert listed["unreadable"] == []


def test_evict_rejects_a_batch_below_one(db: Any) -> None:
    invoke(db, "init")
    result = invoke(db, "evict", "--batch", "0")
    assert result.exit_code == 2
    assert "--batch" in result.output


def test_status_watch_prints_json_lines_and_stops_after_count(db: Any) -> None:
    invoke(db, "init")
    result = invoke(db, "status", "--watch", "--count", "1", "--json", "--interval", "0.05")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["leader"] is None


def test_resign_of_a_process_that_does_not_lead_exits_3(db: Any) -> None:
    invoke(db, "init")
    register(db, "default", "web-1")
    claim(db, "default", "web-1")
    result = invoke(db, "resign", "--id", "web-2")
    assert result.exit_code == 3
    assert "'web-2' is not the leader" in result.stderr
    assert "the leader is 'web-1'" in result.stderr


def test_resign_makes_a_running_elector_step_down(db: Any) -> None:
    from fdb_election.election import ElectionConfig
    from fdb_election.runtime import Elector

    config = ElectionConfig.with_lease_duration(2)
    with Elector(db, "default", process_id="svc-1", config=config) as elector:
        assert elector.wait_for_leadership(timeout=10)
        tenure = elector.ballot
        assert tenure is not None
        result = invoke(db, "resign", "--id", "svc-1", "--timeout", "10", "--json")
        assert result.exit_code == 0, result.output
        answer = json.loads(result.stdout)
        assert answer["stepped_down"] is True
        assert answer["process_id"] == "svc-1"
        # The only candidate may claim again after stepping down, but only in a new tenure.
        ballot = elector.ballot
        assert not elector.is_leader or (ballot is not None and ballot > tenure)
        assert answer["leader"] in (None, "svc-1")


def test_run_with_an_unknown_command_exits_127_before_campaigning(db: Any) -> None:
    result = invoke(db, "run", "--", "no-such-command-fdb-election-test")
    assert result.exit_code == 127
    assert "command not found: no-such-command-fdb-election-test" in result.stderr
    # Nothing was registered: the election was not even touched.
    assert invoke(db, "status").exit_code == 3


def test_run_refuses_a_grace_period_longer_than_the_lease_allows(db: Any) -> None:
    invoke(db, "init", "--lease", "1")
    result = invoke(db, "run", "--grace", "5", "--", "true")
    assert result.exit_code == 2
    assert "--grace 5 s is too long" in result.stderr
    assert as_json(invoke(db, "candidates", "--json"))["candidates"] == []


def test_run_requires_a_command(db: Any) -> None:
    result = invoke(db, "run")
    assert result.exit_code == 2
    assert "CMD" in result.stderr
