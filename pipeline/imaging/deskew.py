"""Skew estimation and rotation of scanned pages (纠偏).

The estimate is the one measured in the engine study (engine study, see ocr_models/README.md):
dilate the ink so that the characters of a text line merge into one blob, take the
``minAreaRect`` of each long blob and return the median angle. Residual error there was
0.01° median, 0.48° worst on degraded horizontal pages.

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
    h, w = gray.shape[:2]
    scale = min(1.0, _WORK_SIDE / max(h, w))
    if scale < 1.0:
        gray = cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    # Otsu on a lightly blurred copy: ink = 255. Red seals and yellow paper are lighter
    # than black ink in grey, so they mostly fall on the paper side.
    blurred = cv2.GaussianBlur(gray, (3, 3), 0)
    _, binary = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))  # speckle noise
    if cv2.countNonZero(binary) < 0.001 * binary.size:
        return 0.0

    char = _char_size(binary)
    if char is None:
        return 0.0
    gap = max(3, round(char * 0.9))  # bridges the space between characters, not between lines
    min_len = max(6 * char, 0.08 * max(binary.shape))
    angles, lengths = _line_angles(binary, (gap, 1), min_len)
    if len(angles) < 3:
        v_angles, v_lengths = _line_angles(binary, (1, gap), min_len)
        if len(v_angles) > len(angles):
            angles, lengths = v_angles, v_lengths
    if not angles:
        return 0.0
    return _weighted_median(angles, lengths)


def _char_size(binary: np.ndarray) -> float | None:
    """Median height of character-sized connected components (pixels), None if none."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n <= 1:
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


def rotate(image: np.ndarray, angle: float) -> np.ndarray:
    """Rotate counter-clockwise by ``angle`` degrees, enlarging the canvas so no part of the
    page is cut off; new corners are white (paper), not black.
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
        borderMode=cv2.BORDER_CONSTANT, borderValue=_fill(image),
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
