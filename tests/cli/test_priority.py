"""``run`` winding down: every thread of the process gets the nicest CPU priority."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

PROGRAM = textwrap.dedent(
    """
    import json, os, threading
    from fdb_election.cli.priority import lower_own_priority

    ready, done = threading.Event(), threading.Event()
    def other():
        ready.set()
        done.wait(10)
    thread = threading.Thread(target=other)
    thread.start()
    ready.wait(10)
    tids = sorted(int(t) for t in os.listdir("/proc/self/task"))
    before = [os.getpriority(os.PRIO_PROCESS, t) for t in tids]
    lower_own_priority()
    after = [os.getpriority(os.PRIO_PROCESS, t) for t in tids]
    done.set()
    thread.join()
    print(json.dumps({"before": before, "after": after}))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_every_thread_of_the_process_gets_the_nicest_priority() -> None:
    # In a process of its own: the test runner's priority stays as it is.
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM], check=True, capture_output=True, text=True, timeout=30
    ).stdout
    seen = json.loads(out)
    assert len(seen["after"]) >= 2  # the main thread and the other one
    assert seen["after"] == [19] * len(seen["after"])
    assert seen["before"] != seen["after"]
