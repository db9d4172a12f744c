"""Seal suppression for the OCR copy (印章去除): red 公章 ink removed, text kept.

A red official seal stamped over printed text breaks OCR on those lines: in plain grey the
seal's ring and characters are as dark as mid-grey ink. A stamp multiplies what lies under
it by the ink's transmission: paper turns red-grey (grey ~85–200), black text under it a
dark reddish black (grey < 45). Where the pixels are red, the grey is divided by the
seal's own transmission, which brings the ink back to paper brightness and leaves the text
dark. The red channel alone would do this on lossless scans, but JPEG's half-resolution
chroma smears the seal's red into thin black strokes (text under a seal went from grey
37 to 85 in the red channel); the grey (luma) channel keeps full resolution.

Only the copy that OCR reads is changed. The working image (and so the PDF/A) keeps the
seal: it is part of the record.
"""

from __future__ import annotations

import cv2
import numpy as np

from .deskew import shrink, to_gray

_SAMPLE_SIDE = 1000  # detection runs on a copy of this long side; suppression at full size

# "Strongly red": red exceeds both green and blue by this much. Seal ink on white or yellowed
# paper measures 60–140 on rendered seals (stamp pressure 0.35–0.8); black text under the
# seal 10–20, yellowed paper ~12, brown-aged paper up to ~30, blue pen below 0.
_RED_MARGIN = 60
# Below this share of strongly red pixels the page has no seal (one seal of 4 cm is
# 0.3–0.8 % of an A4 page; a 2 cm 私章 about 0.1 %).
MIN_SEAL_SHARE = 0.0002
# Soft mask: pixels with red margin below _FADE_LO keep their grey value, above _FADE_HI
# get the seal's full gain; in between part of it (anti-aliased stroke edges).
_FADE_LO, _FADE_HI = 30.0, 60.0
# The gain is measured on seal ink over paper, not over text: strongly red pixels with at
# least this grey (seal ink on paper is 85–200 on the renders, text under it below 45).
_MIN_SEAL_GREY = 60
_MAX_GAIN = 3.0  # seal ink transmits ≥ 40 % of grey light; more would be a measuring error
# A seal is a compact red region: its bounding box is 3–35 % of the page's short side (6–74
# mm on A4: from a 私章 to a large oval 财务专用章) and at most twice as long as wide. Red
# that fails this — a 红头 header line, the red rule under it, red pen notes — is text to
# read and is left alone.
_SEAL_MIN_SIDE, _SEAL_MAX_SIDE, _SEAL_MAX_ASPECT = 0.03, 0.35, 2.0


def _redness(bgr: np.ndarray) -> np.ndarray:
    b, g, r = (bgr[..., i].astype(np.int16) for i in range(3))
    return r - np.maximum(g, b)


def find_seals(image: np.ndarray) -> tuple[list[tuple[int, int, int, int]], float]:
    """Boxes ``(x0, y0, x1, y1)`` of red seals (公章) in full-size pixels, and the share of
    the page covered by their strongly red ink. ``([], 0.0)`` for grey images and pages
    without a seal."""
    if image.ndim != 3 or image.shape[2] < 3:
        return [], 0.0
    h, w = image.shape[:2]
    scale = min(1.0, _SAMPLE_SIDE / max(h, w))
    small = shrink(image[..., :3], scale)
    red = (_redness(small) >= _RED_MARGIN).astype(np.uint8)
    if np.count_nonzero(red) < MIN_SEAL_SHARE * red.size:
        return [], 0.0
    sh, sw = red.shape
    short = min(sh, sw)
    # Join the ring, star and characters of one seal (text crossing it breaks the ring).
    k = max(3, round(0.015 * short))
    grouped = cv2.dilate(red, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(grouped, connectivity=8)
    red_per_label = np.bincount(labels[red > 0], minlength=n)
    boxes: list[tuple[int, int, int, int]] = []
    ink = 0
    for i in range(1, n):
        x, y, bw, bh, _ = stats[i]
        long_side, short_side = max(bw, bh), min(bw, bh)
        if not (_SEAL_MIN_SIDE * short <= long_side <= _SEAL_MAX_SIDE * short):
            continue
        if long_side > _SEAL_MAX_ASPECT * short_side:
            continue
        ink += int(red_per_label[i])
        pad = k  # the grey-to-red fade of the outermost strokes
        boxes.append((
            max(0, int((x - pad) / scale)), max(0, int((y - pad) / scale)),
            min(w, int(np.ceil((x + bw + pad) / scale))), min(h, int(np.ceil((y + bh + pad) / scale))),
        ))
    share = ink / red.size
    if share < MIN_SEAL_SHARE:
        return [], 0.0
    return boxes, share


def ocr_copy(image: np.ndarray) -> tuple[np.ndarray, float]:
    """The image OCR should read, and the share of the page under seal ink (0.0 … 1.0).

    With a red seal (公章) on the page, returns a GREY copy in which the seal ink is lifted
    to paper brightness, while black print — also under the seal — and blue/black pen stay
    as dark as in plain grey; red outside seals (红头 headers) is untouched. Without a seal
    returns ``(image, 0.0)``, the same object. Never use the result as the delivered
    working image: that keeps the seal.
    """
    boxes, share = find_seals(image)
    if not boxes:
        return image, 0.0
    bgr = image[..., :3]
    out = to_gray(image).copy()
    for x0, y0, x1, y1 in boxes:
        roi = bgr[y0:y1, x0:x1]
        grey = out[y0:y1, x0:x1].astype(np.float32)
        redness = _redness(roi)
        strong = (redness >= _RED_MARGIN) & (grey >= _MIN_SEAL_GREY)
        if np.count_nonzero(strong) < 20:
            continue
        # The stamp multiplies whatever lies under it by the ink's transmission, so one gain
        # per seal undoes it: seal ink on paper comes back to paper level (the darkest fifth
        # of it exactly, the rest above), text under the seal back to about its own grey.
        paper = float(np.percentile(grey, 95))
        gain = min(_MAX_GAIN, paper / max(float(np.percentile(grey[strong], 20)), 1.0))
        weight = np.clip((redness - _FADE_LO) / (_FADE_HI - _FADE_LO), 0.0, 1.0)
        lifted = grey * (1.0 + weight * (gain - 1.0))
        out[y0:y1, x0:x1] = np.minimum(lifted + 0.5, 255.0).astype(np.uint8)
    return out, share
