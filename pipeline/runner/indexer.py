"""Feeds the search index from the catalog; the index is only ever a cache of it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from pipeline import __version__
from pipeline.config import Settings
from pipeline.store import Catalog, ItemState

if TYPE_CHECKING:
    from pipeline.index import SearchIndex

log = logging.getLogger(__name__)


class Indexer:
    """The single index writer of a data home (tantivy allows one writer).

    A damaged index never stops it: found at open or while indexing, the index is wiped and
    rebuilt from the catalog (with ``rebuild_if_stale=False`` the caller rebuilds)."""

    def __init__(self, settings: Settings, catalog: Catalog, *, rebuild_if_stale: bool = True) -> None:
        from pipeline.index import IndexDamaged, needs_rebuild, open_index

        self.settings = settings
        self.catalog = catalog
        self.agent = f"dangan {__version__} indexer"
        self.index: SearchIndex | None = None
        stale = needs_rebuild(settings.index.backend, settings.index_dir)
        try:
            self.index = open_index(settings.index.backend, settings.index_dir)
        except IndexDamaged as exc:
            if rebuild_if_stale:
                log.warning("the search index at %s is damaged (%s): rebuilding it from the catalog",
                            exc.path, exc.detail)
                self.rebuild()
                return
            # rebuild() starts from a wiped directory: nothing to open until then.
        if stale and rebuild_if_stale:
            log.warning("search index is missing or from another version: rebuilding from the catalog")
            self.rebuild()

    def index_archived(self, batch: int = 50) -> int:
        """Index items whose PDF/A is done; delete-then-add makes a repeat harmless."""
        from pipeline.index import IndexDamaged

        ids = self.catalog.items_in_state(ItemState.ARCHIVED, limit=batch)
        if not ids:
            return 0
        docs = self.catalog.page_documents(ids)
        try:
            index = self._open()
            index.delete_items(ids)
            index.add(docs)
            index.commit()
        except IndexDamaged as exc:
            # The rebuild indexes these items too (and marks them indexed): the loop goes on.
            log.warning("the search index at %s is damaged (%s): rebuilding it from the catalog",
                        exc.path, exc.detail)
            self.rebuild()
            return len(docs)
        self.catalog.mark_indexed(ids, self.settings.index.backend, self.agent)
        return len(docs)

    def rebuild(self, progress: Callable[[int], None] | None = None) -> int:
        """Recreate the index from the catalog (archived and done items), in a wiped
        directory: whatever the old index was (damaged, another version), it is not read."""
        from pipeline.index import reset_index

        def documents():
            for batch in self.catalog.iter_indexable():
                yield from batch
                if progress:
                    progress(len(batch))

        self.close()  # the old writer's lock and merge threads go before its files do
        self.index = reset_index(self.settings.index.backend, self.settings.index_dir)
        total = self.index.rebuild(documents())
        archived = self.catalog.items_in_state(ItemState.ARCHIVED, limit=1_000_000)
        if archived:
            self.catalog.mark_indexed(archived, self.settings.index.backend, self.agent)
        return total

    def _open(self) -> SearchIndex:
        from pipeline.index import open_index

        if self.index is None:
            self.index = open_index(self.settings.index.backend, self.settings.index_dir)
        return self.index

    def close(self) -> None:
        from pipeline.index import IndexDamaged

        if self.index is not None:
            index, self.index = self.index, None
            try:
                index.close()
            except IndexDamaged as exc:  # nothing to lose (a cache); damage is reported where found
                log.debug("closing the search index: %s", exc)
