"""A picture of one simulated run: who believed it led, what the database held, what went wrong.

Usage::

    from fdb_election.sim.scenarios import run_scenario
    from fdb_election.sim.timeline import render_svg
    svg = render_svg(run_scenario("crash").history, title="A leader crashes")

or ``python -m fdb_election.sim --scenario crash --timeline crash.svg`` (``--replay SEED`` draws
any seed). The SVG is plain and self-contained (no script, no external font or style), on a white
background so it reads the same in a code host's light and dark themes, and a pure function of the
history: the same run gives the same bytes.

What it shows, one horizontal lane each:

* every process: bars where its elector reported ``is_leader``, labelled with the tenure's ballot
  (the fencing token ``fence()`` checks);
* the database's leader record: who holds it, the ballots written (a refresh writes the next
  ballot; ticks mark the writes) and, hatched, the time after the last lease written ran out while
  nobody had replaced it yet;
* faults as lettered markers on the lane they hit (the database lane for store-wide and operator
  faults), with a band for the ones that last;
* shaded, every failover gap: from the moment nobody reported ``is_leader`` to the next leader.

Note the simulated store commits in zero virtual time, so a graceful handover shows no gap at all;
on real stores it takes milliseconds (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from fdb_election.sim.history import Commit, Fault, History, LeaderRecord, LeadershipChange

__all__ = [
    "FAULT_STYLES",
    "LeadInterval",
    "RecordSegment",
    "failover_gaps",
    "leadership_intervals",
    "record_segments",
    "render_svg",
]


@dataclass(frozen=True, slots=True)
class LeadInterval:
    """``process`` reported ``is_leader`` with fencing token ``ballot`` from ``begin`` to ``end``.

    ``open`` when it still led at the end of the run.
    """

    process: str
    begin: float
    end: float
    ballot: int | None
    open: bool = False


@dataclass(frozen=True, slots=True)
class RecordSegment:
    """The stored leader record named ``holder`` from ``begin`` to ``end`` (one tenure).

    ``writes`` are the times of the claim and the refreshes, ``ballots`` the first and last ballot
    written, ``expires`` when the last lease written runs out (virtual time, from the writer's
    clock).
    """

    holder: str
    begin: float
    end: float
    ballots: tuple[int, int]
    writes: tuple[float, ...]
    expires: float


#: How each fault kind is drawn: (letter on the marker, colour, legend text).
FAULT_STYLES: dict[str, tuple[str, str, str]] = {
    "crash": ("C", "#c62828", "crash (band: down until restart)"),
    "pause": ("P", "#e65100", "process paused (band: frozen)"),
    "stall": ("S", "#6d4c41", "transaction stalled in flight"),
    "wall_step": ("W", "#00838f", "wall clock stepped"),
    "unavailable": ("U", "#37474f", "database unavailable"),
    "flaky": ("F", "#757575", "commits fail or report unknown result"),
    "config": ("K", "#558b2f", "configuration written"),
    "resign": ("R", "#1565c0", "graceful stop (band: stopped until restart)"),
    "step_down": ("D", "#6a1b9a", "operator asked the leader to step down"),
    "priority": ("Y", "#827717", "priority changed"),
    "duplicate": ("2", "#ad1457", "a second host starts with the same process id"),
}
_UNKNOWN_FAULT = ("?", "#000000", "other fault")

_PROCESS_COLOURS = (
    "#1f5fa8",
    "#b8461b",
    "#2e7d32",
    "#6a3d9a",
    "#00796b",
    "#8d5524",
    "#ad1457",
    "#455a64",
)
_TEXT = "#1a1a1a"
_MUTED = "#5f6368"
_GRID = "#dadce0"
_GAP_FILL = "#fdecea"
_GAP_TEXT = "#b71c1c"
_HANDOVER = "#2e7d32"

_WIDTH = 960
_LEFT = 130
_RIGHT = 24
_HEADER = 78  # the title and the gap labels above the lanes; each subtitle line adds _LINE
_LINE = 15
_LANE = 46
_BAR_TOP = 8
_BAR = 22
_BAND_TOP = 36
_DB_LANE = 66  # room under the record for the lease bracket
_NICE_STEPS: tuple[float, ...] = (
    *(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5),
    *(1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200),
)


# ---------------------------------------------------------------------- what to draw


def leadership_intervals(history: History) -> list[LeadInterval]:
    """Every interval during which one process reported ``is_leader``, in order of start."""
    started: dict[str, LeadershipChange] = {}
    intervals = []
    for event in history.events:
        if not isinstance(event, LeadershipChange):
            continue
        if event.is_leader:
            started.setdefault(event.process, event)
        elif event.process in started:
            rise = started.pop(event.process)
            intervals.append(LeadInterval(event.process, rise.time, event.time, rise.ballot))
    for rise in started.values():
        intervals.append(
            LeadInterval(rise.process, rise.time, history.end_time, rise.ballot, open=True)
        )
    return sorted(intervals, key=lambda i: (i.begin, i.process))


def failover_gaps(history: History) -> list[tuple[float, float]]:
    """From each moment nobody reported ``is_leader`` (after someone had) to the next leader.

    A gap still open at the end of the run ends at ``history.end_time``. Handovers with no gap
    appear as ``(t, t)``.
    """
    leading: set[str] = set()
    gaps = []
    since: float | None = None
    for event in history.events:
        if not isinstance(event, LeadershipChange):
            continue
        if event.is_leader:
            if not leading and since is not None:
                gaps.append((since, event.time))
                since = None
            leading.add(event.process)
        elif event.process in leading:
            leading.discard(event.process)
            if not leading:
                since = event.time
    if since is not None:
        gaps.append((since, history.end_time))
    return gaps


def _expiry(commit: Commit, leader: LeaderRecord) -> float:
    """When ``leader``'s lease runs out in virtual time, judged from its writer's wall clock."""
    if commit.wall_at_start is not None:
        return commit.time + (leader.lease_expiry_ns / 1e9 - commit.wall_at_start)
    config = commit.after.config
    return commit.time + (config.lease_ns / 1e9 if config is not None else 0.0)


def record_segments(history: History) -> list[RecordSegment]:
    """The database's leader record over the run, one segment per tenure."""
    segments: list[RecordSegment] = []
    current: RecordSegment | None = None
    previous: LeaderRecord | None = None
    for commit in history.commits():
        leader = commit.after.leader
        if leader == previous:
            continue
        claimed = any(op.name == "try_claim_leadership" for op in commit.ops)
        if current is not None and (
            leader is None or leader.leader_id != current.holder or claimed
        ):
            segments.append(_until(current, commit.time))
            current = None
        if leader is not None:
            if current is None:
                current = RecordSegment(
                    leader.leader_id,
                    commit.time,
                    commit.time,
                    (leader.ballot, leader.ballot),
                    (commit.time,),
                    _expiry(commit, leader),
                )
            else:
                current = RecordSegment(
                    current.holder,
                    current.begin,
                    commit.time,
                    (current.ballots[0], leader.ballot),
                    (*current.writes, commit.time),
                    _expiry(commit, leader),
                )
        previous = leader
    if current is not None:
        segments.append(_until(current, history.end_time))
    return segments


