"""Catalog store: SQLAlchemy 2 + Alembic; SQLite (WAL) embedded, PostgreSQL-ready."""

from pipeline.store.catalog import Catalog, StatusCounts, record_event
from pipeline.store.db import Database, migrate
from pipeline.store.models import (
    ArchivalCounter,
    ClassifierModel,
    Event,
    Item,
    ItemState,
    Page,
    QuarantinedFile,
    ReviewState,
    SourceFile,
    Volume,
    VolumeState,
)

__all__ = [
    "ArchivalCounter", "Catalog", "ClassifierModel", "Database", "Event", "Item", "ItemState", "Page",
    "QuarantinedFile", "ReviewState", "SourceFile", "StatusCounts", "Volume", "VolumeState",
    "migrate", "record_event",
]
