"""The `dangan` command line against a real data home."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from conftest import dangan_env, run_cli

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"

LEGACY = [
    {"archival_code": "Z001-WS·2015-Y-BGS-0001", "title": "关于李桂兰户纳入低保的批复", "page": 1,
     "text": "经审核，同意李桂兰户纳入农村低保。身份证号 610102194503121238", "year": 2015, "village": "三河村"},
    {"archival_code": "Z001-WS·2015-Y-BGS-0001", "title": "关于李桂兰户纳入低保的批复", "page": 2,
     "text": "特此批复。二〇一五年三月十二日", "year": 2015, "village": "三河村"},
    {"archival_code": "Z001-WS·2016-Y-BGS-0001", "title": "戶籍證明", "page": 1,
     "text": "茲證明張建國係本村村民，戶籍在冊。", "year": 2016, "village": "李家庄村", "category": "WS"},
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def search(env, *args) -> dict:
    r = run_cli(["search", *args, "--json"], env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("backend", ["tantivy", "whoosh"])
def test_import_search_and_rebuild(home: Path, backend: str):
    env = dangan_env(home, DANGAN_INDEX__BACKEND=backend)
    r = run_cli(["index", "import", str(write_jsonl(home / "legacy.jsonl", LEGACY))], env)
    assert r.returncode == 0, r.stderr
    assert "imported 3 page(s) in 2 item(s)" in r.stdout
    hits = search(env, "李桂兰")  # in the text of page 1 and the title of the whole item
    assert hits["total"] == 2 and {h["archival_code"] for h in hits["hits"]} == {"Z001-WS·2015-Y-BGS-0001"}
    assert hits["hits"][0]["page_no"] == 1  # the page that holds the name ranks first
    assert search(env, "张建国")["hits"][0]["title"] == "戶籍證明"  # Simplified query, Traditional page
    assert search(env, "李", "--village", "三河村")["total"] == 2
    assert search(env, "张", "--village", "三河村")["total"] == 0
    idhit = search(env, "610102194503121238")["hits"][0]
    assert "610102********1238" in idhit["snippet"].replace("【", "").replace("】", "")
    # The index is a cache: wipe it, rebuild from the catalog, same answers.
    import shutil

    shutil.rmtree(home / "data" / "index")
    r = run_cli(["index", "rebuild"], env)
    assert r.returncode == 0, r.stderr
    assert "indexed 3 page(s)" in r.stdout
    assert search(env, "李桂兰")["total"] == 2
    # Importing the same file again adds nothing.
    r = run_cli(["index", "import", str(home / "legacy.jsonl")], env)
    assert "3 duplicate page(s) skipped" in r.stdout
    assert search(env, "批复")["total"] == 2


def test_import_rejects_bad_lines(home: Path):
    env = dangan_env(home)
    bad = home / "bad.jsonl"
    bad.write_text('{"archival_code": "X-1", "title": "t", "text": "x"}\n', encoding="utf-8")
    r = run_cli(["index", "import", str(bad)], env)
    assert r.returncode == 1
    assert "bad.jsonl:1: missing field(s) page" in r.stderr


def small_scan(path: Path, text: str) -> Path:
    img = Image.new("L", (520, 110), 255)
    ImageDraw.Draw(img).text((14, 28), text, font=ImageFont.truetype(FONT, 40, index=2), fill=0)
    buf = io.BytesIO()
    img.save(buf, "PNG", dpi=(200, 200))
    path.write_bytes(buf.getvalue())
    return path


def test_ingest_wait_processes_without_moving_the_files(home: Path):
    env = dangan_env(home, DANGAN_IMAGING__DETECT_ORIENTATION="false")
    src = small_scan(home / "公告.png", "村务公开栏韦小宝")
    bad = home / "notes.jpg"
    bad.write_text("not an image", encoding="utf-8")
    r = run_cli(["ingest", str(src), str(bad), "--wait"], env)
    assert r.returncode == 1, r.stderr  # one file was quarantined
    assert "quarantined" in r.stderr and "not a supported scan" in r.stderr
    assert src.exists() and bad.exists(), "one-shot ingest never moves the user's files"
    hits = search(env, "韦小宝")
    assert hits["total"] == 1 and Path(hits["hits"][0]["pdf_path"]).exists()
    again = run_cli(["ingest", str(src), "--wait"], env)
    assert again.returncode == 0 and "duplicate" in again.stdout
    status = json.loads(run_cli(["status", "--json"], env).stdout)
    assert status["done"] == 1 and status["quarantined"] == 1


def test_ocr_command_prints_text_in_reading_order(home: Path):
    env = dangan_env(home)
    img = small_scan(home / "line.png", "精准扶贫档案")
    r = run_cli(["ocr", str(img), "--json"], env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["text"] == "精准扶贫档案" and out["engine"].startswith("rapidocr")
    assert [line["order"] for line in out["lines"]] == list(range(len(out["lines"])))
    chars = out["lines"][0]["chars"]
    assert "".join(c["text"] for c in chars) == "精准扶贫档案"
    assert all(len(c["box"]) == 4 and 0 < c["confidence"] <= 1 for c in chars)
    assert [c["box"][0][0] for c in chars] == sorted(c["box"][0][0] for c in chars)  # left to right
    r = run_cli(["ocr", str(img), "--engine", "tesseract"], env)
    assert r.returncode == 0 and "扶贫" in r.stdout.replace(" ", "")
    r = run_cli(["ocr", str(img), "--engine", "paddle"], env)
    assert r.returncode == 2 and "valid engines" in r.stderr


def test_bad_config_fails_at_start_naming_the_key(home: Path):
    env = dangan_env(home, DANGAN_OCR__ENGINE="paddle")
    r = run_cli(["status"], env)
    assert r.returncode == 2 and "ocr.engine" in r.stderr


def test_search_refuses_a_missing_or_stale_index_without_touching_it(home: Path):
    env = dangan_env(home)
    r = run_cli(["search", "王"], env)
    assert r.returncode == 3 and "dangan index rebuild" in r.stderr
    assert not (home / "data" / "index").exists()
