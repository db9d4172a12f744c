"""One PDF/A-2b per volume (案卷), laid out as GB/T 9705-2008 prescribes.

:func:`build_volume_pdf` joins, in this order (GB/T 9705-2008 《文书档案案卷格式》):

1. 案卷封面 (cover): 全宗名称, 类目名称, 案卷题名, 时间 (起止), 保管期限,
   本卷共 N 件 M 页, 归档号 and 档号;
2. 卷内目录 (table of contents, one or more pages): 顺序号, 文号, 责任者, 题名,
   日期, 页号, 备注;
3. the items' (件) own PDF/A pages, in ``sheet.entries`` order, each stamped
   with its 页号 (1 … M, consecutive through the volume);
4. 卷内备考表: 本卷情况说明, 立卷人, 检查人, 立卷时间.

Cover, 目录 and 备考表 carry no 页号. Conventions where the standard leaves a
choice:

* 页号 column: the item's first 页号 on every row, the last row ``起-止``
  (e.g. ``4-6``), the usual way of closing a 卷内目录. The page numbers are
  computed from the page counts of the item PDFs actually appended; a
  ``first_page``/``last_page`` (or ``sheet.item_count``/``page_count``) other
  than 0 must agree with them, 0 means "not known yet". The computed values come
  back in :class:`VolumeBuild` for the catalogue.
* Dates: 日期 column in DA/T 22's 8-digit form (``20160305``); cover and 备考表
  in words (``2016年03月05日``; a ``00`` month/day is left out: ``2016年03月``).
* Font: AR PL UMing CN (``uming.ttc`` face 0, a 宋体-like Ming face, TrueType
  outlines) with Noto Serif CJK SC as fallback for characters UMing lacks; both
  are embedded as subsets with a ToUnicode map by fpdf2.

The front and back matter and the page-number stamps are drawn with fpdf2;
pikepdf copies them and the items' pages (byte for byte, no re-rendering, no
Ghostscript) into the volume, adds the sRGB OutputIntent taken from the items,
XMP (``pdfaid`` 2B, dc:title 案卷题名, dc:creator 全宗名称, dc:identifier 档号),
page labels (viewers show 页号), and an outline: 案卷封面, 卷内目录, one entry
per item, 卷内备考表. The result is checked with
:func:`~pipeline.archive.validate.validate_pdfa` before it replaces ``out_path``.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import TypeVar, cast, overload

import pikepdf
from fpdf import FPDF
from fpdf.enums import MethodReturnValue, WrapMode
from fpdf.fonts import FontFace, TTFFont
from pikepdf import Array, Dictionary, Name, OutlineItem, String

from pipeline.archive.pdfa import PdfaError
from pipeline.archive.validate import validate_pdfa
from pipeline.domain import VolumeSheet
from pipeline.fileio import fsync_dir, sha256_file

log = logging.getLogger(__name__)
# fontTools warns on every subset of uming.ttc that it drops the bitmap strikes
# ("BDF NOT subset"); they are not needed in a PDF.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)

# (path, face index): Simplified-Chinese faces of the Debian font packages.
DEFAULT_FONTS: tuple[tuple[Path, int], ...] = (
    (Path("/usr/share/fonts/truetype/arphic/uming.ttc"), 0),  # AR PL UMing CN
    (Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"), 2),  # Noto Serif CJK SC
)
PAGE_NUMBER_POSITIONS = ("top-right", "bottom-right")
STAMP_SIZE_MM = (20.0, 7.0)
STAMP_MARGIN_PT = 22.0  # ~8 mm from the page edges, clear of most text blocks
_MM = 72 / 25.4


@dataclass(frozen=True)
class VolumeBuild:
    """What :func:`build_volume_pdf` wrote. 页号 are 1-based numbers of the items' pages."""

    pdf_path: Path
    sha256: str
    page_count: int  # physical pages: cover + 目录 + items + 备考表
    numbered_pages: int  # M, the last 页号
    item_pages: tuple[tuple[int, int], ...]  # (first, last) 页号 per entry
    physical_first_page: tuple[int, ...]  # 1-based physical page of each item's first page


# ───────────────────────────── fonts ─────────────────────────────


def _face_index(path: Path) -> int:
    """Face of a font collection to use: the first Simplified-Chinese one (SC/CN), else 0."""
    if path.suffix.lower() not in (".ttc", ".otc"):
        return 0
    from fontTools.ttLib import TTCollection

    with TTCollection(str(path), lazy=True) as collection:
        for i, face in enumerate(collection.fonts):
            name = str(face["name"].getDebugName(4) or "")
            if re.search(r"\b(SC|CN)\b", name):
                return i
    return 0


