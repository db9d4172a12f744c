"""One page's path through imaging and OCR: prepare → seal-free copy → read.

:func:`read_page` is what the worker, ``dangan ocr`` and the benchmarks call, so all of them
read a page the same way and honour the same imaging settings (``imaging.detect_orientation``,
``imaging.deskew``, ``imaging.default_dpi``):

1. the page is oriented (Tesseract OSD), deskewed and cropped (:mod:`pipeline.imaging`); for a
   catalogued page the working copy is written beside it, and the master is never touched;
2. OCR reads a copy with red seal ink lifted (:func:`pipeline.imaging.ocr_copy`): the working
   copy and the PDF keep the seal;
3. the configured engine (and its fallback) reads it (:class:`pipeline.ocr.reader.PageReader`),
   and a page read with low confidence is flagged for a person.

OCR reads the prepared pixels, not the working file: a transformed JPEG page is re-encoded,
and that generation loss was seen to cost thin strokes (the ``1`` in a boxed ID grid).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipeline.domain import OcrPage, PageSource, PreparedPage
from pipeline.imaging import file_dpi, load_image, ocr_copy, prepare_array, prepare_page_pixels

from .reader import PageReader

if TYPE_CHECKING:
    from pipeline.config.settings import ImagingSettings

# Added to a page's operations / quality flags by the OCR step, not by imaging: a page whose
# imaging was committed before an interruption is rebuilt without them (runner.worker).
SEAL_OPERATION = "seal-suppressed-for-ocr"
REVIEW_FLAG = "low-ocr-confidence"


@dataclass(frozen=True)
class PageReading:
    """A page as the OCR stage read it, and what was done to get there."""

    ocr: OcrPage
    rotation: int  # clockwise degrees the page was turned before reading (EXIF excluded for files)
    deskew_angle: float  # degrees applied after the turn (counter-clockwise positive)
    operations: tuple[str, ...]  # imaging steps, then the seal suppression, in order
    flags: tuple[str, ...]  # capture-quality flags, then low OCR confidence
    prepared: PreparedPage | None = None  # a catalogued page: its working copy and geometry

    @property
    def needs_review(self) -> bool:
        return REVIEW_FLAG in self.flags


def read_page(
    page: PageSource | Path | str | np.ndarray,
    reader: PageReader,
    imaging: ImagingSettings,
    *,
    work_dir: Path | None = None,
    prepare: bool = True,
) -> PageReading:
    """Prepare and read one page.

    ``page`` is a catalogued page (:class:`PageSource`: its working copy is written into
    ``work_dir``), an image file (EXIF orientation applied, its DPI used when it states one;
    the first frame of a multi-page file) or decoded pixels (grey or BGR; the benchmark times
    from here). Without ``prepare`` a file or pixels are read as they are (``dangan ocr
    --no-prepare``). Box coordinates refer to the prepared image.
    """
    if isinstance(page, PageSource):
        if work_dir is None:
            raise ValueError("a catalogued page needs a work_dir for its working copy")
        prepared, pixels = prepare_page_pixels(
            page, work_dir, default_dpi=imaging.default_dpi,
            detect_orientation=imaging.detect_orientation, deskew=imaging.deskew)
        return _read(pixels, reader, prepared.rotation, prepared.deskew_angle, prepared.operations,
                     prepared.quality, prepared)
    dpi = None
    if not isinstance(page, np.ndarray):
        dpi = file_dpi(page)
        page = load_image(page)
    if not prepare:
        return _read(page, reader, 0, 0.0, (), ())
    done = prepare_array(page, dpi=dpi or imaging.default_dpi,
                         detect_orientation=imaging.detect_orientation, deskew=imaging.deskew)
    return _read(done.working, reader, done.rotation, done.angle, done.operations, ())


def _read(pixels: np.ndarray, reader: PageReader, rotation: int, angle: float, operations: tuple[str, ...],
          quality: tuple[str, ...], prepared: PreparedPage | None = None) -> PageReading:
    ocr_pixels, seal_share = ocr_copy(pixels)
    ocr = reader.read(ocr_pixels)
    seal = (f"{SEAL_OPERATION} share {seal_share:.2%}",) if seal_share else ()
    review = (REVIEW_FLAG,) if reader.needs_review(ocr) else ()
    return PageReading(ocr, rotation, float(angle), tuple(operations) + seal, tuple(quality) + review, prepared)
