"""Border cropping (裁边): remove the dark scanner background around the sheet.

DA/T 31-2017 §10.3: cropping keeps a 2–3 mm margin beyond the paper edge and never removes
binding holes (装订孔), stains or anything else on the paper. So the crop is the paper's
bounding rectangle plus ``margin_mm``; anything darker that lies *on* the paper (holes,
photos, tables, stains) is part of the paper because it is surrounded by it.

The background is found as the dark pixels connected to the image edge; the paper is
everything else that forms a large region. Without a clear dark border (white scanner lid,
sheet filling the frame) nothing is cropped.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .deskew import shrink, to_gray

MARGIN_MM = 2.5

# Detection runs on a copy at about this resolution: 1 px = 0.25 mm, so the box is exact to
# well inside the 2–3 mm margin band, and a 300-dpi A4 page takes a few milliseconds.
_WORK_DPI = 100
_MAX_WORK_SIDE = 1600  # cap for very large scans or absurd dpi values

# Background = clearly darker than the paper: below this share of the paper brightness.
# Yellowed paper under uneven light stays above 0.75 of its own brightest level on the
# rendered pages (light field 0.86–1.0); black or dark-grey scanner backgrounds are
# 10–35 % of it. A mid-grey bed (> 50 %) is not recognised: no crop, never a wrong one.
_DARK_SHARE = 0.5
# A border exists when dark background covers this share of the image's outer ring (one
# full short side of an A4 scan is ~21 % of the ring; text touching the frame of a
# full-bleed scan stays far below).
_MIN_FRAME_COVER = 0.15
# Light regions this large (share of the image) count as paper: a sheet split by a dark
# rule or a full-width photo still keeps all its parts, specks in the background do not.
_MIN_PAPER_SHARE = 0.01


def _work_copy(gray: np.ndarray, dpi: int) -> tuple[np.ndarray, float]:
    scale = min(1.0, _WORK_DPI / max(dpi, 1), _MAX_WORK_SIDE / max(gray.shape))
    return shrink(gray, scale), scale


def _outer_ring(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])


def _background(small: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Mask of the dark background connected to the image edge and the grey level that
    separates it from paper, or None if there is no such background."""
    small = cv2.medianBlur(small, 3)  # sensor noise and JPEG speckle, not structure
    paper = float(np.percentile(small, 90))
    if paper < 60:
        return None  # an all-dark image: nothing to tell paper from background
    threshold = _DARK_SHARE * paper
    dark = (small < threshold).astype(np.uint8)
    _, labels = cv2.connectedComponents(dark, connectivity=4)
    edge_labels = np.unique(_outer_ring(labels))
    edge_labels = edge_labels[edge_labels != 0]
    if edge_labels.size == 0:
        return None
    background = np.isin(labels, edge_labels)
    if np.count_nonzero(_outer_ring(background)) < _MIN_FRAME_COVER * _outer_ring(background).size:
        return None
    return background, threshold


def find_paper(image: np.ndarray, dpi: int) -> tuple[int, int, int, int] | None:
    """Bounding box ``(x0, y0, x1, y1)`` (x1, y1 exclusive) of the sheet on a dark
    background, in full-resolution pixels; None when there is no clear dark border.

    The box is rounded outwards to whole work pixels, so it never cuts into the paper.
    """
    gray = to_gray(image)
    small, scale = _work_copy(gray, dpi)
    found = _background(small)
    if found is None:
        return None
    background = found[0]
    n, _, stats, _ = cv2.connectedComponentsWithStats((~background).astype(np.uint8), connectivity=8)
    if n <= 1:
        return None
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.nonzero(areas >= _MIN_PAPER_SHARE * small.size)[0] + 1
    if keep.size == 0:
        return None
    x0 = int(stats[keep, cv2.CC_STAT_LEFT].min())
    y0 = int(stats[keep, cv2.CC_STAT_TOP].min())
    x1 = int((stats[keep, cv2.CC_STAT_LEFT] + stats[keep, cv2.CC_STAT_WIDTH]).max())
    y1 = int((stats[keep, cv2.CC_STAT_TOP] + stats[keep, cv2.CC_STAT_HEIGHT]).max())
    h, w = gray.shape
    # One extra work pixel outwards: the edge pixel of the small copy mixes paper and
    # background, so the true edge may lie anywhere inside it.
    return (
        max(0, math.floor((x0 - 1) / scale)),
        max(0, math.floor((y0 - 1) / scale)),
        min(w, math.ceil((x1 + 1) / scale)),
        min(h, math.ceil((y1 + 1) / scale)),
    )


def crop_borders(
    image: np.ndarray, dpi: int, margin_mm: float = MARGIN_MM
) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
    """Crop the dark scanner border (裁边) to the paper plus ``margin_mm`` (DA/T 31 §10.3).

    Returns ``(cropped, (x0, y0, x1, y1))`` with x1/y1 exclusive, or ``(image, None)``
    unchanged when there is no clear dark border or nothing would be removed. Holes,
    stains, photos and tables on the paper stay inside: only background connected to the
    image edge is cut. The sheet may be slightly skewed; the crop is its bounding
    rectangle. Deskew first (with the background colour as fill, see
    :func:`background_fill`), or white rotation corners hide the border.
    """
    paper = find_paper(image, dpi)
    if paper is None:
        return image, None
    h, w = image.shape[:2]
    m = max(0, round(margin_mm / 25.4 * dpi))
    box = (max(0, paper[0] - m), max(0, paper[1] - m), min(w, paper[2] + m), min(h, paper[3] + m))
    if box == (0, 0, w, h):
        return image, None
    x0, y0, x1, y1 = box
    return np.ascontiguousarray(image[y0:y1, x0:x1]), box


def neutralise_background(gray: np.ndarray, dpi: int) -> np.ndarray:
    """Grey copy with a dark scanner border painted in the paper's grey; ``gray`` itself
    when there is no border.

    For measuring, not for delivery: a large dark border pulls Otsu's threshold (skew
    estimate, Tesseract OSD) halfway between bed and paper, which broke thin strokes into
    fragments; on rendered sheets on a black bed the skew came out 0 and OSD turned pages
    by 180°.
    """
    gray = to_gray(gray)
    small, _ = _work_copy(gray, dpi)
    found = _background(small)
    if found is None:
        return gray
    background: np.ndarray = found[0].astype(np.uint8)
    background = cv2.dilate(background, np.ones((5, 5), np.uint8))  # the mixed edge pixels too
    h, w = gray.shape
    mask = cv2.resize(background, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    out = gray.copy()
    out[mask] = np.uint8(np.percentile(small[~found[0]], 90))
    return out


def background_fill(image: np.ndarray, dpi: int = 300) -> int | tuple[int, ...] | None:
    """Colour of a dark scanner border (median of the outer ring), None without one.

    Used as the fill for deskew rotation, so the new corners continue the background
    instead of forming white triangles that :func:`crop_borders` would take for paper.
    """
    gray = to_gray(image)
    small, _ = _work_copy(gray, dpi)
    found = _background(small)
    if found is None:
        return None
    dark = _outer_ring(gray) < found[1]  # the ring may also cross the sheet where it touches the edge
    ring = _outer_ring(image) if image.ndim == 2 else np.concatenate(
        [image[0], image[-1], image[1:-1, 0], image[1:-1, -1]]
    )
    median = np.median(ring[dark], axis=0)
    if image.ndim == 2:
        return int(median)
    return tuple(int(v) for v in median)
