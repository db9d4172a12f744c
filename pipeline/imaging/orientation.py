"""Page orientation (0/90/180/270) from Tesseract OSD.

RapidOCR's own 0/180 line classifier does not fix page order; without a page-level step
every engine failed on 180/270° pages (75–99 % CER). Tesseract OSD (Debian
``tesseract-ocr-osd``) on a reduced grey copy was right on 40/40 pages in the engine study
(engine study, see ocr_models/README.md), forms and vertical pages included.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from .deskew import shrink, to_gray

# OpenMP busy-waiting on a shared box made one Tesseract run 30× slower with 2 threads
# (research §5.2). Parallelism comes from one worker process per core instead.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import pytesseract  # noqa: E402  (after OMP_THREAD_LIMIT, which the subprocess inherits)

log = logging.getLogger(__name__)

# OSD is run on a reduced copy. Half size for a 300-dpi A4 page (the study's setting); never
# below ~150 dpi-equivalent for A4 (long side 1754 px), because on a 75-dpi copy the
# confidences collapse (0.1–3.7 instead of 12–17 at ~135 dpi, measured on 150-dpi pages).
_TARGET_LONG_SIDE = 1754
_TIMEOUT_S = 60


def osd_copy(gray: np.ndarray) -> np.ndarray:
    """The reduced grey copy OSD runs on: half size, or less reduction for small scans."""
    gray = to_gray(gray)
    return shrink(gray, max(0.5, _TARGET_LONG_SIDE / max(gray.shape[:2])))


def detect_orientation(gray: np.ndarray) -> tuple[int, float]:
    """Clockwise rotation (0/90/180/270) that makes the page upright, and OSD's confidence.

    The confidence is Tesseract's ``Orientation confidence`` (not bounded to 0..1; correct
    detections on full test pages score about 10–17; below ~1 it is a guess). Returns ``(0, 0.0)``
    when OSD cannot decide: blank page, too few characters, Tesseract missing or timing out.
    """
    small = osd_copy(gray)
    try:
        osd = pytesseract.image_to_osd(
            small,
            config="--psm 0",
            output_type=pytesseract.Output.DICT,
            timeout=_TIMEOUT_S,
        )
    except pytesseract.TesseractNotFoundError:
        log.warning("tesseract not installed: page orientation not detected")
        return 0, 0.0
    except (pytesseract.TesseractError, RuntimeError, ValueError) as exc:
        # "Too few characters. Skipping this page" on blank or nearly blank pages.
        log.debug("OSD failed: %s", exc)
        return 0, 0.0
    try:
        rotation = int(osd["rotate"]) % 360
        confidence = float(osd["orientation_conf"])
    except (KeyError, TypeError, ValueError):
        return 0, 0.0
    if rotation not in (0, 90, 180, 270):
        return 0, 0.0
    return rotation, confidence
