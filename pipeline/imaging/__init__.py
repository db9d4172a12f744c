"""Image processing between ingest and OCR (图像处理): orientation, deskew, page checks.

Pure in-memory functions plus :func:`prepare_page`, the one edge that writes a working copy.
The master scan is never modified.
"""

from .deskew import estimate_skew, rotate, rotate_quarter, to_gray
from .orientation import detect_orientation
from .prepare import load_image, prepare_image, prepare_page, prepare_page_pixels
from .quality import colour_mode, is_blank

__all__ = [
    "colour_mode",
    "detect_orientation",
    "estimate_skew",
    "is_blank",
    "load_image",
    "prepare_image",
    "prepare_page",
    "prepare_page_pixels",
    "rotate",
    "rotate_quarter",
    "to_gray",
]
