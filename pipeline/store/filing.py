"""Filing in the catalog: classification records, the review queue, 档号 and volumes (案卷).

Rules kept here, in one place:

* An item's class is *settled* when the classifier was confident (``auto``) or a person
  decided (``confirmed`` / ``corrected``). Only a settled item is numbered; a doubtful one
  waits in the review queue without a 档号, so no number is ever issued for a guess.
* A settled item of an item-unit class gets its 档号 at once (件号 from the counter of
  its scope). An item of a volume class joins the 预立卷 (pre-volume) of its volume key,
  placed by the scheme's order (entry → exit), and is numbered when the volume is
  finalised: the volume gets its 案卷号, the items their 件号 = position in the volume.
* A number once issued never changes by itself: re-runs keep it, a person's correction of
  the class keeps it, and only :meth:`FilingStore.renumber` (explicit, with a reason,
  logged) issues a new one.
* A person's decision is never overwritten by a re-run of the worker.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from pipeline.archive.archival_code import ArchivalCodeTemplate
from pipeline.classify.taxonomy import Taxonomy
from pipeline.domain import Classification, Evidence, ItemMetadata, VolumeEntry, VolumeSheet
from pipeline.store.catalog import next_number, record_event
from pipeline.store.db import Database
from pipeline.store.models import (
    ClassifierModel,
    Item,
    ItemState,
    Page,
    ReviewState,
    Volume,
    VolumeState,
    utcnow,
)

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


def _note_volume(item: Item, detail: str, terms: Iterable[str] = ()) -> None:
    """Add to the item's evidence what was decided about its volume, and why."""
    item.evidence = (item.evidence or []) + [asdict(Evidence("volume", detail, tuple(terms)))]


def _item_values(item: Item, taxonomy: Taxonomy) -> dict[str, object]:
    return {"fonds": item.fonds, "category": item.category, "year": item.year, "retention": item.retention,
            "org": item.org, "class": item.class_code or "", "village": item.village or "",
            "village_code": taxonomy.villages.get(item.village or "", "")}


