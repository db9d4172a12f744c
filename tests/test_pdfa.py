"""PDF/A-2b of an item (件): images, text layer, metadata, validation.

Page images are rendered here with PIL and Noto Sans CJK; the OcrPage values
are built from where the characters were drawn (no OCR runs in this test).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from pipeline.archive import PdfaError, build_pdfa, extract_text, validate_pdfa
from pipeline.text import han_space_runs
from pipeline.domain import OcrLine, OcrPage, OcrWord, PageSource, PreparedPage

FONT_PATH = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SC_INDEX = 2  # NotoSansCJK-Regular.ttc: 0 JP, 1 KR, 2 SC, 3 TC
TITLE = "关于召开村民代表大会的通知"
CODE = "Z109-WS·2011-Y-BGS-0001"
NAME = "张三丰"
ID_NUMBER = "110101199003071234"

pytestmark = pytest.mark.skipif(not FONT_PATH.exists(), reason="fonts-noto-cjk not installed")

Box = tuple[float, float, float, float]


@dataclass
class Drawn:
    prepared: PreparedPage
    ocr: OcrPage
    chars: dict[str, Box]  # first occurrence of each character, working pixels


def _render(
    path: Path,
    *,
    size: tuple[int, int],
    dpi: int,
    mode: str,
    fmt: str,
    lines: list[tuple[str, int, int]],  # text, x, y (top-left, pixels)
    vertical: list[tuple[str, int, int]] = (),
    font_px: int = 40,
) -> Drawn:
    font = ImageFont.truetype(str(FONT_PATH), font_px, index=SC_INDEX)
    ascent, descent = font.getmetrics()
    img = Image.new(mode, size, "white")
    draw = ImageDraw.Draw(img)
    ink = (20, 20, 90) if mode == "RGB" else 0
    chars: dict[str, Box] = {}
    ocr_lines: list[OcrLine] = []

    def quad(l, t, r, b):
        return ((l, t), (r, t), (r, b), (l, b))

    for text, x0, y in lines:
        x = float(x0)
        words = []
        for ch in text:
            adv = font.getlength(ch)
            draw.text((x, y), ch, font=font, fill=ink)
            box = (x, float(y), x + adv, float(y + ascent + descent))
            chars.setdefault(ch, box)
            words.append(OcrWord(ch, 0.98, quad(*box)))
            x += adv
        ocr_lines.append(OcrLine(text, 0.98, quad(x0, y, x, y + ascent + descent), tuple(words)))

    for text, x, y0 in vertical:  # 竖排: one column, top to bottom
        y = float(y0)
        words = []
        for ch in text:
            draw.text((x, y), ch, font=font, fill=ink)
            box = (float(x), y, float(x + font_px), y + font_px)
            chars.setdefault(ch, box)
            words.append(OcrWord(ch, 0.97, quad(*box)))
            y += font_px + 4
        ocr_lines.append(
            OcrLine(text, 0.97, quad(x, y0, x + font_px, y), tuple(words), vertical=True)
        )

    if fmt == "JPEG":
        img.save(path, "JPEG", quality=80, dpi=(dpi, dpi))
    else:
        img.save(path, "PNG", dpi=(dpi, dpi))
    source = PageSource(0, path, "0" * 64, 0, dpi, fmt != "JPEG")
    prepared = PreparedPage(
        source=source, working=path, width=size[0], height=size[1], dpi=dpi,
        colour_mode="color" if mode == "RGB" else "gray", rotation=0, deskew_angle=0.0,
    )
    ocr = OcrPage("test-drawn", size[0], size[1], tuple(ocr_lines))
    return Drawn(prepared, ocr, chars)


def _pages(tmp: Path) -> list[Drawn]:
    page1 = _render(
        tmp / "p1.jpg", size=(1000, 1300), dpi=150, mode="RGB", fmt="JPEG",
        lines=[
            (TITLE, 80, 90),
            (f"户主姓名：{NAME}", 80, 190),
            ("会议时间：2011年3月5日上午9时", 80, 260),
            ("档", 860, 1180),  # a lone character at a known place
        ],
    )
    page2 = _render(
        tmp / "p2.png", size=(1100, 1400), dpi=200, mode="L", fmt="PNG",
        lines=[
            ("土地承包经营权证登记表", 80, 90),
            (f"身份证号：{ID_NUMBER}", 80, 170),
            ("承包方代表签字（盖章）", 80, 250),
        ],
        vertical=[("中华人民共和国", 980, 400)],
    )
    return [page1, page2]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pdfa")
    pages = _pages(tmp)
    out = tmp / "out" / "item.pdf"
    item = build_pdfa(
        [(d.prepared, d.ocr) for d in pages], out,
        title=TITLE, archival_code=CODE, author="某镇档案室", keywords="会议 通知",
        work_dir=tmp / "work",
    )
    return item, pages


def _words_bbox(pdf: Path) -> list[tuple[int, str, Box, float]]:
    """(page index, word, (xMin, yMin, xMax, yMax) in pt, page height)."""
    xml = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True,
                         check=True).stdout.decode("utf-8")
    out = []
    for i, page in enumerate(re.findall(r"<page (.*?)</page>", xml, re.S)):
        height = float(re.search(r'height="([\d.]+)"', page).group(1))
        for m in re.finditer(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" '
                             r'yMax="([\d.]+)">(.*?)</word>', page):
            out.append((i, m.group(5), tuple(float(m.group(k)) for k in range(1, 5)), height))
    return out


# ───────────────────────────── the produced file ─────────────────────────────


def test_valid_pdfa(built):
    item, _ = built
    assert item.pdf_path.is_file()
    assert validate_pdfa(item.pdf_path) == []
    assert validate_pdfa(item.pdf_path, expected_pages=2) == []
    assert item.page_count == 2
    assert item.archival_code == CODE
    assert item.pdf_sha256 == hashlib.sha256(item.pdf_path.read_bytes()).hexdigest()
    # atomic write leaves no temp files next to the output
    assert sorted(p.name for p in item.pdf_path.parent.iterdir()) == ["item.pdf"]


def test_text_extractable_without_han_spaces(built):
    item, pages = built
    text = extract_text(item.pdf_path)
    assert han_space_runs(text) == 0, text
    for page in pages:
        for line in page.ocr.lines:
            assert line.text in text, (line.text, text)
    assert NAME in text
    assert ID_NUMBER in text
    # layout mode too (padding must not split Han runs drawn without gaps)
    assert han_space_runs(extract_text(item.pdf_path, layout=True)) == 0


def test_fonts_embedded(built):
    item, _ = built
    out = subprocess.run(["pdffonts", str(item.pdf_path)], capture_output=True,
                         check=True, text=True).stdout.splitlines()
    rows = out[2:]
    assert rows, out
    for row in rows:
        # columns: name type encoding emb sub uni object ID — read from the right
        emb, sub, uni = row.split()[-5:-2]
        assert emb == "yes", row
        assert uni == "yes", row


def _page_images(pdf: pikepdf.Pdf, index: int) -> list[pikepdf.Stream]:
    xobjects = pdf.pages[index].Resources.XObject
    return [xobjects[k] for k in xobjects.keys() if xobjects[k].Subtype == pikepdf.Name.Image]


def test_jpeg_page_passes_through(built):
    item, pages = built
    with pikepdf.open(item.pdf_path) as pdf:
        images = _page_images(pdf, 0)
        assert len(images) == 1
        assert images[0].Filter == pikepdf.Name.DCTDecode
        assert images[0].read_raw_bytes() == pages[0].prepared.working.read_bytes()


def test_png_page_lossless(built):
    item, pages = built
    with pikepdf.open(item.pdf_path) as pdf:
        images = _page_images(pdf, 1)
        assert len(images) == 1
        assert images[0].get("/Filter") != pikepdf.Name.DCTDecode
        got = np.asarray(pikepdf.PdfImage(images[0]).as_pil_image().convert("L"))
    want = np.asarray(Image.open(pages[1].prepared.working).convert("L"))
    assert got.shape == want.shape
    assert np.array_equal(got, want)


def test_page_size_follows_dpi(built):
    item, pages = built
    with pikepdf.open(item.pdf_path) as pdf:
        for page, drawn in zip(pdf.pages, pages):
            _, _, w, h = (float(v) for v in page.MediaBox)
            p = drawn.prepared
            assert w == pytest.approx(p.width * 72 / p.dpi, abs=0.5)
            assert h == pytest.approx(p.height * 72 / p.dpi, abs=0.5)


def _to_pt(box: Box, dpi: int) -> Box:
    return tuple(v * 72 / dpi for v in box)


def _assert_box_close(got: Box, want: Box, what) -> None:
    """x extent within 1.5 pt; vertical centre within 3 pt (pdftotext derives
    the word height from the font's ascent/descent, not from the ink)."""
    assert got[0] == pytest.approx(want[0], abs=1.5), (what, got, want)
    assert got[2] == pytest.approx(want[2], abs=1.5), (what, got, want)
    assert (got[1] + got[3]) / 2 == pytest.approx((want[1] + want[3]) / 2, abs=3.0), (
        what, got, want)


def test_text_positions(built):
    item, pages = built
    words = _words_bbox(item.pdf_path)

    # a lone Han character, page 1
    lone = [w for w in words if w[0] == 0 and w[1] == "档"]
    assert len(lone) == 1, words
    _assert_box_close(lone[0][2], _to_pt(pages[0].chars["档"], pages[0].prepared.dpi), "档")

    # a whole horizontal line (one pdftotext word: no spaces inside)
    title = [w for w in words if w[0] == 0 and w[1] == TITLE]
    assert len(title) == 1, words
    first, last = pages[0].chars[TITLE[0]], pages[0].chars[TITLE[-1]]
    want = _to_pt((first[0], first[1], last[2], last[3]), pages[0].prepared.dpi)
    _assert_box_close(title[0][2], want, TITLE)

    # the ID number: one word with "身份证号：" (mixed run), spanning its line
    idw = [w for w in words if w[0] == 1 and ID_NUMBER in w[1]]
    assert len(idw) == 1, words
    line = next(ln for ln in pages[1].ocr.lines if ID_NUMBER in ln.text)
    want = _to_pt((line.box[0][0], line.box[0][1], line.box[2][0], line.box[2][1]),
                  pages[1].prepared.dpi)
    _assert_box_close(idw[0][2], want, ID_NUMBER)


def test_character_positions_pdfium(built):
    """Each character of the name lies where it was drawn (per-character boxes)."""
    pdfium = pytest.importorskip("pypdfium2")
    item, pages = built
    doc = pdfium.PdfDocument(str(item.pdf_path))
    try:
        page = doc[0]
        height = page.get_height()
        textpage = page.get_textpage()
        n = textpage.count_chars()
        text = textpage.get_text_range(0, n)
        start = text.index(NAME)
        dpi = pages[0].prepared.dpi
        for k, ch in enumerate(NAME):
            left, bottom, right, top = textpage.get_charbox(start + k)
            dl, dt, dr, db = _to_pt(pages[0].chars[ch], dpi)
            centre_x, centre_y = (left + right) / 2, height - (bottom + top) / 2
            assert dl <= centre_x <= dr, (ch, (left, right), (dl, dr))
            assert dt <= centre_y <= db, (ch, (bottom, top), (dt, db))
    finally:
        doc.close()


def test_vertical_column_reads_top_down(built):
    item, _ = built
    assert "中华人民共和国" in extract_text(item.pdf_path)


def test_metadata(built):
    item, _ = built
    with pikepdf.open(item.pdf_path) as pdf:
        meta = pdf.open_metadata()
        assert meta["dc:title"] == TITLE
        assert meta["dc:identifier"] == CODE
        assert meta["pdfaid:part"] == "2"
        assert meta["pdfaid:conformance"] == "B"
        assert str(pdf.docinfo["/Title"]) == TITLE
        assert str(pdf.docinfo["/Author"]) == "某镇档案室"


def test_title_with_characters_beyond_the_bmp_is_kept_whole(tmp_path):
    """A title from a file name holding a rare name character (CJK Extension B) or an emoji:
    OCRmyPDF refuses such metadata (the fuzzed inbox found it), the item must not fail, and
    the PDF/A carries the title as it is."""
    pages = _pages(tmp_path)[:1]
    title, author = "[𠀀𪚥龘档案📁084.jpg]", "𠀀镇档案室"
    item = build_pdfa([(d.prepared, d.ocr) for d in pages], tmp_path / "rare.pdf", title=title,
                      archival_code=CODE, author=author)
    assert validate_pdfa(item.pdf_path) == []
    with pikepdf.open(item.pdf_path) as pdf:
        assert pdf.open_metadata()["dc:title"] == title and str(pdf.docinfo["/Title"]) == title
        assert str(pdf.docinfo["/Author"]) == author


# ───────────────────────────── Ghostscript path ─────────────────────────────


def test_ghostscript_backend_is_valid_or_refused(tmp_path):
    """Ghostscript 10.0.0 (Debian 12) rewrites the CJK CFF font with a CMap
    whose CIDSystemInfo does not match (ISO 19005-2 6.2.11.3.1). Whatever the
    Ghostscript version, build_pdfa must either deliver a file that passes
    every check or raise PdfaError and write nothing."""
    pages = _pages(tmp_path)
    out = tmp_path / "gs.pdf"
    try:
        item = build_pdfa([(d.prepared, d.ocr) for d in pages], out, title=TITLE,
                          archival_code=CODE, backend="ghostscript")
    except PdfaError as e:
        assert "ghostscript" in str(e)
        assert not out.exists()
        return
    assert validate_pdfa(item.pdf_path) == []
    text = extract_text(item.pdf_path)
    assert han_space_runs(text) == 0 and ID_NUMBER in text and NAME in text
    with pikepdf.open(item.pdf_path) as pdf:
        assert _page_images(pdf, 0)[0].read_raw_bytes() == pages[0].prepared.working.read_bytes()


# ───────────────────────────── negative cases ─────────────────────────────


def test_validate_flags_plain_pdf(tmp_path):
    import img2pdf

    img = tmp_path / "x.png"
    Image.new("L", (200, 200), "white").save(img)
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(img2pdf.convert(str(img)))
    joined = " ".join(validate_pdfa(plain))
    assert "XMP" in joined
    assert "OutputIntent" in joined
    # with XMP, but no PDF/A declaration
    with pikepdf.open(plain, allow_overwriting_input=True) as pdf:
        with pdf.open_metadata() as meta:
            meta["dc:title"] = "x"
        pdf.save(plain)
    joined = " ".join(validate_pdfa(plain))
    assert "pdfaid:part" in joined and "pdfaid:conformance" in joined


def test_validate_flags_encrypted(built, tmp_path):
    item, _ = built
    open_enc = tmp_path / "enc-open.pdf"
    locked = tmp_path / "enc-locked.pdf"
    with pikepdf.open(item.pdf_path) as pdf:
        pdf.save(open_enc, encryption=pikepdf.Encryption(owner="o", user="", R=6))
        pdf.save(locked, encryption=pikepdf.Encryption(owner="o", user="u", R=6))
    assert any("encrypted" in i for i in validate_pdfa(open_enc))
    assert any("encrypted" in i for i in validate_pdfa(locked))


def test_validate_flags_javascript_and_unembedded_font(built, tmp_path):
    item, _ = built
    js = tmp_path / "js.pdf"
    font = tmp_path / "font.pdf"
    with pikepdf.open(item.pdf_path) as pdf:
        pdf.Root.OpenAction = pdf.make_indirect(
            pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
        )
        pdf.save(js)
    with pikepdf.open(item.pdf_path) as pdf:
        res = pdf.pages[0].Resources
        res.Font = res.get("/Font", pikepdf.Dictionary())
        res.Font.Fx = pdf.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica))
        pdf.save(font)
    assert any("JavaScript" in i for i in validate_pdfa(js))
    assert any("not embedded" in i and "Helvetica" in i for i in validate_pdfa(font))


