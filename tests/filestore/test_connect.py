"""connect(url) and default_url(): every scheme, the environment default, and clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fdb_election.connect import (
    ENV_VAR,
    DatabaseNotFoundError,
    FdbUnavailableError,
    connect,
    default_url,
)
from fdb_election.embedded import FileStoreError


def _libfdb_c_loads() -> bool:
    try:
        import fdb.impl  # noqa: F401 - importing it loads libfdb_c or fails
    except Exception:
        return False
    return True


def _roundtrip(db: Any) -> bytes | None:
    db[b"connect-test"] = b"ok"
    value: bytes | None = db[b"connect-test"]
    return value


def test_memory_gives_a_fresh_working_database_each_time() -> None:
    first = connect("memory:")
    assert _roundtrip(first) == b"ok"
    second = connect("memory:")
    assert second[b"connect-test"] is None


def test_sqlite_url_opens_a_shared_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.fdbe"
    writer = connect(f"sqlite:{path}")
    reader = connect(f"sqlite:{path}")
    try:
        assert _roundtrip(writer) == b"ok"
        assert reader[b"connect-test"] == b"ok"
        assert path.is_file()
    finally:
        writer.close()
        reader.close()


def test_sqlite_url_accepts_the_triple_slash_form(tmp_path: Path) -> None:
    path = tmp_path / "slashes.fdbe"
    db = connect(f"sqlite://{path}")  # tmp_path is absolute: sqlite:///tmp/...
    try:
        assert _roundtrip(db) == b"ok"
        assert path.is_file()
    finally:
        db.close()


def test_environment_variable_names_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "from-env.fdbe"
    monkeypatch.setenv(ENV_VAR, f"sqlite:{path}")
    assert default_url() == f"sqlite:{path}"
    db = connect()
    try:
        assert _roundtrip(db) == b"ok"
        assert path.is_file()
    finally:
        db.close()


def test_default_is_a_file_in_the_xdg_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    expected = tmp_path / "state" / "fdb-election" / "default.fdbe"
    assert default_url() == f"sqlite:{expected}"
    db = connect()
    try:
        assert _roundtrip(db) == b"ok"
        assert expected.is_file()
        assert (expected.parent.stat().st_mode & 0o777) == 0o700
    finally:
        db.close()


def test_default_falls_back_to_home_when_xdg_state_home_is_unset_or_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    expected = f"sqlite:{tmp_path / '.local' / 'state' / 'fdb-election' / 'default.fdbe'}"
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    assert default_url() == expected
    monkeypatch.setenv("XDG_STATE_HOME", "relative/state")
    assert default_url() == expected


def test_empty_environment_variable_means_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, "  ")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_url() == f"sqlite:{tmp_path / 'fdb-election' / 'default.fdbe'}"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://localhost", "unknown scheme 'redis:'"),
        ("/tmp/election.fdbe", "it has no scheme"),
    ],
)
def test_unknown_scheme_lists_the_allowed_ones(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        connect(url)
    for allowed in ("memory:", "sqlite:PATH", "fdb:", "fdb:CLUSTER_FILE"):
        assert allowed in str(info.value)


def test_malformed_urls_say_what_is_expected() -> None:
    with pytest.raises(ValueError, match="needs a file path"):
        connect("sqlite:")
    with pytest.raises(ValueError, match="takes nothing after the colon"):
        connect("memory:something")


def test_missing_cluster_file_is_reported_before_loading_the_client(tmp_path: Path) -> None:
    missing = tmp_path / "nope.cluster"
    with pytest.raises(ValueError, match="does not exist"):
        connect(f"fdb:{missing}")


@pytest.mark.skipif(_libfdb_c_loads(), reason="libfdb_c is installed here, so fdb: would work")
def test_fdb_without_libfdb_c_says_what_to_install(tmp_path: Path) -> None:
    cluster = tmp_path / "fdb.cluster"
    cluster.write_text("test:test@127.0.0.1:4500\n")
    for url in ("fdb:", f"fdb:{cluster}"):
        with pytest.raises(FdbUnavailableError) as info:
            connect(url)
        message = str(info.value)
        assert "libfdb_c" in message
        assert "foundationdb-clients" in message
        assert "memory:" in message  # and what works without it


def test_the_default_file_gets_its_directory_even_when_named_explicitly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI resolves the default URL itself and passes it on: that must work on a fresh account.
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    expected = tmp_path / "state" / "fdb-election" / "default.fdbe"
    db = connect(default_url())
    try:
        assert _roundtrip(db) == b"ok"
        assert expected.is_file()
        assert (expected.parent.stat().st_mode & 0o777) == 0o700
    finally:
        db.close()


def test_other_missing_directories_are_not_created(tmp_path: Path) -> None:
    with pytest.raises(FileStoreError, match="does not exist"):
        connect(f"sqlite:{tmp_path / 'nowhere' / 'x.fdbe'}")
    assert not (tmp_path / "nowhere").exists()


def test_create_false_reports_a_missing_file_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "typo.fdbe"
    with pytest.raises(DatabaseNotFoundError) as caught:
        connect(f"sqlite:{path}", create=False)
    assert caught.value.path == str(path)
    assert str(path) in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # neither the file nor its .wake directory


def test_create_false_opens_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "there.fdbe"
    connect(f"sqlite:{path}").close()
    db = connect(f"sqlite:{path}", create=False)
    try:
        assert _roundtrip(db) == b"ok"
        assert db.path == str(path)
    finally:
        db.close()
