"""Acceptance: a household's file, scanned shuffled in three batches, becomes one volume (一户一卷).

Real everything: rendered scans → `dangan ingest` (imaging, OCR, classification, description)
→ the household's 预立卷 in entry → exit order → `volume finalize` → `volume build` (PDF/A with
cover, 卷内目录, 页号 and 备考表) → labels → `dangan export` checked with standard tools.

Set TEST_ARTIFACTS=DIR to keep images of the volume's first pages and of the label sheet.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import cv2
import pytest

from conftest import dangan_env, run_cli
from docfactory import household_file, make_household, render_document
from pipeline.archive.labels import parse_label_payload
from pipeline.classify.metadata import extract_metadata

pytestmark = pytest.mark.slow

# Ten of the household's documents (≥ 8), entry → exit; some have several pages.
KINDS = ("SQ", "DC", "PY", "GS1", "GG", "CJ", "MBK", "JH", "SR", "TQR")


def _cli(env, *args):
    r = run_cli(list(args), env)
    assert r.returncode == 0, f"dangan {' '.join(args)}\n{r.stdout}\n{r.stderr[-3000:]}"
    return r.stdout


def _pdftext(pdf: Path, page: int) -> str:
    return subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout


def _write_scans(docs, rng, folder: Path) -> list[Path]:
    """One file per document, as a scanner writes them: JPEG for one page, multi-page TIFF for more."""
    files = []
    for n, doc in enumerate(docs):
        pages = [p.convert("RGB") for p in render_document(doc, rng)]
        name = f"scan-{rng.randrange(10**6):06d}-{n}"
        if len(pages) == 1:
            path = folder / f"{name}.jpg"
            pages[0].save(path, quality=90, dpi=(300, 300))
        else:
            path = folder / f"{name}.tif"
            pages[0].save(path, save_all=True, append_images=pages[1:], compression="tiff_lzw", dpi=(300, 300))
        files.append(path)
    return files


def test_household_file_becomes_one_volume_in_entry_to_exit_order(home: Path, tmp_path: Path):
    rng = random.Random(20261122)
    household = make_household(rng)
    docs = [d for d in household_file(household, rng) if d.label.split("·")[-1] in KINDS]
    assert len(docs) == len(KINDS)
    # Two documents run over two pages (one multi-page TIFF each), so 页号 ≠ 顺序号.
    docs = [replace(d, pages=[d.pages[0][:len(d.pages[0]) // 2], d.pages[0][len(d.pages[0]) // 2:]])
            if d.label.endswith(("·PY", "·SR")) else d for d in docs]
    scans = tmp_path / "scans"
    scans.mkdir()
    files = _write_scans(docs, rng, scans)
    order = rng.sample(range(len(files)), len(files))  # shuffled, in three scan batches
    env = {**dangan_env(home), "COLUMNS": "250"}
    for batch in (order[:4], order[4:7], order[7:]):
        _cli(env, "ingest", *[str(files[i]) for i in batch], "--wait")

    # Doubtful items (e.g. a 公示 titled only 公示) wait for a reviewer; the class proposed
    # is right, the reviewer confirms it, and the item joins the household's volume.
    labels = {f.name: d.label for f, d in zip(files, docs)}
    queue = json.loads(_cli(env, "review", "--json"))
    assert len(queue) <= 3, f"too many items sent to review: {queue}"
    for entry in queue:
        assert entry["class_code"] == labels[entry["label"]], entry
        _cli(env, "classify", str(entry["item_id"]), "--confirm", "--user", "审核员丙")
    assert json.loads(_cli(env, "review", "--json")) == []
    volumes = json.loads(_cli(env, "volume", "list", "--json"))
    assert [v["key"] for v in volumes] == [f"household:{household.village}:{household.head}"]
    volume = volumes[0]
    assert volume["state"] == "pre_volume"
    assert [m["class_code"] for m in volume["items"]] == [d.label for d in docs]  # entry → exit
    for member, doc in zip(volume["items"], docs):
        # 日期 read from each document; a card that prints no date gets none (never guessed).
        printed = extract_metadata(doc.text).date
        assert member["doc_date"] == (doc.date if printed else None), (member, doc.date)

    _cli(env, "volume", "finalize", volume["key"], "--user", "立卷人甲", "--checked-by", "检查人乙")
    _cli(env, "volume", "build", volume["key"])
    volume = json.loads(_cli(env, "volume", "show", volume["key"], "--json"))
    code = volume["archival_code"]
    assert re.fullmatch(r"Z001-JF·C02-001", code)
    assert [m["archival_code"] for m in volume["items"]] == [f"{code}-{n:03d}" for n in range(1, len(docs) + 1)]
    pdf = Path(volume["pdf_path"])

    from pipeline.archive import validate_pdfa

    assert validate_pdfa(pdf) == []
    import pikepdf

    with pikepdf.open(pdf) as p:
        total = len(p.pages)
        outline = [item.title for item in p.open_outline().root]
    item_pages = sum(m["pages"] for m in volume["items"])
    toc_pages = total - item_pages - 2  # cover and 备考表 around the 目录 and the items
    assert toc_pages >= 1
    assert outline[0] == "案卷封面" and outline[-1] == "卷内备考表" and len(outline) == len(docs) + 3

    cover = _pdftext(pdf, 1)
    assert code in cover and household.head in cover and "定期30年" in cover
    toc = "\n".join(_pdftext(pdf, 2 + k) for k in range(toc_pages))
    # Each row of the 卷内目录 gives the page its item starts on; that page of the PDF
    # really is the item's first page (same text as the item's own PDF/A).
    start = 1
    for n, member in enumerate(volume["items"], start=1):
        row = next((line for line in toc.splitlines() if re.match(rf"\s*{n}\s", line)), None)
        assert row is not None, f"no 目录 row {n}:\n{toc}"
        assert re.search(rf"\s{start}(?:\s|-|$)", row.rstrip() + " "), f"row {n} should start at page {start}: {row}"
        physical = 1 + toc_pages + start
        page_text = re.sub(r"\s+", "", _pdftext(pdf, physical))
        own = re.sub(r"\s+", "", subprocess.run(
            ["pdftotext", "-f", "1", "-l", "1", member["pdf_path"], "-"], capture_output=True, text=True).stdout)
        assert own[:30] and own[:30] in page_text, f"page {start} is not item {n}'s first page"
        start += member["pages"]
    assert start - 1 == item_pages == len(docs) + 2
    backnote = _pdftext(pdf, total)
    assert "备考表" in backnote and "立卷人甲" in backnote and "检查人乙" in backnote

    artifacts = Path(os.environ.get("TEST_ARTIFACTS", tmp_path / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", str(2 + toc_pages + 1), str(pdf),
                    str(artifacts / "volume")], check=True)

    # Box label: the QR code holds the opaque label id only, and it finds the volume.
    sheet = tmp_path / "labels.pdf"
    _cli(env, "labels", str(sheet), volume["key"])
    subprocess.run(["pdftoppm", "-r", "200", "-png", "-f", "1", "-l", "1", str(sheet), str(artifacts / "labels")],
                   check=True)
    image = cv2.imread(str(next(artifacts.glob("labels*.png"))))
    payload, _points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert parse_label_payload(payload) == volume["label_token"]
    assert not re.search(r"[\u4e00-\u9fff]|\d{11,}", payload)  # no name, no ID or phone number
    assert json.loads(_cli(env, "volume", "show", volume["label_token"], "--json"))["key"] == volume["key"]

    # The deliverable opens without dangan.
    out = tmp_path / "delivery"
    _cli(env, "export", "--fonds", "Z001", str(out))
    subprocess.run(["sha256sum", "--quiet", "-c", "manifest-sha256.txt"], cwd=out, check=True)
    import bagit
    import openpyxl

    bagit.Bag(str(out)).validate()
    book = openpyxl.load_workbook(out / "data" / "catalog" / "目录.xlsx", read_only=True)
    rows = list(book["卷内目录"].iter_rows(values_only=True))
    assert len(rows) == len(docs) + 1
    masters = sorted((out / "data" / "masters").iterdir())
    assert len(masters) == item_pages and masters[0].name.startswith(f"{code}-001-0001")
    for path in (out / "data" / "pdfa").rglob("*.pdf"):
        subprocess.run(["qpdf", "--check", str(path)], check=True, capture_output=True)
    _cli(env, "export", "verify", str(out))
    with open(masters[0], "r+b") as fh:  # one flipped byte
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 1]))
    bad = run_cli(["export", "verify", str(out)], env)
    assert bad.returncode == 1 and masters[0].name in bad.stderr
    shutil.rmtree(out)