class FilingStore:
    def __init__(self, db: Database, taxonomy: Taxonomy, *, item_template: str,
                 volume_template: str, volume_item_template: str, review_below: float = 0.55) -> None:
        self.db = db
        self.taxonomy = taxonomy
        self.review_below = review_below
        self.item_template = ArchivalCodeTemplate(item_template)
        self.volume_template = ArchivalCodeTemplate(volume_template, counter="volume")
        self.volume_item_template = ArchivalCodeTemplate(volume_item_template)

    @classmethod
    def from_settings(cls, db: Database, settings) -> "FilingStore":
        from pipeline.classify.taxonomy import load_taxonomy

        return cls(db, load_taxonomy(settings.classify.taxonomy),
                   item_template=settings.archive.code_template,
                   volume_template=settings.archive.volume_template,
                   volume_item_template=settings.archive.volume_item_template,
                   review_below=settings.classify.review_below)

    # ── recording a classification ───────────────────────────────

    def record(self, item_id: int, filing: Classification, metadata: ItemMetadata, agent: str) -> str | None:
        """Store the classifier's decision and settle the item if it is confident.

        Returns the item's 档号 if it has one. A person's earlier decision and an issued
        number are kept: a re-run only refreshes the description.
        """
        with self.db.session() as s:
            item = s.get(Item, item_id, with_for_update=True)
            self._describe(item, metadata)
            by_person = item.review_state in ReviewState.BY_PERSON
            if not by_person and not item.archival_code and item.volume_id is None:
                self._apply(item, filing)
                needs_review = filing.needs_review
                if self._only_volume_missing(item) and self._match_open_volume(s, item):
                    needs_review = False  # e.g. a 公示 roster naming the head of an open household volume
                item.review_state = ReviewState.PENDING if needs_review else ReviewState.AUTO
                item.needs_review = needs_review
                item.reviewed_by = item.reviewed_at = None
                record_event(s, "item", item_id, "classified", agent=agent, detail={
                    "class": filing.class_code, "confidence": filing.confidence,
                    "needs_review": needs_review, "volume_key": item.volume_key,
                    "evidence": [asdict(e) for e in filing.evidence]})
                if item.review_state == ReviewState.AUTO:
                    self._settle(s, item, agent)
            return item.archival_code

    def _describe(self, item: Item, m: ItemMetadata) -> None:
        item.title = m.title
        item.doc_date = m.date.value if m.date else None
        item.doc_date_raw = m.date.raw if m.date else None
        item.doc_date_inferred = m.date.inferred if m.date else None
        item.doc_number = m.doc_numbers[0] if m.doc_numbers else None
        item.responsible = m.responsible
        item.village = m.village
        item.description = metadata_json(m)
        item.sensitive = " ".join(m.sensitive) or None

    def _apply(self, item: Item, c: Classification) -> None:
        item.fonds, item.category, item.year, item.retention = c.fonds, c.category, c.year, c.retention
        item.org, item.class_code, item.class_name = c.org, c.class_code, c.class_name
        item.confidence = c.confidence
        item.evidence = [asdict(e) for e in c.evidence]
        item.volume_key = c.volume_key

    def _settle(self, s, item: Item, agent: str) -> None:
        """Number an item-unit item, or put a volume-unit item into its pre-volume."""
        cls = self.taxonomy.classes.get(item.class_code or "")
        if cls is None:
            raise FilingError(f"item {item.id}: class {item.class_code!r} is not in the filing scheme")
        if cls.unit == "item":
            if not item.archival_code:
                values = _item_values(item, self.taxonomy)
                number = next_number(s, self.item_template.scope(values))
                item.item_number = number
                item.archival_code = self.item_template.render(values, number)
                record_event(s, "item", item.id, "code-assigned", agent=agent,
                             detail={"archival_code": item.archival_code})
        elif item.volume_key and item.volume_id is None:
            final = s.scalar(select(Volume.archival_code).where(Volume.volume_key == item.volume_key,
                                                                Volume.state == VolumeState.FINAL))
            if final:
                # Late material for a closed volume: an archivist decides (a new volume, or
                # a note in the 备考表); numbers already issued are not disturbed.
                self._hold(s, item, f"volume {final} ({item.volume_key}) is already final", agent)
                return
            try:
                with s.begin_nested():
                    self._join(s, item, item.volume_key, cls.volume_class, agent)
            except FilingError as exc:  # never fail the worker over where an item belongs
                self._hold(s, item, str(exc), agent)

    @staticmethod
    def _hold(s, item: Item, why: str, agent: str) -> None:
        """Send a settled item back to the review queue, saying why."""
        item.review_state, item.needs_review = ReviewState.PENDING, True
        _note_volume(item, why)
        record_event(s, "item", item.id, "held-for-review", agent=agent, detail={"why": why})

    # ── review queue ─────────────────────────────────────────────

    def review_queue(self, limit: int = 200) -> list[ReviewEntry]:
        with self.db.session() as s:
            pages = select(Page.item_id, func.count().label("n")).group_by(Page.item_id).subquery()
            rows = s.execute(
                select(Item, pages.c.n).outerjoin(pages, pages.c.item_id == Item.id)
                .where(Item.review_state == ReviewState.PENDING).order_by(Item.id).limit(limit)
            ).all()
            return [ReviewEntry(i.id, i.label, i.title, i.class_code, i.class_name, i.confidence,
                                i.evidence or [], i.volume_key, n or 0, i.received_at) for i, n in rows]

    def item_text(self, item_id: int) -> tuple[Item, str, list[str]]:
        """The item (detached) with its OCR text and the first page's lines."""
        with self.db.session() as s:
            item = s.get(Item, item_id)
            if item is None:
                raise FilingError(f"no item {item_id}")
            texts = list(s.scalars(select(Page.ocr_text).where(Page.item_id == item_id).order_by(Page.page_no)))
            s.expunge(item)
        first = (texts[0] or "").splitlines() if texts else []
        return item, "\n".join(t or "" for t in texts), first

    def decide(self, item_id: int, filing: Classification, user: str, *, agent: str) -> Item:
        """A person sets (or confirms) the class. The 档号 already issued is kept."""
        with self.db.session() as s:
            item = s.get(Item, item_id, with_for_update=True)
            if item is None:
                raise FilingError(f"no item {item_id}")
            before = item.class_code
            if item.volume_id is not None and filing.class_code != before:
                volume = s.get(Volume, item.volume_id)
                if volume.state == VolumeState.FINAL:
                    raise FilingError(f"item {item_id} is in the finalised volume {volume.archival_code}; "
                                      "its class cannot change")
            confirmed = filing.class_code == before
            keep_key = item.volume_key if filing.volume_key is None and confirmed else filing.volume_key
            self._apply(item, filing)
            item.volume_key = keep_key
            item.review_state = ReviewState.CONFIRMED if confirmed else ReviewState.CORRECTED
            item.needs_review = False
            item.reviewed_by, item.reviewed_at = user, utcnow()
            record_event(s, "item", item_id, "class-confirmed" if confirmed else "class-corrected", agent=agent,
                         detail={"by": user, "from": before, "to": filing.class_code,
                                 "archival_code_kept": item.archival_code})
            cls = self.taxonomy.get(filing.class_code)
            if cls.unit == "volume" and not item.volume_key and item.volume_id is None:
                self._match_open_volume(s, item)
            if cls.unit == "volume" and not item.volume_key and item.volume_id is None:
                item.review_state = ReviewState.PENDING
                item.needs_review = True
                raise FilingError(f"item {item_id}: class {cls.code} files into volumes by {cls.volume_key}, and "
                                  f"none was found in its text; add it with `dangan volume add {item_id} KEY`")
            self._settle(s, item, agent)
            s.flush()
            s.expunge(item)
        return item

    # ── volumes (案卷) ────────────────────────────────────────────

    def _join(self, s, item: Item, key: str, volume_class: str | None, agent: str) -> Volume:
        volume = s.scalar(select(Volume).where(Volume.volume_key == key).with_for_update())
        if volume is None:
            volume = Volume(fonds=item.fonds, category=item.category, volume_key=key, class_code=volume_class,
                            org=item.org, village=item.village, state=VolumeState.PRE_VOLUME,
                            label_token=new_label_token(), title=self._volume_title(key))
            s.add(volume)
            s.flush()
            record_event(s, "volume", volume.id, "pre-volume-created", agent=agent, detail={"key": key})
            self._adopt_waiting(s, volume, agent)
        if volume.state == VolumeState.FINAL:
            raise FilingError(f"volume {volume.archival_code} ({key}) is final; items cannot be added")
        if volume_class and volume.class_code and volume.class_code != volume_class:
            raise FilingError(f"item {item.id} ({item.class_code}) does not belong in volume {key} "
                              f"of class {volume.class_code}")
        members = [i for i in s.scalars(select(Item).where(Item.volume_id == volume.id)
                                         .order_by(Item.position_in_volume)) if i.id != item.id]
        key_of = self._order_key
        at = next((n for n, m in enumerate(members) if key_of(m) > key_of(item)), len(members))
        members.insert(at, item)
        item.volume_id, item.volume_key = volume.id, key
        for n, member in enumerate(members, start=1):
            member.position_in_volume = n
        record_event(s, "item", item.id, "added-to-volume", agent=agent,
                     detail={"volume": key, "position": at + 1})
        return volume

    def _only_volume_missing(self, item: Item) -> bool:
        """Confident about the class; only the volume (household, project …) is unknown."""
        cls = self.taxonomy.classes.get(item.class_code or "")
        return (cls is not None and cls.unit == "volume" and not item.volume_key
                and (item.confidence or 0.0) >= self.review_below)

    @staticmethod
    def _key_name(key: str) -> str:
        return key.rsplit(":", 1)[-1]

    def _mentions(self, s, item_id: int, names: list[str]) -> list[str]:
        texts = s.scalars(select(Page.ocr_text).where(Page.item_id == item_id))
        text = "".join("".join((t or "").split()) for t in texts)
        return [n for n in names if n and n in text]

    def _match_open_volume(self, s, item: Item) -> bool:
        """File an item that names no household by label into the one open volume it mentions.

        Rosters (公示, 公告, 评议记录) list several households; if exactly one of them has an
        open volume of this class, that is where the item goes. Two or more: a person decides.
        """
        cls = self.taxonomy.classes[item.class_code]
        keys = list(s.scalars(select(Volume.volume_key).where(
            Volume.class_code == cls.volume_class, Volume.state == VolumeState.PRE_VOLUME)))
        names = {self._key_name(k): k for k in keys}
        found = self._mentions(s, item.id, list(names))
        if len(found) != 1:
            if found:
                _note_volume(item, "names several open volumes", found)
            return False
        item.volume_key = names[found[0]]
        _note_volume(item, f"named in the text: open volume {item.volume_key}", found)
        return True

    def _adopt_waiting(self, s, volume: Volume, agent: str) -> None:
        """A new volume: items already waiting only for their volume join it if they name it."""
        waiting = s.scalars(select(Item).where(
            Item.review_state == ReviewState.PENDING, Item.volume_id.is_(None), Item.volume_key.is_(None),
            Item.class_code.like(f"{volume.class_code}·%")))
        for item in waiting:
            if self._only_volume_missing(item) and self._mentions(s, item.id, [self._key_name(volume.volume_key)]):
                item.review_state, item.needs_review = ReviewState.AUTO, False
                _note_volume(item, f"named in the text: open volume {volume.volume_key}",
                             [self._key_name(volume.volume_key)])
                self._join(s, item, volume.volume_key, volume.class_code, agent)

    def _order_key(self, item: Item) -> tuple:
        """Entry → exit: the scheme's order of the item's class, then its date, then arrival."""
        cls = self.taxonomy.classes.get(item.class_code or "")
        return (cls.order if cls else 10_000, item.doc_date or "99999999", item.id)

    @staticmethod
    def _volume_title(key: str) -> str:
        kind, _, rest = key.partition(":")
        village, _, name = rest.partition(":") if kind == "household" else ("", "", rest)
        return VOLUME_TITLES.get(kind, "{name}").format(village=village, name=name or rest)

    def _find_volume(self, s, ref: str) -> Volume:
        """A volume by key, 档号, label token or id."""
        clauses = [Volume.volume_key == ref, Volume.archival_code == ref, Volume.label_token == ref.upper()]
        if ref.isdigit():
            clauses.append(Volume.id == int(ref))
        for clause in clauses:
            volume = s.scalar(select(Volume).where(clause))
            if volume is not None:
                return volume
        raise FilingError(f"no volume {ref!r} (give its key, 档号, label id or number; `dangan volume list`)")

    def add(self, item_id: int, ref: str, user: str, *, agent: str) -> VolumeView:
        """Put an item into a volume by hand (e.g. the text did not name the household)."""
        with self.db.session() as s:
            item = s.get(Item, item_id, with_for_update=True)
            if item is None:
                raise FilingError(f"no item {item_id}")
            cls = self.taxonomy.classes.get(item.class_code or "")
            if cls is None or cls.unit != "volume":
                raise FilingError(f"item {item_id} has class {item.class_code}, which is not filed in volumes; "
                                  "set its class first (`dangan classify ITEM --set CLASS`)")
            if item.volume_id is not None:
                raise FilingError(f"item {item_id} is already in a volume")
            try:
                key = self._find_volume(s, ref).volume_key
            except FilingError:
                if ":" not in ref:
                    raise
                key = ref  # a new key: a new pre-volume
            self._join(s, item, key, cls.volume_class, agent)
            if item.review_state == ReviewState.PENDING:
                item.review_state, item.needs_review = ReviewState.CONFIRMED, False
                item.reviewed_by, item.reviewed_at = user, utcnow()
            record_event(s, "item", item_id, "volume-set-by-person", agent=agent, detail={"by": user, "volume": key})
        return self.volume(key)

    def move(self, ref: str, item_id: int, position: int, user: str, *, agent: str) -> VolumeView:
        """Reorder a pre-volume: the item goes to ``position`` (1-based)."""
        with self.db.session() as s:
            volume = self._find_volume(s, ref)
            if volume.state == VolumeState.FINAL:
                raise FilingError(f"volume {volume.archival_code} is final; its order is fixed")
            members = list(s.scalars(select(Item).where(Item.volume_id == volume.id).order_by(Item.position_in_volume)))
            item = next((m for m in members if m.id == item_id), None)
            if item is None:
                raise FilingError(f"item {item_id} is not in volume {volume.volume_key}")
            if not 1 <= position <= len(members):
                raise FilingError(f"position must be 1–{len(members)}")
            members.remove(item)
            members.insert(position - 1, item)
            for n, member in enumerate(members, start=1):
                member.position_in_volume = n
            record_event(s, "volume", volume.id, "reordered", agent=agent,
                         detail={"by": user, "item": item_id, "position": position})
            key = volume.volume_key
        return self.volume(key)

    def volume(self, ref: str) -> VolumeView:
        with self.db.session() as s:
            volume = self._find_volume(s, ref)
            pages = select(Page.item_id, func.count().label("n")).group_by(Page.item_id).subquery()
            rows = s.execute(
                select(Item, pages.c.n).outerjoin(pages, pages.c.item_id == Item.id)
                .where(Item.volume_id == volume.id).order_by(Item.position_in_volume)
            ).all()
            members = tuple(VolumeMember(i.id, i.position_in_volume, i.class_code, i.title, i.doc_date,
                                         i.doc_number, i.responsible, n or 0, i.archival_code,
                                         i.review_state, i.pdf_path) for i, n in rows)
            return VolumeView(volume.id, volume.volume_key, volume.state, volume.title, volume.archival_code,
                              volume.class_code, volume.label_token, volume.pdf_path, members)

    def volumes(self, fonds: str | None = None) -> list[VolumeView]:
        with self.db.session() as s:
            query = select(Volume.volume_key).order_by(Volume.id)
            if fonds:
                query = query.where(Volume.fonds == fonds)
            keys = list(s.scalars(query))
        return [self.volume(k) for k in keys]

    def finalize(self, ref: str, user: str, *, agent: str, checked_by: str | None = None) -> tuple[VolumeView, list[int]]:
        """End the 预立卷: issue the 案卷号 and the items' 件号; returns the items renumbered."""
        with self.db.session() as s:
            volume = self._find_volume(s, ref)
            if volume.state == VolumeState.FINAL:
                raise FilingError(f"volume {volume.archival_code} is already final")
            members = list(s.scalars(select(Item).where(Item.volume_id == volume.id)
                                     .order_by(Item.position_in_volume).with_for_update()))
            if not members:
                raise FilingError(f"volume {volume.volume_key} has no items")
            waiting = [m.id for m in members if m.review_state == ReviewState.PENDING or m.pdf_path is None]
            if waiting:
                raise FilingError(f"volume {volume.volume_key}: items {waiting} are still in review or "
                                  "being processed; settle them first")
            volume.year = min(m.year for m in members if m.year) if any(m.year for m in members) else None
            volume.retention = max((m.retention for m in members if m.retention),
                                   key=lambda r: RETENTION_RANK.get(r, 0))
            volume.category = members[0].category
            values = {"fonds": volume.fonds, "category": volume.category, "year": volume.year,
                      "retention": volume.retention, "org": volume.org, "class": volume.class_code or "",
                      "village": volume.village or "",
                      "village_code": self.taxonomy.villages.get(volume.village or "", "")}
            volume.volume_number = next_number(s, self.volume_template.scope(values))
            volume.archival_code = self.volume_template.render(values, volume.volume_number)
            for n, member in enumerate(members, start=1):
                member.position_in_volume = member.item_number = n
                member.archival_code = self.volume_item_template.render(
                    {**_item_values(member, self.taxonomy), "volume_code": volume.archival_code}, n)
            volume.note = self._volume_note(members, volume.class_code)
            volume.compiled_by, volume.checked_by = user, checked_by
            volume.state, volume.finalized_at = VolumeState.FINAL, utcnow()
            record_event(s, "volume", volume.id, "finalized", agent=agent, detail={
                "by": user, "archival_code": volume.archival_code,
                "items": [(m.id, m.archival_code) for m in members]})
            key, ids = volume.volume_key, [m.id for m in members]
        return self.volume(key), ids

    def _volume_note(self, members: list[Item], volume_class: str | None) -> str:
        """本卷情况说明: what an inspector looks for first (missing papers, doubtful data)."""
        present = {m.class_code for m in members}
        missing = [c.name for c in self.taxonomy.volume_leaves(volume_class or "")
                   if c.required and c.code not in present]
        lines = [f"本卷共{len(members)}件。"]
        if missing:
            lines.append("缺少：" + "、".join(missing) + "。")
        inferred = [str(m.position_in_volume) for m in members if m.doc_date_inferred]
        if inferred:
            lines.append(f"第{'、'.join(inferred)}件日期为推定。")
        bad_ids = [str(m.position_in_volume) for m in members
                   if any(not i.get("valid") for i in (m.description or {}).get("id_numbers", []))]
        if bad_ids:
            lines.append(f"第{'、'.join(bad_ids)}件身份证号码校验不符，按原文著录。")
        return "".join(lines)

    def volume_sheet(self, ref: str) -> VolumeSheet:
        with self.db.session() as s:
            volume = self._find_volume(s, ref)
            if volume.state != VolumeState.FINAL:
                raise FilingError(f"volume {volume.volume_key} is still a 预立卷 (pre-volume); "
                                  f"finalise it first: `dangan volume finalize {volume.volume_key}`")
            rows = s.execute(
                select(Item, func.count(Page.id)).join(Page, Page.item_id == Item.id)
                .where(Item.volume_id == volume.id).group_by(Item.id).order_by(Item.position_in_volume)
            ).all()
            entries, page = [], 1
            for item, pages in rows:
                remarks = "日期推定" if item.doc_date_inferred else ""
                entries.append(VolumeEntry(
                    seq=item.position_in_volume, doc_number=item.doc_number or "",
                    responsible=item.responsible or "", title=item.title or item.label,
                    date=item.doc_date or "", first_page=page, last_page=page + pages - 1,
                    remarks=remarks, pdf_path=Path(item.pdf_path), archival_code=item.archival_code or ""))
                page += pages
            dates = [e.date for e in entries if e.date]
            volume_class = self.taxonomy.classes.get(volume.class_code or "")
            return VolumeSheet(
                fonds_name=self.taxonomy.fonds.get(volume.fonds, volume.fonds),
                class_name=volume_class.full_name if volume_class else (volume.class_code or ""),
                title=volume.title or volume.volume_key, start_date=min(dates, default=""),
                end_date=max(dates, default=""), retention=self.taxonomy.retention_name(volume.retention or ""),
                item_count=len(entries), page_count=page - 1, archival_code=volume.archival_code,
                entries=tuple(entries), note=volume.note or "", compiled_by=volume.compiled_by or "",
                checked_by=volume.checked_by or "",
                compiled_on=volume.finalized_at.strftime("%Y%m%d") if volume.finalized_at else "",
                label_token=volume.label_token or "")

    def record_volume_pdf(self, ref: str, path: Path, sha256: str, *, agent: str) -> None:
        with self.db.session() as s:
            volume = self._find_volume(s, ref)
            volume.pdf_path, volume.pdf_sha256 = str(path), sha256
            record_event(s, "volume", volume.id, "pdfa-built", agent=agent, detail={"path": str(path), "sha256": sha256})

    # ── explicit renumbering ─────────────────────────────────────

    def renumber(self, item_id: int, reason: str, user: str, *, agent: str) -> tuple[str, str]:
        """Issue a new 档号 for an item filed on its own (after its class or year was corrected).

        The old number is retired, not reused; the event records both and the reason, so the
        gap it leaves is explained in the catalog's history.
        """
        if not reason.strip():
            raise FilingError("renumbering needs a reason")
        with self.db.session() as s:
            item = s.get(Item, item_id, with_for_update=True)
            if item is None or not item.archival_code:
                raise FilingError(f"item {item_id} has no 档号 to renumber")
            if item.volume_id is not None:
                raise FilingError(f"item {item_id} is numbered inside its volume; reorder the volume instead")
            old = item.archival_code
            values = _item_values(item, self.taxonomy)
            number = next_number(s, self.item_template.scope(values))
            item.item_number, item.archival_code = number, self.item_template.render(values, number)
            if item.archival_code == old:
                raise FilingError("the new number equals the old one")
            record_event(s, "item", item_id, "code-renumbered", agent=agent,
                         detail={"by": user, "from": old, "to": item.archival_code, "reason": reason})
            return old, item.archival_code

    # ── learned model ────────────────────────────────────────────

    def training_samples(self) -> list[tuple[str, str]]:
        """Items whose class a person confirmed or corrected, with their OCR text."""
        with self.db.session() as s:
            rows = s.execute(
                select(Item.id, Item.class_code, Page.ocr_text).join(Page, Page.item_id == Item.id)
                .where(Item.review_state.in_(ReviewState.BY_PERSON), Item.class_code.is_not(None))
                .order_by(Item.id, Page.page_no)
            ).all()
        texts: dict[int, list[str]] = {}
        labels: dict[int, str] = {}
        for item_id, code, text in rows:
            texts.setdefault(item_id, []).append(text or "")
            labels[item_id] = code
        return [("\n".join(texts[i]), labels[i]) for i in texts]

    def record_model(self, path: Path, sha256: str, samples: int, classes: list[str], agent: str) -> None:
        with self.db.session() as s:
            s.add(ClassifierModel(path=str(path), sha256=sha256, samples=samples, classes=classes, agent=agent))

    def latest_model(self) -> ClassifierModel | None:
        with self.db.session() as s:
            row = s.scalar(select(ClassifierModel).order_by(ClassifierModel.id.desc()).limit(1))
            if row is not None:
                s.expunge(row)
            return row

    def items_settled_in_state(self, item_ids: list[int]) -> list[int]:
        """Those of ``item_ids`` whose PDF exists (archived or done): safe to re-stamp."""
        with self.db.session() as s:
            return list(s.scalars(select(Item.id).where(
                Item.id.in_(item_ids), Item.state.in_((ItemState.ARCHIVED, ItemState.DONE)))))