def test_group_words_for_renderer():
    """Per-character CJK words stay separate; a run with Latin or digits is one
    word (the fpdf2 renderer puts a space after every non-CJK word); whitespace
    in the line text keeps words apart."""
    from pipeline.archive.ocrmypdf_plugin import group_words

    def line(text):
        words, x = [], 0.0
        for ch in text:
            if ch != " ":
                words.append(OcrWord(ch, 0.9, ((x, 0), (x + 10, 0), (x + 10, 12), (x, 12))))
            x += 10
        return OcrLine(text, 0.9, ((0, 0), (x, 0), (x, 12), (0, 12)), tuple(words))

    assert [t for t, _ in group_words(line("土地合同"))] == ["土", "地", "合", "同"]
    assert [t for t, _ in group_words(line("证号：1101"))] == ["证号：1101"]
    assert [t for t, _ in group_words(line("3月5日 No. 12"))] == ["3月5日", "No.", "12"]
    box = dict(group_words(line("证号：1101")))["证号：1101"]
    assert box == (0, 0, 70, 12)
    # no word boxes: the line itself is the word
    bare = OcrLine("会议记录", 0.9, ((5, 5), (45, 5), (45, 17), (5, 17)))
    assert group_words(bare) == [("会议记录", (5, 5, 45, 17))]


