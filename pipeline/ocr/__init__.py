"""OCR stage (文字识别): page image → text lines with boxes, in reading order.

RapidOCR (PP-OCRv6-small, models inside the wheel) is the default engine; Tesseract is the
baseline. Nothing is downloaded at run time. See ``ocr_models/README.md``.

:func:`read_page` (page.py) is the one path from a page to its text: prepare → seal-free
copy → :class:`PageReader` (reader.py). Engines sit behind :class:`OcrEngine` (base.py) and
are found by name in engines.py.
"""

from __future__ import annotations

from .base import DEFAULT_LANGUAGES, OcrEngine
from .engines import available_engines, get_engine
from .layout import is_vertical, order
from .page import REVIEW_FLAG, SEAL_OPERATION, PageReading, read_page
from .reader import PageReader

__all__ = [
    "DEFAULT_LANGUAGES",
    "REVIEW_FLAG",
    "SEAL_OPERATION",
    "OcrEngine",
    "PageReader",
    "PageReading",
    "available_engines",
    "get_engine",
    "is_vertical",
    "order",
    "read_page",
]
