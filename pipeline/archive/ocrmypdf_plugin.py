"""OCRmyPDF plugin that grafts OCR results computed earlier in the pipeline.

Our ``ocr`` stage has already recognised every page of an item (件); the PDF/A
builder must not OCR again. This plugin registers an OCR engine named
``dangan`` whose :meth:`DanganOcrEngine.generate_ocr` does no recognition: it
loads the stored :class:`~pipeline.domain.OcrPage` of the requested page from a
JSON file and converts it into OCRmyPDF's ``OcrElement`` tree (page → lines →
words), which OCRmyPDF's fpdf2 renderer turns into the invisible text layer.

How the JSON path reaches the engine
------------------------------------
Through a plugin option, not an environment variable. OCRmyPDF 17 lets a
plugin register a pydantic option model (``register_options``) under a
namespace; any extra keyword given to :func:`ocrmypdf.ocr` is kept in
``OcrOptions.extra_attrs`` and resolved as ``options.<namespace>.<field>`` by
its ``namespace_field`` name. So ``ocrmypdf.ocr(..., dangan_ocr_json=path)``
(or ``--dangan-ocr-json`` on the command line) gives ``options.dangan.ocr_json``.
The options object travels to worker threads as is and to worker processes by
pickle (``extra_attrs`` included), so the engine stays stateless and works
with either pool; an environment variable would leak between concurrent jobs
in one interpreter.

Word grouping, and why
----------------------
The fpdf2 renderer emits a space after a word *unless both it and the next
word are CJK-only* (and after a line-final word unless it is CJK-only). Our OCR
gives one word per character. Passed through unchanged, a line such as
``身份证号：110101199003071234`` would be extracted as
``身份证号：1 1 0 1 …``. So within every run of characters that the OCR line
text does not separate by whitespace:

* a run made only of CJK characters keeps one word per character (exact glyph
  positions, no spaces — the renderer stretches each glyph to meet the next);
* a run containing any non-CJK character becomes **one** word spanning the
  run, because a mixed word gets a space on both sides from the renderer. The
  glyphs inside it are placed by the font's advance widths scaled to the run's
  box, which is slightly less exact than per-character boxes but keeps the
  text faithful (numbers, dates and ID numbers stay searchable).

Where the line text has whitespace between two words, they stay separate
words and the renderer's space reproduces it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ocrmypdf import hookimpl
from ocrmypdf.exceptions import BadArgsError
from ocrmypdf.models.ocr_element import BoundingBox, OcrClass, OcrElement
from ocrmypdf.pluginspec import OcrEngine, OrientationConfidence
from PIL import Image
from pydantic import BaseModel

from pipeline.domain import OcrLine, OcrPage, OcrWord, quad_bounds
from pipeline.text import is_cjk_char

log = logging.getLogger(__name__)

ENGINE_NAME = "dangan"
OPTION_NAMESPACE = "dangan"
# The keyword for ocrmypdf.ocr() / attribute in OcrOptions.extra_attrs.
OCR_JSON_KWARG = f"{OPTION_NAMESPACE}_ocr_json"
JSON_FORMAT = "dangan-ocr-pages/1"
# Language hint for the renderer's font choice (CJK glyph coverage).
TEXT_LANGUAGE = "chi_sim"
VERTICAL_TEXTANGLE = -90.0


class DanganOptions(BaseModel):
    """Options of the ``dangan`` engine (namespace ``options.dangan``)."""

    ocr_json: str | None = None  # path written by write_ocr_json()


# ───────────────────────────── JSON exchange ─────────────────────────────


def write_ocr_json(pages: Sequence[OcrPage], path: Path) -> Path:
    """Write the OCR results of an item's pages, in page order, for the engine."""
    doc = {"format": JSON_FORMAT, "pages": [p.to_dict() for p in pages]}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def read_ocr_page(path: Path, page_number: int) -> OcrPage:
    """Read page ``page_number`` (0-based) from a file made by write_ocr_json()."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    if doc.get("format") != JSON_FORMAT:
        raise ValueError(f"{path}: not a {JSON_FORMAT} file")
    pages = doc["pages"]
    if not 0 <= page_number < len(pages):
        raise IndexError(f"{path}: no OCR result for page {page_number} ({len(pages)} pages)")
    return OcrPage.from_dict(pages[page_number])


# ───────────────────────────── OcrPage → OcrElement ─────────────────────────────


def _is_cjk_only(text: str) -> bool:
    return bool(text) and all(is_cjk_char(c) for c in text)


Box = tuple[float, float, float, float]  # left, top, right, bottom


def _union(a: Box, b: Box) -> Box:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _space_before(line: OcrLine, words: Sequence[OcrWord]) -> list[bool]:
    """For each word, whether the line text has whitespace before it.

    Aligns the word texts with the line text. When they do not align (engine
    post-processing changed one of them) fall back to geometry: a gap wider
    than half the line thickness counts as a space.
    """
    result: list[bool] = []
    pos = 0
    for i, word in enumerate(words):
        text = word.text.strip()
        idx = line.text.find(text, pos) if text else -1
        if idx < 0:
            break
        result.append(i > 0 and any(c.isspace() for c in line.text[pos:idx]))
        pos = idx + len(text)
    else:
        return result
    # Geometric fallback
    left, top, right, bottom = quad_bounds(line.box)
    thickness = (right - left) if line.vertical else (bottom - top)
    result = [False]
    for prev, word in zip(words, words[1:]):
        _, _, prev_right, prev_bottom = quad_bounds(prev.box)
        word_left, word_top, _, _ = quad_bounds(word.box)
        gap = (word_top - prev_bottom) if line.vertical else (word_left - prev_right)
        result.append(gap > 0.5 * thickness)
    return result


def group_words(line: OcrLine) -> list[tuple[str, Box]]:
    """Words to hand to the renderer: ``(text, (l, t, r, b))`` in working pixels.

    See the module docstring: CJK-only runs stay per character, a run with any
    non-CJK character becomes one word, whitespace in the line text separates.
    """
    words = [w for w in line.words if w.text.strip()]
    if not words:
        text = line.text.strip()
        return [(text, quad_bounds(line.box))] if text else []

    spaces = _space_before(line, words)
    # Runs of words not separated by whitespace.
    runs: list[list[OcrWord]] = []
    for word, space in zip(words, spaces):
        if not runs or space:
            runs.append([word])
        else:
            runs[-1].append(word)

    out: list[tuple[str, Box]] = []
    for run in runs:
        if all(_is_cjk_only(w.text.strip()) for w in run):
            out.extend((w.text.strip(), quad_bounds(w.box)) for w in run)
        else:
            box = quad_bounds(run[0].box)
            for w in run[1:]:
                box = _union(box, quad_bounds(w.box))
            out.append(("".join(w.text.strip() for w in run), box))
    return out


def _bbox(box: Box, sx: float, sy: float, width: float, height: float) -> BoundingBox:
    # Clamp into the page and keep a non-degenerate box (OcrElement validates).
    left = min(max(box[0] * sx, 0.0), width)
    top = min(max(box[1] * sy, 0.0), height)
    right = min(max(box[2] * sx, left), width)
    bottom = min(max(box[3] * sy, top), height)
    return BoundingBox(left=left, top=top, right=right, bottom=bottom)


def ocr_page_to_element(
    page: OcrPage,
    image_width: int,
    image_height: int,
    dpi: float,
    page_number: int,
) -> OcrElement:
    """Convert an OcrPage (working-image pixels) to an OcrElement tree.

    Coordinates are scaled to the raster that OCRmyPDF handed to the engine
    (``image_width`` × ``image_height`` at ``dpi``), since OCRmyPDF positions
    the text layer relative to that image.
    """
    if page.width <= 0 or page.height <= 0:
        raise ValueError(f"OCR page has no size: {page.width}x{page.height}")
    sx = image_width / page.width
    sy = image_height / page.height
    root = OcrElement(
        ocr_class=OcrClass.PAGE,
        bbox=BoundingBox(left=0, top=0, right=image_width, bottom=image_height),
        dpi=float(dpi),
        page_number=page_number,
    )
    for line in page.lines:
        words = group_words(line)
        if not words:
            continue
        line_box = _bbox(quad_bounds(line.box), sx, sy, image_width, image_height)
        for _text, box in words:  # the line box must hold its words
            wb = _bbox(box, sx, sy, image_width, image_height)
            line_box = BoundingBox(
                left=min(line_box.left, wb.left),
                top=min(line_box.top, wb.top),
                right=max(line_box.right, wb.right),
                bottom=max(line_box.bottom, wb.bottom),
            )
        if line_box.width <= 0 or line_box.height <= 0:
            continue
        element = OcrElement(
            ocr_class=OcrClass.LINE,
            bbox=line_box,
            text=line.text,
            confidence=line.confidence,
            language=TEXT_LANGUAGE,
            direction="ltr",
            # 竖排: the baseline runs down the page. hOCR angles are
            # counter-clockwise, so a downward baseline is -90°.
            textangle=VERTICAL_TEXTANGLE if line.vertical else 0.0,
        )
        for text, box in words:
            element.children.append(
                OcrElement(
                    ocr_class=OcrClass.WORD,
                    bbox=_bbox(box, sx, sy, image_width, image_height),
                    text=text,
                    language=TEXT_LANGUAGE,
                )
            )
        root.children.append(element)
    return root


# ───────────────────────────── the engine ─────────────────────────────


def _ocr_json_path(options: Any) -> Path:
    path = None
    try:
        path = options.dangan.ocr_json
    except AttributeError:  # namespace not registered (foreign plugin manager)
        path = getattr(options, "extra_attrs", {}).get(OCR_JSON_KWARG)
    if not path:
        raise BadArgsError(
            f"--ocr-engine {ENGINE_NAME} needs the OCR results: pass "
            f"{OCR_JSON_KWARG}=<file> (CLI: --dangan-ocr-json)"
        )
    return Path(os.fspath(path))


class DanganOcrEngine(OcrEngine):
    """Replays precomputed OCR (our ``ocr`` stage) instead of recognising."""

    @staticmethod
    def version() -> str:
        return "1"

    @staticmethod
    def creator_tag(options: Any) -> str:
        return f"dangan precomputed OCR {DanganOcrEngine.version()}"

    def __str__(self) -> str:
        return f"dangan precomputed OCR {self.version()}"

    @staticmethod
    def languages(options: Any) -> set[str]:
        # Empty = "any": OCRmyPDF then skips its language check; the text was
        # recognised already, the language list only hints the font.
        return set()

    @staticmethod
    def get_orientation(input_file: Path, options: Any) -> OrientationConfidence:
        # Orientation is fixed by the imaging stage before OCR.
        return OrientationConfidence(angle=0, confidence=0.0)

    @staticmethod
    def get_deskew(input_file: Path, options: Any) -> float:
        # Deskew is done by the imaging stage before OCR.
        return 0.0

    @staticmethod
    def supports_generate_ocr() -> bool:
        return True

    @staticmethod
    def generate_ocr(
        input_file: Path, options: Any, page_number: int = 0
    ) -> tuple[OcrElement, str]:
        page = read_ocr_page(_ocr_json_path(options), page_number)
        with Image.open(input_file) as img:
            width, height = img.size
            dpi_info = img.info.get("dpi", (72, 72))
        dpi = float(dpi_info[0] if isinstance(dpi_info, tuple) else dpi_info)
        tree = ocr_page_to_element(page, width, height, dpi, page_number)
        return tree, page.text + "\n"

    @staticmethod
    def generate_hocr(input_file: Path, output_hocr: Path, output_text: Path, options: Any) -> None:
        raise NotImplementedError("dangan engine supports generate_ocr() only (fpdf2 renderer)")

    @staticmethod
    def generate_pdf(input_file: Path, output_pdf: Path, output_text: Path, options: Any) -> None:
        raise NotImplementedError("dangan engine supports generate_ocr() only (fpdf2 renderer)")


# ───────────────────────────── hooks ─────────────────────────────


@hookimpl
def register_options():
    return {OPTION_NAMESPACE: DanganOptions}


@hookimpl
def add_options(parser):
    # The CLI's --ocr-engine has a fixed choices list (auto/tesseract/none) in
    # 17.13; the Python API does not check it. Let the CLI accept our name.
    for action in parser._actions:
        if action.dest == "ocr_engine" and isinstance(action.choices, list):
            if ENGINE_NAME not in action.choices:
                action.choices.append(ENGINE_NAME)
    group = parser.add_argument_group("dangan", "Graft precomputed OCR (dangan pipeline)")
    group.add_argument(
        "--dangan-ocr-json",
        dest=OCR_JSON_KWARG,
        metavar="FILE",
        help="JSON file with the OCR results of every page (written by write_ocr_json)",
    )


@hookimpl
def check_options(options):
    if getattr(options, "ocr_engine", "auto") != ENGINE_NAME:
        return
    path = _ocr_json_path(options)
    if not path.is_file():
        raise BadArgsError(f"OCR results file not found: {path}")
    if options.pdf_renderer not in ("auto", "fpdf2"):
        raise BadArgsError(f"--ocr-engine {ENGINE_NAME} needs the fpdf2 renderer")


@hookimpl
def get_ocr_engine(options):
    if options is not None and getattr(options, "ocr_engine", "auto") == ENGINE_NAME:
        return DanganOcrEngine()
    return None


@hookimpl
def rasterize_pdf_page(input_file, output_file, raster_dpi, pageno, page_dpi, rotation, options, use_cropbox):
    """A blank raster of the right size instead of rendering the page.

    OCRmyPDF renders every page so that its engine can read it; ours already has the text
    (grafted from the JSON), and only the raster's pixel size and DPI are used to place the
    text layer. Rendering a 300-dpi A4 page took ~1 s of the ~1.6 s per page that building
    the PDF/A cost, so for the dangan engine the render is skipped. Any other engine: None,
    so OCRmyPDF's own rasterisers run.
    """
    if options is None or getattr(options, "ocr_engine", None) != ENGINE_NAME:
        return None
    import pikepdf

    with pikepdf.open(input_file) as pdf:
        page = pdf.pages[pageno - 1]
        box = page.cropbox if use_cropbox else page.mediabox
        width_pt, height_pt = float(box[2]) - float(box[0]), float(box[3]) - float(box[1])
    width = max(1, round(width_pt / 72.0 * float(raster_dpi.x)))
    height = max(1, round(height_pt / 72.0 * float(raster_dpi.y)))
    if rotation and rotation % 180:
        width, height = height, width
    dpi = page_dpi or raster_dpi
    mode = "L" if Path(output_file).suffix.lower() in (".jpg", ".jpeg") else "1"  # no 1-bit JPEG
    Image.new(mode, (width, height), 255).save(output_file, dpi=(float(dpi.x), float(dpi.y)))
    return Path(output_file)
