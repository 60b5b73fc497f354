"""The file backend answers exactly like the in-memory backend (the reference), version by version.

Random commits of every mutation kind go to both backends; then every key and range is read at
every historical version and must agree. This covers MVCC, clears, atomic operations and
versionstamps, independent of the transaction layer above.
"""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from fdb_election.embedded.errors import FDBError
from fdb_election.embedded.memory import MemoryStorage
from fdb_election.embedded.mutations import CLEAR_RANGE, SET_VALUE, Mutation, MutationType
from fdb_election.embedded.sqlite import SQLiteStorage

KEYS = st.sampled_from([b"a", b"a\x00", b"b", b"ba", b"c", b"d\xfe"])
VALUES = st.binary(max_size=4)
ATOMIC = st.sampled_from(
    [
        MutationType.ADD,
        MutationType.BIT_AND,
        MutationType.BIT_OR,
        MutationType.BIT_XOR,
        MutationType.APPEND_IF_FITS,
        MutationType.MAX,
        MutationType.MIN,
        MutationType.BYTE_MIN,
        MutationType.BYTE_MAX,
        MutationType.COMPARE_AND_CLEAR,
    ]
)
Range = tuple[bytes, bytes]
STAMPED = b"s" + b"\xff" * 10 + struct.pack("<I", 1)

MUTATION = st.one_of(
    st.tuples(st.just(SET_VALUE), KEYS, VALUES),
    st.tuples(st.just(CLEAR_RANGE), KEYS, KEYS).map(lambda m: (m[0], *sorted(m[1:]))),
    st.tuples(st.just(CLEAR_RANGE), KEYS).map(lambda m: (m[0], m[1], m[1] + b"\x00")),
    st.tuples(ATOMIC.map(int), KEYS, VALUES),
    st.tuples(st.just(int(MutationType.SET_VERSIONSTAMPED_KEY)), st.just(STAMPED), VALUES),
    # Stamped values get a key of their own: an atomic op over a stamp would cut or compare the
    # backends' different commit versions, which says nothing about either backend.
    st.tuples(st.just(int(MutationType.SET_VERSIONSTAMPED_VALUE)), st.just(b"v"), st.just(STAMPED)),
)
RANGE = st.tuples(KEYS, KEYS).map(lambda r: tuple(sorted(r)))
COMMIT = st.tuples(
    st.lists(MUTATION, min_size=1, max_size=5),
    st.none() | st.integers(0, 5),  # read version: that many commits back, or a blind write
    st.lists(RANGE, max_size=2),  # read conflict ranges
    st.lists(RANGE, min_size=1, max_size=2),  # write conflict ranges
)
COMMITS = st.lists(COMMIT, min_size=1, max_size=6)


def _normalise_stamps(rows: list[tuple[bytes, bytes]], stamps: dict[bytes, int]) -> list[object]:
    """Replace each backend's own versionstamps by the index of the commit that made them."""
    out: list[object] = []
    for key, value in rows:
        for stamp, index in stamps.items():
            key = key.replace(stamp, b"<%d>" % index)
            value = value.replace(stamp, b"<%d>" % index)
        out.append((key, value))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commits=COMMITS, limit=st.integers(0, 3), reverse=st.booleans())
def test_file_backend_matches_memory_backend(
    commits: list[tuple[list[Mutation], int | None, list[Range], list[Range]]],
    limit: int,
    reverse: bool,
) -> None:
    now = [1000.0]
    memory = MemoryStorage(lambda: now[0])
    with tempfile.TemporaryDirectory() as directory:
        file = SQLiteStorage(Path(directory) / "diff.fdbe", version_clock=lambda: now[0] + 1e9)
        try:
            versions: list[tuple[int, int]] = [(memory.read_version(), file.read_version())]
            stamps: dict[bytes, int] = {}
            for index, (mutations, back, reads, writes) in enumerate(commits):
                now[0] += 0.01
                read_at = None if back is None else versions[max(0, len(versions) - 1 - back)]
                outcomes = []
                for store, at in ((memory, 0), (file, 1)):
                    try:
                        rv = None if read_at is None else read_at[at]
                        outcomes.append(store.commit(rv, reads, writes, mutations))
                    except FDBError as e:
                        outcomes.append(-e.code)
                mv, fv = outcomes
                assert (mv == -1020) == (fv == -1020), "the backends disagree on a conflict"
                if mv < 0:
                    continue
                stamps[mv.to_bytes(8, "big") + b"\x00\x00"] = index
                stamps[fv.to_bytes(8, "big") + b"\x00\x00"] = index
                versions.append((mv, fv))
            for mv, fv in versions:
                for key in (b"a", b"a\x00", b"b", b"ba", b"c", b"d\xfe", b"v"):
                    expected, got = memory.get(key, mv), file.get(key, fv)
                    assert (expected is None) == (got is None), key
                    if expected is not None and got is not None:
                        assert _normalise_stamps([(key, expected)], stamps) == _normalise_stamps(
                            [(key, got)], stamps
                        )
                assert _normalise_stamps(
                    memory.get_range(b"", b"\xff", mv, limit, reverse), stamps
                ) == _normalise_stamps(file.get_range(b"", b"\xff", fv, limit, reverse), stamps)
                assert _normalise_stamps(
                    memory.get_range(b"a\x00", b"c", mv, 0, False), stamps
                ) == _normalise_stamps(file.get_range(b"a\x00", b"c", fv, 0, False), stamps)
        finally:
            file.close()
