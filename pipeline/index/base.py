"""SearchIndex interface and the version sentinel (the backends by name: backends.py).

The index is a rebuildable cache of the catalog. A small JSON sentinel in the
index directory records which backend, schema and analyzer wrote it. Opening
an index whose sentinel differs (or that has none) wipes and recreates it and
marks it "rebuild needed"; ``needs_rebuild`` stays true until the caller has
re-added every page from the catalog and called ``mark_rebuilt()`` (or used
``rebuild()``, which does both).

A damaged index (unreadable, truncated or missing files) raises ``IndexDamaged``
on open or on use, never the engine's own errors; ``reset_index`` wipes it so
that it can be rebuilt from the catalog.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from pipeline.text import mask_private_numbers

from ..domain import PageDocument, SearchHit
from ..fileio import is_disk_full
from .analysis import ANALYZER_VERSION, QueryPlan
from .snippets import make_snippet

log = logging.getLogger(__name__)

SENTINEL_NAME = "dangan-index.json"
BACKENDS = ("tantivy", "whoosh")
DEFAULT_BACKEND = "tantivy"
# Exact-value filters, plus an inclusive year range (year_from/year_to).
FILTER_FIELDS = ("year", "year_from", "year_to", "village", "category", "fonds", "retention", "class_code")
INT_FILTERS = ("year", "year_from", "year_to")
# Fields counted per value for the result's facets (class_code = document type).
FACET_FIELDS = ("fonds", "village", "year", "category", "retention", "class_code")
SORTS = ("relevance", "date")
# Score added when a query name stands alone on the page (QueryTerm.words):
# larger than any BM25 score of a few-term query, so pages naming 王芳 come
# before pages that only contain 王芳芳, whatever the term frequencies.
WORD_BONUS = 100.0

STATE_READY = "ready"
STATE_REBUILD = "rebuild-needed"


class IndexDirectoryError(RuntimeError):
    """The index directory cannot be used (e.g. it holds foreign files)."""


class IndexDamaged(IndexDirectoryError):
    """The index files cannot be read (corrupted, truncated or missing). The index is only a
    cache of the catalog: `dangan index rebuild` (or the service at start) recreates it."""

    def __init__(self, path: Path | str, detail: str) -> None:
        self.path, self.detail = Path(path), detail
        super().__init__(f"the search index at {path} is damaged ({detail}): run `dangan index rebuild`")


def is_panic(exc: BaseException) -> bool:
    """A Rust panic inside tantivy: pyo3 raises pyo3_runtime.PanicException, a BaseException
    (so ``except Exception`` misses it) whose class no module exports: known by its name."""
    return type(exc).__name__ == "PanicException"


def _detail(exc: BaseException) -> str:
    # Engine messages can be long (a Rust debug dump): the first line, shortened, is enough.
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= 200 else text[:197] + "..."


@contextmanager
def damage_guard(path: Path, errors: tuple[type[BaseException], ...]) -> Iterator[None]:
    """Turn the engine's errors while reading or writing the index files into IndexDamaged."""
    try:
        yield
    except IndexDamaged:
        raise
    except BaseException as exc:
        # A full disk is not damage: wiping and rebuilding would only fail again, and lose the index.
        if (isinstance(exc, errors) or is_panic(exc)) and not is_disk_full(exc):
            raise IndexDamaged(path, _detail(exc)) from exc
        raise


