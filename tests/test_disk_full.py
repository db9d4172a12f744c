"""Issue 13: a full disk pauses the station instead of breaking it.

The data home lives on a real, small filesystem (a tmpfs mounted for the test), so every
write — intake copies, page images, PDF/A, the SQLite catalog, the index — meets a real
ENOSPC. Two cases: below the ``min_free_mb`` floor, intake and workers wait and say so, and
resume by themselves; with no floor, writes fail for real and nothing is lost, no attempt is
used up, no half-written file is left, and everything finishes once space is freed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import activity, dangan_env, run_cli, start_service, wait_progress
from scanfactory import body_paragraphs, render_page

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path):
    """A 48 MiB filesystem of its own (needs root, as `make test` has in CI)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m,mode=0755", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here ({done.stderr.strip()}): run the tests as root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(mount: Path, leave: int) -> Path:
    """A filler file that leaves ``leave`` bytes free (0: as full as it gets)."""
    filler = mount / "filler.bin"
    with open(filler, "ab") as fh:
        chunk = b"\0" * (1 << 20)
        while (free := shutil.disk_usage(mount).free) > leave:
            try:
                fh.write(chunk[: max(4096, min(len(chunk), free - leave))])
                fh.flush()
            except OSError:
                break
    return filler


def write_scans(inbox: Path, count: int, start: int = 0) -> list[str]:
    names = []
    for n in range(start, start + count):
        img = render_page(body_paragraphs(40 + n, count=2), seed=40 + n, dpi=200, title=f"第{n + 1}号通知")
        staging = inbox / f".part-{n}.jpg"
        img.save(staging, quality=85, dpi=(200, 200))
        os.rename(staging, inbox / f"scan-{n + 1}.jpg")
        names.append(f"scan-{n + 1}.jpg")
    return names


def items(home: Path) -> dict[str, tuple[str, int]]:
    from pipeline.store import Database, Item

    db = Database(f"sqlite:///{home / 'catalog.sqlite3'}", upgrade=False)
    try:
        with db.reading() as s:
            return {label: (state, attempts) for label, state, attempts in
                    s.execute(select(Item.label, Item.state, Item.attempts))}
    except Exception:  # the catalog itself cannot be read while the disk is full
        return {}
    finally:
        db.dispose()


def waited_for_space(data: Path) -> int:
    """Items put back in the queue because a write failed for lack of space."""
    from sqlalchemy import func

    from pipeline.store import Database, Event

    db = Database(f"sqlite:///{data / 'catalog.sqlite3'}", upgrade=False)
    try:
        with db.reading() as s:
            return s.scalar(select(func.count()).select_from(Event).where(Event.event_type == "waiting-for-space"))
    finally:
        db.dispose()


def status(env) -> dict:
    r = run_cli(["status", "--json"], env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def leftovers(data: Path) -> list[str]:
    """Half-written files a failed write could leave: staging copies, temp files."""
    staging = [p.name for p in (data / "staging").glob(".in-*")]
    temps = [str(p) for p in data.rglob(".*.tmp")]
    return staging + temps


def test_below_the_floor_intake_and_workers_wait_and_say_so_then_resume(small_disk, tmp_path):
    data = small_disk / "data"
    env = dangan_env(tmp_path, DANGAN_HOME=str(data), DANGAN_MIN_FREE_MB="16")
    log = tmp_path / "service.log"
    proc = start_service(env, log)
    try:
        wait_progress(lambda: (data / "catalog.sqlite3").exists() and status(env)["service_running"],
                      lambda: log.stat().st_size if log.exists() else 0, stall=90, what="service start")
        filler = fill(small_disk, leave=8 << 20)  # 8 MiB free: below the 16 MiB floor
        names = write_scans(tmp_path / "inbox", 3)
        st = wait_progress(lambda: (s := status(env))["paused"] and s, lambda: activity(log), stall=90,
                           what="the status to say intake is paused")
        assert "min_free_mb" in st["paused"] and "MiB free" in st["paused"]
        assert sorted(os.listdir(tmp_path / "inbox")) == names and items(data) == {}  # nothing taken
        filler.unlink()  # space is freed: everything goes on by itself
        wait_progress(lambda: {n: s for n, (s, _) in items(data).items()} == dict.fromkeys(names, "done"),
                      lambda: (items(data), log.stat().st_size), stall=240, what="all scans done after resuming")
        assert all(attempts == 1 for _, attempts in items(data).values())
        assert status(env)["paused"] is None and status(env)["failed"] == 0
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    text = log.read_text(encoding="utf-8")
    assert text.count("intake paused") == 1 and text.count("intake resumed") == 1  # said once each
    assert "Traceback" not in text


def test_a_disk_that_fills_up_mid_work_loses_nothing_and_burns_no_attempt(small_disk, tmp_path):
    data = small_disk / "data"
    env = dangan_env(tmp_path, DANGAN_HOME=str(data), DANGAN_MIN_FREE_MB="0")  # no floor: real ENOSPC
    log = tmp_path / "service.log"
    proc = start_service(env, log)
    try:
        wait_progress(lambda: (data / "catalog.sqlite3").exists() and status(env)["service_running"],
                      lambda: log.stat().st_size if log.exists() else 0, stall=90, what="service start")
        names = write_scans(tmp_path / "inbox", 6)
        # As soon as the scans are in the catalog, the disk fills up completely: the workers
        # meet it while they process them, and one more scan meets it at intake.
        wait_progress(lambda: "processing" in {state for state, _ in items(data).values()},
                      lambda: (items(data), log.stat().st_size), stall=90, what="a worker at work")
        filler = fill(small_disk, leave=0)
        names += write_scans(tmp_path / "inbox", 1, start=6)

        def said(*phrases: str) -> bool:
            text = log.read_text(encoding="utf-8")
            return all(re.search(p, text) for p in phrases)

        # Both workers meet it (the busy one when its next write fails), and so does intake.
        wait_progress(lambda: said(r"worker-1 WARNING .*disk full", r"worker-2 WARNING .*disk full",
                                   r"intake of scan-7.jpg waits for disk space"),
                      lambda: log.stat().st_size, stall=120, what="workers and intake to meet the full disk")
        assert proc.poll() is None  # still running
        filler.unlink()
        wait_progress(lambda: {n: s for n, (s, _) in items(data).items()} == dict.fromkeys(names, "done"),
                      lambda: (items(data), log.stat().st_size), stall=240, what="all scans done after space returns")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    assert all(attempts == 1 for _, attempts in items(data).values()), items(data)  # no attempt used up
    text = log.read_text(encoding="utf-8")
    # The worker at work when the disk filled failed mid-item (unless it had just finished, in
    # the moment the filler took): that item went back to the queue with its attempt restored.
    interrupted = len(re.findall(r"WARNING item \d+: disk full", text))
    assert waited_for_space(data) == interrupted
    st = status(env)
    assert st["failed"] == 0 and st["quarantined"] == 0 and st["done"] == 7
    assert leftovers(data) == []
    assert len(text.encode()) < 100_000, len(text)  # waited quietly, no retry storm
