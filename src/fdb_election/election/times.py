"""Times and durations: what callers pass (timedelta or seconds), what is stored (int nanoseconds).

The seed passes ``std::time::Duration`` everywhere and stores whole nanoseconds as ``u64``. Python
callers expect ``datetime.timedelta`` or a number of seconds (what ``time.time()`` returns), so
every public operation accepts either, and this module is the single place that converts them.
"""

from __future__ import annotations

import math
import time
from datetime import timedelta

__all__ = [
    "NANOS_PER_SECOND",
    "U64_MAX",
    "TimeLike",
    "format_seconds",
    "nanos_to_timedelta",
    "now",
    "to_nanos",
]

#: Nanoseconds in one second.
NANOS_PER_SECOND = 1_000_000_000

#: Largest value the seed stores in a ``u64`` field (nanoseconds, ballots).
U64_MAX = 2**64 - 1

#: What public operations accept for a time or a duration.
TimeLike = timedelta | int | float

_NANOS_PER_MICRO = 1_000


def to_nanos(value: object, name: str, *, positive: bool = False) -> int:
    """Convert a ``timedelta`` or a number of seconds to integer nanoseconds.

    ``name`` is the argument's name, used in the error message. Negative values are refused
    (zero too when ``positive``), and so is anything above ``u64::MAX`` nanoseconds (about 584
    years), because that is what the durable layout can hold. Floats are converted exactly
    (their binary value), then rounded to the nearest nanosecond.

    Example::

        to_nanos(1.5, "lease_duration")  # 1_500_000_000
    """
    nanos: int
    if isinstance(value, timedelta):
        nanos = (
            value.days * 86_400 + value.seconds
        ) * NANOS_PER_SECOND + value.microseconds * _NANOS_PER_MICRO
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(
            f"{name} must be a datetime.timedelta or a number of seconds (int or float), "
            f"got {type(value).__name__}"
        )
    elif isinstance(value, int):
        nanos = value * NANOS_PER_SECOND
    else:
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
        nanos = _float_seconds_to_nanos(value)
    if nanos < 0 or (positive and nanos == 0):
        allowed = "greater than zero" if positive else "zero or more"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    if nanos > U64_MAX:
        raise ValueError(
            f"{name} must be at most 2**64-1 nanoseconds (about 584 years), got {value!r}"
        )
    return nanos


def _float_seconds_to_nanos(seconds: float) -> int:
    """``round(Fraction(seconds) * 10**9)`` in integers: exact, ties to even, ~10x faster.

    A finite float is exactly ``n / d`` with ``d`` a power of two, so the product's floor and
    remainder come from one integer ``divmod``; the remainder decides the rounding.
    """
    numerator, denominator = seconds.as_integer_ratio()
    quotient, remainder = divmod(numerator * NANOS_PER_SECOND, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient & 1):
        quotient += 1
    return quotient


def nanos_to_timedelta(nanos: int) -> timedelta:
    """Integer nanoseconds as a ``timedelta``, truncated to whole microseconds.

    Truncation (never rounding up) keeps a remaining lease from ever being overstated.
    """
    return timedelta(microseconds=nanos // _NANOS_PER_MICRO)


def now() -> timedelta:
    """The wall-clock time since the Unix epoch, as the seed's ``current_time`` expects.

    Example::

        election.run_election_cycle(tr, "worker-1", 0, fdb_election.now())
    """
    return timedelta(microseconds=time.time_ns() // _NANOS_PER_MICRO)


def format_seconds(seconds: float | None) -> str:
    """A duration, the one way every command shows one: three significant digits, in ``ms``
    below a second, else in ``s`` (whole seconds from 100 s): ``0.5 ms``, ``850 ms``,
    ``1.67 s``, ``10 s``, ``3600 s``. ``None`` is ``-``; negative values are ``expired``.

    Used by the CLI and in the library's messages; the text reads back as a CLI duration
    option (``--lease 1.67s``, ``--grace "850 ms"``).
    """
    if seconds is None:
        return "-"
    if seconds < 0:
        return "expired"
    if seconds == 0:
        return "0 s"
    if seconds < 0.9995:  # what rounds to 1000 ms is shown as 1 s
        return f"{seconds * 1000:.3g} ms"
    if seconds < 99.95:
        return f"{seconds:.3g} s"
    return f"{seconds:.0f} s"
