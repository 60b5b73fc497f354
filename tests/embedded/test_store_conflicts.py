"""The binding API: optimistic concurrency, snapshots, exact conflict ranges."""

from __future__ import annotations

from store_helpers import committed, error_code


def commit_code(tr):
    return error_code(lambda: tr.commit().wait())


def seed(db, **values):
    committed(db, lambda tr: [tr.set(k.encode(), v) for k, v in values.items()])


def test_read_then_write_same_key_one_side_gets_1020(db):
    seed(db, k=b"0")
    t1, t2 = db.create_transaction(), db.create_transaction()
    for tr, value in ((t1, b"1"), (t2, b"2")):
        assert tr[b"k"] == b"0"
        tr[b"k"] = value
    assert commit_code(t1) is None
    assert commit_code(t2) == 1020
    assert db[b"k"] == b"1"


def test_write_skew_is_prevented(db):
    seed(db, a=b"1", b=b"1")
    t1, t2 = db.create_transaction(), db.create_transaction()
    for tr, target in ((t1, b"a"), (t2, b"b")):
        assert tr[b"a"] == b"1" and tr[b"b"] == b"1"
        tr[target] = b"0"
    assert commit_code(t1) is None
    assert commit_code(t2) == 1020


def test_snapshot_reads_and_blind_writes_do_not_conflict(db):
    seed(db, k=b"0")
    t1, t2 = db.create_transaction(), db.create_transaction()
    assert t1.snapshot[b"k"] == b"0"
    t1[b"k"] = b"1"
    t2[b"k"] = b"2"
    assert commit_code(t2) is None
    assert commit_code(t1) is None
    assert db[b"k"] == b"1"


def test_transaction_keeps_its_snapshot(db):
    seed(db, a=b"old", b=b"old")
    reader = db.create_transaction()
    assert reader[b"a"] == b"old"
    committed(db, lambda tr: [tr.set(b"a", b"new"), tr.set(b"b", b"new"), tr.set(b"c", b"new")])
    assert reader[b"a"] == b"old"
    assert reader[b"b"] == b"old"
    assert [kv.key for kv in reader[b"a":b"z"]] == [b"a", b"b"]
    assert commit_code(reader) is None  # read-only: never conflicts


def test_read_only_commit_succeeds_with_version_minus_one(db):
    seed(db, k=b"0")
    tr = db.create_transaction()
    assert tr[b"k"] == b"0"
    seed(db, k=b"1")
    assert commit_code(tr) is None
    assert tr.get_committed_version() == -1


def test_reads_answered_by_own_writes_add_no_conflict(db):
    seed(db, k=b"0", r=b"0")
    t1 = db.create_transaction()
    t1[b"k"] = b"mine"
    assert t1[b"k"] == b"mine"
    del t1[b"r"]
    assert not t1[b"r"].present()
    t1[b"other"] = b"x"
    seed(db, k=b"theirs", r=b"theirs")
    assert commit_code(t1) is None


def test_read_of_own_pending_atomic_op_conflicts(db):
    seed(db, n=b"\x01")
    t1 = db.create_transaction()
    t1.add(b"n", b"\x01")
    assert t1[b"n"] == b"\x02"
    seed(db, n=b"\x05")
    assert commit_code(t1) == 1020


def test_atomic_op_alone_never_conflicts_but_conflicts_readers(db):
    seed(db, n=b"\x01")
    reader = db.create_transaction()
    assert reader[b"n"] == b"\x01"
    reader[b"x"] = b"1"
    adder = db.create_transaction()
    assert adder[b"unrelated"] is not None
    adder.add(b"n", b"\x01")
    seed(db, n=b"\x07")
    assert commit_code(adder) is None
    assert commit_code(reader) == 1020
    assert db[b"n"] == b"\x08"


def test_limited_range_read_conflicts_only_up_to_last_key(db):
    seed(db, a=b"1", c=b"1")
    t1 = db.create_transaction()
    assert [kv.key for kv in t1.get_range(b"a", b"z", limit=1)] == [b"a"]
    t1[b"x"] = b"1"
    seed(db, c=b"2", b=b"2")  # beyond the last key returned (and b, after a)
    assert commit_code(t1) is None

    t2 = db.create_transaction()
    assert [kv.key for kv in t2.get_range(b"a", b"z", limit=1)] == [b"a"]
    t2[b"x"] = b"2"
    seed(db, a=b"3")
    assert commit_code(t2) == 1020


