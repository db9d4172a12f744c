"""What every part of access control shares: its error and UTC moments."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.store.models import utcnow


class AccessError(ValueError):
    """A request the access rules refuse (bad username, role, password, register field)."""


def utc(moment: datetime | None) -> datetime:
    """UTC with microseconds; SQLite gives naive datetimes back, and they are UTC."""
    if moment is None:
        return utcnow()
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
