"""Imaging stage on rendered scans: deskew, orientation, border crop, seal suppression,
quality flags, blank pages, colour mode, masters."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from pipeline import domain
from pipeline.imaging import (
    colour_mode,
    crop_borders,
    detect_orientation,
    estimate_skew,
    is_blank,
    ocr_copy,
    prepare_array,
    prepare_image,
    prepare_page_pixels,
    quality_flags,
    rotate,
    to_gray,
)

try:
    from tests import scanfactory as sf
except ImportError:  # tests/ itself on sys.path
    import scanfactory as sf  # type: ignore[no-redef]

DPI = 150


def bgr(img: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(img.convert("RGB"))[..., ::-1])


def gray(img: Image.Image) -> np.ndarray:
    return cv2.cvtColor(bgr(img), cv2.COLOR_BGR2GRAY)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_for(path: Path, *, lossless: bool, dpi: int | None = DPI) -> domain.PageSource:
    return domain.PageSource(index=0, master=path, source_sha256=sha256(path), frame=0, dpi=dpi, lossless=lossless)


# ───────────────────────────── deskew ─────────────────────────────


@pytest.mark.parametrize(
    ("kind", "skew", "seed"),
    [("body", 3.0, 1), ("body", -1.7, 2), ("body", 6.5, 3), ("form", -2.4, 4), ("vertical", 1.8, 5)],
)
def test_deskew_recovers_known_skew(kind: str, skew: float, seed: int) -> None:
    if kind == "form":
        page = sf.render_form(sf.default_form_fields(seed), seed=seed, dpi=DPI, skew_deg=skew, seal=True, noise_sigma=8, jpeg_quality=45)
    else:
        page = sf.render_page(
            sf.body_paragraphs(seed, traditional=kind == "vertical"), seed=seed, dpi=DPI, skew_deg=skew,
            vertical=kind == "vertical", traditional=kind == "vertical", seal=True, noise_sigma=8, jpeg_quality=45, yellow=True,
        )
    estimate = estimate_skew(gray(page))
    assert abs(estimate - skew) < 0.5, (kind, skew, estimate)


def test_deskew_straight_page_is_zero_and_blank_is_zero() -> None:
    page = sf.render_page(sf.body_paragraphs(6), seed=6, dpi=DPI, noise_sigma=6)
    assert abs(estimate_skew(gray(page))) < 0.1
    assert estimate_skew(np.full((800, 600), 240, np.uint8)) == 0.0


def test_rotate_keeps_whole_page_with_white_corners() -> None:
    image = np.zeros((200, 300, 3), np.uint8)  # an all-ink page: any cropping loses black pixels
    out = rotate(image, 10.0)
    assert out.shape[0] > 200 and out.shape[1] > 300
    assert (out[0, 0] == 255).all() and (out[-1, -1] == 255).all()
    # The ink area is preserved (nothing cut off), up to interpolation at the edges.
    ink = np.count_nonzero(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY) < 128)
    assert abs(ink - 200 * 300) < 0.02 * 200 * 300


# ───────────────────────────── orientation ─────────────────────────────


@pytest.mark.parametrize("turned", [0, 90, 180, 270])
def test_orientation_detects_quarter_turns(turned: int) -> None:
    page = sf.render_page(sf.body_paragraphs(7)[:3], seed=7, dpi=DPI, rotate=turned, noise_sigma=6, jpeg_quality=60)
    rotation, confidence = detect_orientation(gray(page))
    assert rotation == (360 - turned) % 360
    if turned:
        assert confidence >= 2.0


def test_orientation_on_blank_page_is_zero() -> None:
    assert detect_orientation(np.full((1000, 700), 250, np.uint8)) == (0, 0.0)


def test_prepare_image_turns_and_straightens_without_touching_input() -> None:
    page = bgr(sf.render_page(sf.body_paragraphs(8)[:3], seed=8, dpi=DPI, rotate=90, skew_deg=2.0, noise_sigma=6))
    before = page.copy()
    working, rotation, angle = prepare_image(page)
    assert np.array_equal(page, before)  # pure
    assert rotation == 270
    assert angle == pytest.approx(-2.0, abs=0.5)
    assert working.shape[0] > working.shape[1]  # portrait again
    assert abs(estimate_skew(cv2.cvtColor(working, cv2.COLOR_BGR2GRAY))) < 0.3


# ───────────────────────────── blank / colour ─────────────────────────────


def test_blank_page_detected() -> None:
    rng = np.random.default_rng(0)
    blank = np.clip(235 + rng.normal(0, 6, (1754, 1240)), 0, 255).astype(np.uint8)
    blank[:, :20] = 40  # scanner edge shadow in the border is ignored
    assert is_blank(blank)
    one_line = sf.render_page(["此页无正文"], seed=9, dpi=DPI, noise_sigma=6)
    assert not is_blank(gray(one_line))
    yellow_blank = sf.render_page([], seed=10, dpi=DPI, yellow=True, noise_sigma=6, jpeg_quality=50)
    assert is_blank(gray(yellow_blank))


def test_colour_mode() -> None:
    sealed = bgr(sf.render_page(sf.body_paragraphs(11)[:2], seed=11, dpi=DPI, seal=True))
    assert colour_mode(sealed) == "color"
    plain = bgr(sf.render_page(sf.body_paragraphs(11)[:2], seed=11, dpi=DPI, noise_sigma=4, jpeg_quality=70))
    assert colour_mode(plain) == "gray"  # RGB file, but no chroma
    assert colour_mode(cv2.cvtColor(plain, cv2.COLOR_BGR2GRAY)) == "gray"
    bitonal = np.where(cv2.cvtColor(plain, cv2.COLOR_BGR2GRAY) < 160, 0, 255).astype(np.uint8)
    assert colour_mode(bitonal) == "bitonal"


# ───────────────────────────── prepare_page_pixels: files ─────────────────────────────


def test_prepare_page_transformed_jpeg_master_stays_byte_identical(tmp_path: Path) -> None:
    master = tmp_path / "scan.jpg"
    sf.render_page(sf.body_paragraphs(12)[:3], seed=12, dpi=DPI, rotate=180, skew_deg=-2.5, seal=True, noise_sigma=6).save(
        master, "JPEG", quality=80, dpi=(DPI, DPI)
    )
    digest, mtime = sha256(master), master.stat().st_mtime_ns
    prepared = prepare_page_pixels(source_for(master, lossless=False), tmp_path / "work")[0]
    assert sha256(master) == digest and master.stat().st_mtime_ns == mtime
    assert prepared.rotation == 180
    assert prepared.deskew_angle == pytest.approx(2.5, abs=0.5)
    assert prepared.colour_mode == "color" and not prepared.blank
    assert prepared.working.suffix == ".jpg" and prepared.working.parent == tmp_path / "work"
    with Image.open(prepared.working) as out:
        assert out.format == "JPEG"
        assert round(out.info["dpi"][0]) == DPI
        assert out.size == (prepared.width, prepared.height)
    assert not list((tmp_path / "work").glob("*.tmp"))  # atomic write left no temp file


def test_prepare_page_unchanged_masters_are_copied_bytewise(tmp_path: Path) -> None:
    page = sf.render_page(sf.body_paragraphs(13)[:3], seed=13, dpi=DPI, noise_sigma=5)
    for name, fmt, lossless in (("a.png", "PNG", True), ("b.jpg", "JPEG", False)):
        master = tmp_path / name
        page.save(master, fmt, dpi=(DPI, DPI))
        digest = sha256(master)
        prepared = prepare_page_pixels(source_for(master, lossless=lossless), tmp_path / "work")[0]
        assert (prepared.rotation, prepared.deskew_angle) == (0, 0.0)
        assert sha256(master) == digest
        assert sha256(prepared.working) == digest  # nothing changed: bytes copied as they are
        assert prepared.operations == ()


def test_prepare_page_lossless_bitonal_master_gives_png(tmp_path: Path) -> None:
    page = gray(sf.render_page(sf.body_paragraphs(14)[:3], seed=14, dpi=DPI, skew_deg=1.5))
    master = tmp_path / "scan.tif"
    Image.fromarray(page).point(lambda v: 255 if v > 140 else 0).convert("1").save(master, "TIFF", compression="group4", dpi=(DPI, DPI))
    digest = sha256(master)
    prepared = prepare_page_pixels(source_for(master, lossless=True, dpi=None), tmp_path / "work", default_dpi=300)[0]
    assert sha256(master) == digest
    assert prepared.colour_mode == "bitonal"
    assert prepared.dpi == DPI  # from the file, not the default
    assert prepared.deskew_angle == pytest.approx(-1.5, abs=0.5)
    with Image.open(prepared.working) as out:
        assert out.format == "PNG" and out.mode == "1"
        assert round(out.info["dpi"][0]) == DPI


def test_prepare_page_blank(tmp_path: Path) -> None:
    master = tmp_path / "blank.png"
    sf.render_page([], seed=15, dpi=DPI, noise_sigma=5).save(master, dpi=(DPI, DPI))
    prepared = prepare_page_pixels(source_for(master, lossless=True), tmp_path / "work")[0]
    assert prepared.blank and prepared.rotation == 0 and prepared.deskew_angle == 0.0


# ───────────────────────────── deskew accuracy end to end ─────────────────────────────


@pytest.mark.parametrize(
    ("skew", "kind", "turned", "font"),
    [(-10.0, "body", 90, "kai"), (-6.5, "vertical", 0, "ming"), (-3.0, "form", 180, "serif"),
     (3.0, "body", 270, "hei"), (7.0, "body", 0, "sans"), (10.0, "body", 90, "serif")],
)
def test_prepare_residual_skew_within_0_3_degrees(skew: float, kind: str, turned: int, font: str) -> None:
    seed = 40 + round(skew)
    if kind == "form":
        page = sf.render_form(sf.default_form_fields(seed), seed=seed, dpi=DPI, skew_deg=skew, rotate=turned,
                              seal=True, noise_sigma=8, jpeg_quality=60)
    else:
        page = sf.render_page(
            sf.body_paragraphs(seed, traditional=kind == "vertical")[:5], seed=seed, dpi=DPI, skew_deg=skew, rotate=turned,
            font=font, vertical=kind == "vertical", traditional=kind == "vertical", seal=True, noise_sigma=8,
            jpeg_quality=60, yellow=True,
        )
    done = prepare_array(bgr(page), dpi=DPI)
    assert done.rotation == (360 - turned) % 360
    # Residual against the known render angle, not against the estimator itself.
    assert abs(skew + done.angle) <= 0.3, (skew, done.angle)
    assert done.skew == pytest.approx(skew, abs=0.3)
    assert done.operations[-1] == f"deskew {done.angle:.2f}°"


# ───────────────────────────── border crop ─────────────────────────────

BED = (30, 29, 28)  # BGR of a black-lid scanner bed


def mm(value: float, dpi: int = DPI) -> int:
    return round(value / 25.4 * dpi)


def on_scanner_bed(
    page: Image.Image, dpi: int = DPI, *, skew: float = 0.0, pads_mm: tuple[float, float, float, float] = (12, 9, 15, 20),
    hole_x_mm: float = 7.0, photo: bool = False, stain: bool = False, seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, list[tuple[float, float, int]]]:
    """A sheet lying on a dark scanner bed (pads: left, top, right, bottom), optionally
    skewed, with two 6 mm binding holes (装订孔) through which the bed shows.

    Returns the BGR scan, the mask of paper pixels and the holes as (x, y, radius).
    """
    paper = bgr(page).copy()
    h, w = paper.shape[:2]
    mask = np.full((h, w), 255, np.uint8)
    holes = []
    for fy in (0.35, 0.65):
        centre, r = (mm(hole_x_mm, dpi), round(fy * h)), mm(3, dpi)
        cv2.circle(paper, centre, r, BED, -1, cv2.LINE_AA)
        holes.append((*centre, r))
    if photo:  # a dark photo 4 mm from the right edge of the sheet
        cv2.rectangle(paper, (w - mm(60, dpi), mm(150, dpi)), (w - mm(4, dpi), mm(200, dpi)), (40, 45, 50), -1)
    if stain:  # a brown water stain reaching the top edge
        cv2.ellipse(paper, (w // 2, mm(5, dpi)), (mm(30, dpi), mm(15, dpi)), 0, 0, 360, (90, 120, 150), -1)
    left, top, right, bottom = (mm(v, dpi) for v in pads_mm)
    scan = np.empty((h + top + bottom, w + left + right, 3), np.uint8)
    scan[:] = BED
    scan[top : top + h, left : left + w] = paper
    full = np.zeros(scan.shape[:2], np.uint8)
    full[top : top + h, left : left + w] = mask
    holes = [(x + left, y + top, r) for x, y, r in holes]
    if skew:
        sh, sw = scan.shape[:2]
        matrix = cv2.getRotationMatrix2D((sw / 2, sh / 2), skew, 1.0)
        scan = cv2.warpAffine(scan, matrix, (sw, sh), flags=cv2.INTER_CUBIC, borderValue=BED)
        full = cv2.warpAffine(full, matrix, (sw, sh), flags=cv2.INTER_NEAREST, borderValue=0)
        holes = [(*(matrix @ np.array([x, y, 1.0])), r) for x, y, r in holes]
    noise = np.random.default_rng(seed).normal(0, 6, scan.shape[:2])[..., None]
    return np.clip(scan + noise, 0, 255).astype(np.uint8), full, holes


def box_of(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@pytest.mark.parametrize(
    "case",
    [{}, {"skew": 1.5, "photo": True, "stain": True, "yellow": True}, {"hole_x_mm": 3.5}, {"pads_mm": (0, 0, 15, 20)}],
    ids=["straight", "skewed-yellow-photo-stain", "hole-near-edge", "sheet-in-corner"],
)
def test_crop_keeps_2_to_3_mm_margin_and_binding_holes(case: dict) -> None:
    case = dict(case)
    page = sf.render_page(sf.body_paragraphs(16)[:3], seed=16, dpi=DPI, yellow=case.pop("yellow", False), noise_sigma=4)
    scan, paper, holes = on_scanner_bed(page, **case)
    cropped, box = crop_borders(scan, DPI)
    assert box is not None
    x0, y0, x1, y1 = box
    assert cropped.shape[:2] == (y1 - y0, x1 - x0)
    px0, py0, px1, py1 = box_of(paper)
    margins = [(px0 - x0), (py0 - y0), (x1 - px1), (y1 - py1)]
    clamped = [x0 == 0, y0 == 0, x1 == scan.shape[1], y1 == scan.shape[0]]
    for margin, at_edge in zip(margins, clamped, strict=True):
        if not at_edge:
            assert 2.0 <= margin * 25.4 / DPI <= 3.0, margins
    assert not np.any(paper[:y0]) and not np.any(paper[y1:]) and not np.any(paper[:, :x0]) and not np.any(paper[:, x1:])
    for x, y, r in holes:  # 装订孔 stay inside, with paper around them
        assert x0 < x - r and x + r < x1 and y0 < y - r and y + r < y1


def test_no_crop_without_dark_border() -> None:
    pages = [
        sf.render_page(sf.body_paragraphs(17)[:3], seed=17, dpi=DPI, skew_deg=4, yellow=True, noise_sigma=8, jpeg_quality=60),
        sf.render_page(sf.body_paragraphs(18)[:3], seed=18, dpi=DPI, yellow=True, seal=True, noise_sigma=8),
        sf.render_form(sf.default_form_fields(19), seed=19, dpi=DPI, seal=True, noise_sigma=8),
        sf.render_page([], seed=20, dpi=DPI, noise_sigma=6),
    ]
    for page in pages:  # white scanner lid, or paper filling the frame
        image = bgr(page)
        out, box = crop_borders(image, DPI)
        assert box is None and out is image
    full_bleed_photo = bgr(pages[1]).copy()
    full_bleed_photo[900:1200, :500] = 35  # dark photo reaching the image edge: still paper
    assert crop_borders(full_bleed_photo, DPI)[1] is None


def test_prepare_page_deskews_then_crops_sheet_on_bed(tmp_path: Path) -> None:
    page = sf.render_page(sf.body_paragraphs(21)[:4], seed=21, dpi=DPI, yellow=True, noise_sigma=6)
    scan, _, _ = on_scanner_bed(page, skew=-4.0, pads_mm=(20, 20, 20, 20), photo=True)
    master = tmp_path / "bed.png"
    Image.fromarray(scan[..., ::-1]).save(master, dpi=(DPI, DPI))
    prepared, pixels = prepare_page_pixels(source_for(master, lossless=True), tmp_path / "work")
    assert prepared.skew_detected == pytest.approx(-4.0, abs=0.3)
    assert prepared.deskew_angle == pytest.approx(4.0, abs=0.3)
    assert [op.split()[0] for op in prepared.operations] == ["deskew", "crop"]
    assert prepared.operations[1].endswith("margin 2.5mm")
    assert (prepared.width, prepared.height) == (pixels.shape[1], pixels.shape[0])
    # The straightened sheet sits 2–3 mm inside every edge; the rotation corners continue
    # the bed (no white triangles).
    sheet = cv2.medianBlur(to_gray(pixels), 5) > 120
    sheet[cv2.morphologyEx(sheet.astype(np.uint8), cv2.MORPH_OPEN, np.ones((9, 9), np.uint8)) == 0] = False
    x0, y0, x1, y1 = box_of(sheet)
    h, w = sheet.shape
    for margin in (x0, y0, w - x1, h - y1):
        assert 1.8 <= margin * 25.4 / DPI <= 3.2, (x0, y0, w - x1, h - y1)
    assert all(to_gray(pixels)[y, x] < 80 for y, x in ((0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1)))
    assert prepared.quality == ("low-dpi", "below-ocr-dpi", "skewed")


# ───────────────────────────── seal suppression ─────────────────────────────


def _seal_masks(render, **kwargs) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A noisy JPEG-degraded sealed scan plus masks from clean renders of the same page:
    seal ink on paper, black text under strong seal ink, blue pen entries."""
    clean_sealed = bgr(render(seal=True, **kwargs))
    clean = bgr(render(seal=False, **kwargs))
    noisy = bgr(render(seal=True, noise_sigma=8, jpeg_quality=75, **kwargs))
    grey = cv2.cvtColor(clean, cv2.COLOR_BGR2GRAY)
    transmitted = (clean_sealed[..., 1].astype(np.float32) + 1) / (clean[..., 1].astype(np.float32) + 1)
    under_ink = transmitted < 0.55
    blue = (clean[..., 0].astype(np.int16) - clean[..., 2] > 40) & (grey < 120) & ~under_ink
    return noisy, under_ink & (grey > 180), under_ink & (grey < 90), blue


