"""Catalog store: migrations match the models, WAL, append-only events."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pipeline.store import Database, Event, Item, record_event
from pipeline.store.models import Base


def test_migrations_build_exactly_the_models(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    with db.session() as s:
        assert s.scalar(sa.text("PRAGMA journal_mode")) == "wal"
        assert s.scalar(sa.text("PRAGMA synchronous")) == 2  # FULL
        assert s.scalar(sa.text("PRAGMA foreign_keys")) == 1


def test_event_log_is_append_only(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    with db.session() as s:
        item = Item(fingerprint="f", label="x")
        s.add(item)
        s.flush()
        record_event(s, "item", item.id, "received", detail={"entry": "x.jpg"})
    for statement in ("UPDATE events SET outcome = 'failure'", "DELETE FROM events"):
        with pytest.raises(sa.exc.IntegrityError, match="append-only"):
            with db.session() as s:
                s.execute(sa.text(statement))
    with db.session() as s:
        ev = s.scalar(sa.select(Event))
        assert (ev.event_type, ev.outcome, ev.detail) == ("received", "success", {"entry": "x.jpg"})


def test_migrating_twice_is_harmless(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    Database(url).dispose()
    db = Database(url)
    with db.session() as s:
        assert s.scalar(sa.text("select version_num from alembic_version")) == "0006"
