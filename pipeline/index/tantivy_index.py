"""tantivy backend (the embedded default).

Tokens come pre-computed from analysis.py and are indexed with tantivy's
built-in "whitespace" tokenizer (no lower-casing or length filter inside the
engine: what the app produced is what gets indexed). Stored page data lives in
one stored-only bytes field (JSON), so the original OCR text is available for
snippets without being indexed a second time. Filter fields are fast fields:
facets are tantivy terms aggregations, the year range a fast-field range query.

Damage: tantivy reports unreadable files as ValueError (or panics); every call
into it runs under ``_guard`` and raises IndexDamaged instead. Opening also runs
a cheap integrity check (``_check``).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from pathlib import Path

import tantivy

from ..domain import PageDocument
from .analysis import QueryPlan, QueryTerm, page_streams
from .base import (
    FACET_FIELDS,
    WORD_BONUS,
    IndexDamaged,
    IndexDirectoryError,
    SearchIndex,
    date_key,
    prepare_directory,
    sort_key,
    stored_fields,
)

# What tantivy writes into an index directory besides segment files.
ENGINE_FILES = ("meta.json", ".managed.json", ".tantivy-meta.lock", ".tantivy-writer.lock")
# 64 MB single-threaded writer: research §2 measured num_threads=1; the
# machine is shared with OCR, which needs the cores more.
WRITER_HEAP = 64_000_000
_STRING_FIELDS = ("village", "category", "fonds", "retention", "class_code")
# More distinct values than any archive has villages or fonds; facets are for display.
_FACET_SIZE = 1000
# Every tantivy file ends with a footer: JSON (version, crc32 of the body), its length
# (u32 LE) and this magic number (u32 LE). tantivy/src/directory/footer.rs.
_FOOTER_MAGIC = 1337
_FOOTER_MAX_LEN = 50_000


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("page_id", indexed=True, fast=True)
    sb.add_integer_field("item_id", indexed=True)
    sb.add_integer_field("year", indexed=True, fast=True)
    for name in _STRING_FIELDS:
        sb.add_text_field(name, tokenizer_name="raw", index_option="basic", fast=True)
    sb.add_text_field("sortkey", tokenizer_name="raw", index_option="basic", fast=True)
    sb.add_text_field("datekey", tokenizer_name="raw", index_option="basic", fast=True)
    sb.add_text_field("ids", tokenizer_name="whitespace", index_option="basic")
    sb.add_text_field("words", tokenizer_name="whitespace", index_option="freq")
    # Unigrams are only term-queried: frequencies, no positions (smaller).
    sb.add_text_field("uni", tokenizer_name="whitespace", index_option="freq")
    sb.add_text_field("bi", tokenizer_name="whitespace", index_option="position")
    sb.add_bytes_field("doc", stored=True)
    return sb.build()


class TantivyIndex(SearchIndex):
    backend = "tantivy"
    SCHEMA_VERSION = 3

    def __init__(self, path: Path):
        super().__init__(path)
        prepare_directory(self.path, self.backend, self.SCHEMA_VERSION, self.looks_like_index)
        self._writer: tantivy.IndexWriter | None = None
        with self._guard():
            if tantivy.Index.exists(str(self.path)):
                self._index = tantivy.Index.open(str(self.path))
                self._check()
            else:
                self._missing_files()
                self._index = tantivy.Index(_schema(), path=str(self.path))
            self._schema = self._index.schema

    @staticmethod
    def looks_like_index(path: Path) -> bool:
        # Its lock files too: an index object still open elsewhere in the process (a reader
        # being replaced) may take its meta lock again right after a wipe.
        return any((path / name).exists() for name in ENGINE_FILES)

    def _check(self) -> None:
        """Cheap integrity check at open (about 1 ms on a 10k-page index). tantivy's open
        reads meta.json and the footers of most segment files; this adds the footer of every
        file tantivy lists for a live segment (positions are opened lazily), and one stored
        page per segment (the doc store). Damage inside a file body shows when it is read:
        checking crc32s would mean reading the whole index (~0.1 s per 10k pages)."""
        live = self._live_segments()
        try:
            # tantivy's own list of the files it wrote: never a foreign file.
            managed = json.loads((self.path / ".managed.json").read_text("utf-8"))
        except FileNotFoundError:
            managed = []
        for name in managed:
            segment = name.split(".", 1)[0]
            if segment in live:
                try:
                    _check_footer(self.path / name)
                except FileNotFoundError:
                    # The service may have merged the segment away since: damage only if still live.
                    if segment in self._live_segments():
                        raise
        searcher = self._index.searcher()
        if searcher.num_docs:
            for ordinal in range(searcher.num_segments):
                searcher.doc(tantivy.DocAddress(ordinal, 0)).get_first("doc")

    def _live_segments(self) -> set[str]:
        meta = json.loads((self.path / "meta.json").read_text("utf-8"))
        return {seg["segment_id"].replace("-", "") for seg in meta.get("segments", [])}

    # Writer opened on first write: read-only users never take the lock.
    def _w(self) -> tantivy.IndexWriter:
        if self._writer is None:
            try:
                self._writer = self._index.writer(heap_size=WRITER_HEAP, num_threads=1)
            except ValueError as exc:
                # Another writer is no damage: a rebuild must never wipe the index under it.
                if "LockBusy" in str(exc):
                    raise IndexDirectoryError(f"{self.path} is being written by another process") from exc
                raise
        return self._writer

    def add(self, docs: Iterable[PageDocument]) -> int:
        writer = None
        n = 0
        for doc in docs:
            if writer is None:
                with self._guard():
                    writer = self._w()
            streams = page_streams(doc.title, doc.text)
            tdoc = tantivy.Document()
            tdoc.add_integer("page_id", doc.page_id)
            tdoc.add_integer("item_id", doc.item_id)
            if doc.year is not None:
                tdoc.add_integer("year", int(doc.year))
            for name in _STRING_FIELDS:
                value = getattr(doc, name)
                if value:
                    tdoc.add_text(name, value)
            tdoc.add_text("sortkey", sort_key(doc.archival_code, doc.page_no))
            tdoc.add_text("datekey", date_key(doc))
            tdoc.add_text("uni", streams.uni)
            tdoc.add_text("bi", streams.bi)
            tdoc.add_text("ids", streams.ids)
            tdoc.add_text("words", streams.words)
            tdoc.add_bytes("doc", json.dumps(stored_fields(doc), ensure_ascii=False).encode("utf-8"))
            with self._guard():
                # Upsert: the delete applies to everything added before it.
                writer.delete_documents_by_term("page_id", doc.page_id)
                writer.add_document(tdoc)
            n += 1
        return n

    def delete_items(self, item_ids: Iterable[int]) -> None:
        ids = list(item_ids)
        if ids:
            with self._guard():
                writer = self._w()
                for item_id in ids:
                    writer.delete_documents_by_term("item_id", int(item_id))

    def commit(self) -> None:
        with self._guard():
            if self._writer is not None:
                self._writer.commit()
            self._index.reload()

    def clear(self) -> None:
        with self._guard():
            writer = self._w()
            writer.delete_all_documents()
            writer.commit()
            self._index.reload()

    def close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            with self._guard():
                try:
                    writer.rollback()
                finally:
                    # Consumes the writer, frees the lock, even after a failed rollback: a merge
                    # thread left running could write into the directory after a wipe.
                    writer.wait_merging_threads()

    def count(self) -> int:
        with self._guard():
            return self._index.searcher().num_docs

    def _term_query(self, term: QueryTerm) -> tantivy.Query:
        schema = self._schema
        musts = [tantivy.Query.term_query(schema, "uni", uni) for uni in term.unigrams]
        alternatives = [
            tantivy.Query.term_query(schema, "bi", p[0]) if len(p) == 1
            else tantivy.Query.phrase_query(schema, "bi", list(p))
            for p in term.phrases
        ]
        if term.id_tail:
            alternatives.append(tantivy.Query.term_query(schema, "ids", term.id_tail))
        if term.id_key:
            musts.append(tantivy.Query.term_query(schema, "ids", term.id_key))
            if not term.id_key_exact:
                musts.append(tantivy.Query.regex_query(schema, "bi", term.id_pattern))
        if len(alternatives) == 1:
            musts.append(alternatives[0])
        elif alternatives:
            musts.append(tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in alternatives]))
        clauses = [(tantivy.Occur.Must, q) for q in musts]
        if term.words:  # score only: the name (or a look-alike spelling) standing alone ranks first
            alone = [tantivy.Query.term_query(schema, "words", w) for w in term.words]
            word = alone[0] if len(alone) == 1 else tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, q) for q in alone])
            clauses.append((tantivy.Occur.Should, tantivy.Query.const_score_query(word, WORD_BONUS)))
        return musts[0] if len(clauses) == 1 else tantivy.Query.boolean_query(clauses)

    def _query(self, plan: QueryPlan, filters: dict, exclude: QueryPlan | None = None) -> tantivy.Query:
        schema = self._schema
        clauses = [(tantivy.Occur.Must, self._term_query(term)) for term in plan.terms]
        if not clauses:
            clauses.append((tantivy.Occur.Must, tantivy.Query.all_query()))
        if exclude is not None and not exclude.empty:
            clauses.append((tantivy.Occur.MustNot, self._query(exclude, {})))
        for field, value in filters.items():
            if field in ("year_from", "year_to"):
                continue
            q = tantivy.Query.term_query(schema, field, value)
            # Filters must not change scores (same ranking as without them).
            clauses.append((tantivy.Occur.Must, tantivy.Query.const_score_query(q, 0.0)))
        if "year_from" in filters or "year_to" in filters:
            q = tantivy.Query.range_query(
                schema, "year", tantivy.FieldType.Integer, filters.get("year_from"), filters.get("year_to")
            )
            clauses.append((tantivy.Occur.Must, tantivy.Query.const_score_query(q, 0.0)))
        return clauses[0][1] if len(clauses) == 1 else tantivy.Query.boolean_query(clauses)

    def query(
        self, plan: QueryPlan, filters: dict, n: int, *, sort: str = "relevance", exclude: QueryPlan | None = None
    ) -> tuple[int, list[tuple[float, dict]]]:
        query = self._query(plan, filters, exclude)
        with self._guard():
            searcher = self._index.searcher()
            n = max(1, min(n, searcher.num_docs))  # tantivy sizes its top-k heap by n
            if plan.empty or sort == "date":
                key = "datekey" if sort == "date" else "sortkey"
                result = searcher.search(query, limit=n, count=True, order_by_field=key, order=tantivy.Order.Asc)
                scores = [0.0] * len(result.hits)
            else:
                result = searcher.search(query, limit=n, count=True)
                scores = [float(score) for score, _ in result.hits]
            rows = []
            for score, (_, address) in zip(scores, result.hits):
                raw = searcher.doc(address).get_first("doc")
                assert raw is not None  # every document is added with its "doc" field
                rows.append((score, json.loads(bytes(raw).decode("utf-8"))))
        # tantivy's stub leaves out SearchResult.count (there with count=True).
        return int(result.count or 0), rows  # type: ignore[attr-defined]

    def facets(self, plan: QueryPlan, filters: dict) -> dict[str, dict[str, int]]:
        agg = {name: {"terms": {"field": name, "size": _FACET_SIZE}} for name in FACET_FIELDS}
        query = self._query(plan, filters)
        with self._guard():
            result = self._index.searcher().aggregate(query, agg)
        return {
            name: {str(b["key"]): int(b["doc_count"]) for b in result.get(name, {}).get("buckets", [])}
            for name in FACET_FIELDS
        }


def _check_footer(path: Path) -> None:
    """The file exists and ends with an intact tantivy footer (a truncated, zeroed or
    overwritten file does not). Reads the last few bytes only."""
    with open(path, "rb") as fh:  # FileNotFoundError: a file of a live segment was deleted
        size = fh.seek(0, 2)
        if size < 8:
            raise IndexDamaged(path.parent, f"{path.name} is truncated")
        fh.seek(size - 8)
        length, magic = struct.unpack("<II", fh.read(8))
        if magic != _FOOTER_MAGIC or length > min(_FOOTER_MAX_LEN, size - 8):
            raise IndexDamaged(path.parent, f"{path.name} has no valid footer")
        fh.seek(size - 8 - length)
        try:
            footer = json.loads(fh.read(length))
        except ValueError:
            footer = None
        if not isinstance(footer, dict) or "crc" not in footer:
            raise IndexDamaged(path.parent, f"{path.name} has no valid footer")
