"""RapidOCR 3.10 adapter: PP-OCRv6-small det/rec models shipped inside the wheel.

Why this engine: 2.0 % CER on degraded horizontal Chinese pages versus 19.6 % for the best
Tesseract setup (engine study, see ocr_models/README.md). Only the default model set is in the
wheel; choosing any other model makes RapidOCR download it at run time, which archive
sites without internet cannot do, so this adapter never sets model options and refuses to
start if the bundled files are missing.

The adapter drives RapidOCR's detector and recogniser itself instead of calling its
all-in-one ``__call__``, for two measured reasons:

* **Vertical columns (竖排).** RapidOCR turns a tall crop on its side and reads it as one
  line; past ~30 characters the recogniser drops half of them (35–40 % CER in the engine
  study, "missing columns"). Cutting each column at the emptiest row into pieces of at most
  ``VERTICAL_PIECE`` characters, and reading the pieces, took a rendered 300-dpi vertical
  page from 53 % to 0.9 % CER.
* **Speed.** The same ONNX files run under OpenVINO 1.9× faster than under ONNX Runtime on
  this 2-core AVX-512 machine (det 0.6 vs 1.2 s, rec 2.2 vs 4.3 s on a dense A4 page, CER
  unchanged), and one line per recogniser batch avoids padding short lines to the longest
  (rec 1.8 vs 2.2 s). ONNX Runtime stays as the fallback runtime.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from pipeline.domain import OcrLine, OcrPage, OcrWord
from pipeline.imaging.deskew import shrink
from pipeline.ocr import layout

from .base import DEFAULT_LANGUAGES, OcrEngine, as_bgr, clamp01, even_words, to_quad

log = logging.getLogger(__name__)

MODEL_FILES = ("PP-OCRv6_det_small.onnx", "PP-OCRv6_rec_small.onnx")
MODEL_NAME = "PP-OCRv6_small"
RUNTIMES = ("openvino", "onnxruntime")

# Detection runs on a copy whose long side is at most this: text lines are still 20+ px
# tall on an A4 page, and det time falls with the pixel count (0.41 vs 0.61 s at 2000).
DETECT_SIDE = 1600
# Lines are cut from a copy with this long side, RapidOCR's own default: the recogniser
# scales every line to 48 px high anyway, so more resolution only costs time.
READ_SIDE = 2000
# Characters per piece of a vertical column (see module docstring).
VERTICAL_PIECE = 12


def bundled_model_dir() -> Path:
    import rapidocr

    return Path(rapidocr.__file__).resolve().parent / "models"


def available_runtime(preferred: str = "openvino") -> str:
    """``preferred`` when it can be imported, else ONNX Runtime (always installed)."""
    if preferred == "openvino":
        try:
            import openvino  # noqa: F401
        except ImportError:  # a platform without OpenVINO wheels
            log.warning("OpenVINO not importable; OCR runs on ONNX Runtime (about 1.9x slower)")
            return "onnxruntime"
    return preferred


class RapidOcrEngine(OcrEngine):
    """PP-OCRv6-small detection + recognition.

    ``threads`` is the inference thread count. The default 1 is deliberate: on the shared
    2-core box a second thread was slower under load (1.12×), so parallelism comes from one
    worker process per core (research §5.2). ``runtime`` picks OpenVINO (default, faster)
    or ONNX Runtime for the same model files.
    """

    name = "rapidocr"

    def __init__(self, *, threads: int = 1, text_score: float = 0.5, runtime: str = "openvino") -> None:
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown OCR runtime {runtime!r}; valid: {', '.join(RUNTIMES)}")
        model_dir = bundled_model_dir()
        missing = [f for f in MODEL_FILES if not (model_dir / f).is_file()]
        if missing:
            raise RuntimeError(
                f"rapidocr wheel models missing in {model_dir}: {', '.join(missing)}; "
                "reinstall rapidocr==3.10.0 (models are never downloaded at run time)"
            )
        from rapidocr import EngineType, RapidOCR

        self.threads = int(threads)
        self.runtime = available_runtime(runtime)
        self.text_score = float(text_score)
        engine_type = EngineType.OPENVINO if self.runtime == "openvino" else EngineType.ONNXRUNTIME
        self._engine = RapidOCR(
            params={
                "Global.log_level": "error",  # an empty page is normal here, not a warning
                "Global.text_score": self.text_score,
                # The 0/180 line classifier is never loaded: pages are already upright (OSD in
                # pipeline.imaging), and on a 楷体 page it flipped correct lines into garbage.
                "Global.use_cls": False,
                "Det.engine_type": engine_type,
                "Rec.engine_type": engine_type,
                "Rec.rec_batch_num": 1,
                "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                "EngineConfig.openvino.inference_num_threads": self.threads,
            }
        )
        # Load both models now: once per worker, never per page.
        self._det = self._engine._load_det_model()
        self._rec = self._engine._load_rec_model()
        self._lock = threading.Lock()

    def version(self) -> str:
        from rapidocr._version import version as rapidocr_version

        if self.runtime == "openvino":
            import openvino

            runtime = f"openvino {openvino.__version__.split('-')[0]}"
        else:
            import onnxruntime

            runtime = f"onnxruntime {onnxruntime.__version__}"
        return f"rapidocr {rapidocr_version} {MODEL_NAME} {runtime}"

    # ── one page ────────────────────────────────────────────────

    def recognize(self, image: np.ndarray, *, languages: str = DEFAULT_LANGUAGES) -> OcrPage:
        """Recognise a page. ``languages`` is accepted for interface parity and ignored: the
        PP-OCRv6 Chinese model reads Simplified, Traditional, digits and Latin together."""
        bgr = as_bgr(image)
        height, width = bgr.shape[:2]
        start = time.perf_counter()
        with self._lock:
            lines = self._read(bgr)
        seconds = time.perf_counter() - start
        vertical = layout.is_vertical([line.box for line in lines], [line.text for line in lines])
        if vertical:
            lines = [_as_vertical(line) for line in lines]
        return OcrPage(self.version(), width, height, tuple(layout.order(lines, vertical=vertical)), seconds)

    def detect(self, bgr: np.ndarray) -> list[np.ndarray]:
        """Text boxes (4×2 float32, clockwise from top-left) in ``bgr`` pixel coordinates."""
        scale = min(1.0, DETECT_SIDE / max(bgr.shape[:2]))
        small = shrink(bgr, scale)
        result = self._det(small)
        if result.boxes is None:
            return []
        return [np.asarray(box, dtype=np.float32) / scale for box in result.boxes]

    def _read(self, bgr: np.ndarray) -> list[OcrLine]:
        from rapidocr.ch_ppocr_rec.typings import TextRecInput
        from rapidocr.utils.process_img import get_rotate_crop_image

        boxes = self.detect(bgr)
        if not boxes:
            return []
        scale = min(1.0, READ_SIDE / max(bgr.shape[:2]))
        page = shrink(bgr, scale)
        grey = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)

        crops: list[np.ndarray] = []
        quads: list[np.ndarray] = []
        parts_of: list[list[int]] = []  # per detected box: its crops (several for a long column)
        for box in boxes:
            parts = []
            for piece in _pieces(box * scale, grey):
                crop = get_rotate_crop_image(page, piece.copy())
                if crop.size:
                    parts.append(len(crops))
                    crops.append(crop)
                    quads.append(piece)
            parts_of.append(parts)
        if not crops:
            return []
        rec = self._rec(TextRecInput(img=crops, return_word_box=True))
        rec = self._engine.cal_rec_boxes(crops, np.asarray(quads), rec, False)
        assert rec.txts is not None  # the recogniser returns a text for every crop it is given
        words_per_crop = list(rec.word_results) if rec.word_results else [()] * len(crops)

        lines: list[OcrLine] = []
        for box, parts in zip(boxes, parts_of, strict=True):
            text = "".join(rec.txts[i] for i in parts)
            if not text.strip():
                continue
            chars = len(text) or 1
            confidence = clamp01(sum(float(rec.scores[i]) * len(rec.txts[i]) for i in parts) / chars)
            if confidence < self.text_score:
                continue
            quad, vertical = to_quad(box), _is_tall(box)
            words = _words([words_per_crop[i] for i in parts], scale)
            if "".join(w.text for w in words) != "".join(text.split()):
                words = even_words(text, confidence, quad, vertical=vertical)
            lines.append(OcrLine(text=text, confidence=confidence, box=quad, words=words, vertical=vertical))
        return lines


# ───────────────────────────── geometry helpers ─────────────────────────────


def _edges(quad: np.ndarray) -> tuple[float, float]:
    """(width, height) of a quad: the longer of each pair of opposite edges."""
    width = max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[3] - quad[2]))
    height = max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2]))
    return float(width), float(height)


def _is_tall(quad: np.ndarray) -> bool:
    width, height = _edges(np.asarray(quad, dtype=np.float32))
    return width > 0 and height / width >= layout.TALL


def _pieces(quad: np.ndarray, grey: np.ndarray) -> list[np.ndarray]:
    """The quad itself, or a vertical column cut into pieces of ≤ VERTICAL_PIECE characters.

    Cuts fall on the emptiest row near each even split point, so no character is halved;
    pieces are of equal length, so none is a 1-character stub that would not be turned.
    """
    width, height = _edges(quad)
    if width <= 0 or height / width < layout.TALL:
        return [quad]
    count = math.ceil(height / (VERTICAL_PIECE * width))
    if count <= 1:
        return [quad]
    tl, tr, br, bl = quad.astype(np.float64)
    left, top = int(quad[:, 0].min()), int(quad[:, 1].min())
    right, bottom = int(quad[:, 0].max()), int(quad[:, 1].max())
    column = grey[max(0, top) : max(0, bottom), max(0, left) : max(0, right)]
    ink = (255 - column.astype(np.int32)).sum(axis=1) if column.size else np.zeros(0)
    fractions = [0.0]
    for k in range(1, count):
        target = k / count
        if len(ink) > 4:
            window = max(1, round(0.25 * width))
            centre = round(target * len(ink))
            lo, hi = max(1, centre - window), min(len(ink) - 1, centre + window)
            target = (lo + int(np.argmin(ink[lo:hi]))) / len(ink) if hi > lo else target
        fractions.append(target)
    fractions.append(1.0)
    pieces = []
    for a, b in itertools.pairwise(fractions):
        corners = [tl + (bl - tl) * a, tr + (br - tr) * a, tr + (br - tr) * b, tl + (bl - tl) * b]
        pieces.append(np.array(corners, dtype=np.float32))
    return pieces


def _words(groups, scale: float) -> tuple[OcrWord, ...]:
    """RapidOCR's per-character (char, score, box) groups, boxes back in page pixels."""
    out: list[OcrWord] = []
    for group in groups:
        for item in group or ():
            try:
                char, score, box = item
                pts = np.asarray(box, dtype=np.float64).reshape(4, 2) / scale
            except (TypeError, ValueError):
                return ()
            if isinstance(char, str) and char.strip():
                out.append(OcrWord(char, clamp01(float(score)), to_quad(pts)))
    return tuple(out)


def _as_vertical(line: OcrLine) -> OcrLine:
    """On a vertical page a one-character box is a column too (it reads top to bottom)."""
    if line.vertical:
        return line
    return OcrLine(text=line.text, confidence=line.confidence, box=line.box, words=line.words, vertical=True)
