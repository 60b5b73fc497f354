"""The binding API: atomic operations, checked on the store and against a plain model."""

from __future__ import annotations

import struct
import threading

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings
from store_helpers import committed

from fdb_election.embedded import mutations as m


def le(n: int, width: int = 8) -> bytes:
    return (n % (1 << (8 * width))).to_bytes(width, "little")


@pytest.mark.parametrize(
    ("op", "existing", "param", "expected"),
    [
        ("add", None, le(5), le(5)),
        ("add", b"", le(5), le(5)),
        ("add", le(5), b"", b""),
        ("add", le(5), le(-1), le(4)),
        ("add", b"\xff\xff", b"\x01", b"\x00"),
        ("add", b"\x01", b"\x01\x00\x00", b"\x02\x00\x00"),
        ("bit_and", None, b"\x0f", b"\x0f"),
        ("bit_and", b"", b"\x0f", b"\x00"),
        ("bit_and", b"\xff", b"\x0f\xff", b"\x0f\x00"),
        ("bit_and", b"\xff", b"", b""),
        ("bit_or", None, b"\x01", b"\x01"),
        ("bit_or", b"\x10", b"\x01\x02", b"\x11\x02"),
        ("bit_xor", b"\x11\x22\x33", b"\x01", b"\x10"),
        ("max", None, le(3), le(3)),
        ("max", le(7), le(3), le(7)),
        ("max", b"\x07", b"\x03\x00", b"\x07\x00"),
        ("max", le(3), b"", b""),
        ("min", None, le(3), le(3)),
        ("min", b"", b"\x03", b"\x00"),
        ("min", le(7), le(3), le(3)),
        ("byte_min", b"b", b"ab", b"ab"),
        ("byte_max", b"b", b"ab", b"b"),
        ("byte_min", None, b"z", b"z"),
        ("compare_and_clear", b"x", b"x", None),
        ("compare_and_clear", b"y", b"x", b"y"),
        ("compare_and_clear", None, b"x", None),
        ("append_if_fits", None, b"ab", b"ab"),
        ("append_if_fits", b"ab", b"cd", b"abcd"),
        ("append_if_fits", b"ab", b"", b"ab"),
        ("append_if_fits", b"a" * 99_999, b"bc", b"a" * 99_999),
    ],
)
def test_atomic_rules_on_the_store(db, op, existing, param, expected):
    if existing is not None:
        committed(db, lambda tr: tr.set(b"k", existing))
    committed(db, lambda tr: getattr(tr, op)(b"k", param))
    assert db[b"k"] == expected


def test_database_atomic_helpers(db):
    db.add(b"n", struct.pack("<q", 2))
    db.add(b"n", struct.pack("<q", 3))
    assert struct.unpack("<q", db[b"n"]) == (5,)


def test_atomic_then_read_sees_combined_value(db):
    committed(db, lambda tr: tr.set(b"n", le(10)))
    tr = db.create_transaction()
    tr.add(b"n", le(1))
    tr.add(b"n", le(2))
    assert tr[b"n"] == le(13)
    assert [kv.value for kv in tr[b"n":b"o"]] == [le(13)]


def test_concurrent_atomic_adds_never_conflict(db):
    errors = []

    def worker():
        try:
            for _ in range(100):
                tr = db.create_transaction()
                tr.add(b"total", le(1))
                tr.commit().wait()  # no retry loop: a conflict would fail the test
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert db[b"total"] == le(600)


OPS = ["add", "bit_and", "bit_or", "bit_xor", "max", "min", "byte_min", "byte_max",
       "compare_and_clear", "append_if_fits"]  # fmt: skip


def model(op: str, existing: bytes | None, param: bytes) -> bytes | None:
    """An independent statement of what each atomic operation does, for the property test."""
    n = len(param)

    def num(b: bytes) -> int:
        return int.from_bytes(b[:n].ljust(n, b"\x00"), "little")

    if op == "compare_and_clear":
        return None if existing in (None, param) else existing
    if op in ("byte_min", "byte_max"):
        if existing is None:
            return param
        return min(existing, param) if op == "byte_min" else max(existing, param)
    if op == "append_if_fits":
        if not existing:
            return param
        return existing + param if param and len(existing) + len(param) <= 100_000 else existing
    if existing is None or (not existing and op not in ("bit_and", "min")) or not param:
        return param
    a, b = num(existing), num(param)
    result = {
        "add": (a + b) % (1 << (8 * n)),
        "bit_and": a & b,
        "bit_or": a | b,
        "bit_xor": a ^ b,
        "max": a if a > b else b,
        "min": a if a < b else b,
    }[op]
    return result.to_bytes(n, "little")


@settings(max_examples=300, deadline=None)
@given(
    op=st.sampled_from(OPS),
    existing=st.none() | st.binary(max_size=9),
    param=st.binary(max_size=9),
)
def test_atomic_rules_match_model(op, existing, param):
    code = getattr(m.MutationType, op.upper())
    assert m.apply_atomic(code, existing, param) == model(op, existing, param)


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(OPS), st.binary(max_size=4)), max_size=6))
def test_atomic_sequences_in_one_transaction_match_model(steps):
    from fdb_election import embedded

    db = embedded.open()
    committed(db, lambda tr: tr.set(b"k", b"\x05"))
    expected: bytes | None = b"\x05"
    tr = db.create_transaction()
    for op, param in steps:
        getattr(tr, op)(b"k", param)
        expected = model(op, expected, param)
    assert tr[b"k"] == expected
    tr.commit().wait()
    assert db[b"k"] == expected
