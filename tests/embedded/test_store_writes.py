"""The binding API: writes, read-your-writes, deferred write errors, size limits."""

from __future__ import annotations

import pytest
from store_helpers import committed, error_code


def test_writes_are_buffered_until_commit(db):
    tr = db.create_transaction()
    tr[b"a"] = b"1"
    assert db[b"a"] is None
    tr.commit().wait()
    assert db[b"a"] == b"1"


def test_dropped_transaction_discards_writes(db):
    tr = db.create_transaction()
    tr[b"a"] = b"1"
    del tr
    assert db[b"a"] is None


def test_read_your_writes(db):
    committed(db, lambda tr: [tr.set(k, b"old") for k in (b"a", b"b", b"c", b"d")])
    tr = db.create_transaction()
    tr[b"a"] = b"new"
    del tr[b"b"]
    del tr[b"c":b"d"]
    tr[b"e"] = b"added"
    assert tr[b"a"] == b"new"
    assert not tr[b"b"].present() and not tr[b"c"].present()
    assert [(kv.key, kv.value) for kv in tr[b"a":b"z"]] == [
        (b"a", b"new"),
        (b"d", b"old"),
        (b"e", b"added"),
    ]
    assert [kv.key for kv in tr.get_range(b"a", b"z", reverse=True, limit=2)] == [b"e", b"d"]
    assert tr.snapshot[b"a"] == b"new"


def test_clear_range_then_set_inside_it(db):
    committed(db, lambda tr: [tr.set(k, b"x") for k in (b"a", b"b", b"c")])
    tr = db.create_transaction()
    tr.clear_range(b"a", b"z")
    tr[b"b"] = b"back"
    assert [kv.key for kv in tr[b"":b"\xff"]] == [b"b"]
    tr.commit().wait()
    assert [kv.key for kv in db[b"":b"\xff"]] == [b"b"]


def test_clear_range_startswith_and_none_bounds(db):
    committed(db, lambda tr: [tr.set(k, b"x") for k in (b"pa", b"pb", b"q")])
    committed(db, lambda tr: tr.clear_range_startswith(b"p"))
    assert [kv.key for kv in db[b"":b"\xff"]] == [b"q"]
    committed(db, lambda tr: tr.clear_range(None, None))
    assert db[b"":b"\xff"] == []


def test_deferred_key_too_large_raised_by_next_read(db):
    tr = db.create_transaction()
    tr.set(b"x" * 10_001, b"v")  # no error yet
    assert error_code(lambda: tr[b"a"].present()) == 2102
    assert error_code(lambda: tr.commit().wait()) == 2102


def test_deferred_errors_raised_by_commit(db):
    cases = {
        2102: lambda tr: tr.set(b"x" * 10_001, b"v"),
        2103: lambda tr: tr.set(b"k", b"v" * 100_001),
        2004: lambda tr: tr.set(b"\xff\x01", b"v"),
        2005: lambda tr: tr.clear_range(b"b", b"a"),
        2000: lambda tr: tr.set_versionstamped_value(b"k", b"short"),
    }
    for code, write in cases.items():
        tr = db.create_transaction()
        write(tr)
        assert error_code(lambda tr=tr: tr.commit().wait()) == code, code


def test_exactly_at_limits_commits(db):
    key = b"k" * 10_000
    committed(db, lambda tr: tr.set(key, b"v" * 100_000))
    assert len(db[key]) == 100_000


def test_clearing_over_long_key_is_silent(db):
    committed(db, lambda tr: tr.clear(b"x" * 10_001))


def test_transaction_too_large_at_commit(db):
    tr = db.create_transaction()
    for i in range(101):
        tr[b"big%03d" % i] = b"v" * 100_000
    assert error_code(lambda: tr.commit().wait()) == 2101


def test_size_limit_option(db):
    tr = db.create_transaction()
    tr.options.set_size_limit(1000)
    tr[b"k"] = b"v" * 2000
    assert error_code(lambda: tr.commit().wait()) == 2101
    tr = db.create_transaction()
    tr.options.set_size_limit(1000)
    tr[b"k"] = b"v" * 100
    tr.commit().wait()


def test_use_after_commit_is_2017(db):
    tr = db.create_transaction()
    tr[b"a"] = b"1"
    tr.commit().wait()
    assert error_code(lambda: tr[b"a"].present()) == 2017
    assert error_code(lambda: tr.commit().wait()) == 2017
    tr.reset()
    assert tr[b"a"] == b"1"


def test_cancel_makes_every_use_1025_until_reset(db):
    tr = db.create_transaction()
    tr[b"a"] = b"1"
    tr.cancel()
    assert error_code(lambda: tr[b"a"].present()) == 1025
    assert error_code(lambda: tr.commit().wait()) == 1025
    tr.reset()
    assert not tr[b"a"].present()
    tr.commit().wait()


def test_conflict_range_arguments(db):
    tr = db.create_transaction()
    assert error_code(lambda: tr.add_read_conflict_range(b"b", b"a")) == 2005
    assert error_code(lambda: tr.add_write_conflict_range(b"b", b"a")) == 2005
    with pytest.raises(TypeError):
        tr.add_read_conflict_key("a")
