"""What the viewer and the print route need from the catalog and the page files.

Files are only ever found through the catalog (item id + page number → the stored working
image), never from a path in the request, so no request can name a file outside the archive.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from pipeline.domain import OcrPage
from pipeline.store import Database, Item, Page
from pipeline.text import normalize


@dataclass(frozen=True)
class PageView:
    item: Item
    page: Page
    pages: int  # pages in the item


@dataclass(frozen=True)
class PageGeometry:
    """The page image's size and where the hits are on it, for the viewer only."""

    width: int
    height: int
    boxes: tuple[tuple[float, float, float, float], ...]  # hit rectangles (x, y, w, h) in image pixels


def load_page(db: Database, item_id: int, page_no: int) -> PageView | None:
    with db.reading() as s:
        row = s.execute(select(Item, Page).join(Page, Page.item_id == Item.id)
                        .where(Item.id == item_id, Page.page_no == page_no)).first()
        if row is None:
            return None
        item, page = row
        pages = s.scalar(select(func.count()).select_from(Page).where(Page.item_id == item_id)) or 0
        s.expunge(item)
        s.expunge(page)
    return PageView(item, page, pages)


def sensitive_items(db: Database, item_ids: Iterable[int]) -> set[int]:
    """Which of ``item_ids`` hold personal information (shown only after a 查档登记)."""
    ids = set(item_ids)
    if not ids:
        return set()
    with db.reading() as s:
        return set(s.scalars(select(Item.id).where(Item.id.in_(ids), Item.sensitive.is_not(None),
                                                   Item.sensitive != "")))


THUMB_WIDTH = 160


def thumbnail(image: Path, cache: Path, width: int = THUMB_WIDTH) -> Path | None:
    """A small JPEG of a page image, made on first request and kept under ``cache``.

    Named after the image's path, size and mtime: a page processed again gets a new thumbnail.
    None when the image is missing or unreadable.
    """
    from PIL import Image

    try:
        st = image.stat()
    except OSError:
        return None
    key = hashlib.sha256(f"{image}|{st.st_size}|{st.st_mtime_ns}|{width}".encode()).hexdigest()[:32]
    out = cache / key[:2] / f"{key}.jpg"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        with Image.open(image) as im:
            im.draft("RGB", (width, width * 4))  # JPEG pages decode at reduced size: much faster
            small = im.convert("L" if im.mode in ("1", "L", "I", "I;16") else "RGB")
            small.thumbnail((width, width * 4))
    except (OSError, ValueError):
        return None
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            small.save(fh, "JPEG", quality=70, optimize=True)
        os.replace(tmp, out)  # two requests at once: both write, one wins, neither reads half a file
    except BaseException:
        os.unlink(tmp)
        raise
    return out


def page_geometry(page: Page, query: str) -> PageGeometry:
    layout = _layout(page)
    if layout is None:
        return PageGeometry(int(page.width or 1), int(page.height or 1), ())
    return PageGeometry(layout.width, layout.height, tuple(hit_boxes(layout, query)))


def _layout(page: Page) -> OcrPage | None:
    """The page's OCR result as the worker wrote it; None when missing or unreadable."""
    try:
        return OcrPage.from_json(Path(page.ocr_layout_path).read_bytes()) if page.ocr_layout_path else None
    except (OSError, ValueError):
        return None


def hit_boxes(layout: OcrPage, query: str) -> list[tuple[float, float, float, float]]:
    """Rectangles around every occurrence of each query term, from the per-character OCR boxes."""
    terms = [normalize(t) for t in query.replace('"', " ").split() if normalize(t)]
    boxes = []
    for line in layout.lines:
        chars = line.words
        text = normalize("".join(w.text for w in chars))
        if len(text) != len(chars):  # not one box per character: no reliable position
            continue
        for term in terms:
            start = text.find(term)
            while start >= 0:
                points = [p for w in chars[start:start + len(term)] for p in w.box]
                xs, ys = [p[0] for p in points], [p[1] for p in points]
                boxes.append((min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)))
                start = text.find(term, start + 1)
    return boxes


def print_pdf(images: list[Path], watermark: str) -> bytes:
    """The selected pages as one PDF, each stamped across with who printed it, when, and the 登记号."""
    from pipeline.archive.volume_pdf import new_document

    pdf = new_document()
    pdf.set_auto_page_break(False)  # the footer line sits in the bottom margin: no blank page after each
    for image in images:
        pdf.add_page()
        pdf.image(str(image), x=0, y=0, w=210, h=297, keep_aspect_ratio=True)
        with pdf.local_context(fill_opacity=0.35, text_color=(200, 30, 30)):
            pdf.set_font("cjk", size=16)
            with pdf.rotation(35, x=105, y=148):
                for dy in (-60, 0, 60):
                    pdf.set_xy(10, 148 + dy)
                    pdf.cell(190, 10, watermark, align="C")
        pdf.set_font("cjk", size=8)
        pdf.set_xy(10, 287)
        pdf.cell(190, 6, watermark, align="C")
    buf = io.BytesIO()
    pdf.output(buf)
    return buf.getvalue()


def watermark_text(clerk: str, register_number: str, when: datetime) -> str:
    return f"查档专用 · {clerk} · {when:%Y-%m-%d %H:%M} · 登记号 {register_number}"
