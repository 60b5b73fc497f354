"""Whether a directory is on a file system that several hosts share (NFS, SMB, CephFS, ...).

The file store elects among the processes of ONE host: SQLite's WAL index is shared memory
(``mmap`` of the ``-shm`` file), its locks are the kernel's, and the wake-up channel is Unix
sockets. On a file system that other hosts mount too, processes on two hosts each see their own
memory and locks, so both can claim the same lease and lead at once; SQLite itself warns that
WAL does not work over a network file system. So the store refuses such a directory (see
:func:`check_local`) instead of failing silently the day a second host opens the file.

The file system is looked up in ``/proc/self/mountinfo`` (Linux): the mount with the longest
mount point that contains the directory. Elsewhere nothing is checked.
"""

from __future__ import annotations

import os

__all__ = ["ALLOW_ENV", "SHARED_TYPES", "check_local", "shared_filesystem"]

#: Set to ``1`` to open a database file on a shared file system anyway (one host only!).
ALLOW_ENV = "FDB_ELECTION_ALLOW_NETWORK_FS"

#: File system types (as ``/proc/self/mountinfo`` names them) that several hosts mount at once:
#: network file systems, cluster file systems on shared disks, and FUSE clients of either.
SHARED_TYPES = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ncpfs",
        "afs",
        "coda",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "beegfs",
        "orangefs",
        "pvfs2",
        "ocfs2",
        "gfs2",
        "fuse.sshfs",
        "fuse.glusterfs",
        "fuse.ceph-fuse",
        "fuse.s3fs",
        "fuse.gcsfuse",
        "fuse.rclone",
        "fuse.juicefs",
        "fuse.goofys",
        "fuse.mount-s3",
        "fuse.davfs",
    }
)

_MOUNTINFO = "/proc/self/mountinfo"


def _unescape(field: str) -> str:
    """A mount point as mountinfo writes it, with ``\\040`` (space) and the like decoded."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        octal = field[i + 1 : i + 4]
        if field[i] == "\\" and len(octal) == 3 and all(c in "01234567" for c in octal):
            out.append(chr(int(octal, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _mounts(mountinfo: str) -> list[tuple[str, str]]:
    """(mount point, file system type) of every line of a mountinfo text."""
    mounts = []
    for line in mountinfo.splitlines():
        fields = line.split()
        try:
            separator = fields.index("-", 6)  # after the optional fields
        except ValueError:
            continue  # not a mountinfo line
        if separator + 1 < len(fields):
            mounts.append((_unescape(fields[4]), fields[separator + 1]))
    return mounts


def shared_filesystem(directory: str, mountinfo: str | None = None) -> str | None:
    """The type of the file system holding ``directory`` when several hosts can mount it (one
    of :data:`SHARED_TYPES`), else None; None too where ``/proc/self/mountinfo`` cannot be read.

    ``mountinfo``: the text to look in instead of ``/proc/self/mountinfo`` (tests).
    """
    if mountinfo is None:
        try:
            with open(_MOUNTINFO, encoding="utf-8", errors="surrogateescape") as f:
                mountinfo = f.read()
        except OSError:
            return None
    path = os.path.realpath(directory)
    best, kind = "", None
    for point, fstype in _mounts(mountinfo):
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fstype  # a later mount over the same point hides the earlier
    return kind if kind in SHARED_TYPES else None


def check_local(path: str, *, allow_shared: bool | None = None) -> None:
    """Raise :class:`~.errors.FileStoreError` when the database file ``path`` would live on a
    file system shared between hosts, unless ``allow_shared`` (default: the environment
    variable :data:`ALLOW_ENV` set to ``1``)."""
    from fdb_election.embedded.errors import FileStoreError

    if allow_shared is None:
        allow_shared = os.environ.get(ALLOW_ENV, "") == "1"
    if allow_shared:
        return
    kind = shared_filesystem(os.path.dirname(path) or ".")
    if kind is not None:
        raise FileStoreError(
            f"cannot use database file {path!r}: its file system ({kind}) is one that other "
            "hosts mount too. The file store elects among the processes of one host only "
            "(SQLite's shared memory and locks, and the wake-up sockets, do not reach across "
            "hosts), so processes on two hosts could both lead. Put the file on a local file "
            "system, or elect across hosts with a FoundationDB cluster; if every process that "
            f"opens the file runs on this host, set {ALLOW_ENV}=1 to open it anyway"
        )
