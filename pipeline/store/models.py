"""Catalog schema: the archival hierarchy and an append-only event log.

Portable SQL only (no SQLite-specific types), so PostgreSQL can replace the
embedded SQLite without a schema change. The search index is a cache of this.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A time read from the catalog, aware and in UTC: SQLite gives naive datetimes back, and
    the catalog stores UTC; PostgreSQL gives them in the session's zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class ItemState:
    """Life of an item (件) in the pipeline. Work is tracked here so a crash loses nothing."""

    QUEUED = "queued"  # custody taken, waiting for a worker
    PROCESSING = "processing"  # a worker holds it (reset to queued after a crash)
    ARCHIVED = "archived"  # PDF/A written, waiting for the indexer
    DONE = "done"  # indexed and searchable
    FAILED = "failed"  # processing raised; kept with the error for retry/review

    ALL = (QUEUED, PROCESSING, ARCHIVED, DONE, FAILED)


class VolumeState:
    """A volume is 预立卷 (pre-volume: items can be added and reordered, nothing numbered)
    until an archivist finalises it; then it has its 案卷号 and its items their 件号."""

    PRE_VOLUME = "pre_volume"
    FINAL = "final"


class Volume(Base):
    """案卷 (volume, GB/T 9705): an ordered set of items, e.g. one household file (一户一卷)."""

    __tablename__ = "volumes"
    __table_args__ = (
        UniqueConstraint("fonds", "archival_code", name="uq_volume_code"),
        UniqueConstraint("volume_key", name="uq_volume_key"),
        UniqueConstraint("label_token", name="uq_volume_label"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fonds: Mapped[str] = mapped_column(String(32))  # 全宗号
    category: Mapped[str | None] = mapped_column(String(16))
    year: Mapped[int | None] = mapped_column(Integer)
    retention: Mapped[str | None] = mapped_column(String(16))  # as written
    volume_number: Mapped[int | None] = mapped_column(Integer)  # 案卷号
    archival_code: Mapped[str | None] = mapped_column(String(128))
    title: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=VolumeState.PRE_VOLUME)
    custody_level: Mapped[str | None] = mapped_column(String(16))  # village / township / county
    is_copy: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # How the volume was assembled: "household:石门村:王秀英", "project:…", "village:石门村".
    volume_key: Mapped[str | None] = mapped_column(String(160))
    class_code: Mapped[str | None] = mapped_column(String(64))  # taxonomy path, e.g. JF·C02
    org: Mapped[str | None] = mapped_column(String(32))
    village: Mapped[str | None] = mapped_column(String(64))
    village_code: Mapped[str | None] = mapped_column(String(16))  # 统计用区划代码, where configured
    label_token: Mapped[str | None] = mapped_column(String(32))  # opaque id for box labels / QR
    note: Mapped[str | None] = mapped_column(Text)  # 卷内备考表: 本卷情况说明
    compiled_by: Mapped[str | None] = mapped_column(String(64))  # 立卷人
    checked_by: Mapped[str | None] = mapped_column(String(64))  # 检查人
    finalized_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pdf_path: Mapped[str | None] = mapped_column(Text)
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))

    items: Mapped[list[Item]] = relationship(back_populates="volume", order_by="Item.position_in_volume")


class ReviewState:
    """Who settled an item's filing (its class): the review queue holds the PENDING ones."""

    AUTO = "auto"  # classifier confident enough; no person looked
    PENDING = "pending"  # below the threshold: waits in the review queue, no 档号 yet
    CONFIRMED = "confirmed"  # a person accepted the proposed class
    CORRECTED = "corrected"  # a person set another class

    SETTLED = (AUTO, CONFIRMED, CORRECTED)
    BY_PERSON = (CONFIRMED, CORRECTED)


