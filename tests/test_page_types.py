"""Every page type a township archive holds, read through the product's page path.

Each page is rendered from real Chinese text (tests/data), degraded like a scan, then goes
through exactly what a worker does: imaging (orientation, deskew, crop) → OCR copy (seal
suppressed) → :class:`PageReader` (engine, vertical columns, table rows) → PDF/A text layer.
The assertions name the strings a clerk would search for: a name in a form cell, an ID
number, a phrase under a seal, a vertical column. CER limits are the issue's targets with
headroom for the smaller test renders; ``make bench-ocr`` measures the real figures.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.archive import build_pdfa, extract_text
from pipeline.domain import PageSource
from pipeline.text import normalize
from pipeline.imaging import ocr_copy, prepare_image, prepare_page_pixels
from pipeline.ocr import PageReader, get_engine

try:
    from tests import scanfactory as sf
except ImportError:  # tests/ itself on sys.path
    import scanfactory as sf  # type: ignore[no-redef]


def bgr(img: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(img.convert("RGB"))[..., ::-1])


@pytest.fixture(scope="module")
def reader() -> PageReader:
    return PageReader(get_engine("rapidocr"))


def read(reader: PageReader, img: Image.Image):
    working, rotation, angle = prepare_image(bgr(img))
    suppressed, _ = ocr_copy(working)
    return reader.read(suppressed), rotation, angle


def test_vertical_page_columns_right_to_left(reader) -> None:
    img = sf.render_page(sf.body_paragraphs(7), seed=7, dpi=200, vertical=True, noise_sigma=5, jpeg_quality=75)
    columns = img.info["gt"].splitlines()
    page, rotation, _ = read(reader, img)
    assert rotation == 0
    assert sf.cer(img.info["gt"], page.text) <= 0.03, page.text
    assert all(line.vertical for line in page.lines)
    # A whole 30+ character column comes out as one line, in order.
    longest = max(columns, key=len)
    assert len(longest) >= 30
    assert any(sf.cer(longest, line.text) <= 0.05 for line in page.lines), longest
    lefts = [min(p[0] for p in line.box) for line in page.lines if len(line.text) > 5]
    assert lefts == sorted(lefts, reverse=True)  # right to left


def test_traditional_vertical_page_as_search_sees_it(reader) -> None:
    """Traditional 竖排: the characters are read; what is lost is the centred TC punctuation
    (、。 in the middle of a cell), and 脫/脱 variants, which the index folds. Measured
    as the index sees text (normalised, punctuation aside); raw CER is in make bench-ocr."""
    img = sf.render_page(sf.body_paragraphs(8, traditional=True), seed=8, dpi=200, vertical=True, traditional=True,
                         font="ming", noise_sigma=4)
    page, _, _ = read(reader, img)

    def searchable(text: str) -> str:
        return re.sub(r"[^\w]", "", normalize(text))

    assert sf.cer(searchable(img.info["gt"]), searchable(page.text)) <= 0.02, page.text


def test_form_label_and_value_on_one_line(reader) -> None:
    fields = sf.default_form_fields(31)
    img = sf.render_form(fields, seed=31, dpi=200, seal=True, yellow=True, skew_deg=1.5, noise_sigma=6, jpeg_quality=50)
    page, _, _ = read(reader, img)
    lines = [sf.squash(line.text) for line in page.lines]
    name = fields["户主姓名"]
    assert "户主姓名" + name in lines, page.text  # the label→value pair is one line
    id_number = next(v for v in fields.values() if re.fullmatch(r"\d{17}[\dX]", v))
    assert any(id_number in line for line in lines), page.text  # boxed digits joined up
    assert any(line.text.split()[0] == "公民身份号码" and id_number in line.text for line in page.lines)
    # Bag-of-characters error (order-free): the forms target is 5 %.
    assert sf.bag_error(img.info["gt"], page.text) <= 0.05, page.text


def test_phrase_under_red_seal(reader) -> None:
    paragraphs = sf.body_paragraphs(41)
    img = sf.render_page(paragraphs, seed=41, dpi=200, seal=True, yellow=True, noise_sigma=7, jpeg_quality=50,
                         skew_deg=-0.8)
    gt_lines = img.info["gt"].splitlines()
    page, _, _ = read(reader, img)
    assert sf.cer(img.info["gt"], page.text) <= 0.03, page.text
    # The seal is stamped over the end of the last line (where a signature block sits).
    under_seal = sf.squash(gt_lines[-1])[-8:]
    assert under_seal in sf.squash(page.text), (under_seal, page.text[-200:])


def test_seal_kept_in_delivered_image() -> None:
    img = sf.render_page(sf.body_paragraphs(41), seed=41, dpi=150, seal=True)
    working, _, _ = prepare_image(bgr(img))
    suppressed, share = ocr_copy(working)
    assert share > 0
    b, g, r = (working[..., i].astype(int) for i in range(3))
    assert ((r - g > 80) & (r - b > 80)).sum() > 1000  # the delivered working copy still shows the seal
    assert suppressed is not working


@pytest.mark.parametrize("turned", [90, 180, 270])
def test_turned_pages_are_read_upright(reader, turned: int) -> None:
    img = sf.render_page(sf.body_paragraphs(50 + turned), seed=50 + turned, dpi=200, rotate=turned, noise_sigma=4,
                         jpeg_quality=70)
    page, rotation, _ = read(reader, img)
    assert rotation == (360 - turned) % 360
    assert sf.cer(img.info["gt"], page.text) <= 0.02, page.text


@pytest.mark.parametrize("kind", ["traditional", "200dpi_kai", "hei_skewed"])
def test_body_text(reader, kind: str) -> None:
    if kind == "traditional":
        img = sf.render_page(sf.body_paragraphs(61, traditional=True), seed=61, dpi=300, traditional=True,
                             font="ming", noise_sigma=5, jpeg_quality=75)
    elif kind == "200dpi_kai":
        img = sf.render_page(sf.body_paragraphs(62), seed=62, dpi=200, font="kai", noise_sigma=5, jpeg_quality=70)
    else:
        img = sf.render_page(sf.body_paragraphs(63), seed=63, dpi=200, font="sans", skew_deg=-7.5, noise_sigma=5)
    page, _, angle = read(reader, img)
    assert sf.cer(img.info["gt"], page.text) <= 0.02, page.text
    if kind == "hei_skewed":
        assert angle == pytest.approx(7.5, abs=0.3)


def test_blank_page_reads_nothing(reader) -> None:
    img = sf.render_page([], seed=70, dpi=150, noise_sigma=4, yellow=True)
    page, _, _ = read(reader, img)
    assert page.text.strip() == ""
    assert not reader.needs_review(page)


def _pdf_text_of(reader: PageReader, img: Image.Image, tmp_path: Path, name: str) -> tuple[str, str]:
    """Build the item PDF/A from one rendered page exactly as the worker does; (OCR text, pdftotext)."""
    master = tmp_path / f"{name}.png"
    img.save(master, dpi=img.info["dpi"])
    source = PageSource(index=0, master=master, source_sha256=name * 8, frame=0, dpi=img.info["dpi"][0], lossless=True)
    prepared, pixels = prepare_page_pixels(source, tmp_path / "work")
    ocr = reader.read(ocr_copy(pixels)[0])
    item = build_pdfa([(prepared, ocr)], tmp_path / f"{name}.pdf", title=name, archival_code=f"Z001-{name}",
                      author="test", work_dir=tmp_path / "staging")
    return ocr.text, extract_text(item.pdf_path)


def test_pdf_text_layer_of_vertical_page_in_reading_order(reader, tmp_path: Path) -> None:
    img = sf.render_page(sf.body_paragraphs(9), seed=9, dpi=200, vertical=True, noise_sigma=3)
    ocr_text, pdf_text = _pdf_text_of(reader, img, tmp_path, "vertical")
    # pdftotext gives the columns right to left, each top to bottom: the OCR reading order.
    assert sf.cer(ocr_text, pdf_text) <= 0.01, pdf_text[:300]
    assert sf.cer(img.info["gt"], pdf_text) <= 0.03


def test_pdf_text_layer_of_form_keeps_rows(reader, tmp_path: Path) -> None:
    fields = sf.default_form_fields(32)
    img = sf.render_form(fields, seed=32, dpi=200, noise_sigma=4)
    ocr_text, pdf_text = _pdf_text_of(reader, img, tmp_path, "form")
    # pdftotext puts a line break at the wide gap between the label and value cells, but the
    # order is the OCR reading order: each label is followed by its own value.
    assert sf.cer(ocr_text, pdf_text) <= 0.01, pdf_text
    flat = sf.squash(pdf_text)
    for label in ("户主姓名", "家庭住址", "公民身份号码"):
        assert label + sf.squash(fields[label]) in flat, (label, pdf_text)
