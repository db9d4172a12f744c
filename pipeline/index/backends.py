"""The search backends by name, and the index a long-running reader keeps open.

Apart from the interface (:mod:`pipeline.index.base`), so that a backend imports the
interface and this registry imports the backends, never the other way round.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from .base import (
    BACKENDS,
    DEFAULT_BACKEND,
    SENTINEL_NAME,
    STATE_READY,
    IndexDamaged,
    SearchIndex,
    read_sentinel,
    sentinel_matches,
    wipe_directory,
)

log = logging.getLogger(__name__)


def _backend_class(backend: str) -> type[SearchIndex]:
    if backend == "tantivy":
        from .tantivy_index import TantivyIndex

        return TantivyIndex
    if backend == "whoosh":
        from .whoosh_index import WhooshIndex

        return WhooshIndex
    raise ValueError(f"unknown search backend {backend!r}; valid: {', '.join(BACKENDS)}")


def open_index(backend: str | None, path: Path | str) -> SearchIndex:
    """Open (or create) the index at ``path``. A sentinel mismatch wipes the
    directory and leaves an empty index with needs_rebuild() true."""
    cls = _backend_class(backend or DEFAULT_BACKEND)
    return cls(Path(path))


def reset_index(backend: str | None, path: Path | str) -> SearchIndex:
    """Wipe the index directory (only if it is ours, see wipe_directory) and open a fresh,
    empty index with needs_rebuild() true: where a rebuild starts, whatever state (or damage)
    the old index was in."""
    cls = _backend_class(backend or DEFAULT_BACKEND)
    # Either engine's remains are ours: the configured backend may have changed.
    wipe_directory(Path(path), lambda p: any(_backend_class(b).looks_like_index(p) for b in BACKENDS))
    return cls(Path(path))


def needs_rebuild(backend: str | None, path: Path | str) -> bool:
    """True when the index at ``path`` does not (yet) mirror the catalog:
    missing, written by another backend/schema/analyzer, or wiped and not
    rebuilt since. Reads only the sentinel; takes no lock."""
    backend = backend or DEFAULT_BACKEND
    cls = _backend_class(backend)
    path = Path(path)
    if not sentinel_matches(path, backend, cls.SCHEMA_VERSION):
        return True
    return (read_sentinel(path) or {}).get("state") != STATE_READY


class SharedIndex:
    """One open index for a long-running reader (the web UI serves every search from it):
    opening an index costs more than most queries. Reopened when its sentinel file is
    replaced (the directory wiped for a new schema, or a rebuild finished); between those,
    the backend's reader picks up the indexer's commits by itself."""

    def __init__(self, backend: str | None, path: Path | str) -> None:
        self.backend, self.path = backend or DEFAULT_BACKEND, Path(path)
        self._lock = threading.Lock()
        self._index: SearchIndex | None = None
        self._stamp: tuple[int, int] | None = None
        self._damage = ""  # last damage logged: once, not on every search

    def get(self) -> SearchIndex | None:
        """The open index, or None while it needs a rebuild (searches would be incomplete)
        or is damaged. A damaged index is tried again on the next call: the rebuild that
        repairs it replaces the sentinel, and a reader can also catch files mid-merge."""
        try:
            st = (self.path / SENTINEL_NAME).stat()
        except OSError:
            return None
        stamp = (st.st_ino, st.st_mtime_ns)
        with self._lock:
            if stamp != self._stamp:
                self.close()
                if needs_rebuild(self.backend, self.path):
                    return None
                try:
                    self._index, self._stamp = open_index(self.backend, self.path), stamp
                except IndexDamaged as exc:
                    if str(exc) != self._damage:
                        log.warning("%s", exc)
                        self._damage = str(exc)
                    return None
                self._damage = ""
            return self._index

    def discard(self, index: SearchIndex) -> None:
        """Forget ``index`` after a search found it damaged, so that the next get() opens and
        checks it again. Not closed here: another request may still be reading it."""
        with self._lock:
            if self._index is index:
                self._index, self._stamp = None, None

    def close(self) -> None:
        if self._index is not None:
            index, self._index, self._stamp = self._index, None, None
            index.close()

