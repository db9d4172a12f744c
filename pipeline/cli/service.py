"""``dangan`` service commands: version, init, watch, serve, web, status.

Registered on the main app by :mod:`pipeline.cli`.
"""

from __future__ import annotations

import json
import sys

import typer
from rich.markup import escape
from rich.table import Table

from pipeline import __version__
from pipeline.cli.common import console, fail, load_cli_settings, setup_logging, shown
from pipeline.config import Settings

WEB_WORKERS = typer.Option(2, "--workers", min=1, help="Web server processes: a search holds one core while it runs.")


def version() -> None:
    """Print the version."""
    console.print(__version__)


def init() -> None:
    """Create the data home and the catalog (runs database migrations)."""
    from pipeline.store import Database

    s = load_cli_settings()
    for d in (s.home, s.ingest.inbox, s.originals_dir, s.pages_dir, s.pdf_dir, s.quarantine_dir, s.staging_dir):
        d.mkdir(parents=True, exist_ok=True)
    Database(s.db_url).dispose()
    console.print(f"data home {s.home}\ncatalog   {s.db_url}\ninbox     {s.ingest.inbox}")


def watch(verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Run the pipeline: watch the inbox, OCR, build PDF/A, index. Stop with Ctrl-C."""
    _watch(load_cli_settings(), verbose)


def _watch(s: Settings, verbose: bool) -> None:
    from pipeline.runner import Service, ServiceBusy

    setup_logging(verbose)
    try:
        service = Service(s)
    except ServiceBusy as exc:
        fail(exc)
    console.print(f"dangan {__version__}: watching {s.ingest.inbox} with {s.worker_count} worker(s); "
                  f"data in {s.home}")
    service.run()


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

    from pipeline.access import Access
    from pipeline.runner.worker import set_parent_death_signal
    from pipeline.store import Database

    s = load_cli_settings()
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


def status(as_json: bool = typer.Option(False, "--json")) -> None:
    """Queue depth, done, failed, quarantined, throughput; inbox files waiting or ignored, and
    whether intake is paused for disk space (as the running service last reported)."""
    from sqlalchemy import select

    from pipeline.runner import ProcessorLock
    from pipeline.store import Catalog, Database, ItemState, QuarantinedFile

    s = load_cli_settings()
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


def web(host: str = typer.Option("127.0.0.1", "--host"), port: int = typer.Option(8000, "--port"),
        workers: int = WEB_WORKERS) -> None:
    """The clerks' web UI (查档). Accounts: `dangan user add NAME --role clerk`."""
    from pipeline.web.server import serve

    s = load_cli_settings()  # a configuration error is reported here, once, not by every worker
    serve(host, port, workers, s.web.trusted_proxies)
