"""The bureau deliverable: one fonds (全宗) as a BagIt 1.0 bag (RFC 8493).

Layout of ``out_dir``::

    bagit.txt  bag-info.txt  manifest-sha256.txt  tagmanifest-sha256.txt
    data/masters/<档号>-<流水号>.<ext>   page masters, DA/T 31-2017 §9.6 (档号 + 图像流水号)
    data/pdfa/items/<档号>.pdf          PDF/A-2b of every exported item (件)
    data/pdfa/volumes/<案卷档号>.pdf     PDF of every final volume (案卷, GB/T 9705-2008)
    data/catalog/目录.xlsx               sheets 归档文件目录 / 案卷目录 / 卷内目录
    data/catalog/<sheet>.csv             the same tables, UTF-8 with BOM (Excel reads Chinese)
    data/catalog/目录.xml                the same tables
    data/metadata/digitization.csv|xml  one row per page master (DA/T 31-2017 数字化元数据)
    data/ocr/<档号>.txt                  OCR text per item, pages separated by form feed

Masters: the scanner's own file where a page is a whole single-page JPEG/TIFF/PNG (the
original bytes, DA/T 31 "展现档案原貌"); otherwise the lossless PNG cut at ingest from a
multi-page TIFF/PDF or a BMP. 流水号 is the page number within the item, 4 digits.

Catalogue columns: 归档文件目录 per DA/T 22-2015 §4.5 (序号、档号、文号、责任者、题名、日期、
密级、页数、备注; 密级 is left empty — the pipeline holds no classified material); 案卷目录 and
卷内目录 per GB/T 9705-2008. 卷内目录 页号 is the item's first page in the volume, counting
the pages of the volume's items in order from 1 (cover, 卷内目录 and 备考表 are not
numbered). 备注 names the kinds of personal information an item carries (PIPL §28: the
bureau must handle those under its access rules).

XML uses Chinese element names, the column headings themselves::

    <目录 全宗号="Z001"><归档文件目录><条目><序号>1</序号><档号>…</档号>…</条目>…</归档文件目录>
      <案卷目录>…</案卷目录><卷内目录>…</卷内目录></目录>
    <元数据 全宗号="Z001"><数字化元数据><条目><档号>…</档号><页号>1</页号>…</条目>…

Selection: items of the fonds (and year) with a 档号 and a PDF. Items filed on their own
go into 归档文件目录, items of a final volume only into 卷内目录. Items without a 档号
(review pending), items and volumes still 预立卷, and final volumes without a PDF are left
out and named in :attr:`ExportReport.skipped`.

The bag is written into a hidden sibling folder and renamed into place once complete
and fsynced: a crash leaves ``.<name>.*.partial``, never a bag that looks whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from pipeline import __version__
from pipeline.fileio import CHUNK, fsync_dir, safe_name, sha256_file
from pipeline.store.db import Database
from pipeline.store.models import Item, ReviewState, SourceFile, Volume, VolumeState, as_utc

from .bag import TAG_FILES, manifest
from .tables import Table, write_csv, write_xlsx, write_xml

# Formats DA/T 31-2017 §9.5 accepts as long-term masters, kept as the scanner wrote them.
ORIGINAL_EXT = {"image/jpeg": ".jpg", "image/tiff": ".tif", "image/png": ".png"}
SENSITIVE = {"id_number": "身份证号", "phone": "电话号码", "health": "健康", "disability": "残疾",
             "dibao": "低保", "income": "收入"}
FILED = ("归档文件目录", ("序号", "档号", "文号", "责任者", "题名", "日期", "密级", "页数", "备注"))
VOLUMES = ("案卷目录", ("序号", "档号", "案卷题名", "起止日期", "保管期限", "件数", "页数", "备注"))
IN_VOLUME = ("卷内目录", ("案卷档号", "顺序号", "档号", "文号", "责任者", "题名", "日期", "页号", "备注"))
# 宽度/高度 in pixels and 分辨率 in dpi, of the master file in the bag; 扫描设备/扫描软件 are
# the original's EXIF/TIFF Make+Model and Software tags; 接收时间 is ISO 8601.
DIGITIZATION = ("数字化元数据", ("档号", "页号", "文件名", "SHA256", "宽度", "高度", "分辨率", "色彩模式",
                                "扫描设备", "扫描软件", "扫描站点", "接收时间", "处理操作", "OCR引擎",
                                "OCR置信度", "质量标记", "原始文件名"))


class ExportError(RuntimeError):
    """The bag cannot be made (output folder in use, nothing to export, damaged store)."""


@dataclass(frozen=True)
class ExportReport:
    out_dir: Path
    items: int
    volumes: int
    pages: int
    files: int  # payload files
    bytes: int  # payload bytes
    skipped: tuple[str, ...]  # what was left out, and why


@dataclass
class _Page:
    page_no: int
    src: Path  # what goes into masters/
    ext: str  # from the media type: originals are stored under their SHA-256, without one
    expected: str | None  # its SHA-256 as the catalog recorded it
    original: Path | None  # the scanner's image file, for its device tags
    original_name: str
    dpi: int | None
    colour: str | None
    station: str | None
    received: datetime | None
    operations: str | None
    engine: str | None
    confidence: float | None
    flags: str | None
    text: str


@dataclass
class _Item:
    id: int
    code: str
    title: str
    doc_number: str
    responsible: str
    date: str
    note: str
    pdf: Path
    pdf_sha: str | None
    pages: list[_Page]


@dataclass
class _Volume:
    id: int
    code: str
    title: str
    retention: str
    dates: str
    item_count: int
    page_count: int
    note: str
    pdf: Path | None
    pdf_sha: str | None
    entries: list[tuple[int, int, _Item]] = field(default_factory=list)  # 顺序号, 页号, item


# ───────────────────────────── selection ─────────────────────────────


def _sensitive_note(tags: set[str]) -> str:
    return "含个人信息：" + "、".join(sorted(SENSITIVE.get(t, t) for t in tags)) if tags else ""


def _item_label(item: Item) -> str:
    return f"item {item.id} 「{item.title or item.label}」"


def _snapshot_item(item: Item) -> _Item | str:
    """Plain copy of an exportable item, or why it cannot be exported."""
    if not item.archival_code or not item.pdf_path:  # the callers check first, saying which
        return "no 档号 or no PDF/A yet"
    # Keyed by int | None so a page without a source file (source_file_id None) finds none.
    sources: dict[int | None, SourceFile] = {s.id: s for s in item.sources}
    frames = Counter(p.source_file_id for p in item.pages)
    pages = []
    for p in item.pages:
        src = sources.get(p.source_file_id)
        expected: str | None
        if src is not None and frames[src.id] == 1 and src.media_type in ORIGINAL_EXT:
            path, ext, expected = Path(src.stored_path), ORIGINAL_EXT[src.media_type], src.sha256
        elif p.master_path:
            path, expected = Path(p.master_path), p.master_sha256
            ext = path.suffix.lower()
        else:
            return f"page {p.page_no} has no master image"
        original = Path(src.stored_path) if src is not None and src.media_type.startswith("image/") else None
        pages.append(_Page(
            p.page_no, path, ext, expected, original,
            src.original_name if src else "", p.dpi, p.colour_mode, src.station if src else None,
            src.received_at if src else None, p.operations, p.ocr_engine, p.ocr_confidence,
            p.quality_flags, p.ocr_text or ""))
    if not pages:
        return "no pages"
    return _Item(item.id, item.archival_code, item.title or "", item.doc_number or "",
                 item.responsible or "", item.doc_date or "",
                 _sensitive_note(set((item.sensitive or "").split())), Path(item.pdf_path),
                 item.pdf_sha256, pages)


def _select(db: Database, fonds: str, year: int | None) -> tuple[list[_Item], list[_Volume], list[str]]:
    """Items filed on their own, final volumes with their items, and what was left out."""
    filed: list[_Item] = []
    volumes: list[_Volume] = []
    skipped: list[str] = []
    with db.session() as s:
        item_load = (selectinload(Item.pages), selectinload(Item.sources))
        vols = s.scalars(select(Volume).where(Volume.fonds == fonds)
                         .options(selectinload(Volume.items).options(*item_load))).all()
        vols = [v for v in vols if year is None or v.year == year]
        in_volumes = {v.id for v in vols}
        for v in sorted(vols, key=lambda v: (v.archival_code or "", v.id)):
            why = ("预立卷 (pre-volume), not finalised" if v.state != VolumeState.FINAL
                   else None if v.archival_code else "final but has no 档号")
            if why:
                skipped.append(f"volume {v.id} 「{v.title or v.volume_key or ''}」: {why}; "
                               f"{len(v.items)} item(s) left out")
                skipped += [f"{_item_label(i)}: its volume {v.id} is {why}" for i in v.items]
                continue
            assert v.archival_code  # why is None only for a final volume with its 档号
            counts = [len(i.pages) for i in v.items]
            dates = sorted(i.doc_date for i in v.items if i.doc_date)
            tags = {t for i in v.items for t in (i.sensitive or "").split()}
            vol = _Volume(v.id, v.archival_code, v.title or "", v.retention or "",
                          "-".join(dict.fromkeys((dates[0], dates[-1]))) if dates else "", len(v.items),
                          sum(counts), _sensitive_note(tags), Path(v.pdf_path) if v.pdf_path else None,
                          v.pdf_sha256)
            first_page = 1
            for seq, (item, count) in enumerate(zip(v.items, counts), 1):
                got = (_snapshot_item(item) if item.archival_code and item.pdf_path
                       else "no 档号 yet" if not item.archival_code else "no PDF/A yet")
                if isinstance(got, str):
                    skipped.append(f"{_item_label(item)} (volume {v.archival_code}): {got}")
                else:
                    vol.entries.append((seq, first_page, got))
                first_page += count
            volumes.append(vol)

        query = select(Item).where(Item.fonds == fonds).options(*item_load).order_by(Item.archival_code, Item.id)
        for item in s.scalars(query):
            if item.volume_id in in_volumes or (year is not None and item.year != year):
                continue  # reported with its volume, or outside the selection
            if item.volume_id is not None:
                skipped.append(f"{_item_label(item)}: its volume {item.volume_id} is not in this fonds/year")
            elif not item.archival_code:
                why = "review pending" if item.review_state == ReviewState.PENDING else f"state {item.state}"
                skipped.append(f"{_item_label(item)}: no 档号 yet ({why})")
            elif not item.pdf_path:
                skipped.append(f"{_item_label(item)}: no PDF/A yet (state {item.state})")
            elif isinstance(got := _snapshot_item(item), str):
                skipped.append(f"{_item_label(item)}: {got}")
            else:
                filed.append(got)
    return filed, volumes, skipped


# ───────────────────────────── writing ─────────────────────────────


def _copy_hashed(src: Path, dest: Path) -> tuple[str, int]:
    """Copy and hash in one streamed pass; ``xb`` so two 档号 that sanitise alike fail loudly."""
    digest, size = hashlib.sha256(), 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(src, "rb") as inp, open(dest, "xb") as out:
            while chunk := inp.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except FileNotFoundError as e:
        raise ExportError(f"{src}: listed in the catalog but missing from the data home") from e
    return digest.hexdigest(), size


def _image_facts(master: Path, original: Path | None) -> tuple[tuple[int, int] | None, int | None, str, str]:
    """(size, dpi) of the master, and scanner device and software from the original's tags.

    Best effort: a header Pillow cannot read leaves the catalog's values to stand.
    """
    size = dpi = None
    device = software = ""
    unreadable = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)
    try:
        with Image.open(master) as im:
            size, stated = im.size, im.info.get("dpi")
            dpi = round(float(stated[0])) if stated and float(stated[0]) > 1 else None
    except unreadable:
        pass
    try:
        if original is not None:
            with Image.open(original) as im:
                tags = im.getexif()
            make, model, software = (str(tags.get(t, "")).strip("\x00 ") for t in (271, 272, 305))
            device = " ".join(x for x in (make, model) if x)
    except unreadable:
        pass
    return size, dpi, device, software


def _iso(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return as_utc(moment).isoformat(timespec="seconds")


def _operations(raw: str | None) -> str:
    if not raw:
        return ""
    try:
        return "; ".join(json.loads(raw))
    except (ValueError, TypeError):
        return raw


def _sync_tree(root: Path) -> None:
    """fsync every file and folder, so the rename publishes a bag that is on disk."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(folder))


