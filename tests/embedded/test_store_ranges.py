"""The binding API: range reads, slices, ``KeyValue``, key selectors, ``get_key``."""

from __future__ import annotations

import copy
import pickle
import sys

import fdb.tuple
import pytest
from store_helpers import binding_over_stub, committed, error_code

from fdb_election.embedded import KeySelector, StreamingMode, strinc

KEYS = [b"a", b"b", b"c", b"d", b"e"]


@pytest.fixture
def filled(db):
    def fill(tr):
        for k in KEYS:
            tr[k] = k.upper()

    committed(db, fill)
    return db


def keys(rows):
    return [kv.key for kv in rows]


def test_half_open_forward_and_reverse(filled):
    tr = filled.create_transaction()
    assert keys(tr.get_range(b"b", b"d")) == [b"b", b"c"]
    assert keys(tr.get_range(b"b", b"d", reverse=True)) == [b"c", b"b"]
    assert keys(tr.get_range(b"a", b"z", limit=2)) == [b"a", b"b"]
    assert keys(tr.get_range(b"a", b"z", limit=2, reverse=True)) == [b"e", b"d"]
    assert keys(tr.get_range(None, None)) == KEYS
    assert keys(tr.get_range(b"d", b"b")) == []


def test_slices(filled):
    tr = filled.create_transaction()
    assert keys(tr[b"b":b"d"]) == [b"b", b"c"]
    assert keys(tr[b"b":b"d":-1]) == [b"c", b"b"]
    assert keys(tr.snapshot[b"b":]) == [b"b", b"c", b"d", b"e"]


def test_fdbrange_is_iterable_not_a_list(filled):
    rng = filled.create_transaction().get_range(b"a", b"c")
    assert keys(rng) == keys(rng) == [b"a", b"b"]
    assert keys(rng.to_list()) == [b"a", b"b"]
    with pytest.raises(TypeError):
        len(rng)
    with pytest.raises(TypeError):
        rng[0]


def test_keyvalue_shape(filled):
    (kv,) = filled.create_transaction().get_range(b"a", b"b")
    assert kv.key == b"a" and kv.value == b"A"
    k, v = kv
    assert (k, v) == (b"a", b"A")
    with pytest.raises(TypeError):
        kv[0]
    (again,) = filled.create_transaction().get_range(b"a", b"b")
    assert kv != again
    assert dict(filled.create_transaction().get_range(b"a", b"c")) == {b"a": b"A", b"b": b"B"}


def test_startswith_and_tuple_ranges(db):
    def fill(tr):
        tr[b"p\x00"] = b"1"
        tr[b"p\x01"] = b"2"
        tr[b"q"] = b"3"
        tr[fdb.tuple.pack(("t", 1))] = b"4"
        tr[fdb.tuple.pack(("t",))] = b"5"

    committed(db, fill)
    tr = db.create_transaction()
    assert keys(tr.get_range_startswith(b"p")) == [b"p\x00", b"p\x01"]
    assert [kv.value for kv in tr[fdb.tuple.range(("t",))]] == [b"4"]


def test_range_errors(filled):
    tr = filled.create_transaction()
    assert error_code(lambda: list(tr.get_range(b"a", b"\xff\x01"))) == 2004
    exact = StreamingMode.exact
    assert error_code(lambda: list(tr.get_range(b"a", b"z", streaming_mode=exact))) == 2210
    assert keys(tr.get_range(b"a", b"z", limit=1, streaming_mode=StreamingMode.exact)) == [b"a"]


def test_strinc():
    assert strinc(b"a") == b"b"
    assert strinc(b"a\xff\xff") == b"b"
    with pytest.raises(ValueError):
        strinc(b"\xff\xff")


def test_streaming_mode_values():
    assert (StreamingMode.want_all, StreamingMode.iterator, StreamingMode.exact) == (-2, -1, 0)
    assert (StreamingMode.small, StreamingMode.medium, StreamingMode.large) == (1, 2, 3)
    assert StreamingMode.serial == 4


