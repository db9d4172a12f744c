"""``dangan`` commands on documents and pages: ingest, search, ocr.

Registered on the main app by :mod:`pipeline.cli`. ``--json`` output is stable: see README.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from pipeline.cli.common import console, err, load_cli_settings, progress_bar, setup_logging, shown


def ingest(
    paths: list[Path] = typer.Argument(..., help="Files or folders (a folder is one item)."),
    wait: bool = typer.Option(False, "--wait", help="Wait until every item is searchable."),
) -> None:
    """Ingest files once, without moving them. Processes them here unless a service runs."""
    from pipeline.ingest.intake import Intake
    from pipeline.ingest.names import readable_name
    from pipeline.ingest.probe import BadInput
    from pipeline.runner import Service, ServiceBusy
    from pipeline.store import Database, Item, ItemState, must_get

    setup_logging(False)
    logging.getLogger().setLevel(logging.WARNING)
    s = load_cli_settings()
    service: Service | None
    try:
        service = Service(s, watch=False)
        db = service.db
    except ServiceBusy:
        service, db = None, Database(s.db_url)
    intake = Intake(s, db)
    item_ids: list[int] = []
    quarantined = 0
    for path in paths:
        path = path.absolute()
        try:
            checked = intake.check(path)
        except BadInput as exc:
            r = intake.quarantine(path, exc.reason, root=path.parent, remove=False)
            why = f"{shown(readable_name(str(path)))}: {shown(r.message)}"
            err.print("[yellow]quarantined[/yellow] " + escape(why))
            quarantined += 1
            continue
        r = intake.take(path, checked, root=path.parent, remove=False)
        console.print(escape(f"{r.outcome:10} {shown(r.entry)} (item {r.item_id})"))
        if r.item_id is not None:
            item_ids.append(r.item_id)
    if not item_ids:
        if service is not None:
            service.close()
        raise typer.Exit(1 if quarantined else 0)

    def finished() -> tuple[int, int]:
        with db.session() as sess:
            items = [must_get(sess, Item, i) for i in item_ids]
            done = sum(1 for it in items if it.state in (ItemState.DONE, ItemState.FAILED))
            pages = sum(len(it.pages) for it in items if it.state == ItemState.DONE)
        return done, pages

    if service is None and not wait:
        console.print("handed over to the running dangan service")
        return
    with progress_bar() as progress:
        task = progress.add_task("ingest", total=len(item_ids))

        def tick(_results=None) -> None:
            done, pages = finished()
            progress.update(task, completed=done, description=f"ingest ({pages} pages searchable)")

        if service is not None:
            service.run(until=lambda: finished()[0] >= len(item_ids), on_tick=tick)
        else:
            while finished()[0] < len(item_ids):
                tick()
                time.sleep(0.5)
        tick()
    with db.session() as sess:
        failed = [i for i in item_ids if must_get(sess, Item, i).state == ItemState.FAILED]
    for i in failed:
        err.print(f"[red]item {i} failed[/red]; see `dangan status`")
    raise typer.Exit(1 if failed or quarantined else 0)


def search(
    query: str = typer.Argument(..., help="Name, ID number or phrase; words are ANDed, \"quotes\" keep a phrase."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output (stable)."),
    limit: int = typer.Option(10, "--limit", min=1, max=1000),
    year: Optional[int] = typer.Option(None, "--year"),
    village: Optional[str] = typer.Option(None, "--village"),
    category: Optional[str] = typer.Option(None, "--category"),
) -> None:
    """Full-text search over every indexed page. ID numbers are masked in snippets."""
    from pipeline.index import IndexDamaged, needs_rebuild, open_index
    from pipeline.index import search as search_pages

    s = load_cli_settings()
    filters = {k: v for k, v in (("year", year), ("village", village), ("category", category)) if v is not None}
    if needs_rebuild(s.index.backend, s.index_dir):
        # Opening would wipe a stale index; a search must never do that behind the service's back.
        err.print(f"the {s.index.backend} search index at {s.index_dir} is missing or out of date: "
                  "start `dangan watch` (it rebuilds on start) or run `dangan index rebuild`")
        raise typer.Exit(3)
    try:
        index = open_index(s.index.backend, s.index_dir)
        try:
            result = search_pages(index, query, limit=limit, filters=filters or None)
        finally:
            index.close()
    except IndexDamaged as exc:
        err.print(str(exc), markup=False, highlight=False)  # engine text may hold [brackets]
        raise typer.Exit(3) from None
    if as_json:
        payload = {
            "query": result.query,
            "total": result.total,
            "millis": round(result.millis, 3),
            "hits": [asdict(h) for h in result.hits],
        }
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return
    if not result.hits:
        console.print(f"no page matches {query!r}")
        raise typer.Exit(0)
    table = Table(title=f"{result.total} page(s) match {query!r} ({result.millis:.1f} ms)", show_lines=True)
    for col in ("档号 archival code", "题名 title", "page", "snippet", "PDF/A"):
        table.add_column(col, overflow="fold")
    for h in result.hits:
        snippet = h.snippet.replace("【", "[bold red]").replace("】", "[/bold red]")
        table.add_row(h.archival_code, h.title, str(h.page_no), snippet, h.pdf_path or "")
    console.print(table)


def ocr(
    image: Path = typer.Argument(..., exists=True, dir_okay=False),
    engine: str = typer.Option("", "--engine", "-e", help="rapidocr | tesseract (default: config ocr.engine)"),
    as_json: bool = typer.Option(False, "--json"),
    no_prepare: bool = typer.Option(False, "--no-prepare", help="Skip orientation and deskew."),
) -> None:
    """Print the recognised text of one image in reading order.

    The image goes the pipeline's own page path (``pipeline.ocr.read_page``): oriented,
    deskewed and cropped as the ``imaging`` settings say, then read from a seal-free copy.
    ``--json``: the OCR result as the pipeline stores it (lines in reading order, ``order``
    0, 1, …, each with its box (4 points, pixels of the prepared image), confidence,
    direction and per-character boxes), plus ``needs_review``.
    """
    from pipeline.ocr import PageReader, available_engines, read_page

    s = load_cli_settings()
    if engine and engine.lower() not in available_engines():
        err.print(f"[red]unknown engine {engine!r}; valid engines: {', '.join(available_engines())}[/red]")
        raise typer.Exit(2)
    if engine:
        s = s.model_copy(update={"ocr": s.ocr.model_copy(update={"engine": engine.lower()})})
    reading = read_page(image, PageReader.from_settings(s.ocr), s.imaging, prepare=not no_prepare)
    if as_json:
        sys.stdout.write(json.dumps({**reading.ocr.to_dict(), "needs_review": reading.needs_review},
                                    ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(reading.ocr.text + "\n")
