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


def run_cli(args: list[str], env: dict[str, str], *, stall: float = 180,
            input: str | None = None) -> subprocess.CompletedProcess:
    """Run ``dangan ARGS`` to the end; fail only when it stops making progress for ``stall``
    seconds (no CPU used, no output), never because a busy machine makes it slow."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(DANGAN + args, env=env, cwd=REPO, stdout=out, stderr=err,
                                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL)
        if input is not None:
            proc.stdin.write(input.encode())
            proc.stdin.close()
        try:
            wait_progress(lambda: proc.poll() is not None,
                          lambda: (descendants_cpu_seconds(), out.tell(), err.tell()),
                          stall=stall, interval=0.1, what=f"dangan {' '.join(args)}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out.read().decode(errors="replace"),
                                           err.read().decode(errors="replace"))


def start_service(env: dict[str, str], log: Path) -> subprocess.Popen:
    fh = open(log, "ab")
    # Own process group so a test can kill -9 the service and its workers together.
    return subprocess.Popen(DANGAN + ["watch"], env=env, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT,
                            start_new_session=True)


def descendants_cpu_seconds() -> int:
    """Whole CPU seconds used so far by every process this test run started (services, their
    workers, CLI calls), read from /proc: the work a slow machine still gets done."""
    me, parent, ticks = os.getpid(), {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                    stat = fh.read()
            except OSError:
                continue  # gone meanwhile
            fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
            parent[int(entry)] = int(fields[1])
            ticks[int(entry)] = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    total = 0
    for pid, used in ticks.items():
        ancestor = parent.get(pid, 0)
        while ancestor > 1 and ancestor != me:
            ancestor = parent.get(ancestor, 0)
        if ancestor == me:
            total += used
    return total // os.sysconf("SC_CLK_TCK")


def activity(*logs: Path):
    """Progress of the processes under test, for :func:`wait_progress`: the CPU seconds they
    used and the size of their log files. An idle, stuck service changes neither."""
    return descendants_cpu_seconds(), tuple(log.stat().st_size if log.exists() else 0 for log in logs)


def wait_progress(done, progress, *, stall: float, what: str, interval: float = 0.5):
    """Wait until ``done()`` is truthy, as long as ``progress()`` keeps changing: fail only after
    ``stall`` seconds without any change (a busy machine is slow, not stuck). The one way the
    tests wait: never on a wall-clock budget, which a busy machine can miss."""
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


def run_processes(target, arg_tuples: list[tuple], stall: float = 120) -> None:
    """Run ``target(*args)`` in one spawned process per tuple, at the same time; all must succeed.
    Waited on as long as they use CPU (see :func:`run_cli`)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=target, args=args) for args in arg_tuples]
    for p in procs:
        p.start()
    try:
        wait_progress(lambda: all(p.exitcode is not None for p in procs), descendants_cpu_seconds,
                      stall=stall, what=f"{len(procs)} processes of {target.__name__}")
    finally:
        for p in procs:
            if p.exitcode is None:
                p.kill()
            p.join()
    assert [p.exitcode for p in procs] == [0] * len(procs)


def exact(index, query: str, **options):
    """Only the exact matches of ``query`` (no look-alike spellings, no facets): the search
    path of the web UI and the CLI, with what the contract tests check in isolation."""
    from pipeline.index import search

    return search(index, query, approximate=False, facets=False, **options)
