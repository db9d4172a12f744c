"""Whoosh backend, kept behind the same interface as tantivy.

Same token streams as tantivy (analysis.py), indexed with a whitespace
tokenizer that records positions, so phrase queries and results agree.
Research §2 measured it ~28× slower to index and ~200× slower on common
phrases at 100k pages: use it for compatibility, not as the engine.

Whoosh cannot delete documents still buffered in an open writer, so adds and
deletes are buffered here and applied at commit (that keeps upsert-by-page_id
correct inside one batch).

Years are stored as 4-digit terms, so the year range is a term range. Facets
use Whoosh's grouping, which walks every matching document in Python: fine
for the small indexes this backend is for, slow at 100k+ pages.

Whoosh reads its files with pickle, struct and zlib in pure Python: a damaged
file surfaces as any of DAMAGE_ERRORS, turned into IndexDamaged by ``_guard``.
"""

from __future__ import annotations

import contextlib
import pickle
import struct
import warnings
import zlib
from collections.abc import Iterable
from pathlib import Path

with warnings.catch_warnings():
    # whoosh 2.7.4 has invalid escape sequences (Deprecation/SyntaxWarning on import).
    warnings.simplefilter("ignore")
    from whoosh import index as windex
    from whoosh import query as wq
    from whoosh import sorting
    from whoosh.analysis import SpaceSeparatedTokenizer
    from whoosh.fields import ID, STORED, TEXT, Schema
    from whoosh.writing import CLEAR

from ..domain import PageDocument
from .analysis import QueryPlan, QueryTerm, page_streams
from .base import FACET_FIELDS, WORD_BONUS, SearchIndex, date_key, prepare_directory, sort_key, stored_fields

# Builtin IndexError (a short list read from a damaged file) and whoosh's own IndexError
# (a damaged table of contents) are different classes.
_DAMAGE_ERRORS: tuple[type[BaseException], ...] = (
    OSError, EOFError, ValueError, IndexError, KeyError, struct.error, zlib.error, pickle.UnpicklingError,
    windex.IndexError,
)

WRITER_LIMIT_MB = 64
LOCK_TIMEOUT_S = 30.0  # wait this long for another process's writer


def _schema() -> Schema:
    tokens = SpaceSeparatedTokenizer()  # our tokens as they are, with positions
    return Schema(
        page_id=ID(unique=True),
        item_id=ID,
        year=ID,
        village=ID,
        category=ID,
        fonds=ID,
        retention=ID,
        class_code=ID,
        sortkey=ID(sortable=True),
        datekey=ID(sortable=True),
        uni=TEXT(analyzer=tokens, phrase=False),
        bi=TEXT(analyzer=tokens, phrase=True),
        ids=TEXT(analyzer=tokens, phrase=False),
        words=TEXT(analyzer=tokens, phrase=False),
        doc=STORED,
    )