@pytest.mark.parametrize("kind", ["body", "form"])
def test_ocr_copy_removes_seal_ink_keeps_text_under_it(kind: str) -> None:
    if kind == "form":
        fields = sf.default_form_fields(22)
        scan, seal_ink, text_under, blue = _seal_masks(lambda **k: sf.render_form(fields, **k), seed=22, dpi=DPI, yellow=True)
    else:
        paras = sf.body_paragraphs(23)[:3]
        scan, seal_ink, text_under, blue = _seal_masks(lambda **k: sf.render_page(paras, **k), seed=23, dpi=200)
    assert seal_ink.sum() > 2000 and text_under.sum() > 50
    out, share = ocr_copy(scan)
    assert out.ndim == 2 and out.shape == scan.shape[:2]
    assert 0.001 < share < 0.02
    grey = to_gray(scan)
    paper = float(np.percentile(grey, 90))
    assert np.median(grey[seal_ink]) < 0.7 * paper  # plain grey: the seal is mid-grey ink
    assert np.median(out[seal_ink]) >= 0.95 * paper  # OCR copy: paper-bright
    assert np.percentile(out[seal_ink], 10) >= 0.8 * paper
    assert np.median(out[text_under]) <= 100  # black print under the seal stays dark
    if blue.any():  # ball-pen entries are untouched
        assert np.abs(out[blue].astype(int) - grey[blue]).max() <= 1