def cjk_fonts(font_path: Path | None = None) -> list[tuple[Path, int]]:
    """(path, face index) of the CJK fonts to use: ``font_path`` (if given) first, then the
    installed defaults as fallbacks for missing characters."""
    fonts: list[tuple[Path, int]] = []
    if font_path is not None:
        if not Path(font_path).is_file():
            raise FileNotFoundError(f"font not found: {font_path}")
        fonts.append((Path(font_path), _face_index(Path(font_path))))
    fonts += [(p, i) for p, i in DEFAULT_FONTS if p.is_file() and (p, i) not in fonts]
    if not fonts:
        raise FileNotFoundError("no CJK font: install fonts-arphic-uming or fonts-noto-cjk")
    return fonts


_Document = TypeVar("_Document", bound=FPDF)


@overload
def new_document(font_path: Path | None = None) -> FPDF: ...
@overload
def new_document(font_path: Path | None = None, *, cls: type[_Document]) -> _Document: ...
def new_document(font_path: Path | None = None, cls: type[FPDF] = FPDF) -> FPDF:
    """An A4 fpdf2 document (mm) with the CJK font as family ``cjk`` plus fallbacks."""
    pdf = cls(unit="mm", format="A4")
    # fpdf2 otherwise gives every page a /Group /Transparency (PDF 1.4+); we draw no
    # transparency, and PDF/A is simpler without the groups.
    pdf.allow_images_transparency = False
    pdf.set_creator("dangan")
    families = []
    for k, (path, index) in enumerate(cjk_fonts(font_path)):
        family = "cjk" if k == 0 else f"cjk{k}"
        pdf.add_font(family, "", path, collection_font_number=index)
        families.append(family)
    if len(families) > 1:
        pdf.set_fallback_fonts(families[1:])  # unused fallbacks are not embedded
    pdf.set_font("cjk", size=12)
    return pdf


def check_glyphs(pdf: FPDF) -> None:
    """A 目录 or label must not show empty boxes: refuse characters no font has."""
    # Only TrueType fonts are added (new_document); core fonts do not track missing glyphs.
    missing = sorted({c for f in pdf.fonts.values() if isinstance(f, TTFFont) for c in f.missing_glyphs})
    if missing:
        raise ValueError("characters not in any CJK font: " + "".join(map(chr, missing)))


def wrap(pdf: FPDF, text: str, width: float) -> list[str]:
    """Lines of ``text`` at the current font, broken anywhere (Chinese has no spaces)."""
    if not text:
        return [""]
    # fpdf2 types the result as a union over every ``output`` mode; LINES gives list[str].
    return cast("list[str]", pdf.multi_cell(width, 5, text, dry_run=True, output=MethodReturnValue.LINES,
                                            wrapmode=WrapMode.CHAR))


# ───────────────────────────── text helpers ─────────────────────────────


def _check_date(value: str, what: str) -> None:
    if value and not re.fullmatch(r"\d{4}(0\d|1[0-2])([0-2]\d|3[01])", value):
        raise ValueError(f"{what} must be YYYYMMDD (00 for unknown month/day), got {value!r}")


def cn_date(value: str) -> str:
    """``20160305`` → ``2016年03月05日``; an unknown (00) month or day is left out."""
    if not value:
        return ""
    text = f"{value[:4]}年"
    if value[4:6] != "00":
        text += f"{value[4:6]}月"
        if value[6:] != "00":
            text += f"{value[6:]}日"
    return text


