"""Cheap page-level image properties: colour mode, blank pages (空白页), quality flags."""

from __future__ import annotations

import cv2
import numpy as np

from .deskew import shrink, to_gray

_SAMPLE_SIDE = 1000  # both checks run on a downscaled copy; they are statistics, not details


def _small(image: np.ndarray) -> np.ndarray:
    return shrink(image, _SAMPLE_SIDE / max(image.shape[:2]))


def colour_mode(image: np.ndarray) -> str:
    """``"bitonal"``, ``"gray"`` or ``"color"`` for an H×W grey or H×W×3 BGR uint8 array.

    Colour means real chroma on a noticeable share of the page (a red seal 公章, yellowed
    paper, coloured forms), not JPEG chroma noise on a grey scan. Bitonal means (almost) no
    mid-tones: what a 1-bit scanner setting produces.
    """
    small = _small(image)
    if small.ndim == 3 and small.shape[2] >= 3:
        bgr = small[..., :3].astype(np.int16)
        chroma = bgr.max(axis=2) - bgr.min(axis=2)
        if np.count_nonzero(chroma > 28) > 0.001 * chroma.size:
            return "color"
    # Mid-tones are counted at full resolution: downscaling itself creates them.
    full = to_gray(image[..., :3]) if image.ndim == 3 else image
    histogram = np.bincount(full.ravel(), minlength=256)
    if histogram[1:255].sum() == 0:
        return "bitonal"  # a 1-bit scan stored as 8-bit: only 0 and 255
    # Anti-aliased grey scans have a soft edge of mid-tones around every stroke (about a
    # third of the ink); a bitonal scan that went through JPEG has far fewer.
    dark = int(histogram[:49].sum())
    mid = int(histogram[49:208].sum())
    if dark + mid >= 0.0005 * full.size and mid < 0.05 * (dark + mid):
        return "bitonal"
    return "gray"


def is_blank(gray: np.ndarray) -> bool:
    """True when the page carries (almost) no ink: no more than two character-sized marks.

    A 3 % border is ignored (scanner edge shadows, staples). Ink is anything clearly darker
    than the paper, so yellowed paper and scanner noise do not count; a single short line
    of text already makes the page non-blank.
    """
    gray = to_gray(gray)
    small = _small(gray)
    h, w = small.shape
    by, bx = max(1, round(0.03 * h)), max(1, round(0.03 * w))
    core = small[by : h - by, bx : w - bx]
    if core.size == 0:
        return True
    core = cv2.medianBlur(core, 3)
    paper = float(np.percentile(core, 95))
    ink = (core < paper - 60).astype(np.uint8)
    if not ink.any():
        return True
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    min_side = max(3, round(0.004 * max(h, w)))
    significant = 0
    for i in range(1, n):
        side = max(stats[i, cv2.CC_STAT_WIDTH], stats[i, cv2.CC_STAT_HEIGHT])
        if side >= min_side and stats[i, cv2.CC_STAT_AREA] >= 6:
            significant += 1
            if significant > 2:
                return False
    return True


# ───────────────────────────── quality flags ─────────────────────────────
#
# All thresholds were measured on scanfactory renders (4 fonts, white and yellowed paper,
# forms, noise σ 3–8, JPEG 70 / lossless, 150/200/300 dpi); see each constant.

# DA/T 31-2017: 200 dpi is the minimum for archival scans; OCR wants 300 dpi (the engines
# lose thin strokes below that, e.g. the "1" in a boxed ID grid).
MIN_ARCHIVE_DPI = 200
MIN_OCR_DPI = 300
# Paper brightness (90th percentile of grey) below this is an underexposed scan. Clean
# white paper measures 252–254, yellowed paper under uneven light 217–223; the same pages
# darkened ×0.6 measure 133–152.
TOO_DARK_PAPER = 160
# Ink level (10th percentile of the pixels at least 40 darker than the paper around them, on
# the 150-dpi copy) above this is washed-out text: overexposed, faded, pencil. Printed ink measures
# 40–72 (thin 明体 strokes are the lightest); the same pages with contrast squeezed to
# 40–50 % (g·0.4+150, g·0.5+128) 147–176. Blur lightens thin strokes just as much (radius 2
# at 300 dpi: 111–150), so too-light also needs sharp edges: a blurred page is "blurry",
# and smooth stains on a blank sheet are not washed-out text. A washed-out page can read as
# blank (its ink is less than 60 below the paper) and then carries both flags.
TOO_LIGHT_INK = 110
# Sharpness = sqrt(mean Laplacian² / mean gradient²) on text edges of a 150-dpi copy. For a
# Gaussian-blurred edge this is ∝ 1/σ, independent of contrast and of how much text there
# is; on the fixed 150-dpi copy it is a blur measured in millimetres. Sharp renders at
# 150–300 dpi: 1.95–2.75. With PIL GaussianBlur on top: 300 dpi r=1 1.63–1.83, r=1.5
# 1.33–1.42, r=2 1.09–1.12, r=3 0.72–0.76; 200 dpi r=1 1.34–1.42, r=2 0.73–0.77; 150 dpi
# r=1 1.15–1.19. Below this the page is blurry (blur σ ≳ 0.15 mm, ~1.7 px at 300 dpi).
MIN_SHARPNESS = 1.3
# |skew| before correction above this: the page lay clearly crooked on the glass (deskew
# fixes it, but a scan that far off often also has a cut or distorted edge).
MAX_SKEW = 3.0

