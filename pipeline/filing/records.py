"""What filing hands out: review entries, volume views, errors; and the small rules they share."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

from pipeline.domain import Evidence, ItemMetadata
from pipeline.scheme.taxonomy import Taxonomy
from pipeline.store.models import Item

RETENTION_RANK = {"Y": 3, "C": 2, "D30": 2, "D10": 1, "D": 1}  # longest wins for a volume
VOLUME_TITLES = {  # 案卷题名 by how the volume is keyed
    "household": "{village}{name}户精准扶贫档案",
    "project": "{name}档案",
    "village": "{name}精准扶贫汇总档案",
}


LABEL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or typed from a label


def new_label_token() -> str:
    """An opaque id for a box label's QR code: random, never derived from a name or ID number."""
    return "".join(secrets.choice(LABEL_ALPHABET) for _ in range(16))


class FilingError(ValueError):
    """A filing operation was refused; the message says why and what to do."""


@dataclass(frozen=True)
class ReviewEntry:
    item_id: int
    label: str
    title: str | None
    class_code: str | None
    class_name: str | None
    confidence: float | None
    evidence: list
    volume_key: str | None
    pages: int
    received_at: datetime


@dataclass(frozen=True)
class VolumeMember:
    item_id: int
    position: int
    class_code: str | None
    title: str | None
    doc_date: str | None
    doc_number: str | None
    responsible: str | None
    pages: int
    archival_code: str | None
    review_state: str | None
    pdf_path: str | None


@dataclass(frozen=True)
class VolumeView:
    id: int
    key: str
    state: str
    title: str | None
    archival_code: str | None
    class_code: str | None
    label_token: str | None
    pdf_path: str | None
    members: tuple[VolumeMember, ...]

    @property
    def page_count(self) -> int:
        return sum(m.pages for m in self.members)


def metadata_json(m: ItemMetadata) -> dict:
    data = asdict(m)
    for key in ("title", "title_supplied", "date", "responsible"):
        data.pop(key)
    return data


def note_volume(item: Item, detail: str, terms: Iterable[str] = ()) -> None:
    """Add to the item's evidence what was decided about its volume, and why."""
    item.evidence = (item.evidence or []) + [asdict(Evidence("volume", detail, tuple(terms)))]


def item_values(item: Item, taxonomy: Taxonomy) -> dict[str, object]:
    return {"fonds": item.fonds, "category": item.category, "year": item.year, "retention": item.retention,
            "org": item.org, "class": item.class_code or "", "village": item.village or "",
            "village_code": taxonomy.villages.get(item.village or "", "")}
