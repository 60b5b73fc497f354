"""The binding API: ``Database`` conveniences, ``tr.snapshot``, ``tr.db``."""

from __future__ import annotations

from fdb_election import embedded


def test_convenience_methods_return_plain_values(db):
    db[b"a"] = b"1"
    db.set(b"b", b"2")
    assert type(db[b"a"]) is bytes and db.get(b"b") == b"2"
    assert db[b"missing"] is None
    rows = db[b"a":b"z"]
    assert isinstance(rows, list) and [kv.key for kv in rows] == [b"a", b"b"]
    assert [kv.key for kv in db.get_range(b"a", b"z", reverse=True)] == [b"b", b"a"]
    assert [kv.key for kv in db.get_range_startswith(b"a")] == [b"a"]
    assert db.get_key(embedded.KeySelector.first_greater_than(b"a")) == b"b"
    del db[b"a"]
    assert db[b"a"] is None
    db.clear_range(b"a", b"z")
    assert db[b"":b"\xff"] == []


def test_database_has_no_transaction_only_methods(db):
    for name in ("watch", "snapshot", "get_read_version", "commit", "on_error"):
        assert not hasattr(db, name)


def test_transaction_links(db):
    tr = db.create_transaction()
    assert tr.db is db
    assert tr.snapshot.db is db