def test_han_space_runs():
    assert han_space_runs("中 国") == 1
    assert han_space_runs("中　国 人") == 2  # ideographic space counts
    assert han_space_runs("中国\n人民") == 0  # line breaks do not
    assert han_space_runs("号 110 年") == 0  # only Han–Han pairs
    assert han_space_runs("") == 0


def test_build_errors(tmp_path):
    pages = _pages(tmp_path)
    pairs = [(d.prepared, d.ocr) for d in pages]
    with pytest.raises(PdfaError):
        build_pdfa([], tmp_path / "a.pdf", title=TITLE, archival_code=CODE)
    missing = PreparedPage(**{**pages[0].prepared.__dict__, "working": tmp_path / "nope.jpg"})
    with pytest.raises(PdfaError, match="missing"):
        build_pdfa([(missing, pages[0].ocr)], tmp_path / "b.pdf", title=TITLE, archival_code=CODE)
    wrong = PreparedPage(**{**pages[0].prepared.__dict__, "width": 999})
    with pytest.raises(PdfaError, match="999"):
        build_pdfa([(wrong, pages[0].ocr)], tmp_path / "c.pdf", title=TITLE, archival_code=CODE)
    with pytest.raises(PdfaError):
        build_pdfa(pairs, tmp_path / "d.pdf", title=TITLE, archival_code=" ")
    assert not any(tmp_path.glob("[abcd].pdf"))
