"""The binding API: ``tr[key]`` is a lazy ``Value``; ``FDBError``; ``fdb.predicates``."""

from __future__ import annotations

import json
import struct

import pytest
from store_helpers import committed, error_code

from fdb_election.embedded import KeySelector


@pytest.fixture
def tr(db):
    committed(db, lambda tr: tr.set(b"k", b"hello"))
    return db.create_transaction()


def test_present_value_behaves_like_bytes(tr):
    v = tr[b"k"]
    assert isinstance(v, bytes)
    assert type(v) is not bytes
    assert v.present()
    assert v.value == b"hello"
    assert v == b"hello" and v != b"other"
    assert v < b"world" and v > b"a" and v <= b"hello" and v >= b"hello"
    assert bytes(v) == b"hello"
    assert len(v) == 5 and bool(v)
    assert v[1:3] == b"el" and v[0] == ord("h")
    assert v.decode() == "hello" and v.startswith(b"he") and v.upper() == b"HELLO"
    assert v + b"!" == b"hello!" and b">" + v == b">hello" and v * 2 == b"hellohello"
    assert hash(v) == hash(b"hello") and {v: 1}[b"hello"] == 1
    assert str(v) == repr(b"hello") and repr(v) == repr(b"hello")
    assert int.from_bytes(v, "little") == int.from_bytes(b"hello", "little")


def test_wait_returns_the_value_itself(tr):
    v = tr.get(b"k")
    assert v.wait() is v
    assert tr.get(b"missing").wait() is not None


def test_absent_value(tr):
    v = tr[b"missing"]
    assert not v.present()
    assert v.value is None
    assert v == None  # noqa: E711 - the binding's comparison semantics are what is tested
    assert v is not None
    assert str(v) == "None" and repr(v) == "None"
    for use in (bytes, len, bool, hash):
        with pytest.raises(TypeError):
            use(v)


def test_not_a_buffer(tr):
    v = tr[b"k"]
    with pytest.raises(TypeError):
        struct.unpack("5s", v)
    with pytest.raises(TypeError):
        memoryview(v)
    assert (b"e" in v) is False
    assert struct.unpack("5s", bytes(v)) == (b"hello",)


def test_json_loads_works(db):
    committed(db, lambda tr: tr.set(b"j", b'{"a": 1}'))
    tr = db.create_transaction()
    assert json.loads(tr[b"j"]) == {"a": 1}


# A read is answered later, on the network thread; destroying, resetting or cancelling its
# transaction first cancels it (1025). Measured on FoundationDB 7.3 with the temporary
# transaction below; the embedded store fails every read not yet used at that moment.


def test_read_of_a_dropped_transaction_is_cancelled(db):
    committed(db, lambda tr: tr.set(b"j", b'{"a": 1}'))
    assert error_code(lambda: json.loads(db.create_transaction()[b"j"])) == 1025
    value = db.create_transaction()[b"j"]  # the transaction is gone after this line
    assert error_code(value.present) == 1025
    assert error_code(lambda: bytes(value)) == 1025


def test_read_used_before_its_transaction_is_dropped_keeps_its_value(tr):
    value = tr[b"k"]
    assert value == b"hello"
    del tr
    assert value.present() and bytes(value) == b"hello"


@pytest.mark.parametrize(
    "abandon",
    [
        lambda tr: tr.reset(),
        lambda tr: tr.cancel(),
        lambda tr: tr.on_error(1020).wait(),
    ],
    ids=["reset", "cancel", "on_error"],
)
def test_reads_not_used_before_reset_or_cancel_are_cancelled(tr, abandon):
    used = tr[b"k"]
    assert used.present()
    value = tr[b"other"]
    key = tr.get_key(KeySelector.first_greater_or_equal(b"a"))
    rows = tr.get_range(b"a", b"z")
    abandon(tr)
    assert used == b"hello"
    assert error_code(value.present) == 1025
    assert error_code(key.wait) == 1025
    assert error_code(lambda: list(rows)) == 1025


