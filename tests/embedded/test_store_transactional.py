"""The binding API: the ``@transactional`` decorator, and concurrent read-modify-write."""

from __future__ import annotations

import functools
import threading

import pytest

from fdb_election.transactional import transactional


@transactional
def increment(tr, key):
    value = tr[key]
    n = int(value) if value.present() else 0
    tr[key] = b"%d" % (n + 1)
    return n + 1


def test_creates_commits_and_returns(db):
    assert increment(db, b"n") == 1
    assert increment(db, b"n") == 2
    assert db[b"n"] == b"2"


def test_passes_a_transaction_through_without_commit(db):
    tr = db.create_transaction()
    assert increment(tr, b"n") == 1

    @transactional
    def read(tr, key):
        return tr[key].value

    assert read(tr.snapshot, b"n") == b"1"
    assert db[b"n"] is None
    tr.commit().wait()
    assert db[b"n"] == b"1"


def test_retries_with_the_same_transaction_on_conflict(db):
    seen = []

    @transactional
    def body(tr):
        seen.append(tr)
        value = tr[b"k"]
        if len(seen) == 1:
            db[b"k"] = b"changed by someone else"
        tr[b"k"] = b"mine after " + (bytes(value) if value.present() else b"nothing")

    body(db)
    assert len(seen) == 2 and seen[0] is seen[1]
    assert db[b"k"] == b"mine after changed by someone else"


def test_non_database_errors_propagate_without_commit(db):
    @transactional
    def body(tr):
        tr[b"k"] = b"v"
        raise KeyError("boom")

    with pytest.raises(KeyError):
        body(db)
    assert db[b"k"] is None


def test_non_retryable_database_error_propagates(db):
    @transactional
    def body(tr):
        tr[b"x" * 10_001] = b"v"

    with pytest.raises(Exception) as raised:
        body(db)
    assert raised.value.code == 2102


def test_named_parameter_and_methods(db):
    class Counter:
        @transactional(parameter="database")
        def bump(self, database, key):
            return increment(database, key)

    assert Counter().bump(db, b"c") == 1
    assert db[b"c"] == b"1"


def test_parameter_must_exist_at_decoration():
    with pytest.raises(ValueError, match="no positional parameter named 'tr'"):

        @transactional
        def body(db):
            return None


def test_wrapped_functions_are_unwrapped_for_lookup(db):
    def deco(func):
        @functools.wraps(func)
        def inner(*args, **kwargs):
            return func(*args, **kwargs)

        return inner

    @transactional
    @deco
    def body(tr, value):
        tr[b"k"] = value

    body(db, b"v")
    assert db[b"k"] == b"v"


def test_generators_are_rejected(db):
    @transactional
    def gen(tr):
        yield tr[b"k"]

    with pytest.raises(ValueError, match="Generators"):
        gen(db)
    with pytest.raises(ValueError, match="Generators"):
        gen(db.create_transaction())

    @transactional
    def returns_generator(tr):
        return (x for x in ())

    with pytest.raises(ValueError, match="Generators"):
        returns_generator(db)


def test_invalid_decorator_use():
    with pytest.raises(TypeError, match="Invalid use"):
        transactional(1, 2)
    with pytest.raises(TypeError, match="Invalid use"):
        transactional(param="x")


def test_eight_threads_of_increments_are_exact(db):
    errors = []

    def worker():
        try:
            for _ in range(50):
                increment(db, b"counter")
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert db[b"counter"] == b"400"


def test_retry_after_unknown_result_reruns_the_body(memory_db):
    faults = iter([1021])
    memory_db.set_fault_hook(lambda event, tr: next(faults, None) if event == "committed" else None)
    runs = []

    @transactional
    def body(tr):
        runs.append(1)
        tr.add(b"n", b"\x01")

    body(memory_db)
    assert len(runs) == 2
    assert memory_db[b"n"] == b"\x02"  # the first, "unknown", commit did happen
