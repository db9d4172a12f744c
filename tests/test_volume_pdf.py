"""Volume PDF/A (案卷, GB/T 9705-2008) and label sheets.

Item PDF/As are made by the real ``build_pdfa`` from small page images drawn here
with PIL (the OcrPage values come from where the characters were drawn); the volume
is then checked with poppler (pdftotext, pdffonts, pdftoppm), pikepdf and OpenCV.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pikepdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from pipeline.archive import build_pdfa, validate_pdfa
from pipeline.archive.labels import (
    COLUMNS,
    LABEL_H,
    LABEL_W,
    MARGIN,
    build_label_sheet,
    label_payload,
    parse_label_payload,
)
from pipeline.archive.volume_pdf import build_volume_pdf, cjk_fonts
from pipeline.domain import (
    Label,
    OcrLine,
    OcrPage,
    OcrWord,
    PageSource,
    PreparedPage,
    VolumeEntry,
    VolumeSheet,
)

FONT_PATH = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
pytestmark = pytest.mark.skipif(not FONT_PATH.exists(), reason="fonts-noto-cjk not installed")

CODE = "Z109-WS·2016-D30-0001"
TITLES = (
    "关于召开村民代表大会的通知",
    "石门村二〇一六年度土地承包经营权确权登记工作方案及实施细则",  # wraps in its cell
    "低保户名单公示",
)
PAGES = (1, 2, 3)
HAN = re.compile(r"[\u3000-\u9fff\uf900-\uffef]")


def _page(path: Path, lines: list[str]) -> tuple[PreparedPage, OcrPage]:
    """A 100-dpi A4 page with ``lines`` drawn in Noto Sans CJK SC, and its exact OCR."""
    font = ImageFont.truetype(str(FONT_PATH), 36, index=2)
    ascent, descent = font.getmetrics()
    img = Image.new("L", (827, 1169), "white")
    draw = ImageDraw.Draw(img)
    ocr_lines = []
    for k, text in enumerate(lines):
        x0 = x = 80.0
        y = 150 + 80 * k
        words = []
        for ch in text:
            adv = font.getlength(ch)
            draw.text((x, y), ch, font=font, fill=0)
            words.append(OcrWord(ch, 0.98, ((x, y), (x + adv, y), (x + adv, y + ascent + descent),
                                            (x, y + ascent + descent))))
            x += adv
        box = ((x0, y), (x, y), (x, y + ascent + descent), (x0, y + ascent + descent))
        ocr_lines.append(OcrLine(text, 0.98, box, tuple(words)))
    img.save(path, dpi=(100, 100))
    prepared = PreparedPage(PageSource(0, path, "0" * 64, 0, 100, True), path, 827, 1169, 100,
                            "gray", 0, 0.0)
    return prepared, OcrPage("test-drawn", 827, 1169, tuple(ocr_lines))


@pytest.fixture(scope="module")
def items(tmp_path_factory) -> list[Path]:
    tmp = tmp_path_factory.mktemp("items")
    paths = []
    for i, (title, count) in enumerate(zip(TITLES, PAGES), start=1):
        pages = [_page(tmp / f"i{i}p{p}.png", [f"第{i}件第{p}页", title[:10]])
                 for p in range(1, count + 1)]
        item = build_pdfa(pages, tmp / f"item{i}.pdf", title=title,
                          archival_code=f"{CODE}-{i:03d}", work_dir=tmp / "work")
        paths.append(item.pdf_path)
    return paths


def _sheet(items: list[Path], n: int = 3) -> VolumeSheet:
    entries = tuple(
        VolumeEntry(seq=k + 1, doc_number=f"石村发〔2016〕{k + 1}号", responsible="石门村村民委员会",
                    title=TITLES[k % 3] if n == 3 else f"{TITLES[k % 3]}（{k + 1}）",
                    date=f"201603{k % 28 + 1:02d}", first_page=0, last_page=0, remarks="",
                    pdf_path=items[k % 3])
        for k in range(n)
    )
    return VolumeSheet(
        fonds_name="某某镇人民政府", class_name="村务管理", title="石门村2016年村务管理文件材料",
        start_date="20160301", end_date="20161230", retention="定期30年", item_count=0,
        page_count=0, archival_code=CODE, filing_number="2016-001", entries=entries,
        note="本卷共3件，6页，材料齐全。", compiled_by="李四", checked_by="王五",
        compiled_on="20170110",
    )


@pytest.fixture(scope="module")
def volume(items, tmp_path_factory):
    out = tmp_path_factory.mktemp("volume") / "vol.pdf"
    return build_volume_pdf(_sheet(items), out)


def _text(pdf: Path, page: int) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", "-f", str(page), "-l", str(page),
                           str(pdf), "-"], capture_output=True, check=True).stdout.decode()


def _words(pdf: Path, page: int) -> tuple[list[tuple[str, float, float, float, float]], float, float]:
    """Words of one page (1-based) with (xMin, yMin, xMax, yMax) in pt; page width, height."""
    xml = subprocess.run(["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
                         capture_output=True, check=True).stdout.decode()
    size = re.search(r'<page width="([\d.]+)" height="([\d.]+)"', xml)
    words = [(m.group(5), *(float(m.group(k)) for k in range(1, 5))) for m in re.finditer(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>', xml)]
    return words, float(size.group(1)), float(size.group(2))


def _toc_page_numbers(pdf: Path, page: int) -> dict[str, str]:
    """顺序号 → 页号 cell of one 卷内目录 page, matched by column and row position."""
    words, _, _ = _words(pdf, page)
    centre = {w[0]: (w[1] + w[3]) / 2 for w in words if w[0] in ("顺序号", "页号")}
    rows: dict[str, str] = {}
    for text, x0, y0, x1, y1 in words:
        if text.isdigit() and abs((x0 + x1) / 2 - centre["顺序号"]) < 8:
            cells = [w[0] for w in words if abs((w[1] + w[3]) / 2 - centre["页号"]) < 12
                     and abs((w[2] + w[4]) / 2 - (y0 + y1) / 2) < 3]
            rows[text] = " ".join(cells)
    return rows


# ───────────────────────────── volume ─────────────────────────────


def test_volume_is_valid_pdfa(volume):
    toc_pages = volume.physical_first_page[0] - 2
    assert toc_pages == 1
    assert volume.page_count == 1 + toc_pages + sum(PAGES) + 1
    assert validate_pdfa(volume.pdf_path, expected_pages=volume.page_count) == []
    assert volume.numbered_pages == 6
    assert volume.item_pages == ((1, 1), (2, 3), (4, 6))
    assert volume.physical_first_page == (3, 4, 6)
    assert volume.sha256 == hashlib.sha256(volume.pdf_path.read_bytes()).hexdigest()
    assert [p.name for p in volume.pdf_path.parent.iterdir()] == ["vol.pdf"]  # no temp left


def test_cover_and_notes(volume):
    cover = _text(volume.pdf_path, 1)
    for text in ("某某镇人民政府", "村务管理", "石门村2016年村务管理文件材料", "定期30年", CODE,
                 "2016年03月01日", "2016年12月30日", "2016-001"):
        assert text in cover, (text, cover)
    assert re.search(r"3\s*件\s*6\s*页", cover), cover
    notes = _text(volume.pdf_path, volume.page_count)
    for text in ("卷内备考表", "本卷情况说明", "材料齐全", "李四", "王五", "2017年01月10日"):
        assert text in notes, (text, notes)


def test_toc_titles_and_page_numbers(volume):
    text = _text(volume.pdf_path, 2)
    assert "卷内目录" in text
    for title in TITLES:
        assert title in text.replace("\n", ""), (title, text)
    assert _toc_page_numbers(volume.pdf_path, 2) == {"1": "1", "2": "2", "3": "4-6"}


def test_stamped_page_numbers(volume, items):
    """Every item page carries its 页号 top right; the page stamped 4 is item 3's first page."""
    stamped = {}
    for page in range(1, volume.page_count + 1):
        words, width, _ = _words(volume.pdf_path, page)
        corner = [w[0] for w in words if w[0].isdigit() and w[3] > width - 40 and w[4] < 70]
        if corner:
            stamped[corner[0]] = page
    assert stamped == {str(n): n + 2 for n in range(1, 7)}  # cover + 1 目录 page before
    page = stamped["4"]
    assert page == volume.physical_first_page[2]
    got = _text(volume.pdf_path, page).split()
    got.remove("4")
    assert got == _text(items[2], 1).split()