def _page_range(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


# ───────────────────────────── fpdf2 pages ─────────────────────────────


class _Volume(FPDF):
    """Repeats the 卷内目录 title on continuation pages (fpdf2 calls header() on page breaks)."""

    running: tuple[str, str] | None = None  # (title, 档号) while the 目录 is being laid out
    toc_first_page = 0

    def header(self) -> None:
        if self.running and self.page > self.toc_first_page:
            self._title(f"{self.running[0]}（续）", self.running[1])

    def _title(self, title: str, code: str) -> None:
        # Titles and field labels are not spaced out (卷 内 目 录): the text must
        # extract and search as one word.
        self.set_font("cjk", size=18)
        self.set_xy(self.l_margin, 18)
        self.cell(self.epw, 10, title, align="C")
        self.set_font("cjk", size=10.5)
        self.set_xy(self.l_margin, 30)
        self.cell(self.epw, 6, f"档号：{code}", align="R")
        self.set_y(38)


def _cover(pdf: _Volume, sheet: VolumeSheet, items: int, pages: int) -> None:
    pdf.add_page()
    pdf.set_font("cjk", size=11)
    pdf.set_xy(pdf.w - pdf.r_margin - 80, 15)
    pdf.cell(80, 9, f"档号：{sheet.archival_code}", border=1, align="C")
    start, end = cn_date(sheet.start_date), cn_date(sheet.end_date)
    when = start if start == end or not end else f"{start} 至 {end}"
    fields = [
        ("全宗名称", sheet.fonds_name, 14),
        ("类目名称", sheet.class_name, 14),
        ("案卷题名", sheet.title, 18),
        ("时间", when, 14),
        ("保管期限", sheet.retention, 14),
        ("本卷共", f"{items} 件 {pages} 页", 14),
        ("归档号", sheet.filing_number, 14),
        ("档号", sheet.archival_code, 14),
    ]
    label_w, x = 32, 30
    value_w = pdf.w - x - label_w - 25
    y: float = 60
    for label, value, size in fields:
        pdf.set_font("cjk", size=size)
        line_h = size * 0.6
        lines = wrap(pdf, value, value_w)
        pdf.set_font("cjk", size=14)
        pdf.set_xy(x, y)
        pdf.cell(label_w, line_h, label)
        pdf.set_font("cjk", size=size)
        for line in lines:
            pdf.set_xy(x + label_w, y)
            pdf.cell(value_w, line_h, line, border="B")
            y += line_h + 2
        y += 10


TOC_COLUMNS = ("顺序号", "文号", "责任者", "题名", "日期", "页号", "备注")
TOC_WIDTHS = (15, 31, 28, 54, 20, 15, 12)  # mm; 175 mm = A4 less 20 mm binding, 15 mm right


def _toc(pdf: _Volume, sheet: VolumeSheet, pages: list[tuple[int, int]]) -> None:
    pdf.add_page()
    pdf.toc_first_page = pdf.page
    pdf._title("卷内目录", sheet.archival_code)
    pdf.running = ("卷内目录", sheet.archival_code)
    pdf.set_font("cjk", size=10.5)
    last = len(sheet.entries) - 1
    with pdf.table(
        col_widths=TOC_WIDTHS, width=sum(TOC_WIDTHS), line_height=5.5,
        wrapmode=WrapMode.CHAR, text_align=("C", "L", "L", "L", "C", "C", "L"),
        headings_style=FontFace(emphasis=""), padding=1.2, repeat_headings=1,
        min_row_height=10, v_align="M",
    ) as table:
        head = table.row()
        for name in TOC_COLUMNS:
            head.cell(name, align="C")
        for k, (entry, (first, end)) in enumerate(zip(sheet.entries, pages)):
            row = table.row()
            for text in (str(entry.seq), entry.doc_number, entry.responsible, entry.title,
                         entry.date, _page_range(first, end) if k == last else str(first),
                         entry.remarks):
                row.cell(text)
    pdf.running = None


def _notes(pdf: _Volume, sheet: VolumeSheet) -> None:
    pdf.add_page()
    pdf._title("卷内备考表", sheet.archival_code)
    x, w = pdf.l_margin, pdf.epw
    top, box_h = pdf.get_y() + 2, 170
    pdf.rect(x, top, w, box_h)
    pdf.set_font("cjk", size=13)
    pdf.set_xy(x + 5, top + 5)
    pdf.cell(w - 10, 8, "本卷情况说明")
    pdf.set_font("cjk", size=12)
    y = top + 16
    for line in wrap(pdf, sheet.note, w - 20):
        if y > top + box_h - 8:
            raise ValueError("本卷情况说明 (sheet.note) does not fit on the 备考表")
        pdf.set_xy(x + 10, y)
        pdf.cell(w - 20, 7, line)
        y += 7
    pdf.set_font("cjk", size=13)
    y = top + box_h + 14
    for label, value in (("立卷人", sheet.compiled_by), ("检查人", sheet.checked_by),
                         ("立卷时间", cn_date(sheet.compiled_on))):
        pdf.set_xy(x + 70, y)
        pdf.cell(30, 9, f"{label}：")
        pdf.cell(w - 100, 9, value, border="B")
        y += 16


def _stamps(pdf: _Volume, count: int) -> None:
    """One small page per 页号; each becomes a Form XObject drawn onto an item page."""
    pdf.set_auto_page_break(False)
    for number in range(1, count + 1):
        pdf.add_page(format=STAMP_SIZE_MM)
        pdf.set_font("cjk", size=10)
        pdf.set_xy(0, 0)
        pdf.cell(STAMP_SIZE_MM[0], STAMP_SIZE_MM[1], str(number), align="R")


# ───────────────────────────── assembly ─────────────────────────────

# Viewer turns the page clockwise by /Rotate; matrix from the visible page (origin
# bottom-left) to user space, given the page box (x0, y0, x1, y1).
_ROTATE = {
    0: lambda x0, y0, x1, y1: (1, 0, 0, 1, x0, y0),
    90: lambda x0, y0, x1, y1: (0, 1, -1, 0, x1, y0),
    180: lambda x0, y0, x1, y1: (-1, 0, 0, -1, x1, y1),
    270: lambda x0, y0, x1, y1: (0, -1, 1, 0, x0, y1),
}


def _stamp(page: pikepdf.Page, stamp: pikepdf.Object, position: str) -> None:
    x0, y0, x1, y1 = (float(v) for v in page.cropbox)
    rotate = int(page.obj.get("/Rotate", 0)) % 360
    width, height = (x1 - x0, y1 - y0) if rotate in (0, 180) else (y1 - y0, x1 - x0)
    w, h = STAMP_SIZE_MM[0] * _MM, STAMP_SIZE_MM[1] * _MM
    u = width - STAMP_MARGIN_PT - w
    v = height - STAMP_MARGIN_PT - h if position == "top-right" else STAMP_MARGIN_PT
    matrix = " ".join(f"{n:g}" for n in _ROTATE[rotate](x0, y0, x1, y1))
    name = page.add_resource(stamp, Name.XObject, prefix="Pgno")
    # q … Q around the item's own content: whatever graphics state it leaves behind
    # must not move or recolour the stamp.
    page.contents_add(b"q\n", prepend=True)
    page.contents_add(f"Q\nq {matrix} cm 1 0 0 1 {u:.2f} {v:.2f} cm {name} Do Q\n".encode())


def _output_intent(sources: list[pikepdf.Pdf], entries) -> pikepdf.Object:
    """The items' common GTS_PDFA1 OutputIntent (sRGB from OCRmyPDF). PDF/A allows one
    output intent, so every item must use the same RGB profile."""
    chosen, profile = None, None
    for src, entry in zip(sources, entries):
        intent = next((i for i in src.Root.get("/OutputIntents", Array())
                       if i.get("/S") == Name.GTS_PDFA1), None)
        if intent is None or not isinstance(intent.get("/DestOutputProfile"), pikepdf.Stream):
            raise PdfaError(f"item {entry.seq} ({entry.pdf_path}) has no PDF/A OutputIntent")
        data = intent.DestOutputProfile.read_bytes()
        if chosen is None:
            if data[16:20] != b"RGB ":
                raise PdfaError(f"item {entry.seq}: OutputIntent profile is not RGB")
            chosen, profile = intent, data
        elif data != profile:
            raise PdfaError(f"item {entry.seq}: OutputIntent profile differs from item "
                            f"{entries[0].seq}'s; one volume PDF/A has one output intent")
    if chosen is None:  # no entries; _check_sheet refuses that first
        raise PdfaError("a volume needs at least one item")
    return chosen


def _page_labels(toc_pages: int, numbered: int) -> pikepdf.Dictionary:
    """Viewers show 封面, 目录1…, the 页号, 备考表 instead of physical page numbers."""
    return Dictionary(Nums=Array([
        0, Dictionary(P=String("封面")),
        1, Dictionary(P=String("目录"), S=Name.D),
        1 + toc_pages, Dictionary(S=Name.D),
        1 + toc_pages + numbered, Dictionary(P=String("备考表")),
    ]))


def _check_sheet(sheet: VolumeSheet, counts: list[int]) -> list[tuple[int, int]]:
    if not sheet.entries:
        raise ValueError("a volume needs at least one entry (件)")
    if not sheet.title.strip() or not sheet.archival_code.strip():
        raise ValueError("案卷题名 (title) and 档号 (archival_code) are required")
    for value, what in ((sheet.start_date, "start_date"), (sheet.end_date, "end_date"),
                        (sheet.compiled_on, "compiled_on")):
        _check_date(value, what)
    pages, first = [], 1
    for entry, count in zip(sheet.entries, counts):
        _check_date(entry.date, f"entry {entry.seq} date")
        if count == 0:
            raise ValueError(f"entry {entry.seq}: {entry.pdf_path} has no pages")
        span = (first, first + count - 1)
        if (entry.first_page, entry.last_page) not in ((0, 0), span):
            raise ValueError(f"entry {entry.seq}: 页号 {entry.first_page}-{entry.last_page} "
                             f"given, but its PDF has {count} page(s) → {span[0]}-{span[1]}")
        pages.append(span)
        first += count
    for given, actual, what in ((sheet.item_count, len(counts), "item_count"),
                                (sheet.page_count, first - 1, "page_count")):
        if given not in (0, actual):
            raise ValueError(f"sheet.{what} is {given}, the items make {actual}")
    return pages


def build_volume_pdf(
    sheet: VolumeSheet,
    out_path: Path,
    *,
    font_path: Path | None = None,
    page_number_position: str = "top-right",
) -> VolumeBuild:
    """Write the PDF/A-2b of a volume (案卷) to ``out_path`` atomically; see the module doc.

    ``page_number_position``: where the 页号 goes on each item page, ``"top-right"``
    (文书 practice, default) or ``"bottom-right"``. ``font_path`` replaces the default
    CJK font (for a collection, its first SC/CN face). Raises ValueError for an
    inconsistent sheet, :class:`~pipeline.archive.pdfa.PdfaError` when an item is not
    PDF/A or the result fails :func:`validate_pdfa`; nothing is written then.
    """
    if page_number_position not in PAGE_NUMBER_POSITIONS:
        raise ValueError(f"page_number_position must be one of {PAGE_NUMBER_POSITIONS}")
    out_path = Path(out_path)
    with ExitStack() as stack:
        # Sources stay open until the volume is saved: pikepdf copies their streams then.
        sources = [stack.enter_context(pikepdf.open(e.pdf_path)) for e in sheet.entries]
        counts = [len(src.pages) for src in sources]
        pages = _check_sheet(sheet, counts)
        intent = _output_intent(sources, sheet.entries)
        numbered = sum(counts)

        gen = new_document(font_path, cls=_Volume)
        gen.set_margins(20, 15, 15)  # wider left margin: the binding side
        gen.set_auto_page_break(True, margin=15)
        _cover(gen, sheet, len(counts), numbered)
        _toc(gen, sheet, pages)
        toc_pages = gen.page - 1
        _notes(gen, sheet)
        _stamps(gen, numbered)
        check_glyphs(gen)
        front = stack.enter_context(pikepdf.open(BytesIO(bytes(gen.output()))))

        pdf = stack.enter_context(pikepdf.new())
        pdf.pages.extend(front.pages[: 1 + toc_pages])
        physical_first = []
        position = 1 + toc_pages
        for src in sources:
            physical_first.append(position + 1)
            pdf.pages.extend(src.pages)
            position += len(src.pages)
        pdf.pages.append(front.pages[1 + toc_pages])
        stamps = front.pages[2 + toc_pages:]
        for k in range(numbered):
            form = pdf.copy_foreign(stamps[k].as_form_xobject())
            _stamp(pdf.pages[1 + toc_pages + k], form, page_number_position)

        pdf.Root.OutputIntents = Array([pdf.copy_foreign(intent)])
        pdf.Root.PageLabels = _page_labels(toc_pages, numbered)
        with pdf.open_outline() as outline:
            outline.root.append(OutlineItem("案卷封面", 0))
            outline.root.append(OutlineItem("卷内目录", 1))
            for entry, index in zip(sheet.entries, physical_first):
                outline.root.append(OutlineItem(f"{entry.seq} {entry.title}", index - 1))
            outline.root.append(OutlineItem("卷内备考表", len(pdf.pages) - 1))
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with pdf.open_metadata() as meta:  # also writes the matching /Info entries
            meta["dc:title"] = sheet.title
            if sheet.fonds_name:
                meta["dc:creator"] = [sheet.fonds_name]
            meta["dc:identifier"] = sheet.archival_code
            meta["xmp:CreateDate"] = now
            meta["xmp:CreatorTool"] = "dangan volume_pdf (fpdf2, pikepdf)"
            meta["pdfaid:part"] = "2"
            meta["pdfaid:conformance"] = "B"
        version = max([src.pdf_version for src in sources] + [front.pdf_version, "1.4"])

        out_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.",
                                        suffix=".tmp")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            # qpdf writes a fresh /ID pair into the trailer; no encryption.
            pdf.save(tmp, min_version=version)
            total = len(pdf.pages)
            issues = validate_pdfa(tmp, expected_pages=total)
            if issues:
                raise PdfaError("volume PDF is not valid PDF/A-2b: " + "; ".join(issues))
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, out_path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    fsync_dir(out_path.parent)
    log.info("volume %s: %d item(s), %d numbered page(s), %d page(s) in all",
             sheet.archival_code, len(counts), numbered, total)
    return VolumeBuild(
        pdf_path=out_path,
        sha256=sha256_file(out_path)[0],
        page_count=total,
        numbered_pages=numbered,
        item_pages=tuple(pages),
        physical_first_page=tuple(physical_first),
    )