class SearchIndex(ABC):
    """Full-text page index. One writer per index directory (both engines
    lock it); readers may be any number of processes. Changes become visible
    to ``search``/``count`` after ``commit()``."""

    backend: str = ""
    SCHEMA_VERSION: int = 0
    # What the engine raises on damaged files (besides a Rust panic, see is_panic).
    DAMAGE_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError)

    def __init__(self, path: Path):
        self.path = Path(path)

    @staticmethod
    def looks_like_index(path: Path) -> bool:
        """The directory holds files this engine writes (so it may be wiped)."""
        return False

    @property
    def schema_version(self) -> int:
        return self.SCHEMA_VERSION

    def _guard(self) -> AbstractContextManager[None]:
        """Context: the engine's errors on damaged files become IndexDamaged."""
        return damage_guard(self.path, self.DAMAGE_ERRORS)

    def _missing_files(self) -> None:
        """Called when the directory holds no index: fine while it awaits a rebuild (a fresh
        index is created), damage when the sentinel says it mirrors the catalog (files lost)."""
        if (read_sentinel(self.path) or {}).get("state") == STATE_READY:
            raise IndexDamaged(self.path, "its files are missing")

    # ── writing ──
    @abstractmethod
    def add(self, docs: Iterable[PageDocument]) -> int:
        """Upsert pages by page_id; returns how many were given."""

    @abstractmethod
    def delete_items(self, item_ids: Iterable[int]) -> None:
        """Remove every page of these items (件)."""

    @abstractmethod
    def commit(self) -> None:
        """Make pending changes durable and visible."""

    @abstractmethod
    def clear(self) -> None:
        """Remove every page (committed at once)."""

    @abstractmethod
    def close(self) -> None:
        """Release the writer lock; uncommitted changes are discarded."""

    # ── reading ──
    @abstractmethod
    def count(self) -> int:
        """Committed pages in the index."""

    @abstractmethod
    def query(
        self, plan: QueryPlan, filters: dict, n: int, *, sort: str = "relevance", exclude: QueryPlan | None = None
    ) -> tuple[int, list[tuple[float, dict]]]:
        """(total matches, up to n (score, stored fields) best-first).

        Stored fields: see ``stored_fields``. For an empty plan (browse),
        rows must already be in archival_code/page_no order; with
        sort="date", in date_key order (score 0). Pages matching ``exclude``
        (a non-empty plan) are left out."""

    @abstractmethod
    def facets(self, plan: QueryPlan, filters: dict) -> dict[str, dict[str, int]]:
        """Pages per value of each FACET_FIELDS field among the matches
        (values as strings; fields without any value may be missing)."""

    # ── rebuild bookkeeping ──
    def mark_rebuilt(self) -> None:
        """Record that the index again mirrors the catalog (after a rebuild)."""
        write_sentinel(self.path, self.backend, self.schema_version, STATE_READY)

    def rebuild(self, docs: Iterable[PageDocument], batch: int = 5000) -> int:
        """clear → add all pages in batches (commit per batch) → mark_rebuilt.
        If the process dies half-way, needs_rebuild() stays true."""
        self.clear()
        write_sentinel(self.path, self.backend, self.schema_version, STATE_REBUILD)
        total = 0
        chunk: list[PageDocument] = []
        for doc in docs:
            chunk.append(doc)
            if len(chunk) >= batch:
                total += self.add(chunk)
                self.commit()
                chunk = []
        total += self.add(chunk)
        self.commit()
        self.mark_rebuilt()
        return total

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def check_filters(filters: dict | None) -> dict:
    """Validated filters without empty values (ints for the year keys)."""
    clean: dict = {}
    for key, value in (filters or {}).items():
        if key not in FILTER_FIELDS:
            raise ValueError(f"unknown filter {key!r}; valid: {', '.join(FILTER_FIELDS)}")
        if value is None or value == "":
            continue
        clean[key] = int(value) if key in INT_FILTERS else str(value)
    return clean


# Beyond this many extra rows tied at the cut, tie order is left to the engine
# (pathological: thousands of pages with bit-identical scores).
_MAX_TIE_ROWS = 4096


def fetch_with_ties(
    fetch: Callable[[int], tuple[int, list[tuple[float, dict]]]], want: int
) -> tuple[int, list[tuple[float, dict]]]:
    """Fetch the top ``want`` rows plus every row tied with the last one, so
    the (score, archival_code, page_no) order is the same on every backend
    and stable across pages of results (BM25 ties are common: field norms
    are quantised)."""
    n = want + 1
    while True:
        total, rows = fetch(n)
        if len(rows) < n or rows[-1][0] < rows[want - 1][0] or n > want + _MAX_TIE_ROWS:
            return total, rows
        n *= 2


