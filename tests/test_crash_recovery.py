"""kill -9 at random moments during a 200-file ingest: every file exactly once."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from conftest import dangan_env, run_cli, start_service, wait_progress

pytestmark = pytest.mark.slow

FILES = 200
KILLS = 10
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"


def small_scan(n: int) -> bytes:
    # A heading the filing scheme classifies with confidence (乡镇 党委会纪要, filed by item),
    # so every file is numbered and the 档号 sequence can be checked for gaps.
    img = Image.new("L", (620, 150), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 34, index=2)
    draw.text((12, 18), "镇党委会会议纪要", font=font, fill=0)
    draw.text((12, 80), f"户主{SURNAMES[n % 20]}第{n:03d}号", font=font, fill=0)
    buf = io.BytesIO()
    img.save(buf, "PNG", dpi=(200, 200))
    return buf.getvalue()


def catalog(home: Path):
    con = sqlite3.connect(home / "data" / "catalog.sqlite3", timeout=60)
    con.row_factory = sqlite3.Row
    return con


def test_kill9_loop_ingests_every_file_exactly_once(home: Path):
    env = dangan_env(home, DANGAN_IMAGING__DETECT_ORIENTATION="false", DANGAN_INGEST__QUIET_SECONDS="0.2")
    inbox = home / "inbox"
    inputs = {}
    for n in range(FILES):
        data = small_scan(n)
        (inbox / f"scan-{n:03d}.png").write_bytes(data)
        import hashlib

        inputs[hashlib.sha256(data).hexdigest()] = f"scan-{n:03d}.png"
    assert len(inputs) == FILES
    rng = random.Random(20261121)
    log = home / "service.log"
    for k in range(KILLS):
        proc = start_service(env, log)
        time.sleep(rng.uniform(1.0, 7.0))
        os.killpg(proc.pid, signal.SIGKILL)  # the service and its workers, mid-flight
        proc.wait()
        if (home / "data" / "catalog.sqlite3").exists():
            with catalog(home) as con:
                n_items = con.execute("select count(*) from items").fetchone()[0]
                n_fp = con.execute("select count(distinct fingerprint) from items").fetchone()[0]
            assert n_items == n_fp
    proc = start_service(env, log)
    try:
        def counts() -> tuple[int, int, int, int]:
            with catalog(home) as con:
                open_items = con.execute("select count(*) from items where state != 'done'").fetchone()[0]
                done = con.execute("select count(*) from items where state = 'done'").fetchone()[0]
            return done, open_items, len(list(inbox.iterdir())), log.stat().st_size

        # Judged by progress (items done, files taken, log lines), not by a time budget: with
        # the CPU shared, 24 restarts' worth of work may take many minutes and still be sound.
        wait_progress(lambda: counts()[:3] == (FILES, 0, 0), counts, stall=300, interval=2,
                      what="all files done")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)

    with catalog(home) as con:
        sources = con.execute("select sha256, original_name, stored_path from source_files").fetchall()
        items = con.execute("select id, state, archival_code, item_number, pdf_path from items").fetchall()
        pages = con.execute("select count(*) from pages").fetchone()[0]
        quarantined = con.execute("select count(*) from quarantine").fetchone()[0]
        requeued = con.execute("select count(*) from events where event_type='requeued'").fetchone()[0]
    # Exactly once: one item and one source row per distinct input, nothing quarantined.
    assert sorted(r["sha256"] for r in sources) == sorted(inputs)
    assert len(items) == FILES and pages == FILES and quarantined == 0
    assert {r["original_name"] for r in sources} == set(inputs.values())
    # 档号 are contiguous: no gap, no duplicate (all in one scope: same class, year received).
    assert sorted(r["item_number"] for r in items) == list(range(1, FILES + 1))
    assert len({r["archival_code"].rsplit("-", 1)[0] for r in items}) == 1
    assert len({r["archival_code"] for r in items}) == FILES
    # No orphans: every kept original and every PDF/A belongs to a catalog row.
    originals = {p for p in (home / "data" / "originals").rglob("*") if p.is_file()}
    assert originals == {Path(r["stored_path"]) for r in sources}
    pdfs = {p for p in (home / "data" / "pdfa").rglob("*.pdf")}
    assert pdfs == {Path(r["pdf_path"]) for r in items}
    # Nothing half-done survives: no custody copies, no PDF/A or OCRmyPDF work folders.
    staging = home / "data" / "staging"
    assert not [*staging.glob(".in-*.tmp"), *staging.glob("dangan-pdfa-*"), *staging.glob("tmp/ocrmypdf*")]
    assert not [p for p in (home / "data").rglob(".*.tmp")], "half-written files left behind"
    # Index count = catalog count.
    status = json.loads(run_cli(["status", "--json"], env).stdout)
    assert status["pages_searchable"] == FILES
    hits = json.loads(run_cli(["search", "户主", "--json", "--limit", "1"], env).stdout)
    assert hits["total"] == FILES
    print(f"\n{KILLS} kill -9 rounds; {requeued} interrupted item(s) requeued and finished exactly once")