class WhooshIndex(SearchIndex):
    backend = "whoosh"
    SCHEMA_VERSION = 3
    DAMAGE_ERRORS = _DAMAGE_ERRORS

    def __init__(self, path: Path):
        super().__init__(path)
        prepare_directory(self.path, self.backend, self.SCHEMA_VERSION, self.looks_like_index)
        self._searcher = None
        self._pending: dict[int, PageDocument] = {}
        self._deleted_items: set[int] = set()
        with self._guard():
            if windex.exists_in(str(self.path)):
                self._ix = windex.open_dir(str(self.path))
                try:
                    self._check()
                except BaseException:
                    with contextlib.suppress(Exception):  # release file handles; the damage is what counts
                        self.close()
                    raise
            else:
                self._missing_files()
                self._ix = windex.create_in(str(self.path), _schema())

    @staticmethod
    def looks_like_index(path: Path) -> bool:
        return any(path.glob("_*.toc")) or any(path.glob("*.seg"))

    def _check(self) -> None:
        """Cheap integrity check at open: every segment opens, and its first stored page reads."""
        for reader, _ in self._s().reader().leaf_readers():
            if reader.doc_count_all():
                reader.stored_fields(0)

    def add(self, docs: Iterable[PageDocument]) -> int:
        n = 0
        for doc in docs:
            self._pending[doc.page_id] = doc  # last one wins, like tantivy
            n += 1
        return n

    def delete_items(self, item_ids: Iterable[int]) -> None:
        ids = {int(i) for i in item_ids}
        if not ids:
            return
        self._deleted_items |= ids
        for page_id in [p for p, d in self._pending.items() if d.item_id in ids]:
            del self._pending[page_id]

    def commit(self) -> None:
        with self._guard():
            self._commit()

    def _commit(self) -> None:
        if self._pending or self._deleted_items:
            writer = self._ix.writer(limitmb=WRITER_LIMIT_MB, timeout=LOCK_TIMEOUT_S)
            try:
                for item_id in sorted(self._deleted_items):
                    writer.delete_by_term("item_id", str(item_id))
                for doc in self._pending.values():
                    streams = page_streams(doc.title, doc.text)
                    writer.update_document(
                        page_id=str(doc.page_id),
                        item_id=str(doc.item_id),
                        year=None if doc.year is None else f"{int(doc.year):04d}",
                        village=doc.village or None,
                        category=doc.category or None,
                        fonds=doc.fonds or None,
                        retention=doc.retention or None,
                        class_code=doc.class_code or None,
                        sortkey=sort_key(doc.archival_code, doc.page_no),
                        datekey=date_key(doc),
                        uni=streams.uni,
                        bi=streams.bi,
                        ids=streams.ids,
                        words=streams.words,
                        doc=stored_fields(doc),
                    )
            except BaseException:
                writer.cancel()
                raise
            writer.commit()
        self._pending.clear()
        self._deleted_items.clear()
        self._refresh()

    def clear(self) -> None:
        self._pending.clear()
        self._deleted_items.clear()
        with self._guard():
            writer = self._ix.writer(timeout=LOCK_TIMEOUT_S)
            writer.commit(mergetype=CLEAR)
            self._refresh()

    def close(self) -> None:
        self._pending.clear()
        self._deleted_items.clear()
        with self._guard():
            if self._searcher is not None:
                searcher, self._searcher = self._searcher, None
                searcher.close()
            self._ix.close()

    def _refresh(self) -> None:
        if self._searcher is not None:
            self._searcher = self._searcher.refresh()

    def _s(self):
        if self._searcher is None:
            self._searcher = self._ix.searcher()
        elif not self._searcher.up_to_date():  # another process committed
            self._searcher = self._searcher.refresh()
        return self._searcher

    def count(self) -> int:
        with self._guard():
            return self._s().doc_count()

    @staticmethod
    def _term_query(term: QueryTerm) -> wq.Query:
        alternatives: list[wq.Query] = [
            wq.Term("bi", p[0]) if len(p) == 1 else wq.Phrase("bi", list(p), slop=1)  # slop 1 = adjacent
            for p in term.phrases
        ]
        if term.id_tail:
            alternatives.append(wq.Term("ids", term.id_tail))
        musts: list[wq.Query] = [wq.Term("uni", u) for u in term.unigrams]
        if term.id_key:
            musts.append(wq.Term("ids", term.id_key))
            if not term.id_key_exact:
                musts.append(wq.Regex("bi", term.id_pattern + "$"))  # re.match: anchor the end
        if alternatives:
            musts.append(wq.Or(alternatives) if len(alternatives) > 1 else alternatives[0])
        query = wq.And(musts) if len(musts) > 1 else musts[0]
        if term.words:  # score only: the name (or a look-alike spelling) standing alone ranks first
            alone = wq.Or([wq.Term("words", w) for w in term.words])
            query = wq.AndMaybe(query, wq.ConstantScoreQuery(alone, WORD_BONUS))
        return query

    def _query(self, plan: QueryPlan, exclude: QueryPlan | None = None) -> wq.Query:
        clauses = [self._term_query(t) for t in plan.terms]
        query = wq.And(clauses) if len(clauses) > 1 else (clauses[0] if clauses else wq.Every())
        if exclude is not None and not exclude.empty:
            query = wq.AndNot(query, self._query(exclude))
        return query

    @staticmethod
    def _filter(filters: dict) -> dict:
        """search() kwargs: filter= restricts matches without touching scores."""
        flt: list[wq.Query] = [
            wq.Term(k, f"{v:04d}" if k == "year" else str(v))
            for k, v in filters.items() if k not in ("year_from", "year_to")
        ]
        if "year_from" in filters or "year_to" in filters:
            lo, hi = filters.get("year_from"), filters.get("year_to")
            flt.append(wq.TermRange("year", None if lo is None else f"{lo:04d}", None if hi is None else f"{hi:04d}"))
        return {"filter": wq.And(flt) if len(flt) > 1 else flt[0]} if flt else {}

    def query(
        self, plan: QueryPlan, filters: dict, n: int, *, sort: str = "relevance", exclude: QueryPlan | None = None
    ) -> tuple[int, list[tuple[float, dict]]]:
        query = self._query(plan, exclude)
        kwargs = self._filter(filters)
        by_key = plan.empty or sort == "date"
        if by_key:
            kwargs["sortedby"] = "datekey" if sort == "date" else "sortkey"
        with self._guard():
            results = self._s().search(query, limit=n, **kwargs)
            rows = [(0.0 if by_key else float(hit.score), hit["doc"]) for hit in results]
            return len(results), rows

    def facets(self, plan: QueryPlan, filters: dict) -> dict[str, dict[str, int]]:
        facets = sorting.Facets()
        for name in FACET_FIELDS:
            facets.add_field(name, maptype=sorting.Count)
        query, flt = self._query(plan), self._filter(filters)
        with self._guard():
            results = self._s().search(query, limit=1, groupedby=facets, **flt)
            groups = {name: results.groups(name) for name in FACET_FIELDS}
        out: dict[str, dict[str, int]] = {}
        for name in FACET_FIELDS:
            # Pages without a value are grouped under None/"": not a facet value.
            counts = {str(k if k is not None else ""): int(v) for k, v in groups[name].items()}
            out[name] = {k: v for k, v in counts.items() if k}
        return out
