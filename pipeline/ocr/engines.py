"""The OCR engines by name: one instance per process and option set (models load once).

Kept apart from the interface (:mod:`pipeline.ocr.base`) so that an engine module imports
the interface and the registry imports the engines, never the other way round.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from .base import OcrEngine


def _rapidocr(**options) -> OcrEngine:
    from .rapid import RapidOcrEngine  # loaded on first use: onnxruntime/OpenVINO start-up is slow

    return RapidOcrEngine(**options)


def _tesseract(**options) -> OcrEngine:
    from .tesseract import TesseractEngine

    return TesseractEngine(**options)


_FACTORIES: dict[str, Callable[..., OcrEngine]] = {"rapidocr": _rapidocr, "tesseract": _tesseract}
_INSTANCES: dict[tuple[str, str], OcrEngine] = {}
_LOCK = threading.Lock()


def available_engines() -> Sequence[str]:
    """Names accepted by :func:`get_engine`; the first is the default."""
    return tuple(_FACTORIES)


def get_engine(name: str = "rapidocr", **options) -> OcrEngine:
    """The engine called ``name``, created once per process and option set.

    Models load once (RapidOCR's ONNX sessions take ~1 GB per worker), so pipeline
    stages share this instance instead of constructing their own.
    """
    key_name = (name or "").strip().lower()
    if key_name not in _FACTORIES:
        raise ValueError(f"unknown OCR engine {name!r}; valid engines: {', '.join(_FACTORIES)}")
    key = (key_name, repr(sorted(options.items())))
    with _LOCK:
        engine = _INSTANCES.get(key)
        if engine is None:
            engine = _FACTORIES[key_name](**options)
            _INSTANCES[key] = engine
        return engine
