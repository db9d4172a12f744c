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

from dataclasses import asdict
from pathlib import Path

from sqlalchemy import func, select

from pipeline.domain import Classification, ItemMetadata
from pipeline.scheme.archival_code import ArchivalCodeTemplate
from pipeline.scheme.taxonomy import Taxonomy
from pipeline.store.catalog import next_number, record_event
from pipeline.store.db import Database, must_get
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

from .records import FilingError, ReviewEntry, item_values, metadata_json, note_volume
from .volumes import VolumeShelf


class FilingStore(VolumeShelf):
    """Classification records, the review queue, 档号 and volumes over one catalog."""


    def __init__(self, db: Database, taxonomy: Taxonomy, *, item_template: str,
                 volume_template: str, volume_item_template: str, review_below: float = 0.55) -> None:
        self.db = db
        self.taxonomy = taxonomy
        self.review_below = review_below
        self.item_template = ArchivalCodeTemplate(item_template)
        self.volume_template = ArchivalCodeTemplate(volume_template, counter="volume")
        self.volume_item_template = ArchivalCodeTemplate(volume_item_template)

    @classmethod
    def from_settings(cls, db: Database, settings) -> FilingStore:
        from pipeline.scheme.taxonomy import load_taxonomy

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
            item = must_get(s, Item, item_id, with_for_update=True)
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
                values = item_values(item, self.taxonomy)
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
        note_volume(item, why)
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
                volume = must_get(s, Volume, item.volume_id)
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
            if filing.class_code is None:  # a person's decision always names a class
                raise FilingError(f"item {item_id}: no class given")
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
            values = item_values(item, self.taxonomy)
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
            assert code is not None  # the query leaves out items without a class
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
