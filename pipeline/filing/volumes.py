"""Volumes (案卷): joining the 预立卷 of a key, ordering, finalising, the 卷内目录 sheet.

A mixin of :class:`pipeline.filing.store.FilingStore`: the same catalog, scheme and 档号
templates (``self.db``, ``self.taxonomy``, ``self.volume_template`` ...).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from pipeline.domain import VolumeEntry, VolumeSheet
from pipeline.scheme.archival_code import ArchivalCodeTemplate
from pipeline.scheme.taxonomy import Taxonomy
from pipeline.store.catalog import next_number, record_event
from pipeline.store.db import Database
from pipeline.store.models import (
    Item,
    Page,
    ReviewState,
    Volume,
    VolumeState,
    utcnow,
)

from .records import (
    RETENTION_RANK,
    VOLUME_TITLES,
    FilingError,
    VolumeMember,
    VolumeView,
    item_values,
    new_label_token,
    note_volume,
)


class VolumeShelf:
    """Volume operations of the filing store."""

    # Set by FilingStore.__init__.
    db: Database
    taxonomy: Taxonomy
    review_below: float
    volume_template: ArchivalCodeTemplate
    volume_item_template: ArchivalCodeTemplate

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
    def _key(volume: Volume) -> str:
        """The volume's key. Every volume is made by ``_join``, which gives it one; the column is
        nullable only because it was added to an existing table."""
        if volume.volume_key is None:
            raise FilingError(f"volume {volume.archival_code or volume.id} has no volume key")
        return volume.volume_key

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
        cls = self.taxonomy.classes[item.class_code or ""]
        keys = list(s.scalars(select(Volume.volume_key).where(
            Volume.class_code == cls.volume_class, Volume.state == VolumeState.PRE_VOLUME)))
        names = {self._key_name(k): k for k in keys}
        found = self._mentions(s, item.id, list(names))
        if len(found) != 1:
            if found:
                note_volume(item, "names several open volumes", found)
            return False
        item.volume_key = names[found[0]]
        note_volume(item, f"named in the text: open volume {item.volume_key}", found)
        return True

    def _adopt_waiting(self, s, volume: Volume, agent: str) -> None:
        """A new volume: items already waiting only for their volume join it if they name it."""
        waiting = s.scalars(select(Item).where(
            Item.review_state == ReviewState.PENDING, Item.volume_id.is_(None), Item.volume_key.is_(None),
            Item.class_code.like(f"{volume.class_code}·%")))
        key = self._key(volume)
        for item in waiting:
            if self._only_volume_missing(item) and self._mentions(s, item.id, [self._key_name(key)]):
                item.review_state, item.needs_review = ReviewState.AUTO, False
                note_volume(item, f"named in the text: open volume {key}",
                             [self._key_name(key)])
                self._join(s, item, key, volume.class_code, agent)

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
                found = self._find_volume(s, ref)
            except FilingError:
                if ":" not in ref:
                    raise
                key = ref  # a new key: a new pre-volume
            else:
                key = self._key(found)
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
            key = self._key(volume)
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
            return VolumeView(volume.id, self._key(volume), volume.state, volume.title, volume.archival_code,
                              volume.class_code, volume.label_token, volume.pdf_path, members)

    def volumes(self, fonds: str | None = None) -> list[VolumeView]:
        with self.db.session() as s:
            query = select(Volume).order_by(Volume.id)
            if fonds:
                query = query.where(Volume.fonds == fonds)
            keys = [self._key(v) for v in s.scalars(query)]
        return [self.volume(k) for k in keys]

    def finalize(self, ref: str, user: str, *, agent: str,
                 checked_by: str | None = None) -> tuple[VolumeView, list[int]]:
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
                    {**item_values(member, self.taxonomy), "volume_code": volume.archival_code}, n)
            volume.note = self._volume_note(members, volume.class_code)
            volume.compiled_by, volume.checked_by = user, checked_by
            volume.state, volume.finalized_at = VolumeState.FINAL, utcnow()
            record_event(s, "volume", volume.id, "finalized", agent=agent, detail={
                "by": user, "archival_code": volume.archival_code,
                "items": [(m.id, m.archival_code) for m in members]})
            key, ids = self._key(volume), [m.id for m in members]
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
                # Finalising placed every member and required its PDF.
                assert item.position_in_volume is not None and item.pdf_path is not None
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
                title=volume.title or self._key(volume), start_date=min(dates, default=""),
                end_date=max(dates, default=""), retention=self.taxonomy.retention_name(volume.retention or ""),
                item_count=len(entries), page_count=page - 1, archival_code=volume.archival_code or "",
                entries=tuple(entries), note=volume.note or "", compiled_by=volume.compiled_by or "",
                checked_by=volume.checked_by or "",
                compiled_on=volume.finalized_at.strftime("%Y%m%d") if volume.finalized_at else "",
                label_token=volume.label_token or "")

    def record_volume_pdf(self, ref: str, path: Path, sha256: str, *, agent: str) -> None:
        with self.db.session() as s:
            volume = self._find_volume(s, ref)
            volume.pdf_path, volume.pdf_sha256 = str(path), sha256
            record_event(s, "volume", volume.id, "pdfa-built", agent=agent,
                         detail={"path": str(path), "sha256": sha256})
