"""OCR stage (文字识别): page image → text lines with boxes, in reading order.

RapidOCR (PP-OCRv6-small, models inside the wheel) is the default engine; Tesseract is the
baseline. Nothing is downloaded at run time. See ``ocr_models/README.md``.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.domain import OcrPage

from .base import DEFAULT_LANGUAGES, OcrEngine
from .engines import available_engines, get_engine
from .layout import is_vertical, order
from .reader import PageReader


def recognize_file(path: Path | str, reader: PageReader | None = None, *, prepare: bool = True) -> OcrPage:
    """OCR one image file (used by ``dangan ocr IMAGE``).

    The image is read with its EXIF orientation applied; with ``prepare`` it is oriented
    (Tesseract OSD) and deskewed in memory first, exactly as the pipeline does, so box
    coordinates refer to that prepared image; a red seal is suppressed for OCR as in the
    pipeline. Multi-page files: the first frame only.
    """
    from pipeline.imaging import load_image, ocr_copy, prepare_image

    image = load_image(path)
    if prepare:
        image, _, _ = prepare_image(image)
        image, _ = ocr_copy(image)
    return (reader or PageReader(get_engine("rapidocr"))).read(image)


__all__ = [
    "DEFAULT_LANGUAGES",
    "OcrEngine",
    "PageReader",
    "available_engines",
    "get_engine",
    "is_vertical",
    "order",
    "recognize_file",
]
