"""The leadership timeline picture: what it draws, its determinism, and the docs' copies."""

from __future__ import annotations

import io
import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fdb_election.sim import cli
from fdb_election.sim.faults import SimConfig
from fdb_election.sim.history import History, LeadershipChange
from fdb_election.sim.scenarios import SCENARIOS, leader_at, run_scenario
from fdb_election.sim.timeline import failover_gaps, record_segments, render_svg
from fdb_election.sim.world import Outcome, run_seed

SVG = "{http://www.w3.org/2000/svg}"
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
#: A random run with many kinds of faults, several leaders and failovers.
BUSY = SimConfig(duration=60.0)


@pytest.fixture(scope="module")
def crash() -> Outcome:
    return run_scenario("crash")


@pytest.fixture(scope="module")
def handover() -> Outcome:
    return run_scenario("handover")


@pytest.fixture(scope="module")
def busy() -> Outcome:
    return run_seed(7, BUSY)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def of_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("class") == name]


def rises(history: History) -> list[LeadershipChange]:
    return [e for e in history.events if isinstance(e, LeadershipChange) and e.is_leader]


def intervals(history: History) -> list[tuple[str, float, float]]:
    """(process, start, end) of every stretch a process reported is_leader."""
    since: dict[str, float] = {}
    found = []
    for event in history.events:
        if isinstance(event, LeadershipChange):
            if event.is_leader:
                since[event.process] = event.time
            else:
                found.append((event.process, since.pop(event.process), event.time))
    return found + [(name, t, history.end_time) for name, t in since.items()]


def texts(root: ET.Element) -> list[str]:
    return [e.text or "" for e in root.iter(f"{SVG}text")]


def test_one_lane_per_process_and_one_for_the_leader_record(busy: Outcome) -> None:
    root = parse(render_svg(busy.history))
    assert root.tag == f"{SVG}svg"
    lanes = [e.text for e in of_class(root, "lane")]
    assert lanes == [*busy.history.processes, "leader record"]
    hosts = [p for p in busy.history.processes if not p.endswith("'")]
    assert len(hosts) == BUSY.processes
    twins = {p.removesuffix("'") for p in busy.history.processes if p.endswith("'")}
    assert twins <= set(hosts), "a twin host shares the process id of one of the hosts"


def test_one_bar_per_leadership_interval_labelled_with_its_fencing_ballot(busy: Outcome) -> None:
    root = parse(render_svg(busy.history))
    bars = of_class(root, "lead")
    changes = rises(busy.history)
    assert len(changes) >= 3
    assert len(bars) == len(intervals(busy.history)) == len(changes)
    tokens = sorted((bar.findtext(f"{SVG}title") or "").rsplit("; ", 1)[1] for bar in bars)
    assert tokens == sorted(f"fencing token {change.ballot}" for change in changes)


def test_every_fault_has_a_marker_and_a_legend_entry(busy: Outcome) -> None:
    root = parse(render_svg(busy.history))
    markers = of_class(root, "fault")
    faults = busy.history.faults()
    assert len(faults) >= 5
    assert [m.get("data-kind") for m in markers] == [f.kind for f in faults]
    legend = " ".join(texts(root))
    assert "transaction stalled in flight" in legend or "stall" not in busy.faults
    assert len(of_class(root, "legend")) >= 2 + len(set(busy.faults))


def test_the_crash_scenario_shows_a_gap_of_about_a_lease(crash: Outcome) -> None:
    config = SCENARIOS["crash"].config
    history = crash.history
    assert crash.violations == []
    [(begin, end)] = failover_gaps(history)
    assert begin == SCENARIOS["crash"].at
    # The follower claims once the lease written by the crashed leader's last refresh has run
    # out (plus the elector's safety margin): about a lease after that refresh.
    victim, successor = record_segments(history)[:2]
    last_refresh = victim.writes[-1]
    assert config.lease <= successor.begin - last_refresh <= config.lease * 1.01 + 0.1
    assert config.lease - config.heartbeat * 1.2 < end - begin <= config.lease * 1.01 + 0.1
    root = parse(render_svg(history))
    assert len(of_class(root, "gap")) == 1
    assert f"no leader {end - begin:.2f} s" in texts(root)
    assert len(of_class(root, "lease")) == 1
    assert [m.get("data-kind") for m in of_class(root, "fault")] == ["crash"]