def make_hit(score: float, f: dict, plan: QueryPlan, approximate: bool = False) -> SearchHit:
    """A hit from stored fields, snippet highlighted for ``plan``."""
    return SearchHit(
        page_id=int(f["page_id"]),
        item_id=int(f["item_id"]),
        archival_code=f["archival_code"],
        # A title made from a file name or heading may hold an ID number (catalogued before
        # titles were masked at the source): it is shown masked, as the snippet beside it.
        title=mask_private_numbers(f["title"] or ""),
        page_no=int(f["page_no"]),
        score=float(score),
        snippet=make_snippet(f.get("text") or "", plan),
        pdf_path=f.get("pdf_path"),
        year=f.get("year"),
        village=f.get("village"),
        category=f.get("category"),
        fonds=f.get("fonds"),
        retention=f.get("retention"),
        class_code=f.get("class_code"),
        class_name=f.get("class_name"),
        doc_date=f.get("doc_date"),
        image_path=f.get("image_path"),
        sensitive=f.get("sensitive"),
        approximate=approximate,
    )


def stored_fields(doc: PageDocument) -> dict:
    """What a backend stores per page (everything SearchHit needs + text)."""
    return {
        "page_id": doc.page_id,
        "item_id": doc.item_id,
        "archival_code": doc.archival_code,
        "title": doc.title,
        "page_no": doc.page_no,
        "text": doc.text,
        "year": doc.year,
        "village": doc.village,
        "category": doc.category,
        "pdf_path": doc.pdf_path,
        "fonds": doc.fonds,
        "retention": doc.retention,
        "class_code": doc.class_code,
        "class_name": doc.class_name,
        "doc_date": doc.doc_date,
        "image_path": doc.image_path,
        "sensitive": doc.sensitive,
    }


def sort_key(archival_code: str, page_no: int) -> str:
    # Tab sorts before every printable character: "J1" < "J1-2".
    return f"{archival_code}\t{page_no:06d}"


def date_key(doc: PageDocument) -> str:
    """Date order: doc_date (YYYYMMDD), else the year; undated pages last;
    then archival code and page."""
    date = doc.doc_date or (f"{int(doc.year):04d}0000" if doc.year is not None else "99999999")
    return f"{date}\t{sort_key(doc.archival_code, doc.page_no)}"


# ───────────────────────────── sentinel ─────────────────────────────


def _sentinel_expected(backend: str, schema_version: int) -> dict:
    return {"backend": backend, "schema_version": schema_version, "analyzer_version": ANALYZER_VERSION}


def read_sentinel(path: Path) -> dict | None:
    try:
        data = json.loads((Path(path) / SENTINEL_NAME).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_sentinel(path: Path, backend: str, schema_version: int, state: str) -> None:
    data = _sentinel_expected(backend, schema_version) | {"state": state}
    target = Path(path) / SENTINEL_NAME
    tmp = target.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)  # atomic: a crash leaves the old or the new sentinel


def sentinel_matches(path: Path, backend: str, schema_version: int) -> bool:
    data = read_sentinel(path)
    if data is None:
        return False
    expected = _sentinel_expected(backend, schema_version)
    return all(data.get(k) == v for k, v in expected.items())


def wipe_directory(path: Path, looks_like_index: Callable[[Path], bool]) -> None:
    """Empty the index directory, if it is ours: our sentinel (even an unreadable one) or
    the engine's files show it. Never a directory that is not: a wrong --index path must
    not delete someone's files. The engines' lock files go too: a fresh index takes new ones."""
    path = Path(path)
    if not path.is_dir():
        return
    entries = list(path.iterdir())
    if entries and not (path / SENTINEL_NAME).exists() and not looks_like_index(path):
        raise IndexDirectoryError(f"{path} is not empty and holds no search index; refusing to wipe it")
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink(missing_ok=True)


def prepare_directory(path: Path, backend: str, schema_version: int, looks_like_index: Callable[[Path], bool]) -> bool:
    """Make ``path`` ready for this backend/schema/analyzer. Returns True when
    the existing index can be opened as is; otherwise the directory has been
    emptied (it is only a cache) and a "rebuild needed" sentinel written."""
    path = Path(path)
    if path.is_dir() and sentinel_matches(path, backend, schema_version):
        return True
    wipe_directory(path, looks_like_index)
    path.mkdir(parents=True, exist_ok=True)
    write_sentinel(path, backend, schema_version, STATE_REBUILD)
    return False
