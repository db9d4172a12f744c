"""Cheap page-level image properties: colour mode and blank-page detection (空白页)."""

from __future__ import annotations

import cv2
import numpy as np

from .deskew import to_gray

_SAMPLE_SIDE = 1000  # both checks run on a downscaled copy; they are statistics, not details


def _small(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    scale = min(1.0, _SAMPLE_SIDE / max(h, w))
    if scale >= 1.0:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


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
        if max(stats[i, cv2.CC_STAT_WIDTH], stats[i, cv2.CC_STAT_HEIGHT]) >= min_side and stats[i, cv2.CC_STAT_AREA] >= 6:
            significant += 1
            if significant > 2:
                return False
    return True
