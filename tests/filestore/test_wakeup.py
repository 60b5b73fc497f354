"""The cross-process wake-up channel: datagrams wake listeners, dead listeners are cleaned up."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fdb_election import embedded
from fdb_election.embedded.wakeup import WakeupListener, WakeupNotifier, wake_directory

WAIT = 5.0  # bound on every wait; a pass takes milliseconds


@contextlib.contextmanager
def listener_and_notifier(
    directory: str,
) -> Iterator[tuple[WakeupListener, WakeupNotifier, threading.Event]]:
    """A listener that sets the event when woken (no fallback re-check in a test's time) and a
    notifier on ``directory``; both closed afterwards."""
    woken = threading.Event()
    listener = WakeupListener(directory, woken.set, fallback_interval=60)
    notifier = WakeupNotifier(directory)
    try:
        yield listener, notifier, woken
    finally:
        listener.close()
        notifier.close()


def dead_socket(directory: str, stem: str = "12345-deadbeef") -> str:
    """A socket file nobody listens on any more, as a killed process leaves behind."""
    path = os.path.join(directory, f"{stem}.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.close()
    return path


def keys_path(directory: str, listener: WakeupListener) -> str:
    """Where ``listener`` publishes the keys it watches."""
    return os.path.join(directory, listener.name.removesuffix(".sock") + ".keys")


def test_wake_directory_sits_next_to_the_file(tmp_path: Path) -> None:
    assert wake_directory(str(tmp_path / "db.fdbe")) == str(tmp_path / "db.fdbe.wake")


def test_notify_wakes_a_listener_and_it_can_be_woken_again(tmp_path: Path) -> None:
    with listener_and_notifier(wake_directory(str(tmp_path / "db"))) as (_, notifier, woken):
        for _ in range(3):
            woken.clear()
            assert notifier.notify() == 1
            assert woken.wait(WAIT)


def test_directory_is_private(tmp_path: Path) -> None:
    directory = wake_directory(str(tmp_path / "db"))
    notifier = WakeupNotifier(directory)
    notifier.close()
    assert os.stat(directory).st_mode & 0o777 == 0o700


def test_notify_skips_the_excluded_listener(tmp_path: Path) -> None:
    directory = wake_directory(str(tmp_path / "db"))
    with listener_and_notifier(directory) as (listener, notifier, woken):
        assert notifier.notify(exclude=listener.name) == 0
        assert not woken.is_set()


def test_socket_of_a_dead_listener_is_removed_by_the_next_notify(tmp_path: Path) -> None:
    directory = wake_directory(str(tmp_path / "db"))
    notifier = WakeupNotifier(directory)
    stale = dead_socket(directory)
    try:
        assert os.path.exists(stale)
        assert notifier.notify() == 0
        assert not os.path.exists(stale)
    finally:
        notifier.close()


def test_close_removes_the_socket_and_stops_the_thread(tmp_path: Path) -> None:
    directory = wake_directory(str(tmp_path / "db"))
    listener = WakeupListener(directory, lambda: None, fallback_interval=60)
    keys = os.path.basename(keys_path(directory, listener))
    assert sorted(os.listdir(directory)) == sorted([listener.name, keys])
    listener.close()
    assert os.listdir(directory) == []
    assert not any(t.name.endswith(listener.name) for t in threading.enumerate())


def test_listener_works_when_the_socket_path_is_longer_than_unix_allows(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    directory = wake_directory(str(deep / "db.fdbe"))
    assert len(directory) > 108
    with listener_and_notifier(directory) as (_, notifier, woken):
        assert notifier.notify() == 1
        assert woken.wait(WAIT)


def test_new_listener_is_seen_by_a_notifier_that_listed_the_directory_before(
    tmp_path: Path,
) -> None:
    directory = wake_directory(str(tmp_path / "db"))
    notifier = WakeupNotifier(directory)
    assert notifier.notify() == 0  # caches an empty listing
    woken = threading.Event()
    listener = WakeupListener(directory, woken.set, fallback_interval=60)
    try:
        assert notifier.notify() == 1
        assert woken.wait(WAIT)
    finally:
        listener.close()
        notifier.close()


def test_fallback_recheck_runs_without_any_datagram(tmp_path: Path) -> None:
    directory = wake_directory(str(tmp_path / "db"))
    woken = threading.Event()
    listener = WakeupListener(directory, woken.set, fallback_interval=0.05)
    try:
        assert woken.wait(WAIT)
    finally:
        listener.close()


def test_fallback_interval_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fallback_interval must be a positive"):
        WakeupListener(wake_directory(str(tmp_path / "db")), lambda: None, fallback_interval=0)


def test_a_file_where_the_directory_should_be_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "db.wake").write_text("not a directory")
    with pytest.raises(NotADirectoryError, match="not a directory"):
        WakeupNotifier(wake_directory(str(tmp_path / "db")))


def test_a_raising_callback_does_not_kill_the_listener(tmp_path: Path) -> None:
    directory = wake_directory(str(tmp_path / "db"))
    calls: list[int] = []
    second = threading.Event()

    def on_wake() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        second.set()

    listener = WakeupListener(directory, on_wake, fallback_interval=60)
    notifier = WakeupNotifier(directory)
    try:
        notifier.notify()
        # The second notify may coalesce with the first; keep poking until the second call.
        for _ in range(100):
            notifier.notify()
            if second.wait(0.05):
                break
        assert second.is_set()
    finally:
        listener.close()
        notifier.close()


def test_a_commit_wakes_only_the_listeners_that_watch_what_it_changed(tmp_path: Path) -> None:
    directory = wake_directory(str(tmp_path / "db"))
    with (
        listener_and_notifier(directory) as (leader, notifier, leader_woken),
        listener_and_notifier(directory) as (follower, _, follower_woken),
    ):
        leader.publish([b"step-down"])
        follower.publish([b"turnover"])
        assert notifier.notify([b"candidate/a"]) == 0  # a heartbeat: nobody watches it
        assert notifier.notify([b"turnover", b"leader"]) == 1
        assert follower_woken.wait(WAIT)
        assert not leader_woken.is_set()
        assert notifier.notify(None) == 2  # unknown changes: everyone


def test_a_key_published_after_a_listing_is_seen_by_the_next_notify(tmp_path: Path) -> None:
    """The notifier caches what listeners published; publishing replaces a file, which the
    cache notices, so a watch made after a listing is not missed."""
    directory = wake_directory(str(tmp_path / "db"))
    with listener_and_notifier(directory) as (listener, notifier, woken):
        assert notifier.notify([b"k"]) == 0  # listed: the listener watches nothing yet
        listener.publish([b"k"])
        assert notifier.notify([b"k"]) == 1
        assert woken.wait(WAIT)


def test_publish_only_rewrites_when_a_key_is_added(tmp_path: Path) -> None:
    directory = wake_directory(str(tmp_path / "db"))
    many = [f"k-{i}".encode() for i in range(20)]  # more than a few: stale keys may stay
    with listener_and_notifier(directory) as (listener, notifier, _):
        keys_file = keys_path(directory, listener)
        listener.publish([*many, b"b"])
        written = os.stat(keys_file).st_ino
        listener.publish(many)  # b's watch fired and is not armed again yet: no rewrite
        assert os.stat(keys_file).st_ino == written
        assert notifier.notify([b"b"]) == 1
        listener.publish([*many, b"c"])  # an addition is appended; b stays (it may come back)
        assert os.stat(keys_file).st_ino == written
        assert listener.publishes(b"b") and listener.publishes(b"c")
        assert notifier.notify([b"b"]) == 1
        assert notifier.notify([b"c"]) == 1  # read from where the notifier left off


def test_a_listener_of_few_keys_drops_a_stale_one_when_it_adds_one(tmp_path: Path) -> None:
    """A follower moves its watch from the leader key (written at every refresh) to the
    succession key: the leader's refreshes must stop waking it."""
    directory = wake_directory(str(tmp_path / "db"))
    with listener_and_notifier(directory) as (listener, notifier, _):
        listener.publish([b"leader"])
        assert notifier.notify([b"leader"]) == 1
        listener.publish([b"leader"])  # re-armed: nothing written
        listener.publish([b"succession"])
        assert listener.publishes(b"succession")
        assert not listener.publishes(b"leader")
        assert notifier.notify([b"leader"]) == 0
        assert notifier.notify([b"succession"]) == 1


def test_a_line_still_being_appended_is_read_once_complete(tmp_path: Path) -> None:
    directory = wake_directory(str(tmp_path / "db"))
    with listener_and_notifier(directory) as (listener, notifier, _):
        keys_file = keys_path(directory, listener)
        listener.publish([b"a"])
        assert notifier.notify([b"a"]) == 1
        with open(keys_file, "a") as f:
            f.write(b"partial".hex()[:6])  # half a line: a writer caught mid-append
        assert notifier.notify([b"partial"]) == 0
        with open(keys_file, "a") as f:
            f.write(b"partial".hex()[6:] + "\n")
        assert notifier.notify([b"partial"]) == 1


def test_keys_no_longer_watched_are_dropped_once_they_outnumber_the_watched(
    tmp_path: Path,
) -> None:
    directory = wake_directory(str(tmp_path / "db"))
    with listener_and_notifier(directory) as (listener, notifier, _):
        old = [f"old-{i}".encode() for i in range(40)]
        listener.publish(old)
        assert notifier.notify([old[0]]) == 1  # the notifier has read the long file
        listener.publish([b"new"])  # 41 published for 1 watched: rewritten with the watched
        assert listener.publishes(b"new")
        assert not listener.publishes(old[0])
        assert notifier.notify(old) == 0
        assert notifier.notify([b"new"]) == 1


def test_a_listener_that_published_nothing_is_woken_by_every_commit(tmp_path: Path) -> None:
    """A process of an earlier version has a socket and no keys file: it hears everything."""
    directory = wake_directory(str(tmp_path / "db"))
    with listener_and_notifier(directory) as (listener, notifier, woken):
        os.unlink(keys_path(directory, listener))
        assert notifier.notify([b"anything"]) == 1
        assert woken.wait(WAIT)


def test_a_dead_listeners_keys_file_goes_with_its_socket(tmp_path: Path) -> None:
    directory = wake_directory(str(tmp_path / "db"))
    notifier = WakeupNotifier(directory)
    dead_socket(directory)
    with open(os.path.join(directory, "12345-deadbeef.keys"), "w") as f:
        f.write(b"k".hex() + "\n")
    try:
        assert notifier.notify([b"k"]) == 0
        assert os.listdir(directory) == []
    finally:
        notifier.close()


def test_sweep_removes_dead_listeners_and_does_not_wake_live_ones(tmp_path: Path) -> None:
    directory = wake_directory(str(tmp_path / "db"))
    with listener_and_notifier(directory) as (listener, notifier, woken):
        stale = dead_socket(directory)
        stale_keys = stale.removesuffix(".sock") + ".keys"
        Path(stale_keys).write_text("6b6579\n")
        assert notifier.sweep() == 1
        assert not os.path.exists(stale) and not os.path.exists(stale_keys)
        assert sorted(os.listdir(directory)) == sorted(
            [listener.name, os.path.basename(keys_path(directory, listener))]
        )
        assert notifier.sweep() == 0
        assert not woken.wait(0.2), "a probe sends nothing"


def test_a_process_s_first_watch_clears_what_killed_processes_left(tmp_path: Path) -> None:
    path = str(tmp_path / "db.fdbe")
    directory = wake_directory(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    stale = dead_socket(directory)
    db = embedded.open(path)
    try:
        assert os.path.exists(stale)
        tr = db.create_transaction()
        watch = tr.watch(b"k")  # the first watch starts this process's listener
        tr.commit().wait()
        watch.cancel()
        names = os.listdir(directory)
        assert os.path.basename(stale) not in names
        assert len([n for n in names if n.endswith(".sock")]) == 1, "only its own listener"
    finally:
        db.close()
