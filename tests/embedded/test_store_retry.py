"""The binding API: ``on_error``, retry limits, backoff, options, timeouts, 1007."""

from __future__ import annotations

import random
import struct

import pytest
from store_helpers import error_code

from fdb_election import embedded


class FakeClock:
    """Monotonic seconds that move only when told; ``sleep`` advances them and records."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fake_db(clock):
    return embedded.open(clock=clock, sleep=clock.sleep, rng=random.Random(7))


# -- portable rules (every backend) ------------------------------------------------------------


def test_on_error_retryable_resets_the_attempt(db):
    tr = db.create_transaction()
    tr[b"a"] = b"1"
    tr.on_error(1020).wait()
    assert not tr[b"a"].present()
    tr.commit().wait()
    assert db[b"a"] is None


def test_on_error_accepts_fdberror_objects(db):
    tr = db.create_transaction()
    tr[b"x" * 10_001] = b"v"
    try:
        tr.commit().wait()
    except Exception as e:
        caught = e
    assert caught.code == 2102
    with pytest.raises(type(caught)) as raised:
        tr.on_error(caught).wait()
    assert raised.value.code == 2102


def test_non_retryable_reraises_and_cancels_until_reset(db):
    tr = db.create_transaction()
    assert error_code(lambda: tr.on_error(2004).wait()) == 2004
    assert error_code(lambda: tr[b"a"].present()) == 1025
    assert error_code(lambda: tr.commit().wait()) == 1025
    assert error_code(lambda: tr.on_error(1020).wait()) == 1025
    tr.reset()
    assert not tr[b"a"].present()


def test_retry_limit_allows_n_plus_one_attempts(db):
    tr = db.create_transaction()
    tr.options.set_retry_limit(2)
    tr.options.set_max_retry_delay(1)
    attempts = 1
    while True:
        if error_code(lambda: tr.on_error(1020).wait()) == 1020:
            break
        attempts += 1
    assert attempts == 3
    assert error_code(lambda: tr[b"a"].present()) == 1025


def test_option_setters_are_type_strict(db):
    tr = db.create_transaction()
    with pytest.raises(struct.error):
        tr.options.set_timeout(1.5)
    with pytest.raises(struct.error):
        tr.options.set_retry_limit("3")
    with pytest.raises(TypeError):
        tr.options.set_causal_read_risky(1)
    tr.options.set_tag("batch-jobs")
    tr.options.set_debug_transaction_identifier(b"id")
    tr.options.set_priority_batch()
    tr.options.set_snapshot_ryw_disable()
    tr.options.set_snapshot_ryw_enable()
    with pytest.raises(AttributeError):
        db.options.set_timeout  # noqa: B018 - the attribute must not exist
    db.options.set_transaction_timeout(60_000)
    db.options.set_transaction_retry_limit(10)
    db.options.set_transaction_max_retry_delay(500)
    db.options.set_transaction_size_limit(1_000_000)
    db.options.set_max_watches(100)


def test_snapshot_ryw_disable(db):
    tr = db.create_transaction()
    tr[b"k"] = b"mine"
    tr.options.set_snapshot_ryw_disable()
    assert not tr.snapshot[b"k"].present()
    assert tr[b"k"] == b"mine"


def test_next_write_no_write_conflict_range(db):
    db[b"k"] = b"0"
    reader = db.create_transaction()
    assert reader[b"k"] == b"0"
    reader[b"x"] = b"1"
    writer = db.create_transaction()
    writer.options.set_next_write_no_write_conflict_range()
    writer[b"k"] = b"1"
    writer.commit().wait()
    reader.commit().wait()  # the write to k carried no conflict range


# -- time-dependent rules (embedded store, deterministic clock) -------------------------------


def test_backoff_doubles_with_jitter_up_to_max(fake_db, clock):
    tr = fake_db.create_transaction()
    tr.options.set_max_retry_delay(50)
    for _ in range(6):
        tr.on_error(1020).wait()
    rng = random.Random(7)
    expected = [b * rng.random() for b in (0.01, 0.02, 0.04, 0.05, 0.05, 0.05)]
    assert clock.sleeps == pytest.approx(expected)


def test_too_old_and_future_version_retry_after_short_delay(fake_db, clock):
    tr = fake_db.create_transaction()
    tr.on_error(1007).wait()
    tr.options.set_max_retry_delay(5)
    tr.on_error(1009).wait()
    assert clock.sleeps == [0.01, 0.005]


@pytest.fixture(params=["memory", "sqlite"])
def aging_db(request, clock, tmp_path):
    """A memory or file store whose transaction clock is ``clock`` (so 5 s pass at once)."""
    path = None if request.param == "memory" else str(tmp_path / "aging.fdbe")
    db = embedded.open(path, clock=clock, sleep=clock.sleep, rng=random.Random(7))
    yield db
    db.close()


def test_reads_and_commits_after_five_seconds_are_1007(aging_db, clock):
    # By the read version's age alone: nobody else commits, nothing is pruned (the file store
    # used to let such a transaction live on).
    aging_db[b"k"] = b"v"
    tr = aging_db.create_transaction()
    assert tr[b"k"] == b"v"
    clock.now += 4.9
    assert tr[b"k"] == b"v"
    tr[b"k"] = b"new"
    clock.now += 0.2
    assert error_code(lambda: tr[b"other"].present()) == 1007
    assert error_code(lambda: list(tr.get_range(b"a", b"z"))) == 1007
    assert error_code(lambda: tr.get_key(embedded.KeySelector.last_less_than(b"z")).wait()) == 1007
    assert tr.get_read_version().wait() > 0  # the version itself is still reported
    assert error_code(lambda: tr.commit().wait()) == 1007
    tr.on_error(1007).wait()
    assert tr[b"k"] == b"v"
    tr[b"k"] = b"new"
    tr.commit().wait()
    assert aging_db[b"k"] == b"new"


def test_other_commits_do_not_change_the_five_seconds(aging_db, clock):
    aging_db[b"k"] = b"v"
    tr = aging_db.create_transaction()
    assert tr[b"k"] == b"v"
    for i in range(4):
        clock.now += 1.2
        aging_db[b"other"] = b"%d" % i
    assert tr[b"k"] == b"v"  # 4.8 s: still its own snapshot
    clock.now += 0.3
    assert error_code(lambda: tr[b"k"].present()) == 1007


def test_an_old_transaction_without_read_conflicts_still_commits(aging_db, clock):
    # FoundationDB's resolver only calls a commit too old when it has read conflict ranges.
    tr = aging_db.create_transaction()
    assert not tr.snapshot[b"k"].present()
    clock.now += 6
    tr[b"k"] = b"blind"
    tr.commit().wait()
    assert aging_db[b"k"] == b"blind"


def test_timeout_from_creation_survives_on_error(fake_db, clock):
    tr = fake_db.create_transaction()
    tr.options.set_timeout(1000)
    clock.now += 0.5
    tr.on_error(1020).wait()
    tr.options.set_timeout(1000)  # re-setting keeps the creation time as the start
    clock.now += 0.6
    assert error_code(lambda: tr[b"k"].present()) == 1031
    assert error_code(lambda: tr.commit().wait()) == 1031
    assert error_code(lambda: tr.on_error(1020).wait()) == 1031
    tr.reset()
    assert not tr[b"k"].present()


def test_timeout_set_after_deadline_fires_at_once(fake_db, clock):
    tr = fake_db.create_transaction()
    clock.now += 2
    tr.options.set_timeout(1000)
    assert error_code(lambda: tr[b"k"].present()) == 1031


def test_database_defaults_apply_and_reset_restores(fake_db, clock):
    fake_db.options.set_transaction_timeout(100)
    fake_db.options.set_transaction_retry_limit(0)
    tr = fake_db.create_transaction()
    assert error_code(lambda: tr.on_error(1020).wait()) == 1020
    tr.reset()
    clock.now += 0.2
    assert error_code(lambda: tr[b"k"].present()) == 1031


def test_invalid_option_values_defer_2006(fake_db):
    tr = fake_db.create_transaction()
    tr.options.set_size_limit(10)
    assert error_code(lambda: tr[b"k"].present()) == 2006
    with pytest.raises(embedded.FDBError) as raised:
        fake_db.options.set_transaction_size_limit(5)
    assert raised.value.code == 2006
