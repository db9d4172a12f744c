"""Is this file a readable scan? Sniff the bytes, parse every frame, refuse bombs.

A failure is either *final* (wrong type, encrypted, too big: waiting will not
help, quarantine now) or *transient* (empty, truncated: the scanner may still be
writing; retry until the parse timeout, then quarantine).
"""

from __future__ import annotations

import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"BM", "image/bmp"),
    (b"%PDF-", "application/pdf"),
)


class BadInput(Exception):
    """Input that cannot be ingested; ``final`` means retrying will not help."""

    def __init__(self, reason: str, *, final: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.final = final


@dataclass(frozen=True)
class FileProbe:
    media_type: str
    pages: int
    dpi: int | None
    lossless: bool


def set_pixel_limit(max_pixels: int) -> None:
    """Make Pillow's decompression-bomb guard the configured limit (``ingest.max_pixels``)
    in this process. Pillow's own default (~89.5 Mpx) would refuse an A0 scan at 300 dpi
    (139 Mpx) that the configuration allows; every process that opens scans calls this."""
    Image.MAX_IMAGE_PIXELS = max_pixels


def sniff(head: bytes) -> str | None:
    for magic, media_type in SIGNATURES:
        if head.startswith(magic):
            return media_type
    return None


def _describe(head: bytes) -> str:
    if not head:
        return "empty"
    try:
        text = head.decode("utf-8")
        if text.isprintable() or all(ch.isprintable() or ch in "\r\n\t" for ch in text):
            return f"text starting {text[:24]!r}"
    except UnicodeDecodeError:
        pass
    return f"bytes {head[:8].hex(' ')}"


def probe(path: Path, *, max_pixels: int, max_bytes: int, pdf_dpi: int = 300) -> FileProbe:
    """Check that ``path`` is a complete, supported scan; raise BadInput if not.

    A PDF page counts as the raster it becomes at ``pdf_dpi``: a tiny file may describe a
    page several metres wide."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise BadInput(f"symbolic link to {os.readlink(path)!r}: links are not followed", final=True)
    if not stat.S_ISREG(st.st_mode):
        raise BadInput("not a regular file (device, socket or pipe)", final=True)
    if st.st_size == 0:
        raise BadInput("empty file (0 bytes)", final=False)
    if st.st_size > max_bytes:
        raise BadInput(f"file is {st.st_size} bytes, above the {max_bytes}-byte limit", final=True)
    with open(path, "rb") as fh:
        head = fh.read(16)
    media_type = sniff(head)
    if media_type is None:
        raise BadInput(
            f"not a supported scan (JPEG, PNG, TIFF, BMP or PDF): content is {_describe(head)}",
            final=len(head) >= 8,  # a few bytes may still be the start of a write
        )
    if media_type == "application/pdf":
        return _probe_pdf(path, max_pixels, pdf_dpi)
    set_pixel_limit(max_pixels)
    return _probe_image(path, media_type, max_pixels)


def _probe_image(path: Path, media_type: str, max_pixels: int) -> FileProbe:
    if media_type == "image/jpeg":
        with open(path, "rb") as fh:
            fh.seek(-2, os.SEEK_END)
            if fh.read(2) != b"\xff\xd9":  # no end-of-image marker: still being written, or cut off
                raise BadInput("truncated JPEG (no end-of-image marker)", final=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise BadInput(
                        f"image is {width}×{height} = {width * height:,} pixels, "
                        f"over the {max_pixels:,}-pixel limit",
                        final=True,
                    )
                frames = getattr(img, "n_frames", 1)
                dpi = img.info.get("dpi")
                for index in range(frames):
                    img.seek(index)
                    if img.size[0] * img.size[1] > max_pixels:
                        raise BadInput(f"frame {index + 1} is {img.size[0]}×{img.size[1]} pixels, over the "
                                       f"{max_pixels:,}-pixel limit", final=True)
                    img.load()
    except BadInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadInput(f"image is over the {max_pixels:,}-pixel limit (decompression bomb guard): {exc}",
                       final=True) from exc
    except Exception as exc:  # Pillow raises many types on damaged files (TypeError, struct.error …)
        kind = media_type.split("/")[1].upper()
        raise BadInput(f"truncated or corrupt {kind}: {exc}", final=False) from exc
    return FileProbe(
        media_type=media_type,
        pages=frames,
        dpi=int(round(float(dpi[0]))) if dpi and float(dpi[0]) > 1 else None,
        lossless=media_type != "image/jpeg",
    )


def _probe_pdf(path: Path, max_pixels: int, pdf_dpi: int) -> FileProbe:
    import pikepdf

    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - 2048))
        if b"%%EOF" not in fh.read():
            # qpdf would "repair" a half-written file; wait for the writer to finish instead.
            raise BadInput("truncated PDF (no %%EOF marker at the end)", final=False)
    try:
        # Opened through Python: pikepdf cannot take a path whose name is not UTF-8 (GBK bytes).
        with open(path, "rb") as fh, pikepdf.open(fh) as pdf:
            if pdf.is_encrypted:
                raise BadInput("encrypted PDF: archives must not depend on a password", final=True)
            pages = len(pdf.pages)
            for number, page in enumerate(pdf.pages, 1):
                _check_page_size(page, number, max_pixels, pdf_dpi)
    except pikepdf.PasswordError as exc:
        raise BadInput("encrypted PDF (password required)", final=True) from exc
    except pikepdf.PdfError as exc:
        raise BadInput(f"corrupt PDF: {exc}", final=False) from exc
    except BadInput:
        raise
    except Exception as exc:  # a damaged page tree (e.g. a MediaBox that is not numbers)
        raise BadInput(f"corrupt PDF: {type(exc).__name__}: {exc}", final=True) from exc
    if pages == 0:
        raise BadInput("PDF has no pages", final=True)
    return FileProbe(media_type="application/pdf", pages=pages, dpi=None, lossless=False)


def _check_page_size(page, number: int, max_pixels: int, dpi: int) -> None:
    """Refuse a page whose raster at ``dpi`` would pass the pixel limit (UserUnit counted)."""
    x0, y0, x1, y1 = (float(v) for v in page.mediabox)
    unit = float(page.obj.get("/UserUnit", 1))
    width_pt, height_pt = abs(x1 - x0) * unit, abs(y1 - y0) * unit
    pixels = round(width_pt / 72 * dpi) * round(height_pt / 72 * dpi)
    if pixels > max_pixels:
        raise BadInput(
            f"PDF page {number} is {width_pt:,.0f}×{height_pt:,.0f} pt "
            f"({width_pt / 72 * 25.4:,.0f}×{height_pt / 72 * 25.4:,.0f} mm): at {dpi} dpi that is "
            f"{pixels:,} pixels, over the {max_pixels:,}-pixel limit", final=True)
