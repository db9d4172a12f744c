"""``dangan`` filing commands: review queue, classes, volumes (案卷), labels, export, scheme check.

Registered on the main app by :mod:`pipeline.cli`. Every decision a person makes here is
recorded with who and when (``--user``, default: the login name).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from pipeline.cli.common import console, current_user, err, fail, load_cli_settings, progress_bar, shown

volume_app = typer.Typer(no_args_is_help=True, help="Volumes (案卷): list, show, add, reorder, finalise, build.")
taxonomy_app = typer.Typer(no_args_is_help=True, help="The filing scheme (分类方案) and retention table.")

USER = typer.Option(None, "--user", "-u", help="Who decides (recorded); default: the login name.")


def _desk():
    from pipeline.filing.desk import FilingDesk
    from pipeline.scheme.taxonomy import TaxonomyError
    from pipeline.store import Database

    s = load_cli_settings()
    try:
        return FilingDesk(s, Database(s.db_url))
    except TaxonomyError as exc:
        err.print(f"[red]filing scheme error:[/red] {exc}")
        raise typer.Exit(2) from None


# ── review queue and classes ─────────────────────────────────────


def review(as_json: bool = typer.Option(False, "--json"), limit: int = typer.Option(200, "--limit")) -> None:
    """Items whose class is in doubt: they get no 档号 until a person decides."""
    desk = _desk()
    queue = desk.store.review_queue(limit)
    if as_json:
        sys.stdout.write(json.dumps([{**asdict(e), "label": shown(e.label), "title": shown(e.title),
                                      "received_at": e.received_at.isoformat()} for e in queue],
                                    ensure_ascii=False) + "\n")
        return
    table = Table(title=f"review queue: {len(queue)} item(s)")
    for col in ("item", "title / file", "proposed class", "confidence", "why"):
        table.add_column(col)
    for e in queue:
        why = "; ".join(f"{ev['source']}: {'、'.join(ev['terms'])}" if ev.get("terms") else ev["detail"]
                        for ev in e.evidence[:3])
        table.add_row(str(e.item_id), escape(f"{shown(e.title)}\n{shown(e.label)}"),
                      f"{e.class_code or '—'}\n{e.class_name or ''}", f"{e.confidence or 0:.2f}", why)
    console.print(table)
    if queue:
        console.print("decide with: dangan classify ITEM --confirm | --set CLASS")


def classify(
    item: int = typer.Argument(..., help="Item number (see `dangan review`)."),
    set_class: Optional[str] = typer.Option(None, "--set", help="Class path (JF·C02·SQ) or a unique leaf code (SQ)."),
    confirm: bool = typer.Option(False, "--confirm", help="Accept the proposed class."),
    user: Optional[str] = USER,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show an item's classification, or decide it (--set CLASS / --confirm)."""
    from pipeline.filing import FilingError
    from pipeline.text import mask

    desk = _desk()
    if set_class or confirm:
        try:
            decided = desk.set_class(item, set_class, current_user(user))
        except (FilingError, KeyError) as exc:
            fail(exc)
        console.print(f"item {item}: {decided.class_code} {decided.class_name} "
                      f"({decided.review_state} by {decided.reviewed_by}); "
                      + (f"档号 {decided.archival_code}" if decided.archival_code
                         else f"volume {decided.volume_key}" if decided.volume_key else "no 档号 yet"))
        return
    try:
        row, _text, _first = desk.store.item_text(item)
    except FilingError as exc:
        fail(exc)
    description = dict(row.description or {})
    # Masked as the access register masks them: this output ends up in terminals and logs.
    description["id_numbers"] = [{**i, "value": mask(i["value"])} for i in description.get("id_numbers", [])]
    description["phones"] = [mask(p, 3, 4) for p in description.get("phones", [])]
    data = {"item": row.id, "label": shown(row.label), "title": shown(row.title), "class": row.class_code,
            "class_name": row.class_name, "confidence": row.confidence, "review_state": row.review_state,
            "reviewed_by": row.reviewed_by, "archival_code": row.archival_code, "volume_key": row.volume_key,
            "date": row.doc_date, "date_raw": row.doc_date_raw, "date_inferred": row.doc_date_inferred,
            "doc_number": row.doc_number, "responsible": row.responsible, "retention": row.retention,
            "sensitive": (row.sensitive or "").split(), "evidence": row.evidence or [],
            "description": description}
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
        return
    for key, value in data.items():
        if key not in ("evidence", "description"):
            console.print(f"{key:>14}  {value if value is not None else ''}")
    for ev in data["evidence"]:
        console.print(f"{'evidence':>14}  {ev['source']}: {ev['detail']} {'、'.join(ev.get('terms') or [])}")


