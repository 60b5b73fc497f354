"""The binding API: an empty conflict range (begin == end) conflicts with nothing."""

from __future__ import annotations

from store_helpers import committed, error_code


def test_an_empty_write_conflict_range_does_not_conflict_with_a_reader(db):
    committed(db, lambda tr: tr.set(b"a\x00", b"0"))
    reader = db.create_transaction()
    assert list(reader.get_range(b"a", b"b")) != []  # read conflict over [a, b)
    reader[b"x"] = b"1"
    writer = db.create_transaction()
    writer.add_write_conflict_range(b"a\x00", b"a\x00")
    writer[b"z"] = b"1"
    writer.commit().wait()
    assert error_code(lambda: reader.commit().wait()) is None


def test_an_empty_read_conflict_range_does_not_conflict_with_a_writer(db):
    committed(db, lambda tr: tr.set(b"k", b"0"))
    reader = db.create_transaction()
    reader.get_read_version().wait()
    reader.add_read_conflict_range(b"k", b"k")
    reader[b"x"] = b"1"
    committed(db, lambda tr: tr.set(b"k", b"1"))
    assert error_code(lambda: reader.commit().wait()) is None
