"""What Linux's /proc says of a process, for the tests that start, stop and kill real ones."""

from __future__ import annotations


def state(pid: int) -> str | None:
    """The process's state letter (R, S, T: stopped, Z: zombie, ...); None once it is gone.

    A process reaped between opening and reading its ``stat`` file makes the read fail with
    ESRCH (ProcessLookupError): gone as well.
    """
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rfind(")") + 2]  # the name, in parentheses, may hold anything


def alive(pid: int) -> bool:
    """Whether the process exists and has not exited (a zombie has exited)."""
    return state(pid) not in (None, "Z")
