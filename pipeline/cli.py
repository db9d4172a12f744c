"""``dangan`` command line (Typer + Rich). ``--json`` output is stable: see README."""

from __future__ import annotations

import json
import logging
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.markup import escape
from rich.table import Table

from pipeline import __version__
from pipeline.cli_common import _logging, _progress, _settings, console, err, shown
from pipeline.config import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="dangan: scanner inbox → Chinese OCR → PDF/A → search")
index_app = typer.Typer(no_args_is_help=True, help="Search index maintenance.")
app.add_typer(index_app, name="index")

WEB_WORKERS = typer.Option(2, "--workers", min=1, help="Web server processes: a search holds one core while it runs.")


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


@app.command()
def init() -> None:
    """Create the data home and the catalog (runs database migrations)."""
    from pipeline.store import Database

    s = _settings()
    for d in (s.home, s.ingest.inbox, s.originals_dir, s.pages_dir, s.pdf_dir, s.quarantine_dir, s.staging_dir):
        d.mkdir(parents=True, exist_ok=True)
    Database(s.db_url).dispose()
    console.print(f"data home {s.home}\ncatalog   {s.db_url}\ninbox     {s.ingest.inbox}")


@app.command()
def watch(verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Run the pipeline: watch the inbox, OCR, build PDF/A, index. Stop with Ctrl-C."""
    _watch(_settings(), verbose)


def _watch(s: Settings, verbose: bool) -> None:
    from pipeline.runner import Service, ServiceBusy

    _logging(verbose)
    try:
        service = Service(s)
    except ServiceBusy as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1)
    console.print(f"dangan {__version__}: watching {s.ingest.inbox} with {s.worker_count} worker(s); "
                  f"data in {s.home}")
    service.run()


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="0.0.0.0 to serve the archive hall's network."),
    port: int = typer.Option(8000, "--port"),
    workers: int = WEB_WORKERS,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """What `make run` starts: the pipeline watching the inbox, and the clerks' web UI beside it.

    On a fresh catalog an `admin` account is created first; its password is printed once and
    kept in DATA_HOME/web/initial-admin-password (readable by this user only): delete that file
    once the password is changed.
    """
    import signal
    import subprocess

    from pipeline.runner.worker import set_parent_death_signal
    from pipeline.store import Database
    from pipeline.access import Access

    s = _settings()
    access = Access.open(Database(s.db_url), s.home)
    password = access.users.create_first_admin(by="dangan serve")
    if password is not None:
        note = s.home / "web" / "initial-admin-password"
        note.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        note.touch(mode=0o600)
        note.write_text(f"admin\n{password}\n", encoding="utf-8")
        console.print(f"首次启动：已创建管理员账户 [bold]admin[/bold]，初始密码 [bold]{password}[/bold]"
                      f"（另存于 {note}）。登录后请在“用户管理”中改密码、删除该文件，并为窗口人员建账户。")
    # The web UI in its own processes: a slow page never holds up the inbox, and the watcher's
    # workers never compete with a clerk's search for the GIL. It stops with this process, even
    # after a kill -9: SIGTERM, so that uvicorn's supervisor takes its worker processes along.
    web_ui = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "web", "--host", host, "--port", str(port),
                               "--workers", str(workers)],
                              preexec_fn=lambda: set_parent_death_signal(signal.SIGTERM))
    console.print(f"web UI: http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/")
    try:
        _watch(s, verbose)
    finally:
        web_ui.terminate()
        try:
            web_ui.wait(timeout=20)
        except subprocess.TimeoutExpired:
            web_ui.kill()


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(..., help="Files or folders (a folder is one item)."),
    wait: bool = typer.Option(False, "--wait", help="Wait until every item is searchable."),
) -> None:
    """Ingest files once, without moving them. Processes them here unless a service runs."""
    from pipeline.ingest.intake import Intake
    from pipeline.ingest.names import readable_name
    from pipeline.ingest.probe import BadInput
    from pipeline.runner import Service, ServiceBusy
    from pipeline.store import Database, Item, ItemState

    _logging(False)
    logging.getLogger().setLevel(logging.WARNING)
    s = _settings()
    try:
        service: Service | None = Service(s, watch=False)
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
            err.print("[yellow]quarantined[/yellow] " + escape(f"{shown(readable_name(str(path)))}: {shown(r.message)}"))
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
            items = [sess.get(Item, i) for i in item_ids]
            done = sum(1 for it in items if it.state in (ItemState.DONE, ItemState.FAILED))
            pages = sum(len(it.pages) for it in items if it.state == ItemState.DONE)
        return done, pages

    if service is None and not wait:
        console.print("handed over to the running dangan service")
        return
    with _progress() as progress:
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
        failed = [i for i in item_ids if sess.get(Item, i).state == ItemState.FAILED]
    for i in failed:
        err.print(f"[red]item {i} failed[/red]; see `dangan status`")
    raise typer.Exit(1 if failed or quarantined else 0)


@app.command()
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

    s = _settings()
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
        raise typer.Exit(3)
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


@app.command()
def status(as_json: bool = typer.Option(False, "--json")) -> None:
    """Queue depth, done, failed, quarantined, throughput; inbox files waiting or ignored, and
    whether intake is paused for disk space (as the running service last reported)."""
    from pipeline.runner import ProcessorLock
    from pipeline.store import Catalog, Database, ItemState, QuarantinedFile
    from sqlalchemy import select

    s = _settings()
    db = Database(s.db_url)
    catalog = Catalog(db)
    st = catalog.status()
    running = ProcessorLock(s.home).held_elsewhere()
    with db.session() as sess:
        recent_q = sess.execute(
            select(QuarantinedFile.original_name, QuarantinedFile.reason)
            .order_by(QuarantinedFile.id.desc()).limit(5)).all()
    inbox = catalog.inbox_state(s.ingest.station) if running else {}
    data = {
        "service_running": running,
        "queued": st.by_state.get(ItemState.QUEUED, 0),
        "processing": st.by_state.get(ItemState.PROCESSING, 0),
        "archived_awaiting_index": st.by_state.get(ItemState.ARCHIVED, 0),
        "done": st.by_state.get(ItemState.DONE, 0),
        "failed": st.by_state.get(ItemState.FAILED, 0),
        "quarantined": st.quarantined,
        "pages_searchable": st.pages_done,
        "pages_per_minute": round(st.pages_per_minute, 2),
        "review_pending": st.review_pending,
        "pre_volumes": st.pre_volumes,
        "recent_quarantine": [{"entry": shown(n), "reason": shown(r)} for n, r in recent_q],
        "paused": inbox.get("paused"),  # why intake and workers wait (disk space), or null
        "inbox_waiting": [{"entry": shown(w["entry"]), "reason": shown(w["reason"])}
                          for w in inbox.get("waiting", [])],
        "inbox_ignored": [{"entry": shown(w["entry"]), "reason": w["reason"]} for w in inbox.get("ignored", [])],
        "inbox_ignored_count": inbox.get("ignored_count", 0),
        "quality_flags": st.quality,
        "recent_flagged_pages": [{"item": shown(code), "page": page_no, "flags": flags.split()}
                                 for code, page_no, flags in catalog.flagged_pages()],
    }
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title=f"dangan {__version__} — {s.home}")
    table.add_column("")
    table.add_column("", justify="right")
    for key in ("service_running", "queued", "processing", "archived_awaiting_index", "done", "failed",
                "quarantined", "pages_searchable", "pages_per_minute", "review_pending", "pre_volumes"):
        table.add_row(key.replace("_", " "), str(data[key]))
    console.print(table)
    if data["paused"]:
        console.print("[red]paused[/red] " + escape(data["paused"]), highlight=False)
    for w in data["inbox_waiting"]:
        console.print("[yellow]waiting[/yellow] " + escape(f"{w['entry']}: {w['reason']}"))
    for w in data["inbox_ignored"]:
        console.print("[yellow]ignored[/yellow] " + escape(f"{w['entry']}: {w['reason']}"))
    for q in data["recent_quarantine"]:
        console.print("[yellow]quarantined[/yellow] " + escape(f"{q['entry']}: {q['reason']}"))
    if st.quality:
        console.print("pages flagged: " + ", ".join(f"{flag} {n}" for flag, n in st.quality.items()))
    for f in data["recent_flagged_pages"]:
        console.print("[yellow]flagged[/yellow] " + escape(f"{f['item']} p{f['page']}: {' '.join(f['flags'])}"))


@app.command()
def ocr(
    image: Path = typer.Argument(..., exists=True, dir_okay=False),
    engine: str = typer.Option("", "--engine", "-e", help="rapidocr | tesseract (default: config ocr.engine)"),
    as_json: bool = typer.Option(False, "--json"),
    no_prepare: bool = typer.Option(False, "--no-prepare", help="Skip orientation and deskew."),
) -> None:
    """Print the recognised text of one image in reading order.

    ``--json``: lines in reading order (``order`` 0, 1, …), each with its box (4 points,
    pixels of the prepared image), confidence, direction and per-character boxes.
    """
    from pipeline.ocr import PageReader, available_engines, recognize_file

    s = _settings()
    if engine and engine.lower() not in available_engines():
        err.print(f"[red]unknown engine {engine!r}; valid engines: {', '.join(available_engines())}[/red]")
        raise typer.Exit(2)
    if engine:
        s = s.model_copy(update={"ocr": s.ocr.model_copy(update={"engine": engine.lower()})})
    reader = PageReader.from_settings(s.ocr)
    page = recognize_file(image, reader, prepare=not no_prepare)
    if as_json:
        sys.stdout.write(json.dumps({
            "engine": page.engine, "width": page.width, "height": page.height,
            "seconds": round(page.seconds, 3), "confidence": round(page.confidence, 4),
            "needs_review": reader.needs_review(page), "text": page.text,
            "lines": [{"order": n, "text": l.text, "confidence": round(l.confidence, 4), "box": l.box,
                       "vertical": l.vertical,
                       "chars": [{"text": w.text, "confidence": round(w.confidence, 4), "box": w.box}
                                 for w in l.words]}
                      for n, l in enumerate(page.lines)],
        }, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(page.text + "\n")


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

    s = _settings()
    with _exclusive(s), _progress() as progress:
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
            raise typer.Exit(1)
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

    s = _settings()
    with _exclusive(s), _progress() as progress:
        db = Database(s.db_url)
        task = progress.add_task("import", total=sum(1 for _ in jsonl.open(encoding="utf-8")))
        try:
            report = import_jsonl(jsonl, db, s, progress=lambda k: progress.advance(task, k))
        except ImportError_ as exc:
            progress.stop()
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1)
        indexer = Indexer(s, Catalog(db))
        while indexer.index_archived(batch=500):
            pass
        indexer.close()
    console.print(f"imported {report.pages} page(s) in {report.items} item(s); "
                  f"{report.skipped} duplicate page(s) skipped")


@app.command()
def web(host: str = typer.Option("127.0.0.1", "--host"), port: int = typer.Option(8000, "--port"),
        workers: int = WEB_WORKERS) -> None:
    """The clerks' web UI (查档). Accounts: `dangan user add NAME --role clerk`."""
    from pipeline.web.server import serve

    s = _settings()  # a configuration error is reported here, once, not by every worker
    serve(host, port, workers, s.web.trusted_proxies)


# The filing and access commands join `app` (after it exists).
from pipeline import cli_access, cli_filing  # noqa: E402

cli_filing.register(app)
cli_access.register(app)

if __name__ == "__main__":
    app()
