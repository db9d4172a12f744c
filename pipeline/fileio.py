"""Durable file writes and hashing, shared by every stage that writes files.

A write goes to ``.<name>.<random>.tmp`` beside the target, is fsynced, then
renamed over the target and the folder fsynced: readers never see half a file,
and a crash leaves the old version (plus a ``.tmp`` the service sweeps away).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20
TMP_GLOB = ".*.tmp"  # what a crash can leave behind


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(target: Path, write: Callable[[BinaryIO], object]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    atomic_write(target, lambda fh: fh.write(data))


def atomic_copy(src: Path, target: Path) -> None:
    def copy(fh: BinaryIO) -> None:
        with open(src, "rb") as inp:
            shutil.copyfileobj(inp, fh, CHUNK)

    atomic_write(target, copy)


def sha256_file(path: Path) -> tuple[str, int]:
    """(hex SHA-256, size in bytes) of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


_UNSAFE_NAME = str.maketrans({ch: "_" for ch in '/\\:*?"<>|'})


def safe_name(code: str) -> str:
    """档号 as a file name: characters Windows/FAT refuse become ``_`` (``·`` and ``-`` stay)."""
    return code.translate(_UNSAFE_NAME)


def space_problem(path: Path, floor_bytes: int) -> str | None:
    """Why work must wait: the filesystem holding ``path`` has less than ``floor_bytes``
    free (None when there is room, or no floor is set)."""
    if floor_bytes <= 0:
        return None
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return None  # not there yet: the writes themselves will say what is wrong
    if free >= floor_bytes:
        return None
    return (f"only {free / 2**20:,.0f} MiB free on {path}, below the {floor_bytes / 2**20:,.0f} MiB floor "
            "(min_free_mb): intake and processing wait until space is freed")


_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_FULL_TEXTS = ("no space left on device", "database or disk is full", "disk quota exceeded")


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it, e.g. under a PdfaError or a database error)
    is a full disk: waiting for space, not retrying at once, is the cure."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return True
        if any(text in str(current).lower() for text in _FULL_TEXTS):
            return True
        current = current.__cause__ or current.__context__ or getattr(current, "orig", None)
    return False
