"""The binding API: watches (bounded waits on events, never sleeps)."""

from __future__ import annotations

import threading

from store_helpers import committed, error_code, ready_event

WAIT = 10.0  # generous bound; events normally arrive within milliseconds


def watch_committed(db, key):
    tr = db.create_transaction()
    watch = tr.watch(key)
    tr.commit().wait()
    return watch


def test_fires_after_another_commit_changes_the_key_and_not_before(db):
    db[b"k"] = b"0"
    watch = watch_committed(db, b"k")
    fired = ready_event(watch)
    committed(db, lambda tr: tr.set(b"other", b"x"))
    committed(db, lambda tr: tr.set(b"k", b"0"))  # same value: not a change
    assert not watch.is_ready() and not fired.is_set()
    writer = db.create_transaction()
    writer[b"k"] = b"1"
    assert not watch.is_ready()  # not before the writer commits
    writer.commit().wait()
    assert fired.wait(WAIT)
    watch.wait()


def test_not_active_before_its_transaction_commits(db):
    db[b"k"] = b"0"
    tr = db.create_transaction()
    watch = tr.watch(b"k")
    db[b"k"] = b"1"
    assert not watch.is_ready()
    tr.commit().wait()  # value already differs from what tr saw: fires at once
    assert ready_event(watch).wait(WAIT)


def test_own_later_change_fires_at_once(db):
    db[b"k"] = b"0"
    tr = db.create_transaction()
    watch = tr.watch(b"k")
    tr[b"k"] = b"0"
    assert not watch.is_ready()
    tr[b"k"] = b"1"
    assert ready_event(watch).wait(WAIT)


def test_reset_before_commit_gives_1025(db):
    tr = db.create_transaction()
    watch = tr.watch(b"k")
    tr.reset()
    assert ready_event(watch).wait(WAIT)
    assert error_code(watch.wait) == 1025


def test_cancel_gives_1101(db):
    watch = watch_committed(db, b"k")
    watch.cancel()
    assert error_code(watch.wait) == 1101
    db[b"k"] = b"changed"
    assert error_code(watch.wait) == 1101


def test_watch_outlives_its_transaction(db):
    watch = watch_committed(db, b"k")  # the transaction object is gone
    db[b"k"] = b"created"
    assert ready_event(watch).wait(WAIT)


def test_wait_for_any_and_on_ready(db):
    # What a cluster promises: the callback runs once, with the future, when it is ready. It
    # may run on the network thread, after wait_for_any() has returned (seen on 7.3), so the
    # test waits for the callback's own signal before looking at what it did.
    a, b = watch_committed(db, b"a"), watch_committed(db, b"b")
    seen = []
    called = threading.Event()

    def callback(future):
        seen.append(future)
        called.set()

    b.on_ready(callback)
    assert not called.is_set()
    db[b"b"] = b"1"
    assert type(b).wait_for_any(a, b) == 1
    assert called.wait(WAIT)
    assert seen == [b]


def test_watch_on_clear_and_convenience_methods(db):
    db[b"k"] = b"1"
    value, watch = db.get_and_watch(b"k")
    assert value == b"1"
    db.clear(b"k")
    assert ready_event(watch).wait(WAIT)
    watch = db.set_and_watch(b"k", b"2")
    db[b"k"] = b"3"
    assert ready_event(watch).wait(WAIT)
    watch = db.clear_and_watch(b"k")
    db[b"k"] = b"4"
    assert ready_event(watch).wait(WAIT)


def test_watch_errors(db):
    tr = db.create_transaction()
    assert error_code(tr.watch(b"\xff\x01").wait) == 2004
    assert error_code(tr.watch(b"x" * 10_001).wait) == 2102


def test_failed_commit_fails_its_watches(db):
    db[b"k"] = b"0"
    tr = db.create_transaction()
    watch = tr.watch(b"k")
    tr[b"x"] = b"1"
    db[b"k"] = b"changed"
    assert error_code(lambda: tr.commit().wait()) == 1020
    assert error_code(watch.wait) == 1020


def test_too_many_watches(memory_db):
    memory_db.options.set_max_watches(2)
    tr = memory_db.create_transaction()
    first, second = tr.watch(b"a"), tr.watch(b"b")
    assert error_code(tr.watch(b"c").wait) == 1032
    tr.commit().wait()
    first.cancel()
    tr = memory_db.create_transaction()
    third = tr.watch(b"c")
    tr.commit().wait()
    assert not third.is_ready() and not second.is_ready()


def test_watches_disabled_without_ryw(memory_db):
    tr = memory_db.create_transaction()
    tr.options.set_read_your_writes_disable()
    assert error_code(tr.watch(b"k").wait) == 1034


def test_dropping_the_transaction_before_commit_gives_1025(memory_db):
    tr = memory_db.create_transaction()
    watch = tr.watch(b"k")
    del tr  # CPython frees it at once; on a cluster the binding destroys it likewise
    assert ready_event(watch).wait(WAIT)
    assert error_code(watch.wait) == 1025
