"""Archive stage: the searchable PDF/A-2b of each item (件).

Exports are loaded lazily so that importing a light submodule (e.g. the box labels or
the export) does not pull in OCRmyPDF, pikepdf and img2pdf.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["PdfaError", "build_pdfa", "extract_text", "validate_pdfa"]

if TYPE_CHECKING:
    from pipeline.archive.pdfa import PdfaError, build_pdfa
    from pipeline.archive.validate import extract_text, validate_pdfa


def __getattr__(name: str) -> Any:
    if name in ("PdfaError", "build_pdfa"):
        from pipeline.archive import pdfa

        return getattr(pdfa, name)
    if name in ("extract_text", "validate_pdfa"):
        from pipeline.archive import validate

        return getattr(validate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
