"""Typed data that flows between the pipeline stages.

ingest → imaging → ocr → classify → archive → index. Each stage takes these
values in and gives these values out; only the edges (ingest, store, archive
writer, index backends) touch files and databases.

Coordinates are pixels of the page's *working* image (after orientation and
deskew), origin top-left, x to the right, y down.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

    # The one JSON form of an OCR result: the page's layout file (``p0001.ocr.json``), the
    # PDF/A plugin's exchange file, the page viewer's hit boxes and ``dangan ocr --json`` are
    # all written by to_dict / to_json and read back by from_dict / from_json only, so a
    # resumed item and the text layer both rebuild exactly the OcrPage that was written.
    # ``text`` and ``confidence`` are derived and written for readers of the file; ``order``
    # numbers the lines in reading order.

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine, "width": self.width, "height": self.height, "seconds": self.seconds,
            "confidence": self.confidence, "text": self.text,
            "lines": [{"order": n, "text": line.text, "confidence": line.confidence, "box": line.box,
                       "vertical": line.vertical,
                       "chars": [{"text": w.text, "confidence": w.confidence, "box": w.box} for w in line.words]}
                      for n, line in enumerate(self.lines)],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> OcrPage:
        """Parse what :meth:`to_json` wrote; ValueError for anything else (truncated, wrong shape)."""
        try:
            raw = json.loads(text)
        except ValueError as exc:  # JSONDecodeError
            raise ValueError(f"not an OCR layout: {type(exc).__name__}: {exc}") from exc
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: Any) -> OcrPage:
        """Rebuild what :meth:`to_dict` gave; ValueError for anything else (missing field, wrong type).
        Layout files written by earlier releases name a line's characters ``words``: read too."""
        try:
            return cls(
                engine=_str(raw["engine"]),
                width=_int(raw["width"]),
                height=_int(raw["height"]),
                lines=tuple(
                    OcrLine(
                        text=_str(line["text"]),
                        confidence=_float(line["confidence"]),
                        box=_quad(line["box"]),
                        words=tuple(OcrWord(_str(w["text"]), _float(w["confidence"]), _quad(w["box"]))
                                    for w in _list(line["chars"] if "chars" in line else line["words"])),
                        vertical=_bool(line["vertical"]),
                    )
                    for line in _list(raw["lines"])
                ),
                seconds=_float(raw["seconds"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not an OCR layout: {type(exc).__name__}: {exc}") from exc


# Strict field readers for OcrPage.from_json: a wrong type is an error, never coerced.


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true/false, got {type(value).__name__}")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def _quad(value: Any) -> Quad:
    points = _list(value)
    if len(points) != 4:
        raise ValueError(f"a quad needs 4 points, got {len(points)}")
    pts: list[Point] = []
    for point in points:
        xy = _list(point)
        if len(xy) != 2:
            raise ValueError(f"a point needs 2 coordinates, got {len(xy)}")
        pts.append((_float(xy[0]), _float(xy[1])))
    return (pts[0], pts[1], pts[2], pts[3])


# ───────────────────────────── classify ─────────────────────────────


@dataclass(frozen=True)
class ExtractedDate:
    """A date found in OCR text. ``value`` is DA/T 22's 8-digit form; ``raw`` is the text as read.

    ``precision`` is "day", "month" or "year"; a missing month/day is written as ``00``
    (``20180000``), never guessed. ``inferred`` marks a date that was completed or repaired
    rather than read whole (a two-digit year, a year taken from context); a person checks it.
    """

    value: str  # YYYYMMDD
    raw: str
    precision: str = "day"  # day | month | year
    inferred: bool = False
    position: int = 0  # character offset in the text

    @property
    def year(self) -> int:
        return int(self.value[:4])


@dataclass(frozen=True)
class IdNumber:
    """居民身份证号码 found in the text. Invalid ones are kept as read and flagged, never "fixed"."""

    value: str  # as read, normalised only by removing spaces and upper-casing x
    valid: bool  # 18 digits with a correct GB 11643 check digit (15-digit legacy: date check only)
    problem: str | None = None  # why it is invalid: "region", "birth date" or "check digit"
    position: int = 0


@dataclass(frozen=True)
class ItemMetadata:
    """Descriptive metadata (著录) extracted from an item's OCR text.

    ``sensitive`` tags what privacy rules apply: ``id_number``, ``phone``, ``health``,
    ``disability``, ``dibao`` (低保), ``income``.
    """

    title: str  # 题名; a cataloguer-supplied one is in [ ]
    title_supplied: bool
    date: ExtractedDate | None  # the document's date (落款日期 preferred)
    dates: tuple[ExtractedDate, ...] = ()
    doc_numbers: tuple[str, ...] = ()  # 文号, e.g. 南府办发〔2018〕12号
    responsible: str | None = None  # 责任者
    names: tuple[str, ...] = ()  # person names found next to a label (户主, 姓名, 申请人 …)
    household_head: str | None = None  # 户主
    village: str | None = None  # e.g. 石门村
    household_size: int | None = None  # 家庭人口
    id_numbers: tuple[IdNumber, ...] = ()
    phones: tuple[str, ...] = ()
    sensitive: tuple[str, ...] = ()


@dataclass(frozen=True)
class Evidence:
    """Why a class was chosen: which rule or model, and the terms it matched."""

    source: str  # "title-pattern", "keyword", "detector", "model", "person"
    detail: str  # rule name / pattern
    terms: tuple[str, ...] = ()
    weight: float = 0.0


@dataclass(frozen=True)
class Classification:
    """Filing decision for an item (件): its class and the fields that make up its 档号."""

    fonds: str  # 全宗号
    category: str  # 档案门类代码, e.g. WS
    year: int  # 年度
    retention: str  # 保管期限代码 as written: Y / D30 / D10 (legacy C / D kept as is)
    org: str  # 机构(问题)代码
    title: str  # 题名; cataloguer-supplied titles are bracketed [ ]
    confidence: float = 0.0
    needs_review: bool = True
    village: str | None = None
    class_code: str | None = None  # taxonomy path, e.g. JF·C02·SQ
    class_name: str | None = None
    evidence: tuple[Evidence, ...] = ()
    unit: str = "item"  # item (件, numbered on its own) | volume (案卷, numbered in its volume)
    volume_key: str | None = None  # e.g. household:石门村:王秀英
    village_code: str = ""


# ───────────────────────────── archive ─────────────────────────────


@dataclass(frozen=True)
class ArchivedItem:
    """The preserved, searchable PDF/A of an item."""

    archival_code: str  # 档号
    pdf_path: Path
    pdf_sha256: str
    page_count: int


@dataclass(frozen=True)
class VolumeEntry:
    """One row of a 卷内目录 (GB/T 9705-2008) and the item PDF it stands for."""

    seq: int  # 顺序号
    doc_number: str  # 文号
    responsible: str  # 责任者
    title: str  # 题名
    date: str  # 日期, YYYYMMDD (may end in 00)
    first_page: int  # 页号: first page of the item inside the volume's numbered pages
    last_page: int
    remarks: str  # 备注
    pdf_path: Path  # the item's own PDF/A (its pages go into the volume)
    archival_code: str = ""


@dataclass(frozen=True)
class VolumeSheet:
    """Everything printed on a volume's cover, 卷内目录 and 卷内备考表."""

    fonds_name: str  # 全宗名称
    class_name: str  # 类目名称
    title: str  # 案卷题名
    start_date: str  # 时间 (起), YYYYMMDD
    end_date: str  # 时间 (止)
    retention: str  # 保管期限 as written (e.g. 定期30年)
    item_count: int  # 件
    page_count: int  # 页数
    archival_code: str  # 档号
    filing_number: str = ""  # 归档号
    entries: tuple[VolumeEntry, ...] = ()
    note: str = ""  # 本卷情况说明
    compiled_by: str = ""  # 立卷人
    checked_by: str = ""  # 检查人
    compiled_on: str = ""  # 立卷时间, YYYYMMDD
    label_token: str = ""  # opaque id printed as a QR code (never a name or ID number)


@dataclass(frozen=True)
class Label:
    """A box/volume label: 档号, title and the QR payload (an opaque id only)."""

    archival_code: str
    title: str
    qr_payload: str
    lines: tuple[str, ...] = ()  # extra lines, e.g. 年度 / 保管期限 / 起止件号


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
    # Filing fields for filters, facets and date sort (appended: older constructors still work).
    fonds: str | None = None  # 全宗号
    retention: str | None = None  # 保管期限
    class_code: str | None = None  # taxonomy class (document type)
    class_name: str | None = None
    doc_date: str | None = None  # YYYYMMDD, 00 for unknown parts
    image_path: str | None = None  # working image, for thumbnails
    sensitive: str | None = None  # space-separated privacy tags


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
    fonds: str | None = None
    retention: str | None = None
    class_code: str | None = None
    class_name: str | None = None
    doc_date: str | None = None
    image_path: str | None = None
    sensitive: str | None = None
    approximate: bool = False  # found only through an OCR look-alike of a query character


@dataclass(frozen=True)
class SearchResult:
    query: str
    total: int
    hits: list[SearchHit] = field(default_factory=list)
    millis: float = 0.0
    facets: dict[str, dict[str, int]] = field(default_factory=dict)  # field → value → pages
    approximate_total: int = 0  # of ``total``, pages matched only approximately
    # The best approximate matches when exact hits fill the first window, so a page whose
    # name OCR misread is still shown on the first screen, in its own list below the exact ones.
    approximate_hits: list[SearchHit] = field(default_factory=list)