def test_outline_and_page_labels(volume):
    with pikepdf.open(volume.pdf_path) as pdf:
        with pdf.open_outline() as outline:
            got = [(item.title, pdf.pages.index(pikepdf.Page(item.destination[0])))
                   for item in outline.root]
        labels = list(pdf.Root.PageLabels.Nums)
    assert got == [("案卷封面", 0), ("卷内目录", 1), (f"1 {TITLES[0]}", 2), (f"2 {TITLES[1]}", 3),
                   (f"3 {TITLES[2]}", 5), ("卷内备考表", 8)]
    assert labels[4:6] == [2, pikepdf.Dictionary(S=pikepdf.Name.D)]  # 页号 1 on physical page 3


def test_fonts_embedded_with_unicode(volume):
    rows = subprocess.run(["pdffonts", str(volume.pdf_path)], capture_output=True, check=True,
                          text=True).stdout.splitlines()[2:]
    assert any("UMing" in row or "Noto" in row for row in rows), rows
    for row in rows:
        emb, _, uni = row.split()[-5:-2]
        assert emb == "yes" and uni == "yes", row


def test_metadata(volume):
    with pikepdf.open(volume.pdf_path) as pdf:
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == "2" and meta["pdfaid:conformance"] == "B"
        assert meta["dc:identifier"] == CODE
        assert meta["dc:title"] == "石门村2016年村务管理文件材料"
        assert list(meta["dc:creator"]) == ["某某镇人民政府"]
        assert str(pdf.docinfo["/Title"]) == meta["dc:title"]
        assert str(pdf.docinfo["/Author"]) == "某某镇人民政府"
        assert len(pdf.trailer.ID) == 2 and not pdf.is_encrypted
        intents = [i for i in pdf.Root.OutputIntents if i.S == pikepdf.Name.GTS_PDFA1]
        assert len(intents) == 1