def export_fonds(
    db: Database,
    fonds: str,
    out_dir: Path,
    *,
    year: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    build_volume: Callable[[int], Path | None] | None = None,
) -> ExportReport:
    """Write the fonds (optionally one year) as a BagIt bag in ``out_dir``; see the module doc.

    ``build_volume(volume_id)`` is asked for the PDF of a final volume that has none yet
    (called outside any catalog transaction, so it may write to the catalog).
    ``progress(done, total)`` counts copied files. Raises :class:`ExportError` if
    ``out_dir`` is not empty, nothing qualifies, or a stored file is missing or no longer
    has the SHA-256 recorded at ingest (a damaged copy must not be delivered).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ExportError(f"{out_dir}: exists and is not an empty folder")
    filed, volumes, skipped = _select(db, fonds, year)
    for vol in volumes:
        if vol.pdf is None and build_volume is not None:
            vol.pdf = build_volume(vol.id)
    for vol in [v for v in volumes if v.pdf is None]:
        skipped.append(f"volume {vol.id} 「{vol.title}」 {vol.code}: no volume PDF yet; "
                       f"{len(vol.entries)} item(s) left out")
        skipped += [f"item {i.id} 「{i.title}」: its volume {vol.id} has no PDF yet" for _, _, i in vol.entries]
        volumes.remove(vol)
    items = filed + [item for vol in volumes for _, _, item in vol.entries]
    if not items:
        scope = f"fonds {fonds}" + (f", year {year}" if year is not None else "")
        raise ExportError(f"{scope}: nothing to export" + "".join(f"\n  {r}" for r in skipped))

    copies: list[tuple[str, Path, str | None]] = []  # bag path, source, recorded SHA-256
    for item in items:
        name = safe_name(item.code)
        copies += [(_master_rel(item, p), p.src, p.expected) for p in item.pages]
        copies.append((f"data/pdfa/items/{name}.pdf", item.pdf, item.pdf_sha))
    # Volumes without a PDF were left out above.
    copies += [(f"data/pdfa/volumes/{safe_name(v.code)}.pdf", v.pdf, v.pdf_sha) for v in volumes if v.pdf is not None]

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    try:
        payload: dict[str, str] = {}
        total_bytes = 0
        if progress:
            progress(0, len(copies))
        for done, (rel, src, expected) in enumerate(copies, 1):
            digest, size = _copy_hashed(src, work / rel)
            if expected and digest != expected:
                raise ExportError(f"{src}: SHA-256 is {digest[:12]}…, the catalog recorded "
                                  f"{expected[:12]}… — the stored file changed since it was written")
            payload[rel], total_bytes = digest, total_bytes + size
            if progress:
                progress(done, len(copies))

        for rel in _write_generated(work, fonds, filed, volumes, items, payload):
            payload[rel], size = sha256_file(work / rel)
            total_bytes += size
        pages = sum(len(i.pages) for i in items)
        _write_tags(work, fonds, year, payload, total_bytes, filed, volumes, pages)
        _sync_tree(work)
        os.rename(work, out_dir)  # also replaces an empty out_dir
        fsync_dir(out_dir.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return ExportReport(out_dir, len(items), len(volumes), pages, len(payload), total_bytes, tuple(skipped))


def _master_rel(item: _Item, page: _Page) -> str:
    return f"data/masters/{safe_name(item.code)}-{page.page_no:04d}{page.ext}"


def _catalog_tables(filed: list[_Item], volumes: list[_Volume]) -> list[Table]:
    return [
        Table(*FILED, [[n, i.code, i.doc_number, i.responsible, i.title, i.date, "", len(i.pages), i.note]
                        for n, i in enumerate(filed, 1)]),
        Table(*VOLUMES, [[n, v.code, v.title, v.dates, v.retention, v.item_count, v.page_count, v.note]
                          for n, v in enumerate(volumes, 1)]),
        Table(*IN_VOLUME, [[v.code, seq, i.code, i.doc_number, i.responsible, i.title, i.date, first, i.note]
                            for v in volumes for seq, first, i in v.entries]),
    ]


def _digitization_table(work: Path, items: list[_Item], payload: dict[str, str]) -> Table:
    rows = []
    for item in items:
        for p in item.pages:
            rel = _master_rel(item, p)
            size, dpi, device, software = _image_facts(work / rel, p.original)
            rows.append([
                item.code, p.page_no, rel.rsplit("/", 1)[1], payload[rel], size[0] if size else "",
                size[1] if size else "", dpi or p.dpi or "", p.colour, device, software, p.station,
                _iso(p.received), _operations(p.operations), p.engine,
                "" if p.confidence is None else f"{p.confidence:.3f}", p.flags, p.original_name,
            ])
    return Table(*DIGITIZATION, rows)


def _write_generated(work: Path, fonds: str, filed: list[_Item], volumes: list[_Volume],
                     items: list[_Item], payload: dict[str, str]) -> list[str]:
    """Catalogue, digitization metadata and OCR text; returns their bag paths."""
    data = work / "data"
    for folder in ("catalog", "metadata", "ocr"):
        (data / folder).mkdir(parents=True)
    for item in items:
        (data / "ocr" / f"{safe_name(item.code)}.txt").write_bytes("\f".join(p.text for p in item.pages).encode())
    catalog = _catalog_tables(filed, volumes)
    write_xlsx(data / "catalog" / "目录.xlsx", catalog)
    write_xml(data / "catalog" / "目录.xml", "目录", fonds, catalog)
    for table in catalog:
        write_csv(data / "catalog" / f"{table.name}.csv", table)
    digitization = _digitization_table(work, items, payload)
    write_csv(data / "metadata" / "digitization.csv", digitization)
    write_xml(data / "metadata" / "digitization.xml", "元数据", fonds, [digitization])
    return sorted(p.relative_to(work).as_posix() for folder in ("catalog", "metadata", "ocr")
                  for p in (data / folder).iterdir())


def _write_tags(work: Path, fonds: str, year: int | None, payload: dict[str, str], total_bytes: int,
                filed: list[_Item], volumes: list[_Volume], pages: int) -> None:
    in_volumes = sum(len(v.entries) for v in volumes)
    scope = f"全宗{fonds}" + (f"{year}年度" if year is not None else "")
    info = {
        "Source-Organization": fonds,
        "Bagging-Date": date.today().isoformat(),
        "Bag-Software-Agent": f"dangan {__version__}",
        "External-Description": (f"{scope}纸质档案数字化成果：归档文件{len(filed)}件，案卷{len(volumes)}卷"
                                 f"（卷内文件{in_volumes}件），页面图像{pages}幅；含PDF/A、目录（XLSX/CSV/XML）、"
                                 f"数字化元数据与OCR全文"),
        "Payload-Oxum": f"{total_bytes}.{len(payload)}",
        "Item-Count": str(len(filed) + in_volumes),
        "Volume-Count": str(len(volumes)),
        "Page-Count": str(pages),
    }
    if year is not None:
        info["Year"] = str(year)
    texts = {
        "bagit.txt": "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
        "bag-info.txt": "".join(f"{label}: {value}\n" for label, value in info.items()),
        "manifest-sha256.txt": manifest(payload),
    }
    for name, text in texts.items():
        (work / name).write_bytes(text.encode())
    tags = {name: sha256_file(work / name)[0] for name in TAG_FILES}
    (work / "tagmanifest-sha256.txt").write_bytes(manifest(tags).encode())
