"""Alembic environment: run against the connection dangan hands over (or the URL)."""

from alembic import context
from sqlalchemy import create_engine

from pipeline.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    # dangan passes its open connection (pipeline.store.db.migrate); the alembic CLI
    # passes a URL (-x url=… or sqlalchemy.url), handy for generating revisions.
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no database URL: pass -x url=… or set sqlalchemy.url")
    with create_engine(url).begin() as conn:
        _run(conn)


def _run(connection) -> None:
    # render_as_batch: SQLite can only ALTER tables by copying them.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