def train() -> None:
    """Train the learned classifier on the items people confirmed or corrected."""
    from pipeline.filing import FilingError

    try:
        report = _desk().train()
    except FilingError as exc:
        fail(exc)
    console.print(f"trained on {report.samples} confirmed item(s), {len(report.classes)} class(es); "
                  f"{report.path} sha256 {report.sha256[:16]}…")


def renumber(item: int = typer.Argument(...), reason: str = typer.Option(..., "--reason"),
             user: Optional[str] = USER) -> None:
    """Issue a new 档号 for an item (explicit and logged; the old number is retired)."""
    from pipeline.filing import FilingError

    desk = _desk()
    try:
        old, new = desk.store.renumber(item, reason, current_user(user), agent=desk.agent)
    except FilingError as exc:
        fail(exc)
    desk._after_numbering([item])
    console.print(f"item {item}: {old} → {new}")


# ── volumes ──────────────────────────────────────────────────────


def _volume_json(v) -> dict:
    return {**{k: getattr(v, k) for k in ("id", "key", "state", "archival_code", "class_code", "label_token",
                                          "pdf_path")},
            "title": shown(v.title), "pages": v.page_count,
            "items": [{**asdict(m), "title": shown(m.title)} for m in v.members]}


@volume_app.command("list")
def volume_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every volume with its state (pre_volume = 预立卷, final)."""
    views = _desk().store.volumes()
    if as_json:
        sys.stdout.write(json.dumps([_volume_json(v) for v in views], ensure_ascii=False) + "\n")
        return
    table = Table(title=f"{len(views)} volume(s)")
    for col in ("key", "state", "档号", "title", "items", "pages"):
        table.add_column(col, overflow="fold")  # keys and codes are typed back: never cut them
    for v in views:
        table.add_row(v.key, v.state, v.archival_code or "", escape(shown(v.title)), str(len(v.members)),
                      str(v.page_count))
    console.print(table)


@volume_app.command("show")
def volume_show(key: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """A volume's items in order."""
    from pipeline.filing import FilingError

    try:
        v = _desk().store.volume(key)
    except FilingError as exc:
        fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(_volume_json(v), ensure_ascii=False) + "\n")
        return
    console.print(escape(f"{v.key}  [{v.state}]  {v.archival_code or ''}  {shown(v.title)}"))
    table = Table()
    for col in ("#", "item", "class", "title", "date", "pages", "档号"):
        table.add_column(col)
    for m in v.members:
        table.add_row(str(m.position), str(m.item_id), m.class_code or "", escape(shown(m.title)), m.doc_date or "",
                      str(m.pages), m.archival_code or "")
    console.print(table)


@volume_app.command("add")
def volume_add(item: int, key: str, user: Optional[str] = USER) -> None:
    """Put an item into a volume (a new key such as household:石门村:王秀英 opens a 预立卷)."""
    from pipeline.filing import FilingError

    desk = _desk()
    try:
        v = desk.store.add(item, key, current_user(user), agent=desk.agent)
    except FilingError as exc:
        fail(exc)
    console.print(f"item {item} → {v.key}, position {next(m.position for m in v.members if m.item_id == item)}")


@volume_app.command("move")
def volume_move(key: str, item: int, position: int, user: Optional[str] = USER) -> None:
    """Reorder a 预立卷: move ITEM to POSITION (1-based)."""
    from pipeline.filing import FilingError

    desk = _desk()
    try:
        v = desk.store.move(key, item, position, current_user(user), agent=desk.agent)
    except FilingError as exc:
        fail(exc)
    console.print(" ".join(f"{m.position}:{m.item_id}" for m in v.members))


@volume_app.command("finalize")
def volume_finalize(key: str, user: Optional[str] = USER,
                    checked_by: Optional[str] = typer.Option(None, "--checked-by", help="检查人")) -> None:
    """End the 预立卷: issue the 案卷号 and the items' 件号 (never changed afterwards)."""
    from pipeline.filing import FilingError

    try:
        v = _desk().finalize(key, current_user(user), checked_by)
    except FilingError as exc:
        fail(exc)
    console.print(f"{v.key}: {v.archival_code}, {len(v.members)} item(s), {v.page_count} page(s)")