def test_read_version_not_used_before_reset_is_cancelled(db):
    tr = db.create_transaction()
    version = tr.get_read_version()
    tr.reset()
    assert error_code(version.wait) == 1025


def test_a_commit_waits_for_reads_so_they_keep_their_results(tr):
    value = tr[b"k"]
    rows = tr.get_range(b"a", b"z")
    tr[b"w"] = b"1"
    tr.commit().wait()
    tr.reset()
    assert value == b"hello"
    assert [kv.key for kv in rows] == [b"k"]


def test_a_range_keeps_its_transaction_alive(tr):
    rows = tr.db.create_transaction().get_range(b"a", b"z")
    assert [kv.key for kv in rows] == [b"k"]


def test_value_usable_as_key_and_value(db):
    committed(db, lambda tr: tr.set(b"pointer", b"target"))
    tr = db.create_transaction()
    pointer = tr[b"pointer"]
    tr[pointer] = pointer
    tr.commit().wait()
    assert db[b"target"] == b"target"


def test_read_errors_raised_at_first_use_not_by_get(tr):
    v = tr.get(b"\xff\x00")  # outside the legal range: 2004, but only when used
    assert error_code(lambda: v.present()) == 2004
    assert error_code(lambda: tr[b"\xff"].value) == 2004


def test_oversized_key_reads_as_absent(tr):
    assert not tr[b"x" * 10_001].present()


@pytest.mark.parametrize("bad", ["text", bytearray(b"x"), 1, None])
def test_non_bytes_keys_are_type_errors_at_once(tr, bad):
    with pytest.raises(TypeError):
        tr.get(bad)
    with pytest.raises(TypeError):
        tr.set(bad, b"v")
    with pytest.raises(TypeError):
        tr.clear(bad)


@pytest.mark.parametrize("bad", ["text", 1, None])
def test_non_bytes_values_are_type_errors_at_once(tr, bad):
    with pytest.raises(TypeError):
        tr.set(b"k", bad)


def test_subspace_and_objects_with_key_hooks_are_keys(db):
    from fdb.subspace_impl import Subspace

    class Named:
        def as_foundationdb_key(self):
            return b"named"

        def as_foundationdb_value(self):
            return b"payload"

    tr = db.create_transaction()
    tr[Subspace(("app",))] = Named()
    tr[Named()] = b"1"
    tr.commit().wait()
    assert db[Subspace(("app",)).key()] == b"payload"
    assert db[b"named"] == b"1"


def test_fdberror_shape():
    from fdb_election.embedded import FDBError, predicates

    e = FDBError(1020)
    assert isinstance(e, Exception)
    assert e.code == 1020 and e.args == (1020,)
    assert e.description == b"Transaction not committed due to conflict with another transaction"
    assert str(e) == "b'Transaction not committed due to conflict with another transaction' (1020)"
    assert repr(e) == "FDBError(1020)"
    assert FDBError(1021).description == b"Transaction may or may not have committed"
    assert FDBError(99999).description == b"UNKNOWN_ERROR"
    for code in (1007, 1009, 1025, 1031, 1032, 1034, 1036, 1101, 2000, 2004, 2005, 2017):
        assert FDBError(code).description != b"UNKNOWN_ERROR"
    for code in (2020, 2021, 2101, 2102, 2103):
        assert FDBError(code).description != b"UNKNOWN_ERROR"

    assert predicates.is_retryable(FDBError(1020)) and predicates.is_retryable(FDBError(1021))
    assert predicates.is_maybe_committed(FDBError(1021))
    assert predicates.is_maybe_committed(FDBError(1039))
    assert not predicates.is_maybe_committed(FDBError(1020))
    assert predicates.is_retryable_not_committed(FDBError(1007))
    assert not predicates.is_retryable_not_committed(FDBError(1021))
    assert not predicates.is_retryable(FDBError(2004))