def _red_header(page: Image.Image) -> Image.Image:
    """A 红头 document: red issuing-organ title and red rule across the top."""
    page = page.copy()
    draw = ImageDraw.Draw(page)
    w = page.width
    draw.text((w / 2, 0.03 * page.height), "塔城乡人民政府文件", font=sf.font("hei", round(w * 0.07)), fill=(215, 30, 30), anchor="mt")
    draw.line((0.08 * w, 0.065 * page.height + w * 0.07, 0.92 * w, 0.065 * page.height + w * 0.07), fill=(215, 30, 30), width=4)
    return page


def test_ocr_copy_leaves_pages_without_seal_and_red_headers_alone() -> None:
    plain = bgr(sf.render_page(sf.body_paragraphs(24)[:2], seed=24, dpi=DPI, noise_sigma=6))
    assert ocr_copy(plain)[0] is plain and ocr_copy(plain)[1] == 0.0
    grey = to_gray(plain)
    assert ocr_copy(grey)[0] is grey
    header = bgr(_red_header(sf.render_page(sf.body_paragraphs(24)[:2], seed=24, dpi=DPI)))
    out, share = ocr_copy(header)
    assert out is header and share == 0.0
    # Header plus seal: only the seal is lifted, the red title still reads dark.
    both = bgr(_red_header(sf.render_page(sf.body_paragraphs(24)[:2], seed=24, dpi=DPI, seal=True)))
    out, share = ocr_copy(both)
    assert share > 0.001
    band = slice(0, round(0.065 * both.shape[0] + both.shape[1] * 0.07) + 5)
    assert np.array_equal(out[band], to_gray(both)[band])