def test_the_handover_scenario_passes_leadership_on_without_a_gap(handover: Outcome) -> None:
    history = handover.history
    assert handover.violations == []
    at = SCENARIOS["handover"].at
    assert failover_gaps(history) == [(at, at)]
    first, second = rises(history)
    assert first.process != second.process
    assert leader_at(history, at + 0.001) == second.process
    root = parse(render_svg(history))
    assert of_class(root, "gap") == []
    assert len(of_class(root, "handover")) == 1
    assert [m.get("data-kind") for m in of_class(root, "fault")] == ["resign"]


def test_the_same_run_gives_the_same_bytes(crash: Outcome) -> None:
    again = run_scenario("crash")
    assert render_svg(again.history, title="t") == render_svg(crash.history, title="t")
    assert render_svg(run_seed(5, BUSY).history) == render_svg(run_seed(5, BUSY).history)
    assert render_svg(run_seed(6, BUSY).history) != render_svg(run_seed(5, BUSY).history)


def test_a_window_draws_only_what_overlaps_it(busy: Outcome) -> None:
    start, end = 10.0, 25.0
    root = parse(render_svg(busy.history, start=start, end=end))
    overlapping = [i for i in intervals(busy.history) if i[2] >= start and i[1] <= end]
    assert 0 < len(overlapping) < len(intervals(busy.history))
    assert len(of_class(root, "lead")) == len(overlapping)
    ticks = [float(t.text or "") for t in of_class(root, "tick")]
    assert ticks[0] >= start and ticks[-1] <= end
    assert 4 <= len(ticks) <= 13
    steps = {round(b - a, 6) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1


@pytest.mark.parametrize(("start", "end"), [(5.0, 5.0), (-1.0, 5.0), (0.0, 1000.0)])
def test_an_empty_or_outside_window_is_refused(crash: Outcome, start: float, end: float) -> None:
    with pytest.raises(ValueError, match=r"0 <= start < end <= 12 \(the run's length\)"):
        render_svg(crash.history, start=start, end=end)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_docs_images_are_what_the_command_draws_now(name: str, tmp_path: Path) -> None:
    """docs/images/timeline-NAME.svg must be regenerated (make docs-images) when this fails."""
    out = tmp_path / f"{name}.svg"
    status = cli.main(["--scenario", name, "--timeline", str(out)], out=io.StringIO())
    assert status == 0
    committed = IMAGES / f"timeline-{name}.svg"
    assert committed.read_text(encoding="utf-8") == out.read_text(encoding="utf-8"), (
        f"{committed} is stale: run python -m fdb_election.sim --scenario {name} "
        f"--timeline {committed}"
    )


def test_the_command_line_refuses_what_it_cannot_draw(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, reason in [
        (["--scenario", "nope"], "invalid choice: 'nope' (choose from 'crash', 'handover', "),
        (["--timeline", "x.svg"], "--timeline draws one run: give --replay SEED or --scenario"),
        (["--scenario", "crash", "--lease", "3"], "its own configuration; drop --lease"),
        (["--replay", "1", "--scenario", "crash"], "not allowed with argument"),
        (["--replay", "1", "--timeline", "x.svg", "--window", "9:3"], "0 <= START < END"),
        (["--replay", "1", "--window", "1:3"], "--window only applies to --timeline"),
    ]:
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 2
        assert reason in capsys.readouterr().err


def test_replay_draws_any_seed(tmp_path: Path) -> None:
    out = tmp_path / "seed.svg"
    log = io.StringIO()
    argv = ["--replay", "4", "--hours", "0.0125", "--timeline", str(out), "--window", "5:30"]
    assert cli.main(argv, out=log) == 0
    assert f"timeline: {out}" in log.getvalue()
    root = parse(out.read_text(encoding="utf-8"))
    assert "Leadership timeline, seed 4" in texts(root)
