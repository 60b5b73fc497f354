"""Electors record Prometheus metrics once something in the process can export them.

Each check runs in a fresh interpreter: this test process has imported prometheus_client.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("prometheus_client")


def run_fresh(code: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_metrics_wait_for_prometheus_client_and_keep_what_happened() -> None:
    """An elector records nothing in Prometheus until prometheus_client is imported; then its
    gauges and counters read as if recorded all along."""
    code = """
        import sys, time
        import fdb_election
        from fdb_election import embedded

        config = fdb_election.ElectionConfig.with_lease_duration(1.0)
        elector = fdb_election.Elector(embedded.open(), "m", process_id="p", config=config)
        with elector:
            assert elector.wait_for_leadership(10)
            assert "prometheus_client" not in sys.modules
            import prometheus_client

            labels = {"election": "m", "process": "p"}
            deadline = time.monotonic() + 10
            while prometheus_client.REGISTRY.get_sample_value(
                "fdb_election_is_leader", labels
            ) is None:
                assert time.monotonic() < deadline, "no metrics after the next step"
                time.sleep(0.01)
            value = prometheus_client.REGISTRY.get_sample_value
            assert value("fdb_election_is_leader", labels) == 1.0
            assert value("fdb_election_ballot", labels) >= 1.0
            assert value("fdb_election_transitions_total", {**labels, "kind": "elected"}) == 1.0
        assert value("fdb_election_is_leader", labels) == 0.0
        """
    run_fresh(code)


def test_serve_http_starts_recording_at_once() -> None:
    code = """
        import sys
        import fdb_election
        from fdb_election import embedded

        elector = fdb_election.Elector(embedded.open(), "h", process_id="p").start()
        assert elector.wait_for_leadership(10)
        assert "prometheus_client" not in sys.modules
        with fdb_election.serve_http(elector):
            import prometheus_client

            labels = {"election": "h", "process": "p"}
            assert prometheus_client.REGISTRY.get_sample_value(
                "fdb_election_is_leader", labels
            ) == 1.0
        elector.stop(10)
        """
    run_fresh(code)
