"""End to end: `dangan watch` on a real inbox → OCR → PDF/A → `dangan search`."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from conftest import activity, dangan_env, run_cli, start_service, wait_progress
from scanfactory import body_paragraphs, default_form_fields, render_form, render_page

pytestmark = pytest.mark.slow


def write_scan(folder: Path) -> dict[str, str]:
    """A 3-page household file: form, a report naming a 2-character name, a sealed notice."""
    fields = default_form_fields(11)
    fields["户主姓名"] = "韦秀英"
    fields["帮扶责任人"] = "覃丽"
    id_number = fields["公民身份号码"]
    pages = [
        render_form(fields, seed=11, dpi=200, skew_deg=1.2, noise_sigma=4, jpeg_quality=80),
        render_page(["帮扶责任人覃丽同志每月入户走访一次，了解家庭收入和就医情况。"] + body_paragraphs(12, count=2),
                    seed=12, dpi=200, skew_deg=-0.8, noise_sigma=3, jpeg_quality=82, title="帮扶工作记录"),
        render_page(body_paragraphs(13, count=2), seed=13, dpi=200, seal=True, jpeg_quality=85,
                    title="关于精准扶贫对象的公示"),
    ]
    staging = folder.parent / (".tmp-" + folder.name)  # ._/.tmp names are ignored by the watcher
    staging.mkdir(parents=True)
    for n, img in enumerate(pages, 1):
        img.save(staging / f"{n}.jpg", quality=90, dpi=(200, 200))
    os.rename(staging, folder)  # the scanner's batch appears at once
    return {"three": "韦秀英", "two": "覃丽", "surname": "韦", "id": id_number}


def search_json(env, query: str) -> dict:
    r = run_cli(["search", query, "--json"], env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_scan_dropped_in_inbox_becomes_searchable(home: Path):
    env = dangan_env(home)
    log = home / "service.log"
    proc = start_service(env, log)
    try:
        wait_progress(lambda: (home / "data" / "catalog.sqlite3").exists(), lambda: activity(log), stall=90,
                      what="service start")
        t0 = time.monotonic()
        q = write_scan(home / "inbox" / "hh-0001")

        def all_found():
            return all(search_json(env, v)["total"] >= 1 for v in q.values())

        wait_progress(all_found, lambda: activity(log), stall=120, interval=1.0, what="all four queries to hit")
        latency = time.monotonic() - t0
        print(f"\n3-page scan searchable by name, surname and ID {latency:.1f} s after the drop")
        assert proc.poll() is None, log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode == 0, log.read_text()[-3000:]

    three = search_json(env, q["three"])
    hit = three["hits"][0]
    assert hit["page_no"] == 1
    # A household form files into the household's volume (一户一卷): it has no 档号 of its own
    # until that 预立卷 is finalised, or it waits in the review queue if the class is in doubt.
    filed = json.loads(run_cli(["classify", str(hit["item_id"]), "--json"], env).stdout)
    assert filed["class"].startswith("JF·C02·"), filed
    assert hit["archival_code"] == "" and (filed["volume_key"] or filed["review_state"] == "pending"), filed
    assert filed["sensitive"] and "id_number" in filed["sensitive"]
    assert "【韦秀英】" in hit["snippet"]
    assert hit["title"]  # 题名: the printed heading, or a supplied one in [ ]
    pdf = Path(hit["pdf_path"])
    assert pdf.exists()
    # 覃丽 is the helper named on the form (page 1) and in the visit record (page 2).
    assert {h["page_no"] for h in search_json(env, q["two"])["hits"]} == {1, 2}
    idhit = search_json(env, q["id"])["hits"][0]
    assert idhit["page_no"] == 1
    assert q["id"] not in idhit["snippet"], "ID numbers must be masked in snippets"
    shown = re.sub(r"[\s【】]", "", idhit["snippet"])  # the grid form prints one digit per box
    assert q["id"][:6] + "********" + q["id"][-4:] in shown

    from pipeline.archive import extract_text, validate_pdfa
    from pipeline.text import han_space_runs

    assert validate_pdfa(pdf) == []
    text = extract_text(pdf)
    assert "韦秀英" in text and han_space_runs(text) == 0

    human = run_cli(["search", q["three"]], {**env, "COLUMNS": "250"})
    assert "韦秀英" in human.stdout and str(pdf.name)[:10] in human.stdout.replace("\n", "")
    status = json.loads(run_cli(["status", "--json"], env).stdout)
    assert status["done"] == 1 and status["pages_searchable"] == 3 and status["queued"] == 0
    # 200-dpi scans: every page is flagged as below the 300 dpi wanted for OCR, and says so.
    assert status["quality_flags"].get("below-ocr-dpi") == 3, status
    assert {"item": hit["archival_code"] or "hh-0001", "page": 1} in [
        {"item": f["item"], "page": f["page"]} for f in status["recent_flagged_pages"]]


def test_watcher_survives_bad_input_on_a_polled_share(home: Path):
    """Network shares are polled; 24 kinds of bad input are quarantined and a good scan still lands."""
    import sqlite3

    from badinputs import make_all

    env = dangan_env(home, DANGAN_INGEST__POLLING="always", DANGAN_INGEST__POLL_INTERVAL_SECONDS="0.5",
                     DANGAN_IMAGING__DETECT_ORIENTATION="false", DANGAN_WORKERS="1")
    log = home / "service.log"
    proc = start_service(env, log)
    try:
        wait_progress(lambda: "polling" in log.read_text(errors="replace"), lambda: activity(log), stall=90,
                      what="polling watcher")
        expected = make_all(home / "inbox")
        page = render_page(["村务公开栏：本月低保名单公示，请村民监督。"], seed=5, dpi=150, page_size=(900, 300))
        page.save(home / "inbox" / "good.png", dpi=(150, 150))

        def settled():
            con = sqlite3.connect(home / "data" / "catalog.sqlite3", timeout=30)
            try:
                q = con.execute("select count(*) from quarantine").fetchone()[0]
                done = con.execute("select count(*) from items where state='done'").fetchone()[0]
            finally:
                con.close()
            return q >= len(expected) and done == 1

        wait_progress(settled, lambda: activity(log), stall=120, interval=1.0,
                      what="bad input quarantined and the good scan done")
        assert proc.poll() is None, "the watcher must keep running"
        assert search_json(env, "低保名单")["total"] == 1
        status = json.loads(run_cli(["status", "--json"], env).stdout)
        assert status["quarantined"] == len(expected) and status["recent_quarantine"]
        assert not any((home / "inbox").iterdir())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode == 0


def test_serve_runs_the_watcher_and_the_web_ui_with_a_first_admin(home: Path):
    """`make run` = `dangan init` + `dangan serve`: a fresh install can be signed into at once."""
    import socket
    import subprocess

    import httpx

    from conftest import DANGAN, REPO

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dangan_env(home, DANGAN_IMAGING__DETECT_ORIENTATION="false", DANGAN_WORKERS="1")
    log = home / "serve.log"
    with open(log, "ab") as fh:
        proc = subprocess.Popen(DANGAN + ["serve", "--port", str(port)], env=env, cwd=REPO, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def web_up() -> bool:
        try:
            return httpx.get(f"{url}/login", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_progress(web_up, lambda: activity(log), stall=90, what="web UI of dangan serve")
        note = home / "data" / "web" / "initial-admin-password"
        assert note.stat().st_mode & 0o077 == 0  # the password file is for this user only
        username, password = note.read_text(encoding="utf-8").split()
        assert password in log.read_text(encoding="utf-8", errors="replace")  # printed once, for the installer
        with httpx.Client(base_url=url, timeout=30) as web:
            assert web.post("/login", data={"username": username, "password": password}).status_code == 303
            assert "用户管理" in web.get("/admin/users").text
            (home / "inbox" / "truncated.pdf").write_bytes(b"%PDF-1.7\n1 0 obj\n<<")  # bad input, no OCR needed
            wait_progress(lambda: web.get("/status.json").json()["quarantined"] == 1, lambda: activity(log),
                          stall=90, what="the watcher to quarantine a broken PDF, seen from the web UI")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode == 0
    assert not web_up()  # the web UI stopped with it
    # Exactly the one account: clerks' accounts are the admin's to make.
    r = run_cli(["user", "list", "--json"], env)
    assert r.returncode == 0 and [u["username"] for u in json.loads(r.stdout)] == ["admin"]

    # A second start keeps the accounts; a kill -9 of `dangan serve` takes the web UI down too
    # (no orphaned server holding the port and the catalog).
    with open(log, "ab") as fh:
        proc = subprocess.Popen(DANGAN + ["serve", "--port", str(port)], env=env, cwd=REPO, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_progress(web_up, lambda: activity(log), stall=90, what="web UI after a restart")
        assert note.read_text(encoding="utf-8").split() == [username, password]  # no new admin, no new password
        proc.kill()
        proc.wait(timeout=30)
        wait_progress(lambda: not web_up(), lambda: activity(log), stall=60,
                      what="the web UI to stop after kill -9 of dangan serve")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
