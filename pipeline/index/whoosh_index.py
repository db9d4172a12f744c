"""Whoosh backend, kept behind the same interface as tantivy.

Same token streams as tantivy (analysis.py), indexed with a whitespace
tokenizer that records positions, so phrase queries and results agree.
Research §2 measured it ~28× slower to index and ~200× slower on common
phrases at 100k pages: use it for compatibility, not as the engine.

Whoosh cannot delete documents still buffered in an open writer, so adds and
deletes are buffered here and applied at commit (that keeps upsert-by-page_id
correct inside one batch).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path

with warnings.catch_warnings():
    # whoosh 2.7.4 has invalid escape sequences (Deprecation/SyntaxWarning on import).
    warnings.simplefilter("ignore")
    from whoosh import index as windex
    from whoosh import query as wq
    from whoosh.analysis import SpaceSeparatedTokenizer
    from whoosh.fields import ID, STORED, TEXT, Schema
    from whoosh.writing import CLEAR

from ..domain import PageDocument
from .analysis import QueryPlan, page_streams
from .base import SearchIndex, prepare_directory, sort_key, stored_fields

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
        sortkey=ID(sortable=True),
        uni=TEXT(analyzer=tokens, phrase=False),
        bi=TEXT(analyzer=tokens, phrase=True),
        doc=STORED,
    )


def _looks_like_whoosh(path: Path) -> bool:
    return any(path.glob("_*.toc"))


class WhooshIndex(SearchIndex):
    backend = "whoosh"
    SCHEMA_VERSION = 1

    def __init__(self, path: Path):
        super().__init__(path)
        prepare_directory(self.path, self.backend, self.SCHEMA_VERSION, _looks_like_whoosh)
        if windex.exists_in(str(self.path)):
            self._ix = windex.open_dir(str(self.path))
        else:
            self._ix = windex.create_in(str(self.path), _schema())
        self._searcher = None
        self._pending: dict[int, PageDocument] = {}
        self._deleted_items: set[int] = set()

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
        if self._pending or self._deleted_items:
            writer = self._ix.writer(limitmb=WRITER_LIMIT_MB, timeout=LOCK_TIMEOUT_S)
            try:
                for item_id in sorted(self._deleted_items):
                    writer.delete_by_term("item_id", str(item_id))
                for doc in self._pending.values():
                    uni, bi = page_streams(doc.title, doc.text)
                    writer.update_document(
                        page_id=str(doc.page_id),
                        item_id=str(doc.item_id),
                        year=None if doc.year is None else str(int(doc.year)),
                        village=doc.village,
                        category=doc.category,
                        sortkey=sort_key(doc.archival_code, doc.page_no),
                        uni=uni,
                        bi=bi,
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
        writer = self._ix.writer(timeout=LOCK_TIMEOUT_S)
        writer.commit(mergetype=CLEAR)
        self._refresh()

    def close(self) -> None:
        self._pending.clear()
        self._deleted_items.clear()
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
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
        return self._s().doc_count()

    def _search(self, plan: QueryPlan, filters: dict, n: int) -> tuple[int, list[tuple[float, dict]]]:
        clauses: list[wq.Query] = []
        for term in plan.terms:
            clauses.extend(wq.Term("uni", u) for u in term.unigrams)
            if len(term.phrase) == 1:
                clauses.append(wq.Term("bi", term.phrase[0]))
            elif term.phrase:
                clauses.append(wq.Phrase("bi", list(term.phrase), slop=1))  # slop 1 = adjacent
        query = wq.And(clauses) if len(clauses) > 1 else (clauses[0] if clauses else wq.Every())
        flt = [wq.Term(k, str(v)) for k, v in filters.items()]
        # filter= restricts matches without touching scores.
        kwargs = {"filter": wq.And(flt) if len(flt) > 1 else flt[0]} if flt else {}
        searcher = self._s()
        if plan.empty:
            results = searcher.search(query, limit=n, sortedby="sortkey", **kwargs)
        else:
            results = searcher.search(query, limit=n, **kwargs)
        rows = [(0.0 if plan.empty else float(hit.score), hit["doc"]) for hit in results]
        return len(results), rows
