"""Full-text search over OCR'd pages: a rebuildable cache of the catalog.

tantivy is the embedded default; Whoosh sits behind the same interface.
``search`` (service.py) is the one entry point for the web UI and the CLI.
"""

from .analysis import ANALYZER_VERSION, query_plan
from .backends import SharedIndex, needs_rebuild, open_index, reset_index
from .base import BACKENDS, DEFAULT_BACKEND, IndexDamaged, IndexDirectoryError, SearchIndex
from .service import search
from .snippets import make_snippet

__all__ = [
    "ANALYZER_VERSION",
    "BACKENDS",
    "DEFAULT_BACKEND",
    "IndexDamaged",
    "IndexDirectoryError",
    "SearchIndex",
    "SharedIndex",
    "make_snippet",
    "needs_rebuild",
    "open_index",
    "query_plan",
    "reset_index",
    "search",
]
