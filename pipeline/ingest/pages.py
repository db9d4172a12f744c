"""Page masters: one lossless raster per page, cut from the kept originals.

A single-page JPEG/PNG is its own master (the original, untouched). Frames of
a multi-page TIFF and BMP pages become PNG; pages of a scanned PDF are
rasterised at the configured resolution.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from pipeline.domain import PageSource
from pipeline.fileio import atomic_write_bytes, sha256_file


def page_master(
    original: Path,
    media_type: str,
    frame: int,
    *,
    index: int,
    source_sha256: str,
    out_dir: Path,
    pdf_dpi: int,
) -> tuple[PageSource, str]:
    """Return the page's master and its SHA-256 (the original itself where possible)."""
    if media_type == "application/pdf":
        from pdf2image import convert_from_path

        images = convert_from_path(str(original), dpi=pdf_dpi, first_page=frame + 1, last_page=frame + 1)
        master = out_dir / f"p{index + 1:04d}-master.png"
        _save_png(images[0], master, pdf_dpi)
        return PageSource(index, master, source_sha256, frame, pdf_dpi, True), sha256_file(master)[0]

    with Image.open(original) as img:
        dpi = img.info.get("dpi")
        stated = int(round(float(dpi[0]))) if dpi and float(dpi[0]) > 1 else None
        single = getattr(img, "n_frames", 1) == 1
        if single and media_type in ("image/jpeg", "image/png"):
            return PageSource(index, original, source_sha256, frame, stated, media_type == "image/png"), source_sha256
        img.seek(frame)
        master = out_dir / f"p{index + 1:04d}-master.png"
        _save_png(img, master, stated)
        return PageSource(index, master, source_sha256, frame, stated, True), sha256_file(master)[0]


def _save_png(img: Image.Image, dest: Path, dpi: int | None) -> None:
    if img.mode not in ("1", "L", "RGB", "RGBA", "I;16"):
        img = img.convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format="PNG", dpi=(dpi, dpi) if dpi else None)
    atomic_write_bytes(dest, buf.getvalue())
