"""The file store refuses a directory that other hosts mount too: two hosts could both lead."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fdb_election import embedded
from fdb_election.embedded import filesystem
from fdb_election.embedded.filesystem import shared_filesystem

MOUNTINFO = "\n".join(
    [
        "22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda rw",
        "30 22 0:40 / /mnt/team rw,relatime shared:9 - nfs4 fs:/export rw,vers=4.2",
        "31 30 253:2 / /mnt/team/local rw - xfs /dev/vdb rw",
        "32 22 0:41 / /srv/my\\040data rw - cifs //nas/share rw",
        "33 22 0:42 / /mnt/ssh rw - fuse.sshfs me@host: rw",
        "34 22 0:43 / /mnt/enc rw - fuse.encfs encfs rw",
        "35 22 0:44 / /mnt/team rw - ext4 /dev/vdc rw",  # mounted over the NFS mount
        "36 22 0:45 / /tmp rw - tmpfs tmpfs rw",
    ]
)


@pytest.mark.parametrize(
    ("directory", "kind"),
    [
        ("/srv/my data/elections", "cifs"),  # a mount point with an escaped space
        ("/mnt/ssh", "fuse.sshfs"),
        ("/mnt/team/local/x", None),  # a local mount inside the shared one
        ("/mnt/team", None),  # the local file system mounted over it hides it
        ("/mnt/enc/x", None),  # FUSE, but not shared between hosts
        ("/mnt/teamwork", None),  # a prefix of the name is not a parent directory
        ("/tmp/x", None),
        ("/var/lib", None),
    ],
)
def test_the_file_system_of_a_directory_is_its_deepest_mount(
    directory: str, kind: str | None
) -> None:
    assert shared_filesystem(directory, MOUNTINFO) == kind


def test_an_nfs_directory_is_found_shared() -> None:
    info = MOUNTINFO.replace("35 22 0:44 / /mnt/team rw - ext4 /dev/vdc rw", "")
    assert shared_filesystem("/mnt/team/app", info) == "nfs4"


def _on_nfs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Make the store believe that ``tmp_path`` is on NFS."""
    real = filesystem.shared_filesystem
    info = f"40 1 0:50 / {tmp_path} rw - nfs4 fs:/export rw\n"
    monkeypatch.setattr(filesystem, "shared_filesystem", lambda d: real(d, info))


def test_the_store_refuses_a_file_on_a_shared_file_system(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _on_nfs(monkeypatch, tmp_path)
    monkeypatch.delenv(filesystem.ALLOW_ENV, raising=False)
    path = tmp_path / "e.fdbe"
    with pytest.raises(embedded.FileStoreError) as refused:
        embedded.open(str(path))
    message = str(refused.value)
    assert "(nfs4)" in message and "one host" in message and filesystem.ALLOW_ENV in message
    assert not path.exists(), "nothing is created"
    db = embedded.open(str(path), allow_network_filesystem=True)
    db.close()
    monkeypatch.setenv(filesystem.ALLOW_ENV, "1")
    embedded.open(str(path)).close()


def test_the_cli_says_why_and_exits_1(tmp_path: Path) -> None:
    if not Path("/proc/self/mountinfo").exists():
        pytest.skip("no /proc/self/mountinfo here")
    # A child process whose mountinfo says tmp_path is on NFS (read through the module's path).
    fake = tmp_path / "mountinfo"
    fake.write_text(f"40 1 0:50 / {tmp_path} rw - nfs4 fs:/export rw\n")
    code = (
        "import sys; from fdb_election.embedded import filesystem; "
        f"filesystem._MOUNTINFO = {str(fake)!r}; "
        "from fdb_election.cli.main import main; sys.argv[0] = 'fdb-election'; main()"
    )
    url = f"sqlite:{tmp_path / 'e.fdbe'}"
    result = subprocess.run(
        [sys.executable, "-c", code, "--db", url, "init"], capture_output=True, text=True
    )
    assert result.returncode == 1, result.stderr
    assert "its file system (nfs4)" in result.stderr and filesystem.ALLOW_ENV in result.stderr
