"""OCR engine interface and the per-process engine registry."""

from __future__ import annotations

from abc import ABC, abstractmethod

import cv2
import numpy as np

from pipeline.domain import OcrPage, OcrWord, Quad

DEFAULT_LANGUAGES = "chi_sim+chi_tra"


class OcrEngine(ABC):
    """One OCR engine with its models loaded.

    ``recognize`` takes an H×W×3 uint8 BGR (OpenCV order) or H×W grey page image, already
    oriented and deskewed (see :func:`pipeline.imaging.prepare_image`), and returns the
    lines in reading order, each with per-character (or per-word) boxes in the pixel
    coordinates of that image and confidences in 0..1.
    """

    name: str

    @abstractmethod
    def version(self) -> str:
        """Engine, model and version, e.g. ``rapidocr 3.10.0 PP-OCRv6_small``; stored with the text."""

    @abstractmethod
    def recognize(self, image: np.ndarray, *, languages: str = DEFAULT_LANGUAGES) -> OcrPage:
        """Recognise one page image."""


# ───────────────────────────── helpers for adapters ─────────────────────────────


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Validate a page array and return it as contiguous H×W×3 uint8 BGR."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return np.ascontiguousarray(image)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 1:
        return cv2.cvtColor(image[..., 0], cv2.COLOR_GRAY2BGR)
    raise ValueError(f"expected an H×W or H×W×3 image, got shape {image.shape}")


def to_quad(points) -> Quad:
    """4 points (any nested sequence / array) → a Quad of plain floats (JSON-safe)."""
    pts = np.asarray(points, dtype=np.float64).reshape(4, 2)
    return tuple((float(x), float(y)) for x, y in pts)  # type: ignore[return-value]


def rect_quad(left: float, top: float, right: float, bottom: float) -> Quad:
    left, top, right, bottom = float(left), float(top), float(right), float(bottom)
    return ((left, top), (right, top), (right, bottom), (left, bottom))


def split_quad(quad: Quad, parts: int, *, vertical: bool = False) -> list[Quad]:
    """Cut a line quad into ``parts`` equal cells along the reading direction.

    Used where an engine gives no per-character positions: evenly spaced boxes are what a
    PDF text layer needs for selection and search highlighting to land near the glyphs.
    """
    p = np.asarray(quad, dtype=np.float64)
    tl, tr, br, bl = p
    if vertical:
        # Reading runs top → bottom: interpolate along the left (tl→bl) and right (tr→br) edges.
        a0, a1, b0, b1 = tl, bl, tr, br
    else:
        a0, a1, b0, b1 = tl, tr, bl, br
    cells = []
    for i in range(parts):
        s, e = i / parts, (i + 1) / parts
        a_s, a_e = a0 + (a1 - a0) * s, a0 + (a1 - a0) * e
        b_s, b_e = b0 + (b1 - b0) * s, b0 + (b1 - b0) * e
        cells.append(to_quad((a_s, b_s, b_e, a_e) if vertical else (a_s, a_e, b_e, b_s)))
    return cells


def even_words(text: str, confidence: float, quad: Quad, *, vertical: bool = False) -> tuple[OcrWord, ...]:
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return ()
    quads = split_quad(quad, len(chars), vertical=vertical)
    return tuple(OcrWord(c, confidence, q) for c, q in zip(chars, quads, strict=True))


def clamp01(value: float) -> float:
    return float(min(1.0, max(0.0, value)))
