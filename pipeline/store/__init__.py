"""Catalog store: SQLAlchemy 2 + Alembic; SQLite (WAL) embedded, PostgreSQL-ready."""

from pipeline.store.catalog import Catalog, StatusCounts, record_event
from pipeline.store.db import Database, migrate, must_get
from pipeline.store.models import (
    AccessRegisterEntry,
    ArchivalCounter,
    AuditEntry,
    ClassifierModel,
    Event,
    Item,
    ItemState,
    Page,
    QuarantinedFile,
    ReviewState,
    SourceFile,
    User,
    Volume,
    VolumeState,
)

__all__ = [
    "AccessRegisterEntry", "ArchivalCounter", "AuditEntry", "Catalog", "ClassifierModel", "Database", "Event",
    "Item", "ItemState", "Page", "QuarantinedFile", "ReviewState", "SourceFile", "StatusCounts", "User", "Volume",
    "VolumeState",
    "migrate", "must_get", "record_event",
]
