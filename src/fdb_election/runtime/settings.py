"""An elector's settings and callbacks: one definition, validated once, shared by every driver.

The thread ``Elector``, the asyncio ``aio.Elector`` and :func:`~.factory.build_core` take the same
options; they are defined once here, as :class:`ElectorOptions` (the keyword arguments), split
into :class:`ElectorSettings` (what the decision core needs) and :class:`ElectorCallbacks` (what
the driver delivers to). Both are frozen and check their fields in ``__post_init__``, so a bad
argument fails at construction with a message naming it, never in a background step.

The rules a configuration must follow for electors to keep a leader are here too
(:func:`config_problem`): the CLI refuses to write a configuration that breaks them, the electors
refuse it as ``config=`` and warn once when they find one stored by other means.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from fdb_election.election import ElectionConfig
from fdb_election.election.times import format_seconds
from fdb_election.election.validation import check_priority, check_process_id
from fdb_election.runtime.events import Demoted, Elected, LeaderChanged, Release
from fdb_election.runtime.tenure import DEFAULT_CLOCK_DRIFT

__all__ = [
    "MIN_LEASE_S",
    "ConfigProblem",
    "ElectorCallbacks",
    "ElectorOptions",
    "ElectorSettings",
    "check_elector_config",
    "config_problem",
    "split_options",
]

MIN_LEASE_S = 0.1
"""The shortest lease an elector accepts in a configuration it writes, in seconds.