class Item(Base):
    """件 (item, DA/T 22-2015): the unit of arrangement; one scanned file or one batch folder."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("fonds", "archival_code", name="uq_item_code"),
        Index("ix_items_state", "state"),
        Index("ix_items_review", "review_state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(80), unique=True)  # identity of the input bytes
    origin: Mapped[str] = mapped_column(String(16), default="scan")  # scan | import
    state: Mapped[str] = mapped_column(String(16), default=ItemState.QUEUED)
    label: Mapped[str] = mapped_column(Text)  # file/folder name as received
    station: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(64))

    # Filing (classify stage) and 档号 (archive stage).
    title: Mapped[str | None] = mapped_column(Text)  # 题名
    fonds: Mapped[str | None] = mapped_column(String(32))  # 全宗号
    category: Mapped[str | None] = mapped_column(String(16))  # 门类
    year: Mapped[int | None] = mapped_column(Integer)  # 年度
    retention: Mapped[str | None] = mapped_column(String(16))  # 保管期限, as written
    org: Mapped[str | None] = mapped_column(String(32))  # 机构(问题)
    village: Mapped[str | None] = mapped_column(String(64))
    needs_review: Mapped[bool] = mapped_column(Boolean, default=True)
    archival_code: Mapped[str | None] = mapped_column(String(128))  # 档号
    item_number: Mapped[int | None] = mapped_column(Integer)  # 件号

    # Classification: the taxonomy class, how sure, why, and who settled it.
    class_code: Mapped[str | None] = mapped_column(String(64))  # e.g. JF·C02·SQ
    class_name: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float)
    evidence: Mapped[list | None] = mapped_column(JSON)  # [{source, detail, terms, weight}]
    review_state: Mapped[str | None] = mapped_column(String(16))  # ReviewState
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    volume_key: Mapped[str | None] = mapped_column(String(160))
    # Description (著录): DA/T 22 catalogue columns, plus what the text revealed.
    doc_date: Mapped[str | None] = mapped_column(String(8))  # 日期, YYYYMMDD (00 for unknown parts)
    doc_date_raw: Mapped[str | None] = mapped_column(Text)  # as read
    doc_date_inferred: Mapped[bool | None] = mapped_column(Boolean)
    doc_number: Mapped[str | None] = mapped_column(String(128))  # 文号
    responsible: Mapped[str | None] = mapped_column(Text)  # 责任者
    description: Mapped[dict | None] = mapped_column(JSON)  # names, household head, IDs, phones …
    sensitive: Mapped[str | None] = mapped_column(String(128))  # space-separated privacy tags

    pdf_path: Mapped[str | None] = mapped_column(Text)
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))

    volume_id: Mapped[int | None] = mapped_column(ForeignKey("volumes.id"))
    position_in_volume: Mapped[int | None] = mapped_column(Integer)
    volume: Mapped[Volume | None] = relationship(back_populates="items")

    sources: Mapped[list[SourceFile]] = relationship(back_populates="item", order_by="SourceFile.position")
    pages: Mapped[list[Page]] = relationship(back_populates="item", order_by="Page.page_no")


class SourceFile(Base):
    """An original file as received from the scanner; its bytes are kept unmodified."""

    __tablename__ = "source_files"
    __table_args__ = (Index("ix_source_sha", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    position: Mapped[int] = mapped_column(Integer)  # order inside the item (natural sort)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)  # files can pass 2 GiB
    original_name: Mapped[str] = mapped_column(Text)  # path relative to the inbox
    media_type: Mapped[str] = mapped_column(String(64))
    stored_path: Mapped[str] = mapped_column(Text)  # in the content-addressed originals store
    station: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    inbox_mtime_ns: Mapped[int | None] = mapped_column(BigInteger)  # ns since 1970: needs 64 bits
    inbox_removed: Mapped[bool] = mapped_column(Boolean, default=False)

    item: Mapped[Item] = relationship(back_populates="sources")


class Page(Base):
    """One page of an item: master image, working copy and OCR."""

    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("item_id", "page_no", name="uq_page_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    page_no: Mapped[int] = mapped_column(Integer)  # 1-based 页号
    source_file_id: Mapped[int | None] = mapped_column(ForeignKey("source_files.id"))
    frame: Mapped[int] = mapped_column(Integer, default=0)  # page/frame inside the source file

    master_path: Mapped[str | None] = mapped_column(Text)
    master_sha256: Mapped[str | None] = mapped_column(String(64))
    working_path: Mapped[str | None] = mapped_column(Text)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    dpi: Mapped[int | None] = mapped_column(Integer)
    colour_mode: Mapped[str | None] = mapped_column(String(16))
    rotation: Mapped[int | None] = mapped_column(Integer)
    deskew_angle: Mapped[float | None] = mapped_column(Float)
    blank: Mapped[bool | None] = mapped_column(Boolean)
    # Imaging steps applied to the working copy, in order (JSON list of strings), and the
    # page's quality flags (space-separated codes, e.g. "below-ocr-dpi low-ocr-confidence").
    operations: Mapped[str | None] = mapped_column(Text)
    quality_flags: Mapped[str | None] = mapped_column(Text)

    ocr_text: Mapped[str | None] = mapped_column(Text)
    ocr_engine: Mapped[str | None] = mapped_column(String(128))
    ocr_confidence: Mapped[float | None] = mapped_column(Float)
    ocr_layout_path: Mapped[str | None] = mapped_column(Text)  # lines + boxes (JSON)

    item: Mapped[Item] = relationship(back_populates="pages")


class Event(Base):
    """Append-only history of every object, in the spirit of PREMIS events.

    Types: received, hashed, duplicate, quarantined, preprocessed, ocr, classified,
    code-assigned, pdfa-built, indexed, failed, requeued.
    """

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    object_type: Mapped[str] = mapped_column(String(16))  # item | source_file | page | volume | quarantine
    object_id: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    detail: Mapped[dict | None] = mapped_column(JSON)
    agent: Mapped[str | None] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QuarantinedFile(Base):
    """Input that could not be ingested, kept with the reason for a person to look at."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    original_name: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    stored_path: Mapped[str | None] = mapped_column(Text)  # None when nothing could be kept
    reason: Mapped[str] = mapped_column(Text)
    station: Mapped[str | None] = mapped_column(String(64))
    quarantined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ClassifierModel(Base):
    """A trained classification model file and the SHA-256 it must still have when loaded.

    The model lives in the writable data home; the digest here is what makes loading it
    safe (and it is stored as JSON + NumPy arrays, never as a pickle).
    """

    __tablename__ = "classifier_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    samples: Mapped[int] = mapped_column(Integer)
    classes: Mapped[list] = mapped_column(JSON)
    trained_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    agent: Mapped[str | None] = mapped_column(String(128))


