"""The OCR stage for one page: engine, table rows, fallback and the review flag.

:class:`PageReader` is the reading step of :func:`pipeline.ocr.read_page`, the page path the
worker, ``dangan ocr`` and ``make bench-ocr`` share:

1. the configured engine recognises the page (RapidOCR routes each region itself:
   horizontal lines whole, vertical columns in pieces; see :mod:`pipeline.ocr.rapid`);
2. on a ruled form, the lines of one table row are joined, cells left to right
   (:mod:`pipeline.ocr.tables`), so a label stays next to its value;
3. if the engine fails on a page, the fallback engine (Tesseract) reads it instead of the
   whole item failing; the page records which engine produced its text.

Tesseract is not chosen per region: on every page type of the benchmark it was less
accurate than RapidOCR with this routing (see README, OCR benchmark), so it only stands in.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

import numpy as np

from pipeline.domain import OcrPage

from .base import DEFAULT_LANGUAGES, OcrEngine
from .engines import get_engine
from .tables import find_tables, merge_rows

log = logging.getLogger(__name__)

# One character per printed box (公民身份号码 grids, phone boxes) comes out as "4 1 0 7 …".
_BOXED = re.compile(r"(?:[0-9Xx] ){5,}[0-9Xx](?![0-9A-Za-z])")


class PageReader:
    """Reads page images with one engine (models loaded once) and an optional fallback."""

    def __init__(
        self,
        engine: OcrEngine,
        *,
        fallback: OcrEngine | None = None,
        languages: str = DEFAULT_LANGUAGES,
        review_below: float = 0.85,
    ) -> None:
        self.engine = engine
        self.fallback = fallback
        self.languages = languages
        self.review_below = float(review_below)

    @classmethod
    def from_settings(cls, ocr) -> PageReader:
        """Build from :class:`pipeline.config.settings.OcrSettings`."""
        options = {"threads": ocr.threads, "runtime": ocr.runtime} if ocr.engine == "rapidocr" else {}
        engine = get_engine(ocr.engine, **options)
        fallback = get_engine("tesseract") if ocr.engine != "tesseract" and ocr.fallback == "tesseract" else None
        return cls(engine, fallback=fallback, languages=ocr.languages, review_below=ocr.review_below)

    def read(self, image: np.ndarray) -> OcrPage:
        """Text lines of one oriented, deskewed page image, in reading order."""
        try:
            page = self.engine.recognize(image, languages=self.languages)
        except Exception:
            if self.fallback is None:
                raise
            log.exception("%s failed on a page; reading it with %s", self.engine.name, self.fallback.name)
            page = self.fallback.recognize(image, languages=self.languages)
        if page.lines and not any(line.vertical for line in page.lines):
            tables = find_tables(image)
            if tables:
                page = replace(page, lines=tuple(merge_rows(page.lines, tables)))
        lines = tuple(replace(line, text=_BOXED.sub(lambda m: m.group().replace(" ", ""), line.text))
                      for line in page.lines)
        return replace(page, lines=lines)

    def needs_review(self, page: OcrPage) -> bool:
        """True when a page with text was read with low confidence (a person should look)."""
        return bool(page.lines) and page.confidence < self.review_below
