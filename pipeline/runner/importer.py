"""``dangan index import``: pages with text from a legacy system, no OCR.

Imported pages go into the catalog first (items with origin ``import``), then
into the index, so a rebuild from the catalog brings them back too. Their text is
checked for personal data as OCR'd pages are (ID numbers, phones, health, 低保, income):
an item that holds any opens only after a 查档登记, and a title never shows a full ID.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from pipeline import __version__
from pipeline.classify.metadata import find_id_numbers, find_phones, mask_id_numbers, sensitive_tags
from pipeline.config import Settings
from pipeline.store import Database, Item, ItemState, Page, record_event

REQUIRED = ("archival_code", "title", "page", "text")


class ImportError_(ValueError):
    """A line of the import file is not usable; the message names the line."""


@dataclass(frozen=True)
class ImportReport:
    items: int
    pages: int
    skipped: int


def _parse(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ImportError_(f"{path}:{lineno}: not JSON: {exc}") from exc
            missing = [k for k in REQUIRED if k not in row]
            if missing:
                raise ImportError_(f"{path}:{lineno}: missing field(s) {', '.join(missing)}")
            if not isinstance(row["page"], int) or row["page"] < 1:
                raise ImportError_(f"{path}:{lineno}: page must be a positive integer")
            rows.append(row)
    return rows


def import_jsonl(path: Path, db: Database, settings: Settings,
                 progress: Callable[[int], None] | None = None, batch: int = 1000) -> ImportReport:
    rows = _parse(path)  # validate the whole file before writing anything
    agent = f"dangan {__version__} import"
    items = pages = skipped = 0
    for start in range(0, len(rows), batch):
        chunk = rows[start:start + batch]
        with db.session() as s:
            for row in chunk:
                code = str(row["archival_code"])
                fingerprint = "import:" + hashlib.sha256(code.encode()).hexdigest()
                item = s.scalar(select(Item).where(Item.fingerprint == fingerprint))
                if item is None:
                    item = Item(
                        fingerprint=fingerprint, origin="import", label=code, state=ItemState.ARCHIVED,
                        station=settings.ingest.station, title=mask_id_numbers(str(row["title"])), archival_code=code,
                        fonds=code.split("-")[0], category=row.get("category"), year=row.get("year"),
                        village=row.get("village"), needs_review=False,
                    )
                    s.add(item)
                    s.flush()
                    record_event(s, "item", item.id, "received", agent=agent,
                                 detail={"source": str(path.name), "origin": "import"})
                    items += 1
                elif item.state == ItemState.DONE:
                    item.state = ItemState.ARCHIVED  # new pages: index it again
                exists = s.scalar(select(Page.id).where(Page.item_id == item.id, Page.page_no == row["page"]))
                if exists:
                    skipped += 1
                    continue
                text = str(row["text"])
                s.add(Page(item_id=item.id, page_no=row["page"], ocr_text=text, ocr_engine="import"))
                titled = f"{text}\n{row['title']}"
                found = sensitive_tags(titled, find_id_numbers(titled), find_phones(text))
                if found:
                    item.sensitive = " ".join(sorted(set((item.sensitive or "").split()) | set(found)))
                s.flush()
                pages += 1
        if progress:
            progress(len(chunk))
    return ImportReport(items, pages, skipped)
