"""Lowering the CPU priority of a process that only winds down.

Once ``run``'s elector has handed leadership over (or resigned), all that is left for ``run`` is
to tear itself down, and that took several milliseconds of CPU right when, on the same host,
the successor starts its CMD: with the embedded store every candidate shares one machine.
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["lower_own_priority"]

#: The nicest nice value: the process runs when nothing else wants the CPU.
NICEST = 19


def lower_own_priority(nice: int = NICEST) -> None:
    """Give every thread of this process the nice value ``nice`` (at most raising it).

    Linux keeps a nice value per thread, so each thread listed in ``/proc/self/task`` gets it;
    elsewhere the process as a whole does. Best effort: a thread that ended meanwhile, or a
    refusal, leaves that thread as it was.
    """
    try:
        threads = [int(name) for name in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]  # the calling process
    for thread in threads:
        with contextlib.suppress(OSError):
            if os.getpriority(os.PRIO_PROCESS, thread) < nice:
                os.setpriority(os.PRIO_PROCESS, thread, nice)
