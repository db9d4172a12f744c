"""OCR engines on rendered, degraded Chinese scans (real models, no mocks).

Pages are 150 dpi to keep the run short; the thresholds are loose enough for that
resolution but far below what a broken engine, wrong reading order or a missing
orientation step produce (50–100 % CER).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import dangan_env, run_cli
from pipeline.domain import OcrPage, quad_bounds
from pipeline.config.settings import ImagingSettings
from pipeline.imaging import prepare_image
from pipeline.ocr import PageReader, available_engines, get_engine, order, read_page
from pipeline.ocr.base import OcrEngine

try:
    from tests import scanfactory as sf
except ImportError:  # tests/ itself on sys.path
    import scanfactory as sf  # type: ignore[no-redef]

DPI = 150
CJK = re.compile(r"[\u4e00-\u9fff]")


def bgr(img: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(img.convert("RGB"))[..., ::-1])


def assert_well_formed(page: OcrPage, width: int, height: int) -> None:
    """Every line and word has a box inside the page and a confidence in 0..1."""
    assert (page.width, page.height) == (width, height)
    assert page.lines
    for line in page.lines:
        assert line.text.strip()
        assert 0.0 <= line.confidence <= 1.0
        assert line.words, f"no word boxes for {line.text!r}"
        for item in (line, *line.words):
            left, top, right, bottom = quad_bounds(item.box)
            assert -2 <= left < right <= width + 2 and -2 <= top < bottom <= height + 2, (item.text, item.box)
        for word in line.words:
            assert 0.0 <= word.confidence <= 1.0
        assert sf.squash("".join(w.text for w in line.words)) == sf.squash(line.text)


@pytest.fixture(scope="module")
def form_fields() -> dict[str, str]:
    return sf.default_form_fields(21)


@pytest.fixture(scope="module")
def sealed_form(form_fields: dict[str, str]) -> tuple[Image.Image, np.ndarray]:
    """A 建档立卡 sheet: red seal over the table, yellowed, skewed, noisy, JPEG quality 40."""
    page = sf.render_form(form_fields, seed=21, dpi=DPI, seal=True, yellow=True, skew_deg=1.2, noise_sigma=7, jpeg_quality=40)
    working, _, _ = prepare_image(bgr(page))
    return page, working


@pytest.fixture(scope="module")
def rapid_form(sealed_form) -> OcrPage:
    return get_engine("rapidocr").recognize(sealed_form[1])


def test_registry() -> None:
    assert list(available_engines()) == ["rapidocr", "tesseract"]
    engine = get_engine()
    assert isinstance(engine, OcrEngine) and engine.name == "rapidocr"
    assert get_engine("rapidocr") is engine  # models load once per process
    assert get_engine("tesseract") is get_engine("Tesseract")
    with pytest.raises(ValueError, match="rapidocr.*tesseract"):
        get_engine("paddle")
    assert "PP-OCRv6_small" in engine.version() and "3.10.0" in engine.version()


def test_rapidocr_sealed_form_finds_name_and_id(rapid_form: OcrPage, sealed_form, form_fields) -> None:
    page, working = sealed_form
    assert rapid_form.engine.startswith("rapidocr 3.10.0 PP-OCRv6_small")
    assert rapid_form.seconds > 0
    error = sf.cer(page.info["gt"], rapid_form.text)
    assert error < 0.10, (error, rapid_form.text)
    text = sf.squash(rapid_form.text)
    name = form_fields["户主姓名"]
    assert len(name) == 3 and name in text
    id_number = form_fields["公民身份号码"]
    assert re.fullmatch(r"\d{17}[\dX]", id_number) and id_number in text
    # Reading order: each label comes before its value, rows top to bottom.
    positions = [text.find(sf.squash(s)) for s in ("户主姓名", name, "公民身份号码", id_number, "家庭住址")]
    assert positions == sorted(positions) and min(positions) >= 0


def test_rapidocr_boxes_inside_page(rapid_form: OcrPage, sealed_form) -> None:
    working = sealed_form[1]
    assert_well_formed(rapid_form, working.shape[1], working.shape[0])
    assert 0.5 < rapid_form.confidence <= 1.0


def test_rapidocr_degraded_body_page_cer() -> None:
    page = sf.render_page(
        sf.body_paragraphs(22)[:3], seed=22, dpi=DPI, seal=True, yellow=True, skew_deg=-2.0, noise_sigma=8, jpeg_quality=40,
    )
    working, _, angle = prepare_image(bgr(page))
    assert angle == pytest.approx(2.0, abs=0.5)
    result = get_engine("rapidocr").recognize(working)
    error = sf.cer(page.info["gt"], result.text)
    assert error < 0.10, (error, result.text)
    assert_well_formed(result, working.shape[1], working.shape[0])


def test_tesseract_returns_chinese_with_boxes(sealed_form, form_fields) -> None:
    page, working = sealed_form
    result = get_engine("tesseract").recognize(working, languages="chi_sim+chi_tra")
    assert result.engine.startswith("tesseract 5") and "chi_sim+chi_tra" in result.engine
    assert len(CJK.findall(result.text)) >= 20, result.text
    assert_well_formed(result, working.shape[1], working.shape[0])
    assert any(len(w.text) == 1 and CJK.match(w.text) for line in result.lines for w in line.words)  # per-character boxes
    assert sf.cer(page.info["gt"], result.text) < 0.6  # the baseline is poor on forms, not useless


def test_vertical_page_read_right_to_left() -> None:
    paras = sf.body_paragraphs(23, traditional=True, count=2)
    page = sf.render_page(paras, seed=23, dpi=DPI, page_size=(1000, 900), vertical=True, traditional=True, noise_sigma=5)
    columns = page.info["gt"].split("\n")
    assert len(columns) >= 6
    working, rotation, _ = prepare_image(bgr(page))
    assert rotation == 0
    result = get_engine("rapidocr").recognize(working)
    long_lines = [line for line in result.lines if len(line.text) >= 6]
    assert len(long_lines) >= 4
    assert all(line.vertical for line in result.lines)
    centres = [sum(p[0] for p in line.box) / 4 for line in long_lines]
    assert centres == sorted(centres, reverse=True)  # right to left
    # Each recognised column matches a ground-truth column, in ground-truth order.
    matched = [min(range(len(columns)), key=lambda k: sf.cer(columns[k], line.text)) for line in long_lines]
    assert matched == sorted(matched) and len(set(matched)) >= 4, matched
    assert sf.cer(columns[0], long_lines[0].text) < 0.5


def test_read_page_orients_upside_down_jpeg(tmp_path: Path) -> None:
    lines = [
        "村级档案规范化建设工作获得了浙江省档案部门的充分肯定。",
        "档案服务取得新成果，为全省推广提供经验。",
        "截至2020年8月底，义乌全市14个镇街544个行政村（社区）基本配备了档案人员和设备设施。",
    ]
    page = sf.render_page(lines, seed=24, dpi=DPI, page_size=(1240, 800), rotate=180, noise_sigma=5)
    path = tmp_path / "upside_down.jpg"
    page.save(path, "JPEG", quality=85, dpi=(DPI, DPI))
    reader = PageReader(get_engine("rapidocr"))
    result = read_page(path, reader, ImagingSettings()).ocr
    assert sf.cer("".join(lines), result.text) < 0.1, result.text
    unprepared = read_page(path, reader, ImagingSettings(), prepare=False).ocr
    assert sf.cer("".join(lines), unprepared.text) > sf.cer("".join(lines), result.text)


def test_dangan_ocr_reads_as_the_pipeline_does_and_writes_the_one_ocr_json(tmp_path: Path) -> None:
    """`dangan ocr` goes through read_page with the configured imaging settings (an upside-down
    page is turned unless ``imaging.detect_orientation`` is off), and ``--json`` is the OCR
    codec's form (OcrPage.to_dict) plus ``needs_review``: what OcrPage.from_dict reads back."""
    lines = ["村级档案规范化建设工作获得了浙江省档案部门的充分肯定。", "档案服务取得新成果，为全省推广提供经验。"]
    page = sf.render_page(lines, seed=31, dpi=DPI, page_size=(1240, 600), rotate=180, noise_sigma=4)
    path = tmp_path / "upside_down.png"
    page.save(path, dpi=(DPI, DPI))
    (tmp_path / "inbox").mkdir()
    env = dangan_env(tmp_path, DANGAN_OCR__ENGINE="tesseract")
    turned = run_cli(["ocr", "--json", str(path)], env)
    assert turned.returncode == 0, turned.stderr
    out = json.loads(turned.stdout)
    assert set(out) == {"engine", "width", "height", "seconds", "confidence", "text", "lines", "needs_review"}
    assert [line["order"] for line in out["lines"]] == list(range(len(out["lines"])))
    assert {"text", "confidence", "box", "vertical", "chars"} <= set(out["lines"][0])
    read = OcrPage.from_dict(out)
    assert read.text == out["text"] and read.engine.startswith("tesseract")
    assert sf.cer("".join(lines), read.text) < 0.15, read.text
    as_is = run_cli(["ocr", str(path)], {**env, "DANGAN_IMAGING__DETECT_ORIENTATION": "false"})
    assert as_is.returncode == 0, as_is.stderr
    assert sf.cer("".join(lines), as_is.stdout) > 0.5  # the setting reached the page path: not turned