def test_many_entries_continue_on_more_toc_pages(items, tmp_path):
    vol = build_volume_pdf(_sheet(items, 40), tmp_path / "big.pdf",
                           page_number_position="bottom-right")
    toc_pages = vol.physical_first_page[0] - 2
    assert toc_pages >= 2
    assert vol.numbered_pages == 79  # 13 rounds of 1+2+3 pages, then 1
    assert vol.page_count == 1 + toc_pages + vol.numbered_pages + 1
    assert validate_pdfa(vol.pdf_path) == []
    rows: dict[str, str] = {}
    for page in range(2, 2 + toc_pages):
        rows.update(_toc_page_numbers(vol.pdf_path, page))
    assert "卷内目录（续）" in _text(vol.pdf_path, 3)
    assert len(rows) == 40
    assert [rows[str(k + 1)] for k in range(39)] == [str(a) for a, _ in vol.item_pages[:39]]
    assert rows["40"] == "79"  # last item: one page, 起止 is that page
    words, width, height = _words(vol.pdf_path, vol.physical_first_page[2])
    assert any(w[0] == "4" and w[3] > width - 40 and w[2] > height - 70 for w in words), words


def test_inconsistent_sheet_refused(items, tmp_path):
    sheet = _sheet(items)
    wrong = replace(sheet, entries=(replace(sheet.entries[0], first_page=1, last_page=2),
                                    *sheet.entries[1:]))
    with pytest.raises(ValueError, match="页号"):
        build_volume_pdf(wrong, tmp_path / "a.pdf")
    with pytest.raises(ValueError, match="page_count"):
        build_volume_pdf(replace(sheet, page_count=7), tmp_path / "b.pdf")
    with pytest.raises(ValueError, match="page_number_position"):
        build_volume_pdf(sheet, tmp_path / "c.pdf", page_number_position="top-left")
    with pytest.raises(ValueError, match="YYYYMMDD"):
        build_volume_pdf(replace(sheet, start_date="2016-03-01"), tmp_path / "d.pdf")
    # a character no installed font has (CJK Ext H) would print as an empty box
    with pytest.raises(ValueError, match="not in any CJK font"):
        build_volume_pdf(replace(sheet, title="石门村\U00031350户"), tmp_path / "e.pdf")
    assert not list(tmp_path.iterdir())


