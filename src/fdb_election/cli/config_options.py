"""The configuration options shared by ``init`` and ``config set``, and how they apply.

Usage::

    @config_options
    def init(changes: ConfigChanges) -> None:
        config = changes.apply_to(ElectionConfig())   # only the given fields change

Values are validated by ``ElectionConfig`` itself (durations positive, heartbeat below the
lease, ...), so the CLI accepts exactly what the library accepts and says why otherwise.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

__all__ = ["ConfigChanges", "Seconds", "config_options"]

F = TypeVar("F", bound=Callable[..., Any])


class Seconds(click.ParamType):  # type: ignore[type-arg]
    """A positive, finite number of seconds (``1``, ``0.5``, ``2.5s``, ``250ms``)."""

    name = "seconds"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        else:
            text = str(value).strip().lower()
            scale = 1.0
            if text.endswith("ms"):
                text, scale = text[:-2], 0.001
            elif text.endswith("s"):
                text = text[:-1]
            try:
                seconds = float(text) * scale
            except ValueError:
                self.fail(
                    f"{value!r} is not a duration; give seconds such as 10, 0.5, 2.5s or 250ms",
                    param,
                    ctx,
                )
        if not math.isfinite(seconds) or seconds <= 0:
            self.fail(f"{value!r} must be a positive number of seconds", param, ctx)
        return seconds


SECONDS = Seconds()


@dataclass(frozen=True, slots=True)
class ConfigChanges:
    """The configuration fields given on the command line; None means "leave as is"."""

    lease: float | None = None
    heartbeat: float | None = None
    candidate_timeout: float | None = None
    enabled: bool | None = None
    preemption: bool | None = None

    def is_empty(self) -> bool:
        """True when no option was given."""
        return all(getattr(self, f.name) is None for f in dataclasses.fields(self))

    def field_updates(self) -> dict[str, Any]:
        """The given options as ``ElectionConfig`` field names (durations in nanoseconds)."""
        from fdb_election.election.times import to_nanos

        updates: dict[str, Any] = {}
        for option, field_name in (
            ("lease", "lease_duration"),
            ("heartbeat", "heartbeat_interval"),
            ("candidate_timeout", "candidate_timeout"),
        ):
            seconds = getattr(self, option)
            if seconds is not None:
                updates[f"{field_name}_ns"] = to_nanos(seconds, field_name, positive=True)
        if self.enabled is not None:
            updates["election_enabled"] = self.enabled
        if self.preemption is not None:
            updates["allow_preemption"] = self.preemption
        return updates

    def apply_to(self, config: Any) -> Any:
        """``config`` with the given fields replaced, validated by ``ElectionConfig``.

        Raises click.BadParameter (exit 2) saying what is allowed when the result is not a
        configuration electors can work with (``runtime.settings.config_problem``): the lease
        at least ``MIN_LEASE_S``, the
        heartbeat below the lease, the candidate timeout above the heartbeat. (Stored
        configurations may hold anything positive, as the seed and Rust accept it; an operator
        writing one with which nobody stays leader, or that evicts live candidates, is a
        mistake.)
        """
        from fdb_election.cli.output import format_seconds
        from fdb_election.runtime.settings import config_problem

        updates = self.field_updates()

        def seconds(field: str) -> float:
            key = f"{field}_ns"
            return int(updates.get(key, getattr(config, key))) / 1e9

        problem = config_problem(
            seconds("lease_duration"),
            seconds("heartbeat_interval"),
            seconds("candidate_timeout"),
            fmt=format_seconds,
        )
        if problem is not None:
            hint = {"lease_duration": "'--lease'", "heartbeat_interval": "'--heartbeat'"}
            raise click.BadParameter(
                f"invalid configuration: {problem.message}",
                param_hint=hint.get(problem.field, "'--candidate-timeout'"),
            )
        try:
            return dataclasses.replace(config, **updates)
        except (ValueError, TypeError) as exc:
            raise click.BadParameter(f"invalid configuration: {exc}") from exc

    def initial_config(self, config_type: Any) -> Any:
        """The configuration ``init`` creates: defaults, or derived from ``--lease`` alone.

        With ``--lease`` the heartbeat and candidate timeout default to lease/3 and 1.5 x lease
        (``ElectionConfig.with_lease_duration``), then any other given option applies.
        """
        try:
            base = (
                config_type.with_lease_duration(self.lease)
                if self.lease is not None
                else config_type()
            )
        except (ValueError, TypeError) as exc:
            raise click.BadParameter(f"invalid configuration: {exc}") from exc
        return self.apply_to(base)


def _collect(func: F) -> F:
    @functools.wraps(func)  # keeps the options already attached (``__click_params__``)
    def wrapper(
        lease: float | None,
        heartbeat: float | None,
        candidate_timeout: float | None,
        enabled: bool | None,
        preemption: bool | None,
        **kwargs: Any,
    ) -> Any:
        changes = ConfigChanges(lease, heartbeat, candidate_timeout, enabled, preemption)
        return func(changes=changes, **kwargs)

    return wrapper  # type: ignore[return-value]


def config_options(func: F) -> F:
    """Add ``--lease --heartbeat --candidate-timeout --enable/--disable
    --preemption/--no-preemption``; the command receives ``changes: ConfigChanges``."""
    decorated: Any = _collect(func)
    for option in reversed(
        [
            click.option("--lease", type=SECONDS, help="Lease duration in seconds."),
            click.option("--heartbeat", type=SECONDS, help="Heartbeat interval in seconds."),
            click.option(
                "--candidate-timeout",
                type=SECONDS,
                help="A candidate without a heartbeat for this long is dead.",
            ),
            click.option(
                "--enable/--disable",
                "enabled",
                default=None,
                help="Allow or forbid registering, heartbeats and claims.",
            ),
            click.option(
                "--preemption/--no-preemption",
                "preemption",
                default=None,
                help="Whether a higher-priority candidate may take over a live leader.",
            ),
        ]
    ):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]