def test_working_image_keeps_the_seal(tmp_path: Path) -> None:
    master = tmp_path / "sealed.png"
    page = sf.render_page(sf.body_paragraphs(25)[:3], seed=25, dpi=DPI, skew_deg=1.0, seal=True, noise_sigma=6)
    page.save(master, dpi=(DPI, DPI))
    prepared, pixels = prepare_page_pixels(source_for(master, lossless=True), tmp_path / "work")
    red = (pixels[..., 2].astype(np.int16) - np.maximum(pixels[..., 0], pixels[..., 1])) >= 60
    assert red.mean() > 0.001
    with Image.open(prepared.working) as out:
        arr = bgr(out)
    assert np.array_equal(arr, pixels)  # lossless: the file is exactly the working pixels
    assert not any("seal" in op for op in prepared.operations)  # recorded by the caller
    assert ocr_copy(pixels)[1] > 0.001


# ───────────────────────────── quality flags ─────────────────────────────


@pytest.fixture(scope="module")
def page_300() -> np.ndarray:
    page = sf.render_page(sf.body_paragraphs(26)[:4], seed=26, dpi=300, yellow=True, seal=True, noise_sigma=6, jpeg_quality=80)
    return gray(page)


def test_quality_flags_clean_300_dpi_page_has_none(page_300: np.ndarray) -> None:
    assert quality_flags(page_300, 300, 0.4) == ()