def test_font_collection_face():
    """A .ttc given as font_path is used with its Simplified-Chinese face."""
    noto = Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")
    if not noto.exists():
        pytest.skip("Noto Serif CJK not installed")
    assert cjk_fonts(noto)[0] == (noto, 2)  # JP, KR, SC, TC, HK
    assert cjk_fonts()[0][0].suffix == ".ttc"


# ───────────────────────────── labels ─────────────────────────────


def test_label_sheet_qr_codes(tmp_path):
    tokens = ["Vq3x9TzK2mPa", "b7_Lw-0Qe4Rc", "N5sXy2Hg8Jd1"]
    labels = [Label(f"Z109-WS·2016-D30-{k + 1:04d}", f"石门村2016年村务管理文件材料第{k + 1}卷",
                    label_payload(token), ("年度：2016", "保管期限：定期30年"))
              for k, token in enumerate(tokens)]
    out = build_label_sheet(labels, tmp_path / "labels.pdf")
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(out), "-"], capture_output=True,
                          check=True).stdout.decode()
    for label in labels:
        assert label.archival_code in text
    subprocess.run(["pdftoppm", "-r", "200", "-gray", "-png", "-singlefile", str(out),
                    str(tmp_path / "page")], check=True)
    page = cv2.imread(str(tmp_path / "page.png"), cv2.IMREAD_GRAYSCALE)
    # One crop per label cell: detectAndDecodeMulti on the whole sheet misses codes now
    # and then (OpenCV 5), and the crop also proves each code sits on its own label.
    px = 200 / 25.4
    detector = cv2.QRCodeDetector()
    for k, token in enumerate(tokens):
        row, col = divmod(k, COLUMNS)
        x, y = MARGIN + col * LABEL_W, MARGIN + row * LABEL_H
        crop = page[int(y * px):int((y + LABEL_H) * px), int(x * px):int((x + LABEL_W) * px)]
        decoded, _, _ = detector.detectAndDecode(np.ascontiguousarray(crop))
        assert decoded == f"DANGAN-V:{token}"
        assert parse_label_payload(decoded) == token
        assert not HAN.search(decoded)


@pytest.mark.parametrize("payload", [
    "DANGAN-V:王秀英",
    "DANGAN-V:110101199003071234",  # 18-digit 身份证号
    "DANGAN-V:11010119900307123X",
    "DANGAN-V:110101900307123",  # 15-digit legacy ID
    "DANGAN-V:13812345678",  # mobile number
    "tel 138 1234 5678",
])
def test_personal_payload_refused(payload, tmp_path):
    with pytest.raises(ValueError):
        build_label_sheet([Label(CODE, "标题", payload)], tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()


def test_payload_format():
    assert label_payload("Ab_9-x") == "DANGAN-V:Ab_9-x"
    for bad in ("", None, "王秀英", "a b", "x" * 65, "A1B13812345678C"):
        with pytest.raises(ValueError):
            label_payload(bad)
    assert parse_label_payload(" DANGAN-V:Ab_9-x\n") == "Ab_9-x"
    assert parse_label_payload("https://example.org/") is None
    assert parse_label_payload("DANGAN-V:王") is None
