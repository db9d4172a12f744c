"""Issue 13, intake side: names that are not UTF-8 or too long, page sizes, pixel limits,
hidden files, terminal escapes, and a watcher that never loops on a file it cannot take.

Real files in a real inbox, the real intake and `dangan watch` / `dangan status`.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pikepdf
import pytest
from PIL import Image
from sqlalchemy import select

from conftest import activity, dangan_env, run_cli, start_service, wait_progress


def png(size=(240, 160)) -> bytes:
    buf = io.BytesIO()
    Image.new("L", size, 255).save(buf, "PNG")
    return buf.getvalue()


def put(inbox: Path, name: bytes | str, data: bytes) -> Path:
    """A file in the inbox under exactly these name bytes (as a share mounted without UTF-8 gives them)."""
    raw = os.fsencode(inbox) + b"/" + (name if isinstance(name, bytes) else name.encode())
    with open(raw, "wb") as fh:
        fh.write(data)
    return Path(os.fsdecode(raw))


def intake(settings):
    from pipeline.ingest.intake import Intake
    from pipeline.store import Database

    return Intake(settings, Database(settings.db_url))


def take_or_quarantine(gate_intake, entry: Path, root: Path):
    from pipeline.ingest.probe import BadInput

    try:
        checked = gate_intake.check(entry)
    except BadInput as exc:
        return gate_intake.quarantine(entry, exc.reason, root=root)
    return gate_intake.take(entry, checked, root=root)


LEGACY_NAMES = [("gbk", "王秀英身份证.jpg"), ("big5", "陳瑩瑩戶籍.png"), ("shift_jis", "山田テスト.png"),
                ("gb18030", "贫困户申请表（张三）.png")]


@pytest.mark.parametrize("encoding,name", LEGACY_NAMES)
def test_a_name_in_legacy_bytes_is_ingested_under_its_readable_name(settings, encoding, name):
    from pipeline.store import Database, Event, Item, SourceFile

    inbox = settings.ingest.inbox
    raw = name.encode(encoding)
    data = png() if name.endswith(".png") else _jpeg()
    entry = put(inbox, raw, data)
    result = take_or_quarantine(intake(settings), entry, inbox)
    assert result.outcome == "queued", result
    assert result.entry == name  # decoded, not surrogates
    assert not entry.exists()  # taken out of the inbox
    with Database(settings.db_url).session() as s:
        item = s.get(Item, result.item_id)
        assert item.label == name
        assert s.scalar(select(SourceFile.original_name).where(SourceFile.item_id == item.id)) == name
        received = s.scalar(select(Event).where(Event.object_type == "item", Event.object_id == item.id,
                                                Event.event_type == "received"))
        assert received.detail["raw_names_hex"] == {name: raw.hex()}  # the bytes as the disk gave them


def test_a_bad_file_with_a_legacy_name_is_quarantined_with_its_reason(settings):
    from pipeline.store import Database, QuarantinedFile

    inbox = settings.ingest.inbox
    raw = "坏文件王秀英.jpg".encode("gbk")
    entry = put(inbox, raw, b"not an image at all, just text")
    result = take_or_quarantine(intake(settings), entry, inbox)
    assert result.outcome == "quarantined" and "not a supported scan" in result.message
    kept = [p for p in settings.quarantine_dir.iterdir() if not p.name.endswith(".reason.json")]
    assert len(kept) == 1 and kept[0].name.endswith("-坏文件王秀英.jpg")  # readable name in quarantine
    reason = json.loads(kept[0].with_name(kept[0].name + ".reason.json").read_text(encoding="utf-8"))
    assert reason["entry"] == "坏文件王秀英.jpg" and reason["raw_name_hex"] == raw.hex()
    with Database(settings.db_url).session() as s:
        assert s.scalar(select(QuarantinedFile.original_name)) == "坏文件王秀英.jpg"


def test_an_overlong_bad_name_is_quarantined_under_a_shortened_name(settings):
    inbox = settings.ingest.inbox
    name = "坏" * 81 + ".txt.jpg"  # 251 bytes: a time stamp and ".reason.json" would pass 255
    entry = put(inbox, name, b"x")
    # Empty is "still being written" (not final): quarantined once the parse timeout has passed.
    result = intake(settings).quarantine(entry, "empty file (0 bytes)", root=inbox)
    assert result.outcome == "quarantined" and result.entry == name
    files = sorted(p.name for p in settings.quarantine_dir.iterdir())
    assert len(files) == 2 and all(len(f.encode()) <= 255 for f in files)
    assert files[0].endswith("….jpg") and files[1] == files[0] + ".reason.json"
    assert not entry.exists()


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (240, 160), "white").save(buf, "JPEG")
    return buf.getvalue()


def _pdf_page(width_pt: float, height_pt: float, user_unit: float | None = None) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(width_pt, height_pt))
    if user_unit is not None:
        pdf.pages[0].obj.UserUnit = user_unit
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def test_a_pdf_page_too_large_to_rasterise_is_refused_at_intake(settings, tmp_path):
    """8.8 KB describing a 3500×3500 pt page: 212 Mpx at 300 dpi, refused before pdftoppm runs."""
    from pipeline.ingest.probe import BadInput, probe

    cases = {"huge.pdf": _pdf_page(3500, 3500), "user-unit.pdf": _pdf_page(1000, 1000, user_unit=4.0),
             "a4.pdf": _pdf_page(595, 842)}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    limit = settings.ingest.max_pixels
    for name in ("huge.pdf", "user-unit.pdf"):
        with pytest.raises(BadInput) as refused:
            probe(tmp_path / name, max_pixels=limit, max_bytes=10**9, pdf_dpi=300)
        assert refused.value.final and "PDF page 1 is" in refused.value.reason
        assert f"over the {limit:,}-pixel limit" in refused.value.reason
    assert "3,500×3,500 pt (1,235×1,235 mm): at 300 dpi that is 212,663,889 pixels" in _reason(tmp_path / "huge.pdf")
    assert "4,000×4,000 pt" in _reason(tmp_path / "user-unit.pdf")  # UserUnit counted
    assert probe(tmp_path / "a4.pdf", max_pixels=limit, max_bytes=10**9, pdf_dpi=300).pages == 1

    # Through the intake: quarantined (not "failed" after a worker tried), the reason kept.
    inbox = settings.ingest.inbox
    entry = put(inbox, "大图.pdf", cases["huge.pdf"])
    result = take_or_quarantine(intake(settings), entry, inbox)
    assert result.outcome == "quarantined" and "over the" in result.message


def _reason(path: Path) -> str:
    from pipeline.ingest.probe import BadInput, probe

    try:
        probe(path, max_pixels=200_000_000, max_bytes=10**9, pdf_dpi=300)
    except BadInput as exc:
        return exc.reason
    return ""


A0_300DPI = (9933, 14043)  # 841 × 1189 mm: 139,489,119 pixels


def test_the_configured_pixel_limit_is_the_limit_not_pillows(settings, tmp_path):
    """An A0 scan at 300 dpi (139 Mpx) passes the 200 Mpx default; Pillow's own ~89.5 Mpx guard
    used to quarantine it with a message that named the 200 Mpx limit."""
    from pipeline.ingest.pages import page_master
    from pipeline.ingest.probe import BadInput, probe, set_pixel_limit

    a0 = tmp_path / "a0.tif"
    Image.new("1", A0_300DPI, 1).save(a0, "TIFF", compression="group4", dpi=(300, 300))
    found = probe(a0, max_pixels=200_000_000, max_bytes=10**9)
    assert found.pages == 1 and found.dpi == 300
    with pytest.raises(BadInput) as refused:
        probe(a0, max_pixels=100_000_000, max_bytes=10**9)
    assert "100,000,000-pixel limit" in refused.value.reason and refused.value.final
    # A worker sets the same limit before it cuts the page master out of the original.
    set_pixel_limit(200_000_000)
    source, _ = page_master(a0, "image/tiff", 0, index=0, source_sha256="0" * 64, out_dir=tmp_path / "pages",
                            pdf_dpi=300)
    with Image.open(source.master) as master:
        assert master.size == A0_300DPI


# ── the watcher: bounded retries, ignored names, status ─────────────


def _status(env) -> dict:
    r = run_cli(["status", "--json"], env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("polling", ["always", "never"])
def test_watch_takes_or_quarantines_odd_names_once_and_lists_hidden_ones(home, polling):
    """GBK names, an over-long bad name and a name with a terminal escape: each ends ingested or
    quarantined, the log stays small (no retry loop, with polling or native events), hidden
    names are listed as ignored, and `dangan status` prints no escape sequence."""
    env = dangan_env(home, DANGAN_INGEST__POLLING=polling, DANGAN_INGEST__POLL_INTERVAL_SECONDS="0.5")
    inbox = home / "inbox"
    log = home / "service.log"
    put(inbox, "王秀英.png".encode("gbk"), png())
    put(inbox, "坏文件.jpg".encode("gbk"), b"plain text, not a scan" * 3)
    put(inbox, ("坏" * 81 + ".txt.jpg").encode(), b"x" * 40)
    put(inbox, "evil\x1b[31mred\x1b[0m.jpg", b"still not an image" * 3)
    put(inbox, "...png", png())
    put(inbox, "..\\..\\evil.png", png())
    put(inbox, ".gitkeep", b"")
    proc = start_service(env, log)
    try:
        def remaining() -> list[str]:
            return sorted(n for n in os.listdir(os.fsencode(inbox)) if not n.startswith(b"."))

        wait_progress(lambda: not remaining(), lambda: (remaining(), log.stat().st_size if log.exists() else 0),
                      stall=120, what="every entry taken or quarantined")
        status = wait_progress(lambda: (st := _status(env))["inbox_ignored"] and st, lambda: activity(log), stall=90,
                               what="the running service to publish ignored names")
        assert proc.poll() is None  # the watcher keeps running
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    assert status["quarantined"] == 3
    assert {q["entry"] for q in status["recent_quarantine"]} >= {"坏文件.jpg", "坏" * 81 + ".txt.jpg"}
    assert status["queued"] + status["processing"] + status["done"] + status["archived_awaiting_index"] == 1
    assert {w["entry"] for w in status["inbox_ignored"]} == {"...png", "..\\..\\evil.png"}  # not .gitkeep
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in text and "UnicodeEncodeError" not in text
    assert len(text.encode()) < 50_000, len(text)  # a handful of lines, not a loop
    assert len(re.findall(r"intake of .* failed", text)) == 0
    plain = run_cli(["status"], env)
    assert plain.returncode == 0 and "\x1b[31m" not in plain.stdout and "\\x1b[31m" in plain.stdout


@pytest.mark.slow
def test_a_scan_named_after_a_person_and_their_id_never_shows_the_full_number(home):
    """Issue 13 item 1, end to end: a page with no recognisable heading takes its file name as
    title; the name holds the full ID number. After OCR, filing and indexing, `dangan search`
    (table and --json) and the web UI show it masked."""
    from fastapi.testclient import TestClient

    from scanfactory import render_page
    from test_web import PASSWORD, login

    from pipeline.config import load_settings
    from pipeline.store import Database
    from pipeline.access import Access
    from pipeline.web.app import create_app

    full = "360122194405228999"
    src = home / "scans"
    src.mkdir()
    render_page(["王秀英同志家中有老人一名，常年卧病，特此说明情况。"], seed=3, dpi=200).save(
        src / f"王秀英身份证{full}.jpg", quality=90, dpi=(200, 200))
    env = dangan_env(home)
    r = run_cli(["ingest", str(src / f"王秀英身份证{full}.jpg")], env)
    assert r.returncode == 0, r.stderr
    assert full not in r.stdout + r.stderr
    found = run_cli(["search", "王秀英", "--json"], env)
    assert found.returncode == 0 and json.loads(found.stdout)["total"] >= 1
    assert full not in found.stdout and "360122********8999" in found.stdout
    table = run_cli(["search", "王秀英"], env)
    assert full not in table.stdout
    settings = load_settings(environ=env)
    Access.open(Database(settings.db_url), settings.home).users.create("clerk9", PASSWORD, ["clerk"], by="test")
    client = TestClient(create_app(settings))
    login(client, "clerk9")
    page = client.get("/search", params={"q": "王秀英"}).text
    assert "/view/" in page and full not in page and "王秀英身份证360122********8999" in page
