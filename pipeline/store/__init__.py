"""Catalog store: SQLAlchemy 2 + Alembic; SQLite (WAL) embedded, PostgreSQL-ready."""

from pipeline.store.catalog import Catalog, StatusCounts, record_event
from pipeline.store.db import Database, migrate
from pipeline.store.models import (
    ArchivalCounter,
    Event,
    Item,
    ItemState,
    Page,
    QuarantinedFile,
    SourceFile,
    Volume,
)

__all__ = [
    "ArchivalCounter", "Catalog", "Database", "Event", "Item", "ItemState", "Page",
    "QuarantinedFile", "SourceFile", "StatusCounts", "Volume", "migrate", "record_event",
]
