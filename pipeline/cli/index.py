"""``dangan index``: search index maintenance (rebuild, import).

Added to the main app by :mod:`pipeline.cli`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from pipeline.cli.common import console, err, fail, load_cli_settings, progress_bar
from pipeline.config import Settings

index_app = typer.Typer(no_args_is_help=True, help="Search index maintenance.")


@contextmanager
def _exclusive(s: Settings) -> Iterator[None]:
    """Hold the data home's processor lock: index writes need the only writer."""
    from pipeline.runner import ProcessorLock

    lock = ProcessorLock(s.home)
    if not lock.acquire():
        err.print("[red]a dangan processor is running on this data home; stop it first[/red]")
        raise typer.Exit(1)
    try:
        yield
    finally:
        lock.release()


@index_app.command("rebuild")
def index_rebuild() -> None:
    """Recreate the search index from the catalog (the index is only a cache)."""
    from pipeline.index import IndexDirectoryError
    from pipeline.runner.indexer import Indexer
    from pipeline.store import Catalog, Database, ItemState

    s = load_cli_settings()
    with _exclusive(s), progress_bar() as progress:
        catalog = Catalog(Database(s.db_url))
        total = catalog.count_pages(ItemState.DONE) + catalog.count_pages(ItemState.ARCHIVED)
        task = progress.add_task("rebuild", total=total)
        indexer: Indexer | None = None
        try:
            # A damaged index is left closed: rebuild() wipes the directory (if it is ours) and starts afresh.
            indexer = Indexer(s, catalog, rebuild_if_stale=False)
            n = indexer.rebuild(progress=lambda k: progress.advance(task, k))
        except IndexDirectoryError as exc:  # a foreign directory at the index path: never wiped
            progress.stop()
            err.print(str(exc), markup=False, highlight=False)
            raise typer.Exit(1) from None
        finally:
            if indexer is not None:
                indexer.close()
    console.print(f"indexed {n} page(s) with {s.index.backend}")


@index_app.command("import")
def index_import(jsonl: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    """Load pages (text + metadata) from a legacy system: one JSON object per line."""
    from pipeline.runner.importer import ImportError_, import_jsonl
    from pipeline.runner.indexer import Indexer
    from pipeline.store import Catalog, Database

    s = load_cli_settings()
    with _exclusive(s), progress_bar() as progress:
        db = Database(s.db_url)
        task = progress.add_task("import", total=sum(1 for _ in jsonl.open(encoding="utf-8")))
        try:
            report = import_jsonl(jsonl, db, s, progress=lambda k: progress.advance(task, k))
        except ImportError_ as exc:
            progress.stop()
            fail(exc)
        indexer = Indexer(s, Catalog(db))
        while indexer.index_archived(batch=500):
            pass
        indexer.close()
    console.print(f"imported {report.pages} page(s) in {report.items} item(s); "
                  f"{report.skipped} duplicate page(s) skipped")