def test_layout_orders_rows_and_columns() -> None:
    class Box:
        def __init__(self, name, left, top, right, bottom):
            self.text = name
            self.box = ((left, top), (right, top), (right, bottom), (left, bottom))

    # A form row whose value sits 4 px lower than its label, then the next row.
    items = [Box("value1", 300, 104, 500, 134), Box("row2", 50, 160, 200, 190), Box("label1", 50, 100, 200, 130)]
    assert [b.text for b in order(items)] == ["label1", "value1", "row2"]
    cols = [Box("left", 100, 50, 130, 600), Box("right", 300, 40, 330, 600), Box("mid", 200, 45, 230, 300), Box("mid2", 201, 320, 231, 600)]
    assert [b.text for b in order(cols, vertical=True)] == ["right", "mid", "mid2", "left"]


def test_rapidocr_needs_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh engine (models loaded from the wheel) works with every socket connect refused."""
    import socket

    from pipeline.ocr.rapid import RapidOcrEngine

    def refuse(*args, **kwargs):
        raise OSError("network access attempted during OCR")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    page = sf.render_page(["档案数字化工作后，这种情况基本消失不见了。"], seed=25, dpi=DPI, page_size=(900, 200))
    result = RapidOcrEngine().recognize(bgr(page))  # not the cached instance: loads models now
    assert sf.cer(page.info["gt"], result.text) < 0.1, result.text
