"""PostgreSQL replaces the embedded SQLite without a schema change (scale-out path)."""

from __future__ import annotations

import multiprocessing
import queue

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from conftest import descendants_cpu_seconds, filing_store, run_processes, settled_filing, wait_progress
from pipeline.store import Catalog, Database, Item, ItemState, record_event
from pipeline.store.models import Base


def test_same_migrations_build_the_same_schema_on_postgres(postgres_url):
    db = Database(postgres_url)
    with db.engine.connect() as conn:
        assert conn.dialect.name == "postgresql"
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    with db.session() as s:
        item = Item(fingerprint="f", label="x", state=ItemState.QUEUED)
        s.add(item)
        s.flush()
        record_event(s, "item", item.id, "received")
        s.add(Item(fingerprint="g", label="y", state=ItemState.QUEUED))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with db.session() as s:
            s.execute(sa.text("DELETE FROM events"))
    db.dispose()


def _assign(url: str, ids: list[int]) -> None:
    store = filing_store(url)
    for item_id in ids:
        store.record(item_id, *settled_filing("Z001", year=2016 + item_id % 2), "pg-test")


def _claim(url: str, out) -> None:
    cat = Catalog(Database(url, upgrade=False))
    got = []
    while (item_id := cat.claim_next("w")) is not None:
        got.append(item_id)
    out.put(got)


def test_concurrent_workers_on_postgres_never_share_an_item_or_a_code(postgres_url):
    db = Database(postgres_url)
    with db.session() as s:
        s.add_all(Item(fingerprint=f"f{i}", label=f"l{i}", state=ItemState.QUEUED) for i in range(80))
    with db.session() as s:
        ids = list(s.scalars(sa.select(Item.id)))
    run_processes(_assign, [(postgres_url, ids[k::4]) for k in range(4)])
    with db.session() as s:
        rows = s.execute(sa.select(Item.year, Item.item_number, Item.archival_code)).all()
    for year in (2016, 2017):
        assert sorted(r[1] for r in rows if r[0] == year) == list(range(1, 41))
    assert len({r[2] for r in rows}) == 80

    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claim, args=(postgres_url, out)) for _ in range(4)]
    for p in procs:
        p.start()
    reports: list[list[int]] = []

    def all_reported() -> bool:
        try:
            reports.append(out.get(timeout=0.2))
        except queue.Empty:
            pass
        return len(reports) == len(procs)

    wait_progress(all_reported, descendants_cpu_seconds, stall=120, what="every claimer to report")
    claimed = [i for report in reports for i in report]
    for p in procs:
        p.join()
    assert sorted(claimed) == sorted(ids), "every queued item claimed exactly once"
    db.dispose()
