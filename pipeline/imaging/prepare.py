"""Turn a page master into the working image that OCR and the PDF see.

Order follows the domain contract: first the quarter-turn ``rotation`` (clockwise, from
EXIF and Tesseract OSD), then the small ``deskew_angle`` (counter-clockwise positive), then
the border crop (裁边, DA/T 31 §10.3: paper plus a 2–3 mm margin).
The master itself is only ever read: DA/T 31 treats the scan as the archival master, and
its checksum is recorded at ingest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from pipeline import domain
from pipeline.fileio import atomic_copy, atomic_write

from . import orientation as _orientation
from .borders import MARGIN_MM, background_fill, crop_borders, neutralise_background
from .deskew import estimate_skew, rotate, rotate_quarter, to_gray
from .quality import colour_mode, is_blank, quality_flags

# Below this OSD confidence the rotation is a guess; leave the page as scanned. Measured on
# 64 sparse rendered pages (15–90 characters, 4 fonts, 4 turns): every wrong answer had
# confidence <= 0.54, every answer >= 0.61 was right; full pages score 10–17. Pages with
# fewer than ~30 characters get no OSD answer at all and stay as scanned.
MIN_ORIENTATION_CONFIDENCE = 1.0
JPEG_QUALITY = 92

# EXIF Orientation tag → clockwise rotation that ImageOps.exif_transpose applies
# (mirrored variants 2/4/5/7 are transposed too; only their rotation part is recorded).
_EXIF_ROTATION = {1: 0, 2: 0, 3: 180, 4: 180, 5: 90, 6: 90, 7: 270, 8: 270}
_EXIF_MIRRORED = {2, 4, 5, 7}
# In-memory images without a stated resolution: the pipeline's default scan resolution.
_ASSUMED_DPI = 300


@dataclass(frozen=True)
class Preparation:
    """What :func:`prepare_array` did to an image, and the result."""

    working: np.ndarray
    rotation: int = 0  # clockwise quarter turn applied (from OSD)
    angle: float = 0.0  # counter-clockwise deskew applied after it
    skew: float = 0.0  # skew estimated before correction (applied or not)
    crop: tuple[int, int, int, int] | None = None  # box in the deskewed image, x1/y1 exclusive
    operations: tuple[str, ...] = ()


def prepare_array(
    image: np.ndarray,
    *,
    dpi: int | None = None,
    detect_orientation: bool = True,
    deskew: bool = True,
    crop: bool = True,
    min_skew: float = 0.1,
    margin_mm: float = MARGIN_MM,
) -> Preparation:
    """Orient, deskew and crop an image in memory; the input array is not modified.

    Order: quarter turn (Tesseract OSD), deskew (below ``min_skew`` degrees the page is
    left as is), then border crop (裁边) on the deskewed image with ``margin_mm`` at
    ``dpi`` (unknown: 300 assumed, which only widens the margin of a lower-resolution scan).
    A blank page is neither turned nor deskewed (OSD cannot read it and there is nothing to
    straighten) but is still cropped.
    """
    gray = to_gray(image)
    operations: list[str] = []
    rotation, angle, skew = 0, 0.0, 0.0
    working = image
    if not is_blank(gray):
        gray = neutralise_background(gray, dpi or _ASSUMED_DPI)  # measure the sheet, not the bed
        if deskew:
            # Skew is estimated first: the folded estimate does not depend on the quarter
            # turn, and OSD is more reliable on straight lines.
            skew = estimate_skew(gray)
            if abs(skew) >= min_skew:
                angle = round(-skew, 3)
        if detect_orientation:
            small = _orientation.osd_copy(gray)
            if angle:
                # Corners in the paper's grey, not white: next to white corners a yellowed
                # sheet fell on the ink side of Tesseract's threshold ("Too few characters"
                # on sideways pages skewed 10°).
                small = rotate(small, angle, fill=int(np.percentile(small[::4, ::4], 90)))
            found, confidence = _orientation.detect_orientation(small)
            if confidence >= MIN_ORIENTATION_CONFIDENCE and found:
                rotation = found
                operations.append(f"rotate {rotation} (osd confidence {confidence:.1f})")
        if rotation:
            working = rotate_quarter(working, rotation)
        if angle:
            # On a dark scanner bed the new corners continue the bed, so the crop below
            # still sees one border around the sheet.
            working = rotate(working, angle, fill=background_fill(image, dpi or _ASSUMED_DPI))
            operations.append(f"deskew {angle:.2f}°")
    box = None
    if crop:
        working, box = crop_borders(working, dpi or _ASSUMED_DPI, margin_mm)
        if box is not None:
            operations.append(f"crop {box[0]},{box[1]},{box[2]},{box[3]} margin {margin_mm:g}mm")
    return Preparation(working, rotation, angle, skew, box, tuple(operations))


def prepare_image(
    image: np.ndarray,
    *,
    detect_orientation: bool = True,
    deskew: bool = True,
    min_skew: float = 0.1,
    crop: bool = True,
    dpi: int | None = None,
) -> tuple[np.ndarray, int, float]:
    """Orient, deskew and crop an image in memory (see :func:`prepare_array`).

    Returns ``(working, rotation, angle)``: ``rotation`` is the clockwise quarter turn
    applied, ``angle`` the counter-clockwise deskew applied after it (0.0 when the
    estimated skew is below ``min_skew`` degrees). The input array is not modified.
    """
    done = prepare_array(image, dpi=dpi, detect_orientation=detect_orientation, deskew=deskew,
                         crop=crop, min_skew=min_skew)
    return done.working, done.rotation, done.angle


# ───────────────────────────── files ─────────────────────────────


def _to_array(img: Image.Image) -> tuple[np.ndarray, bool]:
    """PIL image → (uint8 grey or BGR array, bitonal flag)."""
    mode = img.mode
    if mode == "1":
        return np.asarray(img.convert("L")), True
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        return (arr / top * 255.0).round().clip(0, 255).astype(np.uint8), False
    if mode == "L":
        return np.asarray(img), False
    if mode in ("LA", "RGBA", "PA") or (mode == "P" and "transparency" in img.info):
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img.convert("RGBA"))
    rgb = np.asarray(img.convert("RGB"))
    return np.ascontiguousarray(rgb[..., ::-1]), False


def _to_pil(arr: np.ndarray, bitonal: bool) -> Image.Image:
    if arr.ndim == 2:
        if bitonal:
            grey = Image.fromarray(np.where(arr >= 128, 255, 0).astype(np.uint8), "L")
            return grey.convert("1", dither=Image.Dither.NONE)
        return Image.fromarray(arr, "L")
    return Image.fromarray(np.ascontiguousarray(arr[..., ::-1]), "RGB")


def load_image(path: Path | str) -> np.ndarray:
    """Read an image file as a uint8 BGR (or grey) array, EXIF orientation applied."""
    with Image.open(path) as opened:
        opened.load()
        upright = ImageOps.exif_transpose(opened)
    return _to_array(upright)[0]


def file_dpi(path: Path | str) -> int | None:
    """The resolution an image file states, or None (the caller assumes ``imaging.default_dpi``)."""
    with Image.open(path) as opened:
        return _file_dpi(opened)


def _file_dpi(img: Image.Image) -> int | None:
    dpi = img.info.get("dpi")
    if dpi is None:
        return None
    try:
        value = round(float(dpi[0]))
    except (TypeError, ValueError, IndexError):
        return None
    return value if value > 0 else None


def prepare_page_pixels(
    source: domain.PageSource,
    work_dir: Path,
    *,
    default_dpi: int = 300,
    detect_orientation: bool = True,
    deskew: bool = True,
    crop: bool = True,
) -> tuple[domain.PreparedPage, np.ndarray]:
    """Read ``source.master`` (never modified), orient + deskew + crop, write the working copy.

    Returns the :class:`PreparedPage` and the working pixels (grey or BGR) before encoding.

    OCR should read these, not the working file: a transformed JPEG page is re-encoded,
    and that generation loss was seen to cost thin strokes (the ``1`` in a boxed ID grid).
    For a page with a red seal, OCR should read ``ocr_copy(pixels)`` (the caller records
    that step); the working pixels and file keep the seal.

    File rules: an unchanged JPEG or PNG master is copied byte for byte (no generation
    loss; a PNG lacking the DPI is re-encoded losslessly to carry it); lossless sources
    are written as PNG (1-bit PNG for bitonal scans); transformed JPEG sources as JPEG
    quality 92. The effective DPI is written into the file. The working file is named
    after the source checksum and frame, so a re-run replaces it atomically. Every step
    applied is listed in ``operations``; capture problems in ``quality``.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    with Image.open(source.master) as opened:
        opened.load()
        fmt = (opened.format or "").upper()
        file_dpi = _file_dpi(opened)
        exif_orientation = opened.getexif().get(0x0112, 1) if hasattr(opened, "getexif") else 1
        upright = ImageOps.exif_transpose(opened) if exif_orientation not in (None, 1) else opened.copy()
    exif_orientation = int(exif_orientation or 1)
    exif_rotation = _EXIF_ROTATION.get(exif_orientation, 0)
    exif_changed = exif_orientation != 1
    operations: list[str] = []
    if exif_rotation:
        operations.append(f"exif-rotate {exif_rotation}")
    if exif_orientation in _EXIF_MIRRORED:
        operations.append("exif-mirror")

    dpi = source.dpi or file_dpi or default_dpi
    array, bitonal = _to_array(upright)
    mode = "bitonal" if bitonal else colour_mode(array)

    done = prepare_array(array, dpi=dpi, detect_orientation=detect_orientation, deskew=deskew, crop=crop)
    working = done.working
    operations.extend(done.operations)
    changed = exif_changed or bool(done.operations)
    total_rotation = (exif_rotation + done.rotation) % 360
    quality = quality_flags(working, dpi, done.skew)

    stem = f"{source.source_sha256[:16]}-f{source.frame:04d}-work"
    if any((work_dir / f"{stem}{ext}").resolve() == Path(source.master).resolve() for ext in (".jpg", ".png")):
        raise ValueError(f"working copy would overwrite the master {source.master}")
    if not changed and fmt == "JPEG":
        target = work_dir / f"{stem}.jpg"
        atomic_copy(source.master, target)
    elif not changed and fmt == "PNG" and file_dpi == dpi:
        target = work_dir / f"{stem}.png"
        atomic_copy(source.master, target)
    elif fmt == "JPEG" or not source.lossless:
        target = work_dir / f"{stem}.jpg"
        pil = _to_pil(working, False)
        atomic_write(target, lambda fh: pil.save(fh, "JPEG", quality=JPEG_QUALITY, dpi=(dpi, dpi)))
    else:
        target = work_dir / f"{stem}.png"
        pil = _to_pil(working, bitonal)
        atomic_write(target, lambda fh: pil.save(fh, "PNG", dpi=(dpi, dpi), optimize=False))

    height, width = working.shape[:2]
    page = domain.PreparedPage(
        source=source,
        working=target,
        width=int(width),
        height=int(height),
        dpi=int(dpi),
        colour_mode=mode,
        rotation=total_rotation,
        deskew_angle=float(done.angle),
        blank="blank" in quality,
        operations=tuple(operations),
        quality=quality,
        skew_detected=float(done.skew),
    )
    return page, working