A leader leads until the start of its last committed refresh plus the lease minus a margin
(``lease x clock drift + 5 ms``), and refreshes every heartbeat (a third of the lease by default,
give or take the jitter), so the lease has to cover the margin, a heartbeat, one commit and the
delays of a busy machine. Measured on the file store with the derived heartbeat (2 cores): a
10 ms lease is lost hundreds of times in 5 s, 20 ms holds on an idle machine but is lost dozens of
times with both cores busy, 50 ms holds in both; 100 ms keeps a factor of two above that and of
twenty above the 5 ms margin.
"""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """Why electors cannot work with a configuration: the ``field`` at fault, and ``message``."""

    field: str  #: ``lease_duration``, ``heartbeat_interval`` or ``candidate_timeout``
    message: str


def config_problem(
    lease: float, heartbeat: float, timeout: float, fmt: Callable[[float], str] = format_seconds
) -> ConfigProblem | None:
    """The first rule a configuration (in seconds) breaks, or None when electors can use it.

    The seed (and Rust) store any positive durations; electors need the lease at least
    :data:`MIN_LEASE_S` (else nobody stays leader), the heartbeat at most half the lease (else a
    single late refresh loses the lease; the seed only asks for it below the lease), and the
    candidate timeout above the heartbeat (else live candidates are judged dead between two
    heartbeats). ``fmt`` formats seconds in the messages.
    """
    if lease < MIN_LEASE_S:
        return ConfigProblem(
            "lease_duration",
            f"a lease of {fmt(lease)} is too short; it must be at least {fmt(MIN_LEASE_S)}, so "
            "that it covers a commit, a heartbeat and the clock-drift margin (below about 20 ms "
            "nobody stays leader)",
        )
    if heartbeat > lease / 2:
        return ConfigProblem(
            "heartbeat_interval",
            f"the heartbeat interval ({fmt(heartbeat)}) must be at most half the lease "
            f"({fmt(lease)}), so that the leader refreshes in time even when one refresh is "
            "late or fails; a third of the lease is usual",
        )
    if timeout <= heartbeat:
        return ConfigProblem(
            "candidate_timeout",
            f"the candidate timeout ({fmt(timeout)}) must be above the heartbeat interval "
            f"({fmt(heartbeat)}), or live candidates are judged dead between two heartbeats; "
            "several heartbeats is better",
        )
    return None


def _problem_of(config: ElectionConfig) -> ConfigProblem | None:
    return config_problem(
        config.lease_duration_ns / 1e9,
        config.heartbeat_interval_ns / 1e9,
        config.candidate_timeout_ns / 1e9,
    )


def check_elector_config(config: ElectionConfig, label: str = "config") -> None:
    """Raise ValueError (naming ``label`` and the field) when electors cannot use ``config``."""
    problem = _problem_of(config)
    if problem is not None:
        raise ValueError(f"{label}.{problem.field}: {problem.message}")


def _fraction(value: object, name: str, upper: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < upper:
        raise ValueError(f"{name} must be a fraction in [0, {upper:g}), got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class ElectorSettings:
    """What an elector campaigns with; checked on construction.

    ``process_id`` None means "generate ``hostname-pid-random``" (done by the factory, which has
    the random source). ``config`` is written only if the election has none. ``jitter`` (a
    fraction below 1) varies each heartbeat interval; ``clock_drift`` (below 0.5) is the rate
    difference of monotonic clocks the safety margin covers (a follower's clock may run up to
    ``1 / (1 - clock_drift)`` times as fast as the leader's: 1 % apart by default); ``metrics``
    exports Prometheus metrics when ``prometheus_client`` is installed.
    """

    process_id: str | None = None
    priority: int = 0
    config: ElectionConfig | None = None
    jitter: float = 0.1
    observer: bool = False
    clock_drift: float = DEFAULT_CLOCK_DRIFT
    metrics: bool = True

    def __post_init__(self) -> None:
        if self.process_id is not None:
            check_process_id(self.process_id)
        check_priority(self.priority)
        if self.config is not None:
            if not isinstance(self.config, ElectionConfig):
                raise TypeError(
                    f"config must be an ElectionConfig or None, got {type(self.config).__name__}"
                )
            check_elector_config(self.config)
        _fraction(self.jitter, "jitter", 1.0)
        _fraction(self.clock_drift, "clock_drift", 0.5)
        for name in ("observer", "metrics"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool, got {type(value).__name__}")


def _check_callable(value: object, name: str) -> None:
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be callable or None, got {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class ElectorCallbacks:
    """What the driver calls: events (on its callback thread or task) and the release hook.

    ``before_release(release)`` is not an event: it runs on the elector's own thread (or event
    loop) when leadership is given up voluntarily, after local leadership ended and before the
    resignation commits (see :class:`~.events.Release`).
    """

    on_elected: Callable[[Elected], object] | None = None
    on_demoted: Callable[[Demoted], object] | None = None
    on_leader_change: Callable[[LeaderChanged], object] | None = None
    before_release: Callable[[Release], object] | None = None

    def __post_init__(self) -> None:
        for name in ("on_elected", "on_demoted", "on_leader_change", "before_release"):
            _check_callable(getattr(self, name), name)


class ElectorOptions(TypedDict, total=False):
    """The keyword arguments every elector takes (see :class:`ElectorSettings` and
    :class:`ElectorCallbacks` for their meaning and defaults)."""

    process_id: str | None
    priority: int
    config: ElectionConfig | None
    jitter: float
    observer: bool
    clock_drift: float
    metrics: bool
    on_elected: Callable[[Elected], object] | None
    on_demoted: Callable[[Demoted], object] | None
    on_leader_change: Callable[[LeaderChanged], object] | None
    before_release: Callable[[Release], object] | None


_SETTINGS = frozenset(ElectorSettings.__dataclass_fields__)
_CALLBACKS = frozenset(ElectorCallbacks.__dataclass_fields__)


def split_options(
    options: Mapping[str, Any],
    settings: ElectorSettings | None = None,
    callbacks: ElectorCallbacks | None = None,
) -> tuple[ElectorSettings, ElectorCallbacks]:
    """Settings and callbacks from an elector's keyword arguments, over ``settings`` and
    ``callbacks`` when given (keyword arguments win). TypeError for an unknown keyword."""
    unknown = sorted(set(options) - _SETTINGS - _CALLBACKS)
    if unknown:
        known = ", ".join(sorted(_SETTINGS | _CALLBACKS))
        raise TypeError(f"unknown elector option(s) {', '.join(unknown)}; known: {known}")
    if settings is not None and not isinstance(settings, ElectorSettings):
        raise TypeError(f"settings must be ElectorSettings or None, got {type(settings).__name__}")
    if callbacks is not None and not isinstance(callbacks, ElectorCallbacks):
        raise TypeError(
            f"callbacks must be ElectorCallbacks or None, got {type(callbacks).__name__}"
        )
    settings_part = {k: v for k, v in options.items() if k in _SETTINGS}
    callbacks_part = {k: v for k, v in options.items() if k in _CALLBACKS}
    return (
        dataclasses.replace(settings or ElectorSettings(), **settings_part),
        dataclasses.replace(callbacks or ElectorCallbacks(), **callbacks_part),
    )
