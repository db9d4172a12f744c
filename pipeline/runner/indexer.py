"""Feeds the search index from the catalog; the index is only ever a cache of it."""

from __future__ import annotations

import logging
from typing import Callable

from pipeline import __version__
from pipeline.config import Settings
from pipeline.store import Catalog, ItemState

log = logging.getLogger(__name__)


class Indexer:
    """The single index writer of a data home (tantivy allows one writer)."""

    def __init__(self, settings: Settings, catalog: Catalog, *, rebuild_if_stale: bool = True) -> None:
        from pipeline.index import needs_rebuild, open_index

        self.settings = settings
        self.catalog = catalog
        self.agent = f"dangan {__version__} indexer"
        stale = needs_rebuild(settings.index.backend, settings.index_dir)
        self.index = open_index(settings.index.backend, settings.index_dir)
        if stale and rebuild_if_stale:
            log.warning("search index is missing or from another version: rebuilding from the catalog")
            self.rebuild()

    def index_archived(self, batch: int = 50) -> int:
        """Index items whose PDF/A is done; delete-then-add makes a repeat harmless."""
        ids = self.catalog.items_in_state(ItemState.ARCHIVED, limit=batch)
        if not ids:
            return 0
        docs = self.catalog.page_documents(ids)
        self.index.delete_items(ids)
        self.index.add(docs)
        self.index.commit()
        self.catalog.mark_indexed(ids, self.settings.index.backend, self.agent)
        return len(docs)

    def rebuild(self, progress: Callable[[int], None] | None = None) -> int:
        """Recreate the index from the catalog (archived and done items)."""

        def documents():
            for batch in self.catalog.iter_indexable():
                yield from batch
                if progress:
                    progress(len(batch))

        total = self.index.rebuild(documents())
        archived = self.catalog.items_in_state(ItemState.ARCHIVED, limit=1_000_000)
        if archived:
            self.catalog.mark_indexed(archived, self.settings.index.backend, self.agent)
        return total

    def close(self) -> None:
        self.index.close()
