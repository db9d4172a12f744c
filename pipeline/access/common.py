"""What every part of access control shares: its error and UTC moments."""

from __future__ import annotations

from datetime import datetime

from pipeline.store.models import as_utc, utcnow


class AccessError(ValueError):
    """A request the access rules refuse (bad username, role, password, register field)."""


def utc(moment: datetime | None) -> datetime:
    """``moment`` (a parameter, or a time read from the catalog) in UTC; now when not given."""
    return utcnow() if moment is None else as_utc(moment)
