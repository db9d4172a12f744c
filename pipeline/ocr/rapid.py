"""RapidOCR 3.10 adapter: PP-OCRv6-small det/rec ONNX models shipped inside the wheel.

Why this engine: 2.0 % CER on degraded horizontal Chinese pages versus 19.6 % for the best
Tesseract setup (engine study, see ocr_models/README.md). Only the default model set is in the
wheel; choosing any other model makes RapidOCR download it at run time, which archive
sites without internet cannot do, so this adapter never sets model options and refuses to
start if the bundled files are missing.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from pipeline.domain import OcrLine, OcrPage, OcrWord

from . import layout
from .base import DEFAULT_LANGUAGES, OcrEngine, as_bgr, clamp01, even_words, to_quad

MODEL_FILES = ("PP-OCRv6_det_small.onnx", "PP-OCRv6_rec_small.onnx", "ch_ppocr_mobile_v2.0_cls_mobile.onnx")
MODEL_NAME = "PP-OCRv6_small"


def bundled_model_dir() -> Path:
    import rapidocr

    return Path(rapidocr.__file__).resolve().parent / "models"


class RapidOcrEngine(OcrEngine):
    """PP-OCRv6-small detection + recognition, mobile 0/180 line classifier.

    ``threads`` sets ONNX Runtime's intra-op threads. The default 1 is deliberate: on the
    shared 2-core box a second thread was slower under load (1.12×), so parallelism comes
    from one worker process per core (research §5.2). ``use_cls`` turns RapidOCR's
    0/180 line classifier back on, for callers that skip the imaging prepare step.
    """

    name = "rapidocr"

    def __init__(self, *, threads: int = 1, text_score: float = 0.5, use_cls: bool = False) -> None:
        model_dir = bundled_model_dir()
        missing = [f for f in MODEL_FILES if not (model_dir / f).is_file()]
        if missing:
            raise RuntimeError(
                f"rapidocr wheel models missing in {model_dir}: {', '.join(missing)}; "
                "reinstall rapidocr==3.10.0 (models are never downloaded at run time)"
            )
        from rapidocr import RapidOCR

        self.threads = int(threads)
        self._engine = RapidOCR(
            params={
                "Global.log_level": "error",  # an empty page is normal here, not a warning
                "Global.text_score": float(text_score),
                # The 0/180 line classifier is off: pages are already upright (OSD in
                # pipeline.imaging), and on a 楷体 page it flipped correct lines and turned
                # them into garbage (bench page 11: 28 % CER with it, 0.1 % without). It
                # also costs ~20 % of the time.
                "Global.use_cls": bool(use_cls),
                "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            }
        )
        # RapidOCR keeps per-call flags on the instance (update_params); serialise calls.
        self._lock = threading.Lock()

    def version(self) -> str:
        import onnxruntime
        from rapidocr._version import version as rapidocr_version

        return f"rapidocr {rapidocr_version} {MODEL_NAME} onnxruntime {onnxruntime.__version__}"

    def recognize(self, image: np.ndarray, *, languages: str = DEFAULT_LANGUAGES) -> OcrPage:
        """Recognise a page. ``languages`` is accepted for interface parity and ignored: the
        PP-OCRv6 Chinese model reads Simplified, Traditional, digits and Latin together."""
        bgr = as_bgr(image)
        height, width = bgr.shape[:2]
        start = time.perf_counter()
        with self._lock:
            result = self._engine(bgr, return_word_box=True)
        seconds = time.perf_counter() - start

        txts = getattr(result, "txts", None)
        boxes = getattr(result, "boxes", None)
        scores = getattr(result, "scores", None)
        if not txts or boxes is None or scores is None:
            return OcrPage(self.version(), width, height, (), seconds)

        quads = [to_quad(b) for b in boxes]
        vertical = layout.is_vertical(quads, list(txts))
        word_groups = _align_words(list(txts), getattr(result, "word_results", ()) or ())
        lines = []
        for text, quad, score, words in zip(txts, quads, scores, word_groups, strict=True):
            confidence = clamp01(score)
            if words is None:
                # No usable per-character boxes from RapidOCR for this line: spread evenly.
                words = even_words(text, confidence, quad, vertical=vertical)
            lines.append(OcrLine(text=text, confidence=confidence, box=quad, words=words, vertical=vertical))
        ordered = layout.order(lines, vertical=vertical)
        return OcrPage(self.version(), width, height, tuple(ordered), seconds)


def _valid_word(item) -> bool:
    try:
        char, score, box = item
        return isinstance(char, str) and np.asarray(box, dtype=np.float64).size == 8 and float(score) == float(score)
    except (TypeError, ValueError):
        return False


def _align_words(txts: list[str], word_results) -> list[tuple[OcrWord, ...] | None]:
    """Match RapidOCR's word groups to its lines.

    ``word_results`` can be shorter than ``txts``: RapidOCR drops a line's group when no
    box could be computed for it, so groups are matched by their text, in order, not by index.
    """
    groups = [g for g in word_results if g and all(_valid_word(w) for w in g)]
    out: list[tuple[OcrWord, ...] | None] = []
    j = 0
    for text in txts:
        target = "".join(text.split())
        match = None
        for k in range(j, min(j + 3, len(groups))):
            if "".join("".join(w[0].split()) for w in groups[k]) == target:
                match = k
                break
        if match is None:
            out.append(None)
            continue
        j = match + 1
        out.append(tuple(OcrWord(w[0], clamp01(w[1]), to_quad(w[2])) for w in groups[match] if w[0].strip()))
    return out
