"""Tesseract adapter (Debian tesseract-ocr 5.3 + tessdata_fast chi_sim/chi_tra).

Kept as a baseline and fallback, not as the default: on degraded Chinese pages it had
19.6–46.6 % CER against RapidOCR's 2.0 % (engine study, see ocr_models/README.md).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

import cv2
import numpy as np

from pipeline.domain import OcrLine, OcrPage, OcrWord
from pipeline.ocr import layout
from pipeline.text import is_cjk_char

from .base import DEFAULT_LANGUAGES, OcrEngine, as_bgr, clamp01, rect_quad, split_quad

# One OpenMP thread: with 2 threads on the shared box one page took 85.5 s instead of
# 2.7 s (busy-wait oversubscription, research §5.2). The tesseract subprocess inherits it.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import pytesseract  # noqa: E402


class TesseractEngine(OcrEngine):
    """``pytesseract.image_to_data`` with page segmentation ``psm`` (3 = automatic, for
    horizontal pages; 5 = a single vertical block, with ``chi_sim_vert``/``chi_tra_vert``).

    Tesseract reports Chinese as 1–2-character "words"; multi-character CJK words are cut
    into evenly spaced per-character boxes (an approximation of the glyph positions),
    runs of digits or Latin letters keep one box.
    """

    name = "tesseract"

    def __init__(self, *, psm: int = 3, oem: int = 1, timeout: float = 300.0) -> None:
        self.psm = int(psm)
        self.oem = int(oem)
        self.timeout = float(timeout)
        self._version: str | None = None

    def version(self) -> str:
        if self._version is None:
            self._version = str(pytesseract.get_tesseract_version()).split()[0]
        return f"tesseract {self._version}"

    def recognize(self, image: np.ndarray, *, languages: str = DEFAULT_LANGUAGES) -> OcrPage:
        bgr = as_bgr(image)
        height, width = bgr.shape[:2]
        vertical = self.psm == 5 or "_vert" in languages
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        start = time.perf_counter()
        data = pytesseract.image_to_data(
            rgb,
            lang=languages,
            config=f"--psm {self.psm} --oem {self.oem}",
            output_type=pytesseract.Output.DICT,
            timeout=self.timeout,
        )
        seconds = time.perf_counter() - start
        engine = f"{self.version()} {languages} psm{self.psm} tessdata_fast"

        lines: dict[tuple[int, int, int], list[int]] = {}
        line_boxes: dict[tuple[int, int, int], tuple[int, int, int, int]] = {}
        for i, level in enumerate(data["level"]):
            key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
            if level == 4:
                line_boxes[key] = (data["left"][i], data["top"][i], data["width"][i], data["height"][i])
            elif level == 5 and str(data["text"][i]).strip() and float(data["conf"][i]) >= 0:
                lines.setdefault(key, []).append(i)

        result: list[OcrLine] = []
        for key, indices in lines.items():
            words: list[OcrWord] = []
            text = ""
            weighted = 0.0
            for i in indices:
                token = "".join(str(data["text"][i]).split())
                conf = clamp01(float(data["conf"][i]) / 100.0)
                left, top, w, h = data["left"][i], data["top"][i], data["width"][i], data["height"][i]
                quad = rect_quad(left, top, left + w, top + h)
                words.extend(_split_token(token, conf, quad, vertical))
                # Chinese is written without spaces; keep one only between Latin/digit runs.
                if text and not is_cjk_char(text[-1]) and not is_cjk_char(token[0]):
                    text += " "
                text += token
                weighted += conf * len(token)
            if not text:
                continue
            if key in line_boxes:
                left, top, w, h = line_boxes[key]
                box = rect_quad(left, top, left + w, top + h)
            else:
                xs = [p[0] for word in words for p in word.box]
                ys = [p[1] for word in words for p in word.box]
                box = rect_quad(min(xs), min(ys), max(xs), max(ys))
            confidence = weighted / max(1, sum(len(str(data["text"][i]).strip()) for i in indices))
            result.append(OcrLine(text=text, confidence=clamp01(confidence), box=box, words=tuple(words),
                                  vertical=vertical))

        if not vertical and layout.is_vertical([line.box for line in result], [line.text for line in result]):
            vertical = True
            result = [replace(line, vertical=True) for line in result]
        ordered = layout.order(result, vertical=vertical)
        return OcrPage(engine, width, height, tuple(ordered), seconds)


def _split_token(token: str, conf: float, quad, vertical: bool) -> list[OcrWord]:
    """Per-character boxes for CJK characters, one box per Latin/digit run."""
    runs: list[str] = []
    for ch in token:
        if runs and not is_cjk_char(ch) and not is_cjk_char(runs[-1][-1]):
            runs[-1] += ch
        else:
            runs.append(ch)
    if len(runs) == 1:
        return [OcrWord(token, conf, quad)]
    # Share the box by character count so a digit run gets its proportional width.
    cells = split_quad(quad, len(token), vertical=vertical)
    out, pos = [], 0
    for run in runs:
        first, last = cells[pos], cells[pos + len(run) - 1]
        box = (first[0], last[1], last[2], first[3]) if not vertical else (first[0], first[1], last[2], last[3])
        out.append(OcrWord(run, conf, box))
        pos += len(run)
    return out