def test_limited_reverse_range_read_conflicts_from_last_key(db):
    seed(db, a=b"1", c=b"1")
    t1 = db.create_transaction()
    assert [kv.key for kv in t1.get_range(b"a", b"m", limit=1, reverse=True)] == [b"c"]
    t1[b"x"] = b"1"
    seed(db, a=b"2")
    assert commit_code(t1) is None

    t2 = db.create_transaction()
    assert [kv.key for kv in t2.get_range(b"a", b"m", limit=1, reverse=True)] == [b"c"]
    t2[b"x"] = b"1"
    seed(db, d=b"2")
    assert commit_code(t2) == 1020


def test_full_range_read_conflicts_with_insert(db):
    seed(db, a=b"1")
    t1 = db.create_transaction()
    assert [kv.key for kv in t1[b"a":b"z"]] == [b"a"]
    t1[b"x"] = b"1"
    seed(db, m=b"new")
    assert commit_code(t1) == 1020


def test_clear_and_clear_range_are_write_conflicts(db):
    seed(db, a=b"1", b=b"1")
    for clear in (lambda tr: tr.clear(b"a"), lambda tr: tr.clear_range(b"b", b"c")):
        reader = db.create_transaction()
        list(reader[b"a":b"c"])
        reader[b"x"] = b"1"
        committed(db, clear)
        assert commit_code(reader) == 1020


def test_explicit_conflict_ranges(db):
    t1 = db.create_transaction()
    t1.get_read_version().wait()  # the conflict window starts at the read version
    t1.add_read_conflict_key(b"guard")
    t1[b"x"] = b"1"
    t2 = db.create_transaction()
    t2.add_write_conflict_key(b"guard")
    assert commit_code(t2) is None
    assert commit_code(t1) == 1020

    t3 = db.create_transaction()
    t3.get_read_version().wait()
    t3.add_read_conflict_range(b"g", b"h")
    t3[b"x"] = b"1"
    seed(db, gz=b"1")
    assert commit_code(t3) == 1020


def test_read_conflict_range_adds_nothing_for_own_writes(db):
    t1 = db.create_transaction()
    t1.get_read_version().wait()
    t1[b"k"] = b"mine"
    t1.add_read_conflict_key(b"k")
    seed(db, k=b"theirs")
    assert commit_code(t1) is None


def test_conflict_reported_only_by_commit(db):
    seed(db, k=b"0")
    t1 = db.create_transaction()
    assert t1[b"k"] == b"0"
    seed(db, k=b"1")
    assert t1[b"k"] == b"0"  # reads keep working on the snapshot
    t1[b"k"] = b"2"
    assert commit_code(t1) == 1020


def test_committed_versions_increase(db):
    versions = []
    for i in range(3):
        tr = db.create_transaction()
        tr[b"k"] = b"%d" % i
        tr.commit().wait()
        versions.append(tr.get_committed_version())
    assert versions == sorted(versions) and len(set(versions)) == 3
    tr = db.create_transaction()
    assert tr.get_read_version().wait() >= versions[-1]


def test_read_version_sees_everything_committed_before(db):
    seed(db, k=b"1")
    tr = db.create_transaction()
    assert isinstance(tr.get_read_version().wait(), int)
    assert tr[b"k"] == b"1"


def _big_writer(db, count=200):
    """A transaction that wrote ``count`` keys (even numbers), enough for any write index."""
    tr = db.create_transaction()
    tr.get_read_version().wait()
    for i in range(0, 2 * count, 2):
        tr[b"big/%04d" % i] = b"mine"
    return tr


def test_big_transaction_range_read_skips_only_its_own_writes(db):
    seed(db, **{"big/0011": b"0"})
    t1 = _big_writer(db)
    rows = list(t1[b"big/0000":b"big/0020"])
    assert [kv.key for kv in rows] == [b"big/%04d" % i for i in sorted([*range(0, 20, 2), 11])]
    seed(db, **{"big/0010": b"theirs"})  # a key t1 wrote itself: not a conflict
    assert commit_code(t1) is None

    t2 = _big_writer(db)
    list(t2[b"big/0000":b"big/0020"])
    seed(db, **{"big/0013": b"theirs"})  # a gap between its own writes: a conflict
    assert commit_code(t2) == 1020


def test_big_transaction_point_reads_conflict_exactly(db):
    seed(db, **{"big/0002": b"0", "big/0501": b"0", "big/0900": b"0"})
    t1 = _big_writer(db)
    t1.clear_range(b"big/0500", b"big/0600")
    assert t1[b"big/0002"] == b"mine"  # own set
    assert not t1[b"big/0501"].present()  # own clear_range
    seed(db, **{"big/0002": b"theirs", "big/0501": b"theirs"})
    assert commit_code(t1) is None

    t2 = _big_writer(db)
    assert t2[b"big/0900"] == b"0"  # not written by t2: a real read
    seed(db, **{"big/0900": b"theirs"})
    assert commit_code(t2) == 1020