def _until(segment: RecordSegment, end: float) -> RecordSegment:
    return RecordSegment(
        segment.holder, segment.begin, end, segment.ballots, segment.writes, segment.expires
    )


# ---------------------------------------------------------------------- drawing helpers


def _num(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _seconds(value: float) -> str:
    """A duration for a label: milliseconds below one second."""
    if round(value * 1000) < 1000:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s"


def _text_width(text: str, size: float) -> float:
    """A generous estimate of a text's width in a sans-serif font (no font metrics here)."""
    return len(text) * size * 0.6


def _tick_step(span: float) -> float:
    for step in _NICE_STEPS:
        if span / step <= 12:
            return step
    return _NICE_STEPS[-1] * math.ceil(span / (12 * _NICE_STEPS[-1]))


def _tick_label(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{value:.{decimals}f}"


class _Canvas:
    """The SVG being built: the time scale of its plot area, and the legend keys used so far."""

    def __init__(self, start: float, end: float, top: float) -> None:
        self.start = start
        self.end = end
        self.top = top
        self.right = _WIDTH - _RIGHT
        self.root = ET.Element("svg", {"xmlns": "http://www.w3.org/2000/svg"})
        self.keys: list[str] = []

    def x(self, t: float) -> float:
        """The horizontal position of time ``t`` (clipped to the window)."""
        clipped = min(max(t, self.start), self.end)
        return _LEFT + (clipped - self.start) / (self.end - self.start) * (self.right - _LEFT)

    def visible(self, begin: float, end: float) -> bool:
        """Whether ``[begin, end]`` overlaps the window."""
        return end >= self.start and begin <= self.end

    def use(self, key: str) -> None:
        """Note that the legend needs an entry for ``key``."""
        if key not in self.keys:
            self.keys.append(key)

    def add(
        self, tag: str, parent: ET.Element | None, title: str, attrs: dict[str, str | float]
    ) -> ET.Element:
        """Append an element. Numbers are written with one decimal, ``_`` in names as ``-``
        (``class_`` is ``class``); ``title`` becomes a tooltip."""
        values = {
            key.rstrip("_").replace("_", "-"): value if isinstance(value, str) else _num(value)
            for key, value in attrs.items()
        }
        element = ET.SubElement(self.root if parent is None else parent, tag, values)
        if title:
            ET.SubElement(element, "title").text = title
        return element

    def rect(
        self, x: float, y: float, w: float, h: float, *, title: str = "", **style: str | float
    ) -> ET.Element:
        """A rectangle."""
        return self.add("rect", None, title, {"x": x, "y": y, "width": w, "height": h, **style})

    def line(
        self, x1: float, y1: float, x2: float, y2: float, *, title: str = "", **style: str | float
    ) -> ET.Element:
        """A line."""
        return self.add("line", None, title, {"x1": x1, "y1": y1, "x2": x2, "y2": y2, **style})

    def text(
        self,
        x: float,
        y: float,
        content: str,
        parent: ET.Element | None = None,
        **style: str | float,
    ) -> ET.Element:
        """A text."""
        element = self.add("text", parent, "", {"x": x, "y": y, **style})
        element.text = content
        return element

    def marker(self, x: float, y: float, kind: str, parent: ET.Element) -> None:
        """A fault's lettered circle centred on ``(x, y)``."""
        letter, colour, _ = FAULT_STYLES.get(kind, _UNKNOWN_FAULT)
        self.add("circle", parent, "", {"cx": x, "cy": y, "r": 6.5, "fill": colour})
        self.text(
            x,
            y + 3.5,
            letter,
            parent,
            font_size=9.5,
            font_weight="bold",
            fill="#ffffff",
            text_anchor="middle",
        )


# ---------------------------------------------------------------------- the picture


def render_svg(
    history: History,
    *,
    title: str | None = None,
    subtitle: str = "",
    start: float = 0.0,
    end: float | None = None,
) -> str:
    """The leadership timeline of ``history`` between ``start`` and ``end`` seconds, as SVG text.

    ``subtitle`` may have several lines. ``end`` defaults to the end of the run. Raises
    ``ValueError`` when the window is empty or lies outside the run.
    """
    end = history.end_time if end is None else end
    if not (0.0 <= start < end <= history.end_time):
        raise ValueError(
            f"the time window must satisfy 0 <= start < end <= {history.end_time:g} "
            f"(the run's length), got start={start:g} end={end:g}"
        )
    title = title or f"Leadership timeline, seed {history.seed}"
    notes = subtitle.splitlines()
    canvas = _Canvas(start, end, _HEADER + _LINE * len(notes))
    lanes = list(history.processes)
    lane_of = {name: i for i, name in enumerate(lanes)}
    colour = {name: _PROCESS_COLOURS[i % len(_PROCESS_COLOURS)] for i, name in enumerate(lanes)}
    db_top = canvas.top + len(lanes) * _LANE
    bottom = db_top + _DB_LANE

    background = canvas.rect(0, 0, _WIDTH, 0, fill="#ffffff")
    canvas.text(_LEFT, 28, title, font_size=17, font_weight="bold", fill=_TEXT)
    for i, note in enumerate(notes):
        canvas.text(_LEFT, 48 + _LINE * i, note, font_size=12, fill=_MUTED)
    _draw_gaps(canvas, history, bottom)
    _draw_grid(canvas, len(lanes), bottom)
    for i, name in enumerate(lanes):
        top = canvas.top + i * _LANE
        canvas.text(
            _LEFT - 12, top + 24, name, font_size=14, text_anchor="end", fill=_TEXT, class_="lane"
        )
    canvas.text(
        _LEFT - 12,
        db_top + 18,
        "leader record",
        font_size=13,
        text_anchor="end",
        fill=_TEXT,
        class_="lane",
    )
    canvas.text(_LEFT - 12, db_top + 33, "(database)", font_size=11, text_anchor="end", fill=_MUTED)
    _draw_record(canvas, history, db_top + _BAR_TOP, colour)
    _draw_leadership(canvas, history, lane_of, colour)
    _draw_faults(canvas, history, lane_of, db_top)
    height = _draw_legend(canvas, bottom + 52)

    for name, value in (
        ("width", str(_WIDTH)),
        ("height", _num(height)),
        ("viewBox", f"0 0 {_WIDTH} {_num(height)}"),
        ("font-family", "Helvetica, Arial, sans-serif"),
        ("role", "img"),
        ("aria-label", title),
    ):
        canvas.root.set(name, value)
    background.set("height", _num(height))
    ET.indent(canvas.root, space=" ")
    return ET.tostring(canvas.root, encoding="unicode") + "\n"


def _draw_gaps(canvas: _Canvas, history: History, bottom: float) -> None:
    """Shade every failover gap across the lanes and label its length above them."""
    rows = [-math.inf, -math.inf]  # right edge of the last label in each of two label rows
    for begin, end in failover_gaps(history):
        if not canvas.visible(begin, end):
            continue
        x0, x1 = canvas.x(begin), canvas.x(end)
        if end > begin:
            label, ink = f"no leader {_seconds(end - begin)}", _GAP_TEXT
            canvas.rect(
                x0,
                canvas.top,
                max(x1 - x0, 1.0),
                bottom - canvas.top,
                fill=_GAP_FILL,
                class_="gap",
                title=f"nobody led from {begin:.3f} s to {end:.3f} s",
            )
            canvas.use("gap")
        else:
            label, ink = "handover, no gap", _HANDOVER
            canvas.line(
                x0,
                canvas.top,
                x0,
                bottom,
                stroke=_HANDOVER,
                stroke_dasharray="4 3",
                class_="handover",
                title=f"handed over at {begin:.3f} s",
            )
            canvas.use("handover")
        half = _text_width(label, 11) / 2
        centre = min(max((x0 + x1) / 2, _LEFT + half), canvas.right - half)
        row = 0 if rows[0] < centre - half else 1
        rows[row] = centre + half + 6
        canvas.text(
            centre, canvas.top - 8 - 13 * row, label, font_size=11, fill=ink, text_anchor="middle"
        )


def _draw_grid(canvas: _Canvas, lanes: int, bottom: float) -> None:
    """Lane separators, the time axis and its ticks at round numbers of seconds."""
    for top in (*(canvas.top + k * _LANE for k in range(1, lanes + 1)), bottom):
        canvas.line(_LEFT, top, canvas.right, top, stroke=_GRID)
    y = bottom + 6
    canvas.line(_LEFT, y, canvas.right, y, stroke=_MUTED)
    step = _tick_step(canvas.end - canvas.start)
    for index in range(
        math.ceil(canvas.start / step - 1e-9), math.floor(canvas.end / step + 1e-9) + 1
    ):
        x = canvas.x(index * step)
        canvas.line(x, canvas.top, x, bottom, stroke=_GRID, stroke_dasharray="2 4")
        canvas.line(x, y, x, y + 5, stroke=_MUTED)
        canvas.text(
            x,
            y + 18,
            _tick_label(index * step, step),
            font_size=11,
            fill=_MUTED,
            text_anchor="middle",
            class_="tick",
        )
    canvas.text(_LEFT - 12, y + 18, "seconds", font_size=11, fill=_MUTED, text_anchor="end")


def _draw_leadership(
    canvas: _Canvas, history: History, lane_of: dict[str, int], colour: dict[str, str]
) -> None:
    """One bar per interval a process reported ``is_leader``, labelled with its ballot."""
    for lead in leadership_intervals(history):
        if not canvas.visible(lead.begin, lead.end):
            continue
        y = canvas.top + lane_of[lead.process] * _LANE + _BAR_TOP
        x0, x1 = canvas.x(lead.begin), canvas.x(lead.end)
        ballot = "?" if lead.ballot is None else str(lead.ballot)
        until = "the end of the run" if lead.open else f"{lead.end:.3f} s"
        tip = f"{lead.process} led from {lead.begin:.3f} s to {until}; fencing token {ballot}"
        canvas.rect(
            x0,
            y,
            max(x1 - x0, 1.5),
            _BAR,
            rx=3,
            fill=colour[lead.process],
            class_="lead",
            title=tip,
        )
        canvas.use("lead")
        label = f"leads · ballot {ballot}"
        if _text_width(label, 12) + 10 > x1 - x0:
            label = f"b{ballot}"
        if _text_width(label, 12) + 6 <= x1 - x0:
            canvas.text(x0 + 6, y + 15.5, label, font_size=12, font_weight="bold", fill="#ffffff")


def _draw_record(canvas: _Canvas, history: History, y: float, colour: dict[str, str]) -> None:
    """The stored leader record: a box per tenure with ticks at its writes; after its last lease
    ran out (while nobody replaced it) a hatched tail and a bracket spanning that lease."""
    for segment in record_segments(history):
        if not canvas.visible(segment.begin, segment.end):
            continue
        ink = colour.get(segment.holder, _MUTED)
        x0, x1 = canvas.x(segment.begin), canvas.x(segment.end)
        xe = canvas.x(min(max(segment.expires, segment.begin), segment.end))
        first, last = segment.ballots
        ballots = f"ballot {first}" if first == last else f"ballots {first}\u2013{last}"
        tip = (
            f"the database names {segment.holder} leader from {segment.begin:.3f} s to "
            f"{segment.end:.3f} s ({ballots}, {len(segment.writes)} writes); its last lease "
            f"runs out at {segment.expires:.3f} s"
        )
        canvas.rect(
            x0,
            y,
            max(xe - x0, 1.0),
            _BAR,
            fill=ink,
            fill_opacity="0.28",
            stroke=ink,
            class_="record",
            title=tip,
        )
        canvas.use("record")
        for write in segment.writes:
            if canvas.visible(write, write):
                canvas.line(
                    canvas.x(write),
                    y + _BAR - 6,
                    canvas.x(write),
                    y + _BAR,
                    stroke=ink,
                    stroke_width=1.5,
                )
        if segment.expires <= segment.end:
            _draw_expiry(canvas, segment, y, ink)
        label = f"{segment.holder} · {ballots}"
        if _text_width(label, 11) + 8 > x1 - x0:
            label = segment.holder
        if _text_width(label, 11) + 8 <= x1 - x0:
            canvas.text(x0 + 5, y + 14.5, label, font_size=11, fill=_TEXT)


def _draw_expiry(canvas: _Canvas, segment: RecordSegment, y: float, ink: str) -> None:
    """A record whose last lease ran out before anyone replaced it: the lease, then the tail."""
    last = segment.writes[-1]
    xw, xe, x1 = canvas.x(last), canvas.x(segment.expires), canvas.x(segment.end)
    lease = segment.expires - last
    label = f"lease {_seconds(lease)}"
    if xe - xw >= _text_width(label, 10) + 4:
        low = y + _BAND_TOP + 4  # under the fault markers
        canvas.line(
            xw,
            low,
            xe,
            low,
            stroke=_TEXT,
            stroke_width=0.8,
            class_="lease",
            title=f"written at {last:.3f} s, valid until {segment.expires:.3f} s",
        )
        for edge in (xw, xe):
            canvas.line(edge, low - 3, edge, low + 3, stroke=_TEXT, stroke_width=0.8)
        canvas.text((xw + xe) / 2, low + 11, label, font_size=10, fill=_TEXT, text_anchor="middle")
        canvas.use("lease")
    if x1 - xe >= 1.0:
        canvas.rect(
            xe,
            y,
            x1 - xe,
            _BAR,
            fill="#ffffff",
            stroke=ink,
            stroke_dasharray="3 2",
            class_="expired",
            title=f"lease ran out at {segment.expires:.3f} s",
        )
        for hx in range(math.ceil(xe / 6) * 6, math.floor(x1) + 1, 6):
            canvas.line(hx, y + 2, hx, y + _BAR - 2, stroke=ink, stroke_opacity="0.5")
        canvas.use("expired")


def _draw_faults(canvas: _Canvas, history: History, lane_of: dict[str, int], db_top: float) -> None:
    """A lettered marker for each fault on the lane it hit (a band for those that last)."""
    for fault in history.faults():
        if not canvas.visible(fault.time, fault.until):
            continue
        lane = lane_of.get(fault.process or "")
        y = (db_top if lane is None else canvas.top + lane * _LANE) + _BAND_TOP + 3
        x0, x1 = canvas.x(fault.time), canvas.x(fault.until)
        group = canvas.add(
            "g", None, _fault_text(fault), {"class_": "fault", "data-kind": fault.kind}
        )
        if x1 - x0 >= 1.0:
            colour = FAULT_STYLES.get(fault.kind, _UNKNOWN_FAULT)[1]
            canvas.add(
                "rect",
                group,
                "",
                {
                    "x": x0,
                    "y": y - 2,
                    "width": x1 - x0,
                    "height": 4,
                    "fill": colour,
                    "fill-opacity": "0.55",
                },
            )
        if canvas.visible(fault.time, fault.time):
            canvas.marker(x0, y, fault.kind, group)
        canvas.use(f"fault:{fault.kind}")


def _fault_text(fault: Fault) -> str:
    who = f" {fault.process}" if fault.process else ""
    span = f" until {fault.until:.3f} s" if fault.until > fault.time else ""
    detail = f" ({fault.detail})" if fault.detail else ""
    return f"{fault.kind}{who} at {fault.time:.3f} s{span}{detail}"


#: Legend entries for what is not a fault, in the order the legend lists them.
_KEYS = {
    "lead": "the elector reports is_leader (label: its fencing ballot)",
    "record": "leader record (ticks: claim and refresh writes)",
    "lease": "the last lease written, waited out before the next claim",
    "expired": "lease ran out, record not replaced yet",
    "gap": "no process leads",
    "handover": "handover with no leaderless time",
}


def _draw_legend(canvas: _Canvas, top: float) -> float:
    """The key for what the picture shows, wrapped into rows; the picture's height."""
    keys = [k for k in _KEYS if k in canvas.keys] + [k for k in canvas.keys if k not in _KEYS]
    x, y = float(_LEFT), top
    for key in keys:
        kind = key.removeprefix("fault:")
        text = _KEYS.get(key) or FAULT_STYLES.get(kind, _UNKNOWN_FAULT)[2]
        width = 26 + _text_width(text, 11) + 18
        if x + width > canvas.right and x > _LEFT:
            x, y = float(_LEFT), y + 20
        group = canvas.add("g", None, "", {"class_": "legend"})
        swatch = {"x": x, "y": y - 9, "width": 20, "height": 11}
        styles: dict[str, dict[str, str | float]] = {
            "lead": {"rx": 2, "fill": _PROCESS_COLOURS[0]},
            "record": {
                "fill": _PROCESS_COLOURS[0],
                "fill-opacity": "0.28",
                "stroke": _PROCESS_COLOURS[0],
            },
            "expired": {
                "fill": "#ffffff",
                "stroke": _PROCESS_COLOURS[0],
                "stroke-dasharray": "3 2",
            },
            "gap": {"fill": _GAP_FILL, "stroke": _GAP_TEXT, "stroke-width": 0.5},
        }
        if key in styles:
            canvas.add("rect", group, "", {**swatch, **styles[key]})
        elif key == "lease":
            canvas.add(
                "line",
                group,
                "",
                {"x1": x, "y1": y - 3.5, "x2": x + 20, "y2": y - 3.5, "stroke": _TEXT},
            )
        elif key == "handover":
            canvas.add(
                "line",
                group,
                "",
                {
                    "x1": x + 10,
                    "y1": y - 10,
                    "x2": x + 10,
                    "y2": y + 2,
                    "stroke": _HANDOVER,
                    "stroke-dasharray": "4 3",
                },
            )
        else:
            canvas.marker(x + 10, y - 3.5, kind, group)
        canvas.text(x + 26, y, text, group, font_size=11, fill=_TEXT)
        x += width
    return y + 16
