"""Taking custody of bytes: hash, copy, fsync — before anything else happens.

The originals store is content-addressed (``originals/ab/abcdef…``) and
write-once: the same bytes land in the same place, so a retry after a crash
cannot create a second copy, and a file once stored is never modified.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.fileio import CHUNK, fsync_dir


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    path: Path


class FileVanished(Exception):
    """The file was deleted or replaced while it was being read."""


def copy_hashed(src: Path, staging: Path) -> tuple[Path, str, int]:
    """Copy ``src`` into a staging file while hashing it; fsync the copy.

    Raises FileVanished if the source disappeared or changed during the copy,
    in which case the staging copy (what could be read) is left for the caller.
    """
    staging.mkdir(parents=True, exist_ok=True)
    before = os.stat(src)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=staging, prefix=".in-", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            while chunk := inp.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:  # disk full, a read error: no half copy is left in staging
        tmp.unlink(missing_ok=True)
        raise
    try:
        after = os.stat(src)
    except FileNotFoundError as exc:
        raise FileVanished(str(tmp)) from exc
    if (after.st_ino, after.st_size, after.st_mtime_ns) != (before.st_ino, before.st_size, before.st_mtime_ns) \
            or size != before.st_size:
        raise FileVanished(str(tmp))
    return tmp, digest.hexdigest(), size


class OriginalsStore:
    """Write-once, content-addressed store of original scans."""

    def __init__(self, root: Path, staging: Path) -> None:
        self.root = root
        self.staging = staging

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def adopt(self, tmp: Path, sha256: str, size: int) -> StoredFile:
        """Move a hashed staging copy (see :func:`copy_hashed`) into the store."""
        dest = self.path_for(sha256)
        if dest.exists() and dest.stat().st_size == size:
            tmp.unlink(missing_ok=True)  # same bytes already kept
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dest)
            os.chmod(dest, 0o444)  # originals are never modified
            fsync_dir(dest.parent)
        return StoredFile(sha256, size, dest)


def move_durably(src: Path, dest: Path) -> None:
    """Move a file or folder, surviving a crash half-way (copy, fsync, then delete)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(src, dest)  # same filesystem: atomic
    except OSError:
        if src.is_dir() and not src.is_symlink():
            shutil.copytree(src, dest, symlinks=True)
        else:
            shutil.copy2(src, dest, follow_symlinks=False)
        _fsync_tree(dest)
        if src.is_dir() and not src.is_symlink():
            shutil.rmtree(src)
        else:
            src.unlink()
    fsync_dir(dest.parent)


def _fsync_tree(path: Path) -> None:
    if path.is_symlink():
        return
    if path.is_file():
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
        return
    for child in path.rglob("*"):
        if child.is_file() and not child.is_symlink():
            with open(child, "rb") as fh:
                os.fsync(fh.fileno())
