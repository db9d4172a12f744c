"""Image processing between ingest and OCR (图像处理): orientation, deskew, border crop,
seal suppression for OCR, page checks.

Pure in-memory functions plus :func:`prepare_page_pixels`, the one edge that writes a working copy.
The master scan is never modified.
"""

from .borders import (
    MARGIN_MM,
    background_fill,
    crop_borders,
    find_paper,
    neutralise_background,
)
from .deskew import estimate_skew, rotate, rotate_quarter, to_gray
from .orientation import detect_orientation
from .prepare import (
    Preparation,
    file_dpi,
    load_image,
    prepare_array,
    prepare_image,
    prepare_page_pixels,
)
from .quality import colour_mode, is_blank, page_levels, quality_flags
from .seal import find_seals, ocr_copy

__all__ = [
    "MARGIN_MM",
    "Preparation",
    "background_fill",
    "colour_mode",
    "crop_borders",
    "detect_orientation",
    "estimate_skew",
    "file_dpi",
    "find_paper",
    "find_seals",
    "is_blank",
    "load_image",
    "neutralise_background",
    "ocr_copy",
    "page_levels",
    "prepare_array",
    "prepare_image",
    "prepare_page_pixels",
    "quality_flags",
    "rotate",
    "rotate_quarter",
    "to_gray",
]
