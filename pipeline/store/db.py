"""Database engine: SQLite (WAL) by default, any SQLAlchemy URL (PostgreSQL) later."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
_READ_ONLY = "dangan_read_only"  # execution option of Database.reading's connections

_Row = TypeVar("_Row")


def must_get(session: Session, model: type[_Row], ident: Any, **options: Any) -> _Row:
    """``session.get`` for a row that must exist (an id just claimed, or read from the
    catalog): the row, or a LookupError naming the model and the id, never None."""
    row = session.get(model, ident, **options)
    if row is None:
        raise LookupError(f"no {model.__name__} with id {ident!r} in the catalog")
    return row


def make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see "begin" below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cur.execute("PRAGMA synchronous=FULL")  # a committed row survives a power cut
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # pragma: no cover - trivial
        # Take the write lock up front: several worker processes write, and a
        # deferred transaction that later upgrades to a writer can deadlock.
        # Read-only sessions (Database.reading) need no lock: WAL readers run beside the writer.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")

    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()


class Database:
    """An engine plus a session factory; one per process."""

    def __init__(self, url: str, *, upgrade: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if upgrade:
            migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Same pool and event listeners; its connections carry the read-only option.
        self._read_sessions = sessionmaker(self.engine.execution_options(**{_READ_ONLY: True}), expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back on error."""
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only transaction. On SQLite it does not take the write lock, so the clerks'
        many small reads (session check, user, page) do not queue behind each other or behind
        the pipeline's writes. Never write in it: a deferred SQLite transaction that turns
        into a writer can fail with "database is locked"."""
        with self._read_sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