def test_quality_flags_problems(page_300: np.ndarray) -> None:
    low = gray(sf.render_page(sf.body_paragraphs(26)[:4], seed=26, dpi=DPI, noise_sigma=6))
    assert quality_flags(low, DPI) == ("low-dpi", "below-ocr-dpi")
    assert quality_flags(page_300, 250) == ("below-ocr-dpi",)
    blurred = cv2.GaussianBlur(page_300, (0, 0), 2.0)
    assert quality_flags(blurred, 300) == ("blurry",)  # blur lightens strokes but is not "too-light"
    assert quality_flags(cv2.GaussianBlur(page_300, (0, 0), 1.0), 300) == ()
    assert quality_flags((page_300 * 0.55).astype(np.uint8), 300) == ("too-dark",)
    assert "too-light" in quality_flags((page_300 * 0.4 + 150).astype(np.uint8), 300)
    assert quality_flags(page_300, 300, -3.5) == ("skewed",)
    assert quality_flags(page_300, 300, 2.9) == ()
    blank = gray(sf.render_page([], seed=27, dpi=DPI, yellow=True, noise_sigma=6))
    assert quality_flags(blank, DPI) == ("low-dpi", "below-ocr-dpi", "blank")


# ───────────────────────────── operations recorded ─────────────────────────────


