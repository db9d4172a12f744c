"""Typed data that flows between the pipeline stages.

ingest → imaging → ocr → classify → archive → index. Each stage takes these
values in and gives these values out; only the edges (ingest, store, archive
writer, index backends) touch files and databases.

Coordinates are pixels of the page's *working* image (after orientation and
deskew), origin top-left, x to the right, y down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]  # top-left, top-right, bottom-right, bottom-left


def quad_bounds(quad: Quad) -> tuple[float, float, float, float]:
    """Axis-aligned (left, top, right, bottom) of a quadrilateral."""
    xs = [p[0] for p in quad]
    ys = [p[1] for p in quad]
    return min(xs), min(ys), max(xs), max(ys)


# ───────────────────────────── ingest ─────────────────────────────


@dataclass(frozen=True)
class PageSource:
    """One page as it came from the scanner, before any image processing.

    ``master`` is a lossless raster of the page: the original file itself for a
    single-page image, or a frame extracted losslessly (PNG) from a multi-page
    TIFF, or a 300-dpi rasterisation of a PDF page. The untouched original
    bytes always stay in the originals store.
    """

    index: int  # 0-based page order inside the item (件)
    master: Path
    source_sha256: str  # SHA-256 of the original file this page came from
    frame: int  # page/frame number inside that file (0-based)
    dpi: int | None  # resolution stated by the file, if any
    lossless: bool  # False when the original is JPEG (lossy)


# ───────────────────────────── imaging ─────────────────────────────


@dataclass(frozen=True)
class PreparedPage:
    """A page after orientation, deskew and border cropping; the master is never modified.

    ``operations`` records, in order, what was done to the master to make the working copy
    (DA/T 31: processing happens on a copy and is documented), e.g. ``"exif-rotate 90"``,
    ``"rotate 180 (osd confidence 12.3)"``, ``"deskew -3.20°"``,
    ``"crop 12,40,2490,3530 margin 2.5mm"`` (box in the deskewed image, x1/y1 exclusive).
    ``quality`` holds capture-quality flags for review (see
    :func:`pipeline.imaging.quality_flags`): ``low-dpi``, ``below-ocr-dpi``, ``blank``,
    ``too-dark``, ``too-light``, ``blurry``, ``skewed``.
    """

    source: PageSource
    working: Path  # oriented + deskewed + cropped working copy, what OCR and the PDF see
    width: int
    height: int
    dpi: int  # effective resolution (stated, or assumed from config)
    colour_mode: str  # "bitonal" | "gray" | "color"
    rotation: int  # clockwise degrees applied to the master: 0/90/180/270
    deskew_angle: float  # degrees applied after rotation (counter-clockwise positive)
    blank: bool = False  # page has (almost) no ink
    operations: tuple[str, ...] = ()  # what was done to the master, in order
    quality: tuple[str, ...] = ()  # capture-quality flags
    skew_detected: float = 0.0  # skew found before correction (degrees, CCW positive)


# ───────────────────────────── ocr ─────────────────────────────


@dataclass(frozen=True)
class OcrWord:
    """A recognised character or word with its box (for the PDF text layer)."""

    text: str
    confidence: float  # 0.0 … 1.0
    box: Quad


@dataclass(frozen=True)
class OcrLine:
    text: str
    confidence: float  # 0.0 … 1.0
    box: Quad
    words: tuple[OcrWord, ...] = ()
    vertical: bool = False  # a top-to-bottom column (竖排)


@dataclass(frozen=True)
class OcrPage:
    """Recognised text of one page image, lines in reading order."""

    engine: str  # e.g. "rapidocr 3.10.0 PP-OCRv6_small"
    width: int
    height: int
    lines: tuple[OcrLine, ...]
    seconds: float = 0.0

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def confidence(self) -> float:
        """Character-weighted mean confidence; 0.0 for an empty page."""
        total = sum(len(line.text) for line in self.lines)
        if not total:
            return 0.0
        return sum(line.confidence * len(line.text) for line in self.lines) / total


# ───────────────────────────── classify ─────────────────────────────


@dataclass(frozen=True)
class Classification:
    """Filing decision for an item (件): the fields that make up its 档号."""

    fonds: str  # 全宗号
    category: str  # 档案门类代码, e.g. WS
    year: int  # 年度
    retention: str  # 保管期限代码 as written: Y / D30 / D10 (legacy C / D kept as is)
    org: str  # 机构(问题)代码
    title: str  # 题名; cataloguer-supplied titles are bracketed [ ]
    confidence: float = 0.0
    needs_review: bool = True  # placeholder classifier always asks for review
    village: str | None = None


# ───────────────────────────── archive ─────────────────────────────


@dataclass(frozen=True)
class ArchivedItem:
    """The preserved, searchable PDF/A of an item."""

    archival_code: str  # 档号
    pdf_path: Path
    pdf_sha256: str
    page_count: int


# ───────────────────────────── index ─────────────────────────────


@dataclass(frozen=True)
class PageDocument:
    """What the search index holds for one page: a cache of catalog data."""

    page_id: int
    item_id: int
    archival_code: str
    title: str
    page_no: int  # 1-based
    text: str  # OCR text as recognised (normalisation happens inside the index)
    year: int | None = None
    village: str | None = None
    category: str | None = None
    pdf_path: str | None = None


@dataclass(frozen=True)
class SearchHit:
    page_id: int
    item_id: int
    archival_code: str
    title: str
    page_no: int
    score: float
    snippet: str  # highlighted with 【】, ID numbers masked
    pdf_path: str | None = None
    year: int | None = None
    village: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class SearchResult:
    query: str
    total: int
    hits: list[SearchHit] = field(default_factory=list)
    millis: float = 0.0
