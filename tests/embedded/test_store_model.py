"""Property tests: range reads and read-your-writes against a plain sorted-dict model."""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given, settings

from fdb_election import embedded

KEYS = st.binary(min_size=1, max_size=2).map(lambda b: b.replace(b"\xff", b"\xfe"))
WRITE = st.one_of(
    st.tuples(st.just("set"), KEYS, st.binary(max_size=3)),
    st.tuples(st.just("clear"), KEYS, st.just(b"")),
    st.tuples(st.just("clear_range"), KEYS, KEYS).map(lambda w: (w[0], *sorted(w[1:]))),
    st.tuples(st.just("add"), KEYS, st.binary(min_size=1, max_size=2)),
)


def apply(model: dict[bytes, bytes], tr, write) -> None:
    from fdb_election.embedded.mutations import add

    kind, key, arg = write
    if kind == "set":
        tr.set(key, arg)
        model[key] = arg
    elif kind == "clear":
        tr.clear(key)
        model.pop(key, None)
    elif kind == "clear_range":
        tr.clear_range(key, arg)
        for k in [k for k in model if key <= k < arg]:
            del model[k]
    else:
        tr.add(key, arg)
        model[key] = add(model.get(key), arg)


@settings(max_examples=150, deadline=None)
@given(
    committed_writes=st.lists(WRITE, max_size=12),
    own_writes=st.lists(WRITE, max_size=8),
    begin=KEYS,
    end=KEYS,
    limit=st.integers(min_value=0, max_value=5),
    reverse=st.booleans(),
)
def test_range_reads_match_model(committed_writes, own_writes, begin, end, limit, reverse):
    db = embedded.open()
    model: dict[bytes, bytes] = {}
    for write in committed_writes:
        tr = db.create_transaction()
        apply(model, tr, write)
        tr.commit().wait()
    tr = db.create_transaction()
    for write in own_writes:
        apply(model, tr, write)
    expected = sorted((k, v) for k, v in model.items() if begin <= k < end)
    if reverse:
        expected.reverse()
    if limit:
        expected = expected[:limit]
    got = [(kv.key, kv.value) for kv in tr.get_range(begin, end, limit=limit, reverse=reverse)]
    assert got == expected
    for key in (begin, end):
        assert tr[key].value == model.get(key)
    tr.commit().wait()
    assert [(kv.key, kv.value) for kv in db[b"":b"\xff"]] == sorted(model.items())


@settings(max_examples=60, deadline=None)
@given(
    own_writes=st.lists(WRITE, min_size=1, max_size=120),
    reads=st.lists(st.tuples(KEYS, KEYS, st.booleans()), min_size=1, max_size=120),
)
def test_big_transactions_match_model(own_writes, reads):
    """Past the size where writes get a sorted index, reads between writes still merge right."""
    db = embedded.open()
    model: dict[bytes, bytes] = {}
    tr = db.create_transaction()
    for i in range(80):  # enough distinct keys for the index, interleaved with the rest
        apply(model, tr, ("set", bytes([i % 0xFE + 1, i]), b"base"))
    for step, write in enumerate(own_writes):
        apply(model, tr, write)
        begin, end, reverse = reads[step % len(reads)]
        expected = sorted((k, v) for k, v in model.items() if begin <= k < end)
        if reverse:
            expected.reverse()
        got = [(kv.key, kv.value) for kv in tr.get_range(begin, end, reverse=reverse)]
        assert got == expected
        assert tr[begin].value == model.get(begin)
    tr.commit().wait()
    assert [(kv.key, kv.value) for kv in db[b"":b"\xff"]] == sorted(model.items())