def test_key_selectors(filled):
    tr = filled.create_transaction()
    assert tr.get_key(KeySelector.first_greater_or_equal(b"b")) == b"b"
    assert tr.get_key(KeySelector.first_greater_than(b"b")) == b"c"
    assert tr.get_key(KeySelector.last_less_than(b"b")) == b"a"
    assert tr.get_key(KeySelector.last_less_or_equal(b"b")) == b"b"
    assert tr.get_key(KeySelector.first_greater_or_equal(b"bb")) == b"c"
    assert tr.get_key(KeySelector.first_greater_or_equal(b"b") + 2) == b"d"
    assert tr.get_key(KeySelector.last_less_or_equal(b"d") - 2) == b"b"
    assert tr.get_key(KeySelector.last_less_than(b"a")) == b""
    assert tr.get_key(KeySelector.first_greater_than(b"e")) == b"\xff"
    assert bytes(tr.get_key(KeySelector.first_greater_than(b"a"))) == b"b"


def test_selector_ranges(filled):
    tr = filled.create_transaction()
    rows = tr.get_range(KeySelector.first_greater_than(b"a"), KeySelector.first_greater_than(b"c"))
    assert keys(rows) == [b"b", b"c"]
    assert filled.get_key(KeySelector.last_less_than(b"c")) == b"b"


@pytest.fixture
def binding_key_selector(filled, monkeypatch):
    """The official binding's KeySelector class: the real one once libfdb_c is loaded (the fdb
    backend), otherwise the same class from the binding's source run over a stub C library."""
    impl = sys.modules.get("fdb.impl")
    if impl is None:
        impl, _stub = binding_over_stub(monkeypatch)
    return impl.KeySelector


@pytest.mark.parametrize("which", ["embedded", "binding"])
def test_either_selector_class_works_everywhere(filled, binding_key_selector, which):
    # One piece of code, with either class, on the embedded stores and on a cluster.
    selector = KeySelector if which == "embedded" else binding_key_selector
    tr = filled.create_transaction()
    rows = tr.get_range(selector.first_greater_than(b"a"), selector.first_greater_than(b"c"))
    assert keys(rows) == [b"b", b"c"]
    assert keys(tr[selector.last_less_or_equal(b"c") : selector.first_greater_than(b"d")]) == [
        b"c",
        b"d",
    ]
    assert tr.get_key(selector.last_less_than(b"c")) == b"b"
    assert tr.get_key(selector.first_greater_or_equal(b"b") + 2) == b"d"
    tr.clear(selector.first_greater_than(b"d"))  # e
    tr.clear_range(selector.last_less_than(b"b"), selector.first_greater_or_equal(b"b") + 1)
    tr.commit().wait()
    assert keys(filled.get_range(b"", b"\xff")) == [b"c", b"d"]
    assert filled.get_key(selector.last_less_or_equal(b"z")) == b"d"


def test_the_binding_takes_the_embedded_selector_as_its_own(monkeypatch):
    impl, stub = binding_over_stub(monkeypatch)
    ours = KeySelector.first_greater_than(b"a")
    assert isinstance(ours, impl.KeySelector) and isinstance(ours, KeySelector)
    assert type(ours) is KeySelector
    tr = impl.Transaction(7, None)
    tr.get_range(ours, KeySelector.last_less_or_equal(b"m") - 1, limit=3)
    args = next(a for name, a in stub.calls if name == "fdb_transaction_get_range")
    # (tr, begin key, length, or_equal, offset, end key, length, or_equal, offset, limit, ...)
    assert args[:10] == (7, b"a", 1, True, 1, b"m", 1, True, -1, 3)


def test_selectors_pickle_and_copy_as_embedded_selectors(monkeypatch):
    binding_over_stub(monkeypatch)
    selector = KeySelector.last_less_than(b"k") + 2
    for clone in (copy.copy(selector), pickle.loads(pickle.dumps(selector))):
        assert type(clone) is KeySelector
        assert (clone.key, clone.or_equal, clone.offset) == (b"k", False, 2)


def test_selectors_see_own_writes(filled):
    tr = filled.create_transaction()
    del tr[b"b"]
    tr[b"bb"] = b"new"
    assert tr.get_key(KeySelector.first_greater_than(b"a")) == b"bb"
    assert tr.get_key(KeySelector.last_less_than(b"c")) == b"bb"