@volume_app.command("build")
def volume_build(key: str) -> None:
    """Build the volume's PDF/A-2b: cover, 卷内目录, items (bookmarked, 页号 stamped), 备考表."""
    from pipeline.filing import FilingError

    try:
        v, built = _desk().build_volume(key)
    except FilingError as exc:
        fail(exc)
    console.print(f"{v.archival_code}: {built.pdf_path} ({built.page_count} pages, "
                  f"{built.numbered_pages} numbered) sha256 {built.sha256[:16]}…")


def labels(out: Path = typer.Argument(..., help="PDF to write"),
           volumes: Optional[list[str]] = typer.Argument(None, help="Volume keys or 档号 (default: all)")) -> None:
    """Printable box/volume labels: 档号, title and a QR code holding only an opaque id."""
    from pipeline.filing import FilingError

    try:
        path = _desk().labels(volumes or [], out)
    except FilingError as exc:
        fail(exc)
    console.print(f"labels: {path}")


# ── deliverable ──────────────────────────────────────────────────


def export(
    target: list[str] = typer.Argument(..., metavar="OUT | verify OUT",
                                       help="Folder to create, or `verify OUT` to re-check one."),
    fonds: Optional[str] = typer.Option(None, "--fonds", help="全宗号 (default: classify.fonds)"),
    year: Optional[int] = typer.Option(None, "--year"),
) -> None:
    """The bureau deliverable as a BagIt bag (masters 档号-流水号, PDF/A, catalogues, metadata, SHA-256)."""
    from pipeline.archive.bag import verify_export
    from pipeline.archive.export import export_fonds

    if target[0] == "verify":
        if len(target) != 2:
            fail(ValueError("usage: dangan export verify OUT"))
        problems = verify_export(Path(target[1]))
        for p in problems:
            err.print(f"[red]{p}[/red]")
        if problems:
            raise typer.Exit(1)
        console.print(f"{target[1]}: every file matches its SHA-256; the bag is complete")
        return
    if len(target) != 1:
        fail(ValueError("usage: dangan export --fonds F [--year Y] OUT"))
    desk = _desk()
    with progress_bar() as progress:
        task = progress.add_task("export", total=None)
        try:
            report = export_fonds(desk.db, fonds or desk.settings.classify.fonds, Path(target[0]), year=year,
                                  progress=lambda done, total: progress.update(task, completed=done, total=total),
                                  build_volume=lambda vid: desk.build_volume(str(vid))[1].pdf_path)
        except (ValueError, OSError) as exc:
            progress.stop()
            fail(exc)
    for reason in report.skipped:
        err.print(f"[yellow]left out[/yellow] {reason}")
    console.print(f"{report.out_dir}: {report.items} item(s), {report.volumes} volume(s), {report.pages} page(s), "
                  f"{report.files} file(s), {report.bytes:,} bytes")


# ── the scheme ───────────────────────────────────────────────────


@taxonomy_app.command("check")
def taxonomy_check(
    path: Optional[Path] = typer.Argument(None, help="Scheme file (default: classify.taxonomy)"),
) -> None:
    """Validate a filing scheme file; errors name the class and the key."""
    from pipeline.scheme.taxonomy import TaxonomyError, load_taxonomy

    path = path or load_cli_settings().classify.taxonomy
    try:
        t = load_taxonomy(path)
    except TaxonomyError as exc:
        fail(exc)
    volumes = sorted({c.volume_class for c in t.leaves if c.volume_class})
    console.print(f"{path}: {t.name} ({t.status}); {len(t.classes)} classes, {len(t.leaves)} leaf classes, "
                  f"volume classes {', '.join(volumes) or 'none'}")


@taxonomy_app.command("show")
def taxonomy_show() -> None:
    """The leaf classes items are filed into, with retention and unit."""
    from pipeline.scheme.taxonomy import load_taxonomy

    t = load_taxonomy(load_cli_settings().classify.taxonomy)
    table = Table(title=t.name)
    for col in ("class", "name", "门类", "保管期限", "unit"):
        table.add_column(col)
    for c in t.leaves:
        table.add_row(c.code, c.full_name, c.category, t.retention_name(c.retention), c.unit)
    console.print(table)
