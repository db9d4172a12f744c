"""Shared fixtures: an isolated data home + inbox per test, real services only."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def dangan_env(home: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DANGAN_")}
    env.update({
        "DANGAN_HOME": str(home / "data"),
        "DANGAN_INGEST__INBOX": str(home / "inbox"),
        "DANGAN_INGEST__QUIET_SECONDS": "0.5",
        "DANGAN_INGEST__RESCAN_SECONDS": "2",
        "DANGAN_INGEST__PARSE_TIMEOUT_SECONDS": "3",
        "DANGAN_WORKERS": "2",
        "OMP_THREAD_LIMIT": "1",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(overrides)
    return env


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "inbox").mkdir()
    return tmp_path


@pytest.fixture
def settings(home: Path, monkeypatch):
    from pipeline.config import load_settings

    env = dangan_env(home)
    for k, v in env.items():
        if k.startswith("DANGAN_"):
            monkeypatch.setenv(k, v)
    return load_settings()


DANGAN = [sys.executable, "-m", "pipeline.cli"]


def run_cli(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(DANGAN + args, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def start_service(env: dict[str, str], log: Path) -> subprocess.Popen:
    fh = open(log, "ab")
    # Own process group so a test can kill -9 the service and its workers together.
    return subprocess.Popen(DANGAN + ["watch"], env=env, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for(predicate, timeout: float, interval: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def wait_progress(done, progress, *, stall: float, what: str, interval: float = 0.5):
    """Wait until ``done()`` is truthy, as long as ``progress()`` keeps changing: fail only after
    ``stall`` seconds without any change (a busy machine is slow, not stuck)."""
    last, since = progress(), time.monotonic()
    while True:
        value = done()
        if value:
            return value
        now = progress()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > stall:
            raise AssertionError(f"no progress for {stall:g} s waiting for {what} (stuck at {now!r})")
        time.sleep(interval)


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL cluster on a Unix socket (Debian's server binaries)."""
    import glob
    import shutil
    import socket
    import tempfile

    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    assert bins, "PostgreSQL server not installed: `make test` installs the postgresql package"
    bindir = Path(bins[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="dangan-pg-", dir="/tmp"))
    as_pg: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = root / "data"
    subprocess.run(as_pg + [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                            "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
    subprocess.run(as_pg + [str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"), "-o",
                            f"-k {root} -p {port} -c listen_addresses='' -c fsync=off", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@/{{db}}?host={root}&port={port}"
    finally:
        subprocess.run(as_pg + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server, request):
    """A fresh, empty database per test."""
    import re

    import sqlalchemy as sa

    name = "t_" + re.sub(r"\W", "_", request.node.name)[:50].lower()
    admin = sa.create_engine(postgres_server.format(db="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return postgres_server.format(db=name)


def filing_store(url: str, template: str = "{fonds}-{category}·{year}-{retention}-{org}-{item:04d}", *,
                 upgrade: bool = False):
    """The catalog's filing operations on ``url`` with the repo's filing scheme."""
    from pipeline.scheme.taxonomy import load_taxonomy
    from pipeline.store import Database
    from pipeline.filing import FilingStore

    return FilingStore(Database(url, upgrade=upgrade), load_taxonomy(REPO / "config" / "taxonomy.yaml"),
                       item_template=template, volume_template="{fonds}-{class}-{volume:03d}",
                       volume_item_template="{volume_code}-{item:03d}")


def settled_filing(fonds="Z109", category="WS", year=2011, retention="Y", org="BGS"):
    """A confident filing in a class numbered by item (XZ·XZ), and the description that goes with it."""
    from pipeline.domain import Classification, ItemMetadata

    return (Classification(fonds, category, year, retention, org, "[t]", confidence=1.0, needs_review=False,
                           class_code="XZ·XZ"),
            ItemMetadata(title="[t]", title_supplied=True, date=None))


def run_processes(target, arg_tuples: list[tuple], timeout: float = 120) -> None:
    """Run ``target(*args)`` in one spawned process per tuple, at the same time; all must succeed."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=target, args=args) for args in arg_tuples]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout)
        assert p.exitcode == 0, f"{p.name} exited with {p.exitcode}"


def exact(index, query: str, **options):
    """Only the exact matches of ``query`` (no look-alike spellings, no facets): the search
    path of the web UI and the CLI, with what the contract tests check in isolation."""
    from pipeline.index import search

    return search(index, query, approximate=False, facets=False, **options)
