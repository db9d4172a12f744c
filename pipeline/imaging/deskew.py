"""Skew estimation and rotation of scanned pages (纠偏).

The estimate is the one measured in the engine study (engine study, see ocr_models/README.md):
dilate the ink so that the characters of a text line merge into one blob, take the
``minAreaRect`` of each long blob and return the median angle. Residual error there was
0.01° median, 0.48° worst on degraded horizontal pages. A projection-profile search around
that estimate then refines it: on 108 rendered pages (±10°, five fonts, forms, 竖排, sheets
on a dark bed, turned 0/90/180/270, 150–300 dpi) the angle applied by ``prepare_image``
was within 0.062° of the rendered skew (median 0.007°).

Angles are degrees, counter-clockwise positive, as seen on screen (y axis down).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# Work on a copy whose long side is at most this many pixels: plenty of precision for a
# median over many lines (1 px over a 1000 px line is 0.06°) and fast.
_WORK_SIDE = 1800


def to_gray(image: np.ndarray) -> np.ndarray:
    """H×W uint8 grey from a grey, BGR or BGRA array."""
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def shrink(image: np.ndarray, scale: float) -> np.ndarray:
    """``image`` scaled down by ``scale`` (area averaging, no aliasing); unchanged if ``scale >= 1``.

    Every measurement here (skew, OSD, borders, seals, quality, text detection) works on a
    reduced copy: they are statistics over many pixels, not details.
    """
    if scale >= 1.0:
        return image
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def _fold(angle: float) -> float:
    """Fold an angle into [-45, 45).

    OpenCV >= 4.5 changed the ``minAreaRect`` angle convention (0, 90]; code written for the
    old (-90, 0] convention returns e.g. -86.4° for a +3.6° skew. Working from the long
    edge's direction and folding modulo 90° is independent of that convention.
    """
    return (angle + 45.0) % 90.0 - 45.0


def _line_angles(binary: np.ndarray, kernel: tuple[int, int], min_len: float) -> tuple[list[float], list[float]]:
    """Angles (CCW, folded) and lengths of the long blobs after dilating with ``kernel`` (w, h)."""
    dilated = cv2.dilate(binary, cv2.getStructuringElement(cv2.MORPH_RECT, kernel))
    contours, _ = cv2.findContours(dilated, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    angles: list[float] = []
    lengths: list[float] = []
    for contour in contours:
        if len(contour) < 5:
            continue
        (_, _), (rw, rh), _ = rect = cv2.minAreaRect(contour)
        long_side, short_side = max(rw, rh), min(rw, rh)
        if long_side < min_len or long_side < 4 * max(short_side, 1.0):
            continue  # not a line: a blot, a seal, a photo, a short word
        pts = cv2.boxPoints(rect)
        # Direction of the longest edge; image y points down, so negate for CCW-positive.
        best = max(((pts[i], pts[(i + 1) % 4]) for i in range(4)), key=lambda e: np.hypot(*(e[1] - e[0])))
        dx, dy = best[1] - best[0]
        angles.append(_fold(-math.degrees(math.atan2(dy, dx))))
        lengths.append(long_side)
    return angles, lengths


def _weighted_median(values: list[float], weights: list[float]) -> float:
    order = np.argsort(values)
    v = np.asarray(values)[order]
    w = np.asarray(weights)[order]
    cumulative = np.cumsum(w)
    return float(v[np.searchsorted(cumulative, cumulative[-1] / 2.0)])


def estimate_skew(gray: np.ndarray) -> float:
    """Skew of the text on the page in degrees (CCW positive, in [-45, 45)); 0.0 if unknown.

    A page whose lines rise to the right gives a positive angle; ``rotate(image, -angle)``
    straightens it. The estimate is the same for a page turned by 90/180/270°, so it can
    run before orientation detection. Vertical (竖排) pages are handled by looking for
    tall column blobs when there are too few line blobs.
    """
    gray = to_gray(gray)
    gray = shrink(gray, _WORK_SIDE / max(gray.shape[:2]))
    # Otsu on a lightly blurred copy: ink = 255. Red seals and yellow paper are lighter
    # than black ink in grey, so they mostly fall on the paper side.
    blurred = cv2.GaussianBlur(gray, (3, 3), 0)
    _, binary = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))  # speckle noise
    if cv2.countNonZero(binary) < 0.001 * binary.size:
        return 0.0

    components = cv2.connectedComponentsWithStats(binary, connectivity=8)
    char = _char_size(binary, components[2])
    if char is None:
        return 0.0
    gap = max(3, round(char * 0.9))  # bridges the space between characters, not between lines
    min_len = max(6 * char, 0.08 * max(binary.shape))
    angles, lengths = _line_angles(binary, (gap, 1), min_len)
    v_angles, v_lengths = _line_angles(binary, (1, gap), min_len)
    # The text direction is the one whose blobs add up to more length: across the text, the
    # dilation merges lines into slabs that the aspect filter drops, leaving short debris
    # (measured: line direction 3–30 000× the other on 60 rendered pages, never below 3×).
    # Counting blobs instead picked four debris blobs on a 300-dpi 竖排 page (4.6° error).
    if sum(v_lengths) > sum(lengths):
        angles, lengths = v_angles, v_lengths
    if not angles:
        return 0.0
    coarse = _weighted_median(angles, lengths)
    return _refine(components, coarse)


# Refinement search around the blob estimate: ±_REFINE_SPAN in _REFINE_STEP steps, then a
# finer pass. The blob median alone was off by up to 0.31° on 竖排 pages (column blobs are
# ragged: punctuation sits in a corner of its cell); the profile search brought every
# rendered page (±10°, 4 fonts, forms, 150–300 dpi) within 0.1°.
_REFINE_SPAN = 0.6
_REFINE_STEP = 0.1
_REFINE_POINTS = 120_000


def _ink_points(components: tuple) -> np.ndarray | None:
    """(x, y) float32 coordinates of ink that belongs to text and rules, subsampled.

    Components touching the image edge (a dark scanner border, an edge shadow) and large
    solid ones (photos, filled blocks) are left out: their straight outlines follow the
    scanner, not the text, and their mass would dominate the profiles.
    """
    n, labels, stats, _ = components
    if n <= 1:
        return None
    h, w = labels.shape
    x, y, bw, bh, area = (stats[:, i] for i in range(5))
    touches = (x == 0) | (y == 0) | (x + bw >= w) | (y + bh >= h)
    solid = (area > 0.002 * h * w) & (area > 0.3 * bw * bh)
    keep = ~(touches | solid)
    keep[0] = False
    ys, xs = np.nonzero(keep[labels])
    if xs.size < 200:
        return None
    if xs.size > _REFINE_POINTS:
        step = xs.size // _REFINE_POINTS + 1  # deterministic: same page, same answer
        xs, ys = xs[::step], ys[::step]
    return np.stack([xs, ys]).astype(np.float32)


def _profile_score(points: np.ndarray, angle: float) -> float:
    """Sharpness of the line and column profiles of ``points`` for a skew of ``angle``.

    Along a text line tilted by ``angle`` (CCW), ``x·sin + y·cos`` is constant; along a
    column ``x·cos − y·sin`` is. When ``angle`` is the true skew both histograms have their
    sharpest peaks, i.e. the largest sum of squares. Summing both handles horizontal and
    vertical (竖排) text and ruled tables alike.
    """
    t = math.radians(angle)
    c, s = math.cos(t), math.sin(t)
    score = 0.0
    for proj in (points[0] * s + points[1] * c, points[0] * c - points[1] * s):
        idx = (proj - proj.min()).astype(np.int32)
        counts = np.bincount(idx).astype(np.float64)
        score += float(counts @ counts)
    return score


def _refine(components: tuple, coarse: float) -> float:
    """Best profile angle near ``coarse``; ``components`` as from connectedComponentsWithStats."""
    points = _ink_points(components)
    if points is None:
        return coarse
    best = coarse
    for step, span in ((_REFINE_STEP, _REFINE_SPAN), (_REFINE_STEP / 5, _REFINE_STEP)):
        candidates = best + np.arange(-span, span + step / 2, step)
        scores = [_profile_score(points, a) for a in candidates]
        best = float(candidates[int(np.argmax(scores))])
    return _fold(round(best, 3))


def _char_size(binary: np.ndarray, stats: np.ndarray) -> float | None:
    """Median height of character-sized connected components (pixels), None if none."""
    if len(stats) <= 1:
        return None
    hs = stats[1:, cv2.CC_STAT_HEIGHT]
    ws = stats[1:, cv2.CC_STAT_WIDTH]
    limit = max(binary.shape) * 0.05
    sizes = np.maximum(hs, ws)
    sizes = sizes[(sizes >= 6) & (sizes <= limit)]
    if sizes.size < 5:
        return None
    return float(np.median(sizes))


def _fill(image: np.ndarray) -> int | tuple[int, ...]:
    return 255 if image.ndim == 2 else (255,) * image.shape[2]


def rotate(image: np.ndarray, angle: float, fill: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Rotate counter-clockwise by ``angle`` degrees, enlarging the canvas so no part of the
    page is cut off; new corners are white (paper), not black, unless ``fill`` gives their
    colour (the scanner background, so that border cropping still sees one border).
    """
    if not angle:
        return image.copy()
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w = int(math.ceil(h * sin + w * cos))
    new_h = int(math.ceil(h * cos + w * sin))
    matrix[0, 2] += new_w / 2.0 - w / 2.0
    matrix[1, 2] += new_h / 2.0 - h / 2.0
    return cv2.warpAffine(
        image, matrix, (new_w, new_h), flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_CONSTANT, borderValue=_fill(image) if fill is None else fill,
    )


def rotate_quarter(image: np.ndarray, clockwise: int) -> np.ndarray:
    """Exact (lossless) rotation by 0/90/180/270 degrees clockwise."""
    clockwise %= 360
    if clockwise == 0:
        return image.copy()
    code = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    if clockwise not in code:
        raise ValueError(f"rotation must be 0/90/180/270, got {clockwise}")
    return cv2.rotate(image, code[clockwise])