_MEASURE_DPI = 150
_INK_BELOW_PAPER = 40
_MIN_INK_PIXELS = 100  # on the 150-dpi copy: about one character
_MIN_EDGE_PIXELS = 500  # fewer text edges than a few characters: sharpness not measured


def _measure_copy(gray: np.ndarray, dpi: int) -> np.ndarray:
    return shrink(gray, min(_MEASURE_DPI / max(dpi, 1), 2 * _SAMPLE_SIDE / max(gray.shape)))


def page_levels(gray: np.ndarray, dpi: int) -> tuple[float, float | None, float | None]:
    """``(paper, ink, sharpness)`` as used by :func:`quality_flags`; ink and sharpness are
    None when the page has too little ink to measure them."""
    small = _measure_copy(to_gray(gray), dpi)
    paper = float(np.percentile(small, 90))
    # Ink is measured against the local paper (a max filter wider than any stroke, then
    # smoothed): under uneven light the dim corner of a blank yellowed sheet lies 30–40
    # below the global paper level, and its noise read as faint sharp "ink".
    local_paper = cv2.blur(cv2.dilate(small, np.ones((9, 9), np.uint8)), (31, 31))
    ink_mask = small.astype(np.int16) < local_paper.astype(np.int16) - _INK_BELOW_PAPER
    if np.count_nonzero(ink_mask) < _MIN_INK_PIXELS:
        return paper, None, None
    ink = float(np.percentile(small[ink_mask], 10))
    f = small.astype(np.float32)
    gx = cv2.Sobel(f, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(f, cv2.CV_32F, 0, 1, ksize=3)
    grad2 = (gx * gx + gy * gy) / 64.0  # Sobel 3×3 is 8× the per-pixel slope
    lap = cv2.Laplacian(f, cv2.CV_32F, ksize=1)
    # Text edges: near ink, with a slope above 5 % of the contrast (not paper texture/noise).
    near_ink = cv2.dilate(ink_mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    edges = near_ink & (grad2 > (0.05 * (paper - ink)) ** 2)
    if np.count_nonzero(edges) < _MIN_EDGE_PIXELS:
        return paper, ink, None
    sharpness = float(np.sqrt(np.mean(lap[edges] ** 2) / np.mean(grad2[edges])))
    return paper, ink, sharpness


def quality_flags(gray: np.ndarray, dpi: int, skew_before: float = 0.0) -> tuple[str, ...]:
    """Capture-quality problems of a page (图像质量检查), for review lists.

    ``gray`` is the working image (grey or BGR, after orientation, deskew and cropping);
    ``skew_before`` the skew found before correction. Flags, in this order:
    ``low-dpi`` (below the 200-dpi archival minimum), ``below-ocr-dpi`` (below 300 dpi),
    ``blank``, ``too-dark`` (underexposed paper), ``too-light`` (washed-out ink),
    ``blurry`` and ``skewed`` (more than 3° before correction). Thresholds and how they
    were measured: the module constants.
    """
    flags: list[str] = []
    if dpi < MIN_ARCHIVE_DPI:
        flags.append("low-dpi")
    if dpi < MIN_OCR_DPI:
        flags.append("below-ocr-dpi")
    gray = to_gray(gray)
    blank = is_blank(gray)
    if blank:
        flags.append("blank")
    paper, ink, sharpness = page_levels(gray, dpi)
    if paper < TOO_DARK_PAPER:
        flags.append("too-dark")
    sharp = sharpness is not None and sharpness >= MIN_SHARPNESS
    if ink is not None and ink > TOO_LIGHT_INK and sharp:
        flags.append("too-light")
    if not blank and sharpness is not None and not sharp:
        flags.append("blurry")
    if abs(skew_before) > MAX_SKEW:
        flags.append("skewed")
    return tuple(flags)
