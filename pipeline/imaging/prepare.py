"""Turn a page master into the working image that OCR and the PDF see.

Order follows the domain contract: first the quarter-turn ``rotation`` (clockwise, from
EXIF and Tesseract OSD), then the small ``deskew_angle`` (counter-clockwise positive).
The master itself is only ever read: DA/T 31 treats the scan as the archival master, and
its checksum is recorded at ingest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from pipeline import domain
from pipeline.fileio import atomic_copy, atomic_write

from . import orientation as _orientation
from .deskew import estimate_skew, rotate, rotate_quarter, to_gray
from .quality import colour_mode, is_blank

# Below this OSD confidence the rotation is a guess; leave the page as scanned. Measured on
# 64 sparse rendered pages (15–90 characters, 4 fonts, 4 turns): every wrong answer had
# confidence <= 0.54, every answer >= 0.61 was right; full pages score 10–17. Pages with
# fewer than ~30 characters get no OSD answer at all and stay as scanned.
MIN_ORIENTATION_CONFIDENCE = 1.0
JPEG_QUALITY = 92

# EXIF Orientation tag → clockwise rotation that ImageOps.exif_transpose applies
# (mirrored variants 2/4/5/7 are transposed too; only their rotation part is recorded).
_EXIF_ROTATION = {1: 0, 2: 0, 3: 180, 4: 180, 5: 90, 6: 90, 7: 270, 8: 270}


def prepare_image(
    image: np.ndarray,
    *,
    detect_orientation: bool = True,
    deskew: bool = True,
    min_skew: float = 0.1,
) -> tuple[np.ndarray, int, float]:
    """Orient and deskew an image in memory.

    Returns ``(working, rotation, angle)``: ``rotation`` is the clockwise quarter turn
    applied, ``angle`` the counter-clockwise deskew applied after it (0.0 when the
    estimated skew is below ``min_skew`` degrees). The input array is not modified; a
    blank page comes back unchanged (OSD cannot read it and there is nothing to straighten).
    """
    gray = to_gray(image)
    if is_blank(gray):
        return image, 0, 0.0
    angle = 0.0
    if deskew:
        # Skew is estimated first: the folded estimate does not depend on the quarter turn,
        # and OSD is more reliable on straight lines.
        skew = estimate_skew(gray)
        if abs(skew) >= min_skew:
            angle = round(-skew, 3)
    rotation = 0
    if detect_orientation:
        small = _orientation.osd_copy(gray)
        if angle:
            small = rotate(small, angle)
        found, confidence = _orientation.detect_orientation(small)
        if confidence >= MIN_ORIENTATION_CONFIDENCE:
            rotation = found
    working = image
    if rotation:
        working = rotate_quarter(working, rotation)
    if angle:
        working = rotate(working, angle)
    return working, rotation, angle


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
            return Image.fromarray(np.where(arr >= 128, 255, 0).astype(np.uint8), "L").convert("1", dither=Image.Dither.NONE)
        return Image.fromarray(arr, "L")
    return Image.fromarray(np.ascontiguousarray(arr[..., ::-1]), "RGB")


def load_image(path: Path | str) -> np.ndarray:
    """Read an image file as a uint8 BGR (or grey) array, EXIF orientation applied."""
    with Image.open(path) as opened:
        opened.load()
        upright = ImageOps.exif_transpose(opened)
    return _to_array(upright)[0]


def _file_dpi(img: Image.Image) -> int | None:
    dpi = img.info.get("dpi")
    try:
        value = round(float(dpi[0]))
    except (TypeError, ValueError, IndexError):
        return None
    return value if value > 0 else None


def prepare_page(
    source: domain.PageSource,
    work_dir: Path,
    *,
    default_dpi: int = 300,
    detect_orientation: bool = True,
    deskew: bool = True,
) -> domain.PreparedPage:
    """Read ``source.master`` (never modified), orient + deskew, write the working copy."""
    return prepare_page_pixels(source, work_dir, default_dpi=default_dpi,
                               detect_orientation=detect_orientation, deskew=deskew)[0]


def prepare_page_pixels(
    source: domain.PageSource,
    work_dir: Path,
    *,
    default_dpi: int = 300,
    detect_orientation: bool = True,
    deskew: bool = True,
) -> tuple[domain.PreparedPage, np.ndarray]:
    """:func:`prepare_page`, also returning the working pixels (grey or BGR) before encoding.

    OCR should read these, not the working file: a transformed JPEG page is re-encoded,
    and that generation loss was seen to cost thin strokes (the ``1`` in a boxed ID grid).

    File rules: an unchanged JPEG or PNG master is copied byte for byte (no generation
    loss; a PNG lacking the DPI is re-encoded losslessly to carry it); lossless sources
    are written as PNG (1-bit PNG for bitonal scans); transformed JPEG sources as JPEG
    quality 92. The effective DPI is written into the file. The working file is named
    after the source checksum and frame, so a re-run replaces it atomically.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    with Image.open(source.master) as opened:
        opened.load()
        fmt = (opened.format or "").upper()
        file_dpi = _file_dpi(opened)
        exif_orientation = opened.getexif().get(0x0112, 1) if hasattr(opened, "getexif") else 1
        upright = ImageOps.exif_transpose(opened) if exif_orientation not in (None, 1) else opened.copy()
    exif_rotation = _EXIF_ROTATION.get(int(exif_orientation or 1), 0)
    exif_changed = exif_orientation not in (None, 1)

    dpi = source.dpi or file_dpi or default_dpi
    array, bitonal = _to_array(upright)
    mode = "bitonal" if bitonal else colour_mode(array)
    blank = is_blank(to_gray(array))

    if blank:
        working, rotation, angle = array, 0, 0.0
    else:
        working, rotation, angle = prepare_image(array, detect_orientation=detect_orientation, deskew=deskew)
    changed = exif_changed or rotation != 0 or angle != 0.0
    total_rotation = (exif_rotation + rotation) % 360

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
        deskew_angle=float(angle),
        blank=blank,
    )
    return page, working