class ArchivalCounter(Base):
    """Last number issued per scope: 件号 per (fonds, category, year, retention, org),
    案卷号 per volume class; the scope is the 档号 with its number left out."""

    __tablename__ = "archival_counters"

    scope: Mapped[str] = mapped_column(String(160), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class User(Base):
    """A person who signs in: operator (录入), clerk (查档接待), reviewer (审核), admin (管理).

    Failed sign-ins and the lockout live here, not in memory, so a restart does not reset them.
    """

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("username", name="uq_users_username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, PHC string format
    roles: Mapped[str] = mapped_column(String(128))  # space-separated, see pipeline.access.ROLES
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """Append-only, hash-chained log of every search, view, print, export, sign-in and admin act.

    ``entry_hash`` is SHA-256 over the entry's canonical JSON including ``prev_hash``, so an
    edited, removed or reordered entry breaks the chain (see ``pipeline.access``).
    Triggers refuse UPDATE and DELETE, as on ``events``.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_occurred", "occurred_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # gap-free, 1, 2, …
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user: Mapped[str] = mapped_column("user_name", String(64))  # "user" is reserved in PostgreSQL
    action: Mapped[str] = mapped_column(String(32))
    query: Mapped[str | None] = mapped_column(Text)
    items: Mapped[list] = mapped_column(JSON)  # item ids / 档号 touched
    detail: Mapped[dict | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class AccessRegisterEntry(Base):
    """查档登记: one visit of a requester at the archive window (档案法 §28, BRIEF §9).

    The requester's ID number is never stored: only a masked form to show and an HMAC to
    find the same person's other visits (PIPL §51 去标识化).
    """

    __tablename__ = "access_register"
    __table_args__ = (
        UniqueConstraint("register_number", name="uq_register_number"),
        Index("ix_register_id_hmac", "id_number_hmac"),
        Index("ix_register_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    register_number: Mapped[str] = mapped_column(String(16))  # 登记号, 2026-000123
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    clerk: Mapped[str] = mapped_column(String(64))  # 接待人
    requester_name: Mapped[str] = mapped_column(Text)
    id_type: Mapped[str] = mapped_column(String(16))
    id_number_masked: Mapped[str] = mapped_column(String(32))
    id_number_hmac: Mapped[str] = mapped_column(String(64))
    phone_masked: Mapped[str | None] = mapped_column(String(32))
    relation: Mapped[str] = mapped_column(String(16))  # 与档案当事人关系
    proof: Mapped[list] = mapped_column(JSON)  # 证明材料
    purpose: Mapped[str] = mapped_column(Text)
    query: Mapped[str | None] = mapped_column(Text)  # 检索词
    items: Mapped[list] = mapped_column(JSON)  # 档号 / item ids looked at
    result: Mapped[str | None] = mapped_column(Text)  # 利用效果
    use: Mapped[str] = mapped_column(String(16))  # 利用方式
    pages_copied: Mapped[int] = mapped_column(Integer, default=0)
    approved_by: Mapped[str | None] = mapped_column(String(64))
    remarks: Mapped[str | None] = mapped_column(Text)


class WebSession(Base):
    """A signed-in browser. Only the SHA-256 of the session id is stored: the catalog (or a
    backup of it) does not hold anything that could be replayed as a cookie."""

    __tablename__ = "web_sessions"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_web_sessions_token"),
                      Index("ix_web_sessions_user", "username"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginFailure(Base):
    """A failed sign-in, by client address: the throttle every web process shares."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_client", "client", "occurred_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ServiceStatus(Base):
    """Live state a running processor publishes for `dangan status` and the web UI:
    inbox entries waiting (and why), entries ignored, work paused for disk space."""

    __tablename__ = "service_status"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