def test_prepare_page_records_every_operation(tmp_path: Path) -> None:
    """EXIF turn, OSD turn, deskew and crop, in the order applied."""
    page = sf.render_page(sf.body_paragraphs(28)[:4], seed=28, dpi=DPI, yellow=True, noise_sigma=6)
    scan, _, _ = on_scanner_bed(page, skew=3.5, pads_mm=(15, 15, 15, 15))
    upside_down = Image.fromarray(np.ascontiguousarray(scan[::-1, ::-1, ::-1]))  # sheet turned 180° on the glass
    stored = upside_down.transpose(Image.Transpose.ROTATE_90)  # camera held sideways: EXIF 6 turns it back
    exif = Image.Exif()
    exif[0x0112] = 6
    master = tmp_path / "phone.jpg"
    stored.save(master, "JPEG", quality=90, dpi=(DPI, DPI), exif=exif)
    prepared = prepare_page_pixels(source_for(master, lossless=False), tmp_path / "work")[0]
    ops = prepared.operations
    assert ops[0] == "exif-rotate 90"
    assert ops[1].startswith("rotate 180 (osd confidence ")
    assert ops[2] == f"deskew {prepared.deskew_angle:.2f}°" and prepared.deskew_angle == pytest.approx(-3.5, abs=0.3)
    assert ops[3].startswith("crop ") and ops[3].endswith(" margin 2.5mm")
    assert len(ops) == 4
    assert prepared.rotation == 270  # 90 (EXIF) + 180 (OSD)
    assert prepared.skew_detected == pytest.approx(3.5, abs=0.3)
    assert "skewed" in prepared.quality
    with Image.open(prepared.working) as out:
        assert out.size == (prepared.width, prepared.height)
