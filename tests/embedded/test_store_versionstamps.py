"""The binding API: versionstamped mutations and ``get_versionstamp``."""

from __future__ import annotations

import struct

from store_helpers import error_code

from fdb_election.tuples import Versionstamp, pack, pack_with_versionstamp, unpack


def stamped_commit(db, body):
    tr = db.create_transaction()
    body(tr)
    stamp = tr.get_versionstamp()
    tr.commit().wait()
    return tr, bytes(stamp)


def test_versionstamp_is_version_plus_batch_and_increases(db):
    stamps = []
    for i in range(3):
        tr, stamp = stamped_commit(db, lambda tr, i=i: tr.set(b"k", b"%d" % i))
        assert len(stamp) == 10
        assert struct.unpack(">Q", stamp[:8])[0] == tr.get_committed_version()
        stamps.append(stamp)
    assert stamps == sorted(stamps) and len(set(stamps)) == 3


def test_versionstamp_future_wait_returns_itself(db):
    tr = db.create_transaction()
    tr[b"k"] = b"v"
    stamp = tr.get_versionstamp()
    tr.commit().wait()
    assert stamp.wait() is stamp
    assert len(stamp.value) == 10


def test_set_versionstamped_key_and_value_share_the_stamp(db):
    key = pack_with_versionstamp(("log", Versionstamp.incomplete(7)))
    value = pack_with_versionstamp(("v", Versionstamp.incomplete(1)))

    def body(tr):
        tr.set_versionstamped_key(key, b"entry")
        tr.set_versionstamped_value(b"latest", value)

    _tr, stamp = stamped_commit(db, body)
    (row,) = db.get_range_startswith(pack(("log",)))
    logged = unpack(row.key)[1]
    assert logged.tr_version == stamp and logged.user_version == 7
    assert row.value == b"entry"
    stored = unpack(db[b"latest"])[1]
    assert stored.tr_version == stamp and stored.user_version == 1


def test_pack_with_versionstamp_layout():
    assert pack_with_versionstamp(("a", Versionstamp.incomplete(5))) == (
        b"\x02a\x00\x33" + b"\xff" * 10 + b"\x00\x05" + struct.pack("<I", 4)
    )


def test_reading_own_versionstamped_value_is_1036(db):
    tr = db.create_transaction()
    tr.set_versionstamped_value(b"k", pack_with_versionstamp((Versionstamp.incomplete(),)))
    assert error_code(lambda: tr[b"k"].present()) == 1036
    tr[b"k"] = b"plain"
    assert error_code(lambda: tr[b"k"].present()) == 1036
    tr.reset()
    assert not tr[b"k"].present()


def test_reading_range_over_own_versionstamped_key_is_1036(db):
    tr = db.create_transaction()
    tr.set_versionstamped_key(pack_with_versionstamp(("log", Versionstamp.incomplete())), b"x")
    assert error_code(lambda: list(tr.get_range_startswith(pack(("log",))))) == 1036
    assert not tr[b"other"].present()


def test_get_versionstamp_rules(db):
    tr = db.create_transaction()
    assert not tr[b"k"].present()
    read_only = tr.get_versionstamp()
    tr.commit().wait()
    assert error_code(lambda: read_only.wait()) == 2021
    assert error_code(lambda: tr.get_versionstamp().wait()) == 2017


def test_get_versionstamp_reports_a_deferred_write_error(db):
    # Measured on FoundationDB 7.3: like every call that returns a future, get_versionstamp()
    # raises the pending deferred error (here 2102 key_too_large), not 2020.
    tr = db.create_transaction()
    tr.set(b"x" * 10_001, b"too long key")
    failed = tr.get_versionstamp()
    assert error_code(lambda: tr.commit().wait()) == 2102
    assert error_code(lambda: failed.wait()) == 2102


def test_versionstamp_asked_before_a_refused_commit_waits_until_cancelled(db):
    # A commit refused for a deferred error never starts, so the versionstamp asked for earlier
    # stays pending; the failed on_error cancels the transaction, and it gets 1025.
    tr = db.create_transaction()
    early = tr.get_versionstamp()
    tr.set(b"x" * 10_001, b"too long key")
    try:
        tr.commit().wait()
    except Exception as e:
        refused = e
    assert refused.code == 2102
    assert not early.is_ready()
    assert error_code(lambda: tr.on_error(refused).wait()) == 2102
    assert error_code(early.wait) == 1025


def test_versionstamp_of_a_conflicting_commit_is_2020(db):
    db[b"k"] = b"0"
    tr = db.create_transaction()
    assert tr[b"k"] == b"0"
    tr[b"k"] = b"1"
    stamp = tr.get_versionstamp()
    db[b"k"] = b"other"
    assert error_code(lambda: tr.commit().wait()) == 1020
    assert error_code(stamp.wait) == 2020


def test_malformed_versionstamp_ops_defer_2000(db):
    for write in (
        lambda tr: tr.set_versionstamped_key(b"short", b"v"),
        lambda tr: tr.set_versionstamped_key(b"k" * 10 + struct.pack("<I", 5), b"v"),
        lambda tr: tr.set_versionstamped_value(b"k", b"\x00" * 10 + struct.pack("<I", 1)),
    ):
        tr = db.create_transaction()
        write(tr)
        assert error_code(lambda tr=tr: tr.commit().wait()) == 2000
