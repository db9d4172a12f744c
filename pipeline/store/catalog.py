"""Catalog operations shared by ingest, the workers, the indexer and the CLI.

Every method is one short transaction, so a crash at any moment leaves the
catalog at a clean boundary between two steps.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError

from pipeline.domain import PageDocument
from pipeline.store.db import Database
from pipeline.store.models import (
    ArchivalCounter,
    Event,
    Item,
    ItemState,
    Page,
    QuarantinedFile,
    ReviewState,
    ServiceStatus,
    Volume,
    VolumeState,
    as_utc,
    utcnow,
)


def record_event(
    session,
    object_type: str,
    object_id: int,
    event_type: str,
    *,
    outcome: str = "success",
    detail: dict[str, Any] | None = None,
    agent: str | None = None,
) -> None:
    session.add(
        Event(
            object_type=object_type,
            object_id=object_id,
            event_type=event_type,
            outcome=outcome,
            detail=detail,
            agent=agent,
        )
    )


@dataclass(frozen=True)
class StatusCounts:
    by_state: dict[str, int]
    quarantined: int
    pages_done: int
    pages_per_minute: float  # pages made searchable, over the busy part of the last 10 minutes
    quality: dict[str, int] = field(default_factory=dict)  # pages per quality flag
    review_pending: int = 0  # items waiting for a person to settle their class
    pre_volumes: int = 0  # volumes still open (预立卷)

    @property
    def queue_depth(self) -> int:
        return self.by_state.get(ItemState.QUEUED, 0) + self.by_state.get(ItemState.PROCESSING, 0)


def next_number(session, scope: str) -> int:
    """Issue the next number of a counter scope (件号 or 案卷号) inside the caller's transaction.

    The counter row is locked (BEGIN IMMEDIATE on SQLite, a row lock on PostgreSQL) until
    the caller commits the number together with what it numbers, so concurrent workers
    can neither skip nor repeat one.
    """
    counter = session.get(ArchivalCounter, scope, with_for_update=True)
    if counter is None:
        # Two workers may open a new scope at once: one insert wins, the other waits
        # for it and then locks the winner's row.
        try:
            with session.begin_nested():
                session.add(ArchivalCounter(scope=scope, last_value=0))
        except IntegrityError:
            pass
        counter = session.get(ArchivalCounter, scope, with_for_update=True, populate_existing=True)
    counter.last_value += 1
    return counter.last_value


class Catalog:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ── work queue ──────────────────────────────────────────────

    def requeue_interrupted(self, agent: str) -> int:
        """After a crash: give every item a dead worker held back to the queue."""
        with self.db.session() as s:
            ids = s.scalars(select(Item.id).where(Item.state == ItemState.PROCESSING)).all()
            for item_id in ids:
                record_event(s, "item", item_id, "requeued", detail={"why": "worker interrupted"}, agent=agent)
            s.execute(
                update(Item).where(Item.id.in_(ids)).values(state=ItemState.QUEUED, worker=None)
            )
            return len(ids)

    def claim_next(self, worker: str) -> int | None:
        """Atomically move the oldest queued item to processing and return its id."""
        with self.db.session() as s:
            # SKIP LOCKED lets PostgreSQL workers pass each other; SQLite ignores it and
            # serialises writers anyway (BEGIN IMMEDIATE).
            item_id = s.scalar(
                select(Item.id).where(Item.state == ItemState.QUEUED).order_by(Item.id).limit(1)
                .with_for_update(skip_locked=True)
            )
            if item_id is None:
                return None
            # Session.execute is typed as returning Result; an UPDATE gives a CursorResult.
            claimed = cast("CursorResult[Any]", s.execute(
                update(Item)
                .where(Item.id == item_id, Item.state == ItemState.QUEUED)
                .values(state=ItemState.PROCESSING, worker=worker, attempts=Item.attempts + 1)
            )).rowcount
            return item_id if claimed == 1 else None

    def items_in_state(self, state: str, limit: int = 100) -> list[int]:
        with self.db.session() as s:
            return list(
                s.scalars(select(Item.id).where(Item.state == state).order_by(Item.id).limit(limit))
            )

    def failed_items(self, limit: int = 50) -> list[tuple[int, str, str | None]]:
        """Items that failed every attempt: (id, label, last error), newest first."""
        with self.db.session() as s:
            return [(item_id, label, error) for item_id, label, error in s.execute(
                select(Item.id, Item.label, Item.last_error).where(Item.state == ItemState.FAILED)
                .order_by(Item.updated_at.desc()).limit(limit))]

    def retry(self, item_id: int, agent: str) -> bool:
        """Put a failed item back in the queue for a fresh set of attempts."""
        with self.db.session() as s:
            # Session.execute is typed as returning Result; an UPDATE gives a CursorResult.
            done = cast("CursorResult[Any]", s.execute(
                update(Item).where(Item.id == item_id, Item.state == ItemState.FAILED)
                .values(state=ItemState.QUEUED, attempts=0))).rowcount == 1
            if done:
                record_event(s, "item", item_id, "requeued", detail={"why": "retry requested"}, agent=agent)
            return done

    def recent_quarantine(self, limit: int = 20) -> list[tuple[str, str, datetime]]:
        with self.db.session() as s:
            return [(name, reason, at) for name, reason, at in s.execute(
                select(QuarantinedFile.original_name, QuarantinedFile.reason, QuarantinedFile.quarantined_at)
                .order_by(QuarantinedFile.id.desc()).limit(limit))]

    def reindex(self, item_ids: Iterable[int]) -> None:
        """The catalog changed what the index shows for these items: the indexer redoes them."""
        with self.db.session() as s:
            s.execute(update(Item).where(Item.id.in_(list(item_ids)), Item.state == ItemState.DONE)
                      .values(state=ItemState.ARCHIVED))

    # ── index feed ───────────────────────────────────────────────

    def page_documents(self, item_ids: Iterable[int]) -> list[PageDocument]:
        ids = list(item_ids)
        with self.db.session() as s:
            rows = s.execute(
                select(Page, Item).join(Item, Page.item_id == Item.id).where(Item.id.in_(ids))
                .order_by(Item.id, Page.page_no)
            ).all()
            return [_page_document(page, item) for page, item in rows]

    def iter_indexable(self, batch: int = 2000) -> Iterable[list[PageDocument]]:
        """Every page of every archived or done item, in batches (for index rebuilds)."""
        last = 0
        while True:
            with self.db.session() as s:
                rows = s.execute(
                    select(Page, Item).join(Item, Page.item_id == Item.id)
                    .where(Item.state.in_((ItemState.ARCHIVED, ItemState.DONE)), Page.id > last)
                    .order_by(Page.id).limit(batch)
                ).all()
            if not rows:
                return
            last = rows[-1][0].id
            yield [_page_document(page, item) for page, item in rows]

    def mark_indexed(self, item_ids: list[int], backend: str, agent: str) -> None:
        with self.db.session() as s:
            s.execute(
                update(Item).where(Item.id.in_(item_ids), Item.state == ItemState.ARCHIVED)
                .values(state=ItemState.DONE)
            )
            for item_id in item_ids:
                record_event(s, "item", item_id, "indexed", detail={"backend": backend}, agent=agent)

    # ── reporting ────────────────────────────────────────────────

    def status(self) -> StatusCounts:
        with self.db.session() as s:
            by_state = dict(s.execute(select(Item.state, func.count()).group_by(Item.state)).all())
            quarantined = s.scalar(select(func.count()).select_from(QuarantinedFile)) or 0
            pages_done = s.scalar(
                select(func.count()).select_from(Page).join(Item).where(Item.state == ItemState.DONE)
            ) or 0
            now = datetime.now(UTC)
            window = (
                select(Page.id, Event.occurred_at).join(
                    Event, (Event.object_type == "item") & (Event.object_id == Page.item_id))
                .where(Event.event_type == "indexed", Event.occurred_at >= now - timedelta(minutes=10))
                .subquery()
            )
            recent, first = s.execute(select(func.count(), func.min(window.c.occurred_at))).one()
            review = s.scalar(select(func.count()).select_from(Item)
                              .where(Item.review_state == ReviewState.PENDING)) or 0
            open_volumes = s.scalar(select(func.count()).select_from(Volume)
                                    .where(Volume.state == VolumeState.PRE_VOLUME)) or 0
            quality: dict[str, int] = {}
            for flags, count in s.execute(
                select(Page.quality_flags, func.count())
                .where(Page.quality_flags.is_not(None), Page.quality_flags != "")
                .group_by(Page.quality_flags)
            ):
                assert flags is not None  # the query leaves out pages without flags
                for flag in flags.split():
                    quality[flag] = quality.get(flag, 0) + count
        # Rate over the part of the last 10 minutes that saw work, at least one minute.
        minutes = 1.0
        if first is not None:
            minutes = max(1.0, (now - as_utc(first)).total_seconds() / 60)
        return StatusCounts(by_state, quarantined, pages_done, recent / minutes, dict(sorted(quality.items())),
                            review, open_volumes)

    def publish_inbox(self, station: str, state: dict) -> None:
        """Replace what the running processor of ``station`` shows about its inbox (see
        ReadinessGate.report: entries waiting and why, ignored names, a pause for disk space)."""
        name = f"inbox@{station}"
        with self.db.session() as s:
            row = s.get(ServiceStatus, name)
            if row is None:
                s.add(ServiceStatus(name=name, value=state, updated_at=utcnow()))
            else:
                row.value, row.updated_at = state, utcnow()

    def inbox_state(self, station: str) -> dict:
        """What ``publish_inbox`` last wrote for ``station`` ({} before any)."""
        with self.db.reading() as s:
            row = s.get(ServiceStatus, f"inbox@{station}")
            return dict(row.value) if row is not None else {}

    def flagged_pages(self, limit: int = 10) -> list[tuple[str, int, str]]:
        """The most recent pages with quality flags: (档号 or item label, page number, flags)."""
        with self.db.session() as s:
            rows = s.execute(
                select(Item.archival_code, Item.label, Page.page_no, Page.quality_flags).join(Item)
                .where(Page.quality_flags.is_not(None), Page.quality_flags != "")
                .order_by(Page.id.desc()).limit(limit)
            ).all()
        # flags is never None: the query leaves out pages without any.
        return [(code or label, page_no, flags or "") for code, label, page_no, flags in rows]

    def count_pages(self, state: str = ItemState.DONE) -> int:
        with self.db.session() as s:
            return s.scalar(select(func.count()).select_from(Page).join(Item).where(Item.state == state)) or 0


def _page_document(page: Page, item: Item) -> PageDocument:
    return PageDocument(
        page_id=page.id,
        item_id=item.id,
        archival_code=item.archival_code or "",
        title=item.title or item.label,
        page_no=page.page_no,
        text=page.ocr_text or "",
        year=item.year,
        village=item.village,
        category=item.category,
        pdf_path=item.pdf_path,
        fonds=item.fonds,
        retention=item.retention,
        class_code=item.class_code,
        class_name=item.class_name,
        doc_date=item.doc_date,
        image_path=page.working_path,
        sensitive=item.sensitive,
    )


__all__ = ["Catalog", "StatusCounts", "next_number", "record_event", "utcnow"]
