"""Imaging stage on rendered scans: deskew, orientation, blank pages, colour mode, masters."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from pipeline import domain
from pipeline.imaging import (
    colour_mode,
    detect_orientation,
    estimate_skew,
    is_blank,
    prepare_image,
    prepare_page,
    rotate,
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


# ───────────────────────────── prepare_page: files ─────────────────────────────


def test_prepare_page_transformed_jpeg_master_stays_byte_identical(tmp_path: Path) -> None:
    master = tmp_path / "scan.jpg"
    sf.render_page(sf.body_paragraphs(12)[:3], seed=12, dpi=DPI, rotate=180, skew_deg=-2.5, seal=True, noise_sigma=6).save(
        master, "JPEG", quality=80, dpi=(DPI, DPI)
    )
    digest, mtime = sha256(master), master.stat().st_mtime_ns
    prepared = prepare_page(source_for(master, lossless=False), tmp_path / "work")
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
        prepared = prepare_page(source_for(master, lossless=lossless), tmp_path / "work")
        assert (prepared.rotation, prepared.deskew_angle) == (0, 0.0)
        assert sha256(master) == digest
        assert sha256(prepared.working) == digest  # nothing changed: bytes copied as they are


def test_prepare_page_lossless_bitonal_master_gives_png(tmp_path: Path) -> None:
    page = gray(sf.render_page(sf.body_paragraphs(14)[:3], seed=14, dpi=DPI, skew_deg=1.5))
    master = tmp_path / "scan.tif"
    Image.fromarray(page).point(lambda v: 255 if v > 140 else 0).convert("1").save(master, "TIFF", compression="group4", dpi=(DPI, DPI))
    digest = sha256(master)
    prepared = prepare_page(source_for(master, lossless=True, dpi=None), tmp_path / "work", default_dpi=300)
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
    prepared = prepare_page(source_for(master, lossless=True), tmp_path / "work")
    assert prepared.blank and prepared.rotation == 0 and prepared.deskew_angle == 0.0
