"""Searchable PDF/A-2b for one item (件).

``build_pdfa`` puts the prepared page images of an item into one PDF with
img2pdf (JPEG passes through byte for byte, PNG is stored losslessly), then
runs OCRmyPDF with our ``dangan`` engine plugin
(:mod:`pipeline.archive.ocrmypdf_plugin`) which grafts the OCR results that
the ``ocr`` stage already computed — no second recognition — and makes the
file PDF/A-2b.

PDF/A strategy
--------------
``backend="auto"`` (default) first asks OCRmyPDF for its *internal* PDF/A
backend: pikepdf declares PDF/A (XMP ``pdfaid``, sRGB OutputIntent) and
validates the bytes it writes with its own PDF/A checker (OCRmyPDF 17.13 uses
it in place of veraPDF, which this machine does not have); image streams and
the fpdf2 text layer are kept exactly as they are. The result must also pass
our :func:`~pipeline.archive.validate.validate_pdfa`. Only if either check
fails is Ghostscript tried (``backend="ghostscript"``), with the same checks.

Ghostscript 10.0.0 (Debian 12) traps, found on this machine:

* it aborts (``Error: /undefined in --runpdf--``, "bad trailer dictionary")
  on an input whose ``/Info`` is an empty dictionary — which pikepdf's
  ``open_metadata`` leaves behind; :func:`images_to_pdf` removes it;
* it re-writes the CJK text layer's CFF CID font (Noto Sans CJK) with an
  embedded CMap whose /CIDSystemInfo does not match the CIDFont's
  (ISO 19005-2 6.2.11.3.1, reported by pikepdf's validator), so its output
  is *not* valid PDF/A-2b and is rejected here;
* OCRmyPDF refuses 10.0.0–10.02.0 with ``--mode skip/redo`` because those
  versions corrupt existing text; our input has no text, so it does not fire.

Cost: OCRmyPDF renders every page for its OCR engine; ours already has the text, so the
plugin answers that render with a blank raster of the right size
(:func:`pipeline.archive.ocrmypdf_plugin.rasterize_pdf_page`). Measured on a 300-dpi A4
JPEG page: 4.9 s → 1.3 s for a 1-page item and 13.2 s → 1.4 s for 4 pages. What is left
is mostly per item, not per page: loading and subsetting Noto Sans CJK for the fpdf2 text
layer (~1 s), then PDF/A + validation.

Other choices: optimisation is off (``optimize=0``): level 1 would wrap JPEGs
in Flate and re-encode PNGs — lossless, but no longer the original bytes —
and levels ≥ 2 are lossy. With Ghostscript, ``pdfa_image_compression=
'lossless'`` keeps it from transcoding lossless pages to JPEG. No
linearisation. Page content and images are deterministic; the dates and
document IDs in the metadata differ per run.
"""

from __future__ import annotations

import io
import logging
import tempfile
import time
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import img2pdf
import pikepdf
from PIL import Image

from pipeline.archive.ocrmypdf_plugin import ENGINE_NAME, OCR_JSON_KWARG, write_ocr_json
from pipeline.archive.validate import validate_pdfa
from pipeline.domain import ArchivedItem, OcrPage, PreparedPage
from pipeline.fileio import atomic_copy, sha256_file

log = logging.getLogger(__name__)

PLUGIN_MODULE = "pipeline.archive.ocrmypdf_plugin"
BACKENDS = ("auto", "internal", "ghostscript")


class PdfaError(RuntimeError):
    """The PDF/A of an item could not be produced or failed validation."""


# ───────────────────────────── images → PDF ─────────────────────────────


def _pdf_ready_image(page: PreparedPage, index: int) -> bytes:
    """Bytes img2pdf can embed without loss.

    JPEG and PNG (without transparency) go in untouched. Other formats
    (TIFF, BMP, …) and PNG with an alpha channel are converted to PNG
    losslessly; transparency is flattened onto white, since PDF/A page images
    must not depend on an alpha channel.
    """
    data = page.working.read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        if (im.width, im.height) != (page.width, page.height):
            raise PdfaError(
                f"page {index + 1}: {page.working} is {im.width}x{im.height}, "
                f"PreparedPage says {page.width}x{page.height}"
            )
        fmt = im.format
        has_alpha = im.mode in ("RGBA", "LA", "PA") or (
            im.mode == "P" and "transparency" in im.info
        )
        if fmt == "JPEG" or (fmt == "PNG" and not has_alpha):
            return data
        im.load()
        if has_alpha:
            rgba = im.convert("RGBA")
            flat = Image.new("RGB", rgba.size, "white")
            flat.paste(rgba, mask=rgba.getchannel("A"))
            converted = flat if im.mode not in ("LA",) else flat.convert("L")
        elif im.mode in ("1", "L", "RGB", "P", "I;16"):
            converted = im
        else:
            converted = im.convert("RGB")
        out = io.BytesIO()
        converted.save(out, format="PNG")
        log.debug("page %d: %s %s re-stored as PNG (lossless)", index + 1, fmt, im.mode)
        return out.getvalue()


def images_to_pdf(pages: Sequence[PreparedPage], out_pdf: Path, *, archival_code: str) -> Path:
    """One PDF page per image, each at its own dpi (page size = pixels / dpi).

    img2pdf's layout function has no page index, so every page is converted
    on its own and the pages are then joined with pikepdf (which copies the
    image streams verbatim).
    """
    with pikepdf.new() as merged:
        for i, page in enumerate(pages):
            if page.dpi <= 0:
                raise PdfaError(f"page {i + 1}: invalid dpi {page.dpi}")
            data = _pdf_ready_image(page, i)
            try:
                one = img2pdf.convert(
                    data,
                    layout_fun=img2pdf.get_fixed_dpi_layout_fun((page.dpi, page.dpi)),
                    # The working image is already upright; an EXIF orientation
                    # tag must not rotate the page away from the OCR boxes.
                    rotation=img2pdf.Rotation.none,
                )
            except Exception as e:  # img2pdf raises its own error types
                raise PdfaError(f"page {i + 1}: img2pdf failed on {page.working}: {e}") from e
            with pikepdf.open(io.BytesIO(one)) as src:
                merged.pages.extend(src.pages)
        # 档号 as dc:identifier: a predefined XMP property, so PDF/A needs no
        # extension schema for it. OCRmyPDF copies input XMP it does not
        # regenerate, so it survives into the output.
        with merged.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta["dc:identifier"] = archival_code
        # Ghostscript 10.0.0 (Debian 12) aborts with "/undefined in --runpdf--"
        # ("bad trailer dictionary") on an empty /Info, which open_metadata
        # leaves behind. OCRmyPDF writes Title etc. later anyway.
        if "/Info" in merged.trailer and len(merged.trailer.Info.keys()) == 0:
            del merged.trailer.Info
        merged.save(out_pdf)
    return out_pdf


# ───────────────────────────── OCRmyPDF ─────────────────────────────


def _run_ocrmypdf(
    input_pdf: Path,
    output_pdf: Path,
    ocr_json: Path,
    *,
    backend: str,
    title: str | None,
    author: str | None,
    subject: str | None,
    keywords: str | None,
) -> None:
    import ocrmypdf

    # Our plugin's option goes in here too: unpacked apart, a str-valued dict would have to fit
    # every typed keyword of ocrmypdf.ocr.
    kwargs: dict = {OCR_JSON_KWARG: str(ocr_json)}
    if backend == "ghostscript":
        # Ghostscript would otherwise transcode lossless images to JPEG.
        kwargs["pdfa_image_compression"] = "lossless"
    try:
        rc = ocrmypdf.ocr(
            input_pdf,
            output_pdf,
            plugins=[PLUGIN_MODULE],
            ocr_engine=ENGINE_NAME,
            language=["chi_sim"],  # only a font hint for the text layer
            output_type="pdfa-2",
            pdfa_backend=backend,
            pdf_renderer="fpdf2",
            optimize=0,
            fast_web_view=1e9,  # never linearise
            jobs=1,
            use_threads=True,
            progress_bar=False,
            title=title,
            author=author,
            subject=subject,
            keywords=keywords,
            **kwargs,
        )
    except Exception as e:  # ExitCodeException subclasses, pydantic errors, …
        raise PdfaError(f"ocrmypdf ({backend}) failed: {type(e).__name__}: {e}") from e
    if int(rc) != 0:
        raise PdfaError(f"ocrmypdf ({backend}) exited with {rc!r}")
    if not output_pdf.is_file():
        raise PdfaError(f"ocrmypdf ({backend}) produced no output")


# ───────────────────────────── build ─────────────────────────────


def build_pdfa(
    pages: list[tuple[PreparedPage, OcrPage]],
    out_path: Path,
    *,
    title: str,
    archival_code: str,
    author: str | None = None,
    subject: str | None = None,
    keywords: str | None = None,
    work_dir: Path | None = None,
    backend: str = "auto",
) -> ArchivedItem:
    """Build the searchable PDF/A-2b of one item (件) and write it atomically.

    ``pages`` are in page order; each OcrPage must be the OCR of that page's
    working image (its boxes in that image's pixels). ``title`` becomes
    dc:title / Info Title, ``archival_code`` (档号) dc:identifier. ``backend``:
    ``"auto"`` (internal pikepdf PDF/A, Ghostscript if that fails validation),
    ``"internal"`` or ``"ghostscript"``. Our intermediate files go to a
    temporary folder under ``work_dir`` (default: the system temp dir);
    OCRmyPDF 17.13 ignores its ``work_folder`` option and always uses
    ``tempfile.mkdtemp()``. Raises :class:`PdfaError`.
    """
    if not pages:
        raise PdfaError("an item needs at least one page")
    if backend not in BACKENDS:
        raise PdfaError(f"unknown backend {backend!r}; use one of {BACKENDS}")
    if not title.strip():
        raise PdfaError("title (题名) is required")
    if not archival_code.strip():
        raise PdfaError("archival code (档号) is required")
    out_path = Path(out_path)
    for i, (prepared, ocr) in enumerate(pages):
        if not prepared.working.is_file():
            raise PdfaError(f"page {i + 1}: working image missing: {prepared.working}")
        if ocr.width <= 0 or ocr.height <= 0:
            raise PdfaError(f"page {i + 1}: OCR result has no page size")

    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dangan-pdfa-", dir=work_dir) as tmp_name:
        tmp = Path(tmp_name)
        images_pdf = images_to_pdf([p for p, _ in pages], tmp / "images.pdf", archival_code=archival_code)
        ocr_json = write_ocr_json([o for _, o in pages], tmp / "ocr.json")

        attempts = ["internal", "ghostscript"] if backend == "auto" else [backend]
        stand_in = {"title": _bmp_only(title), "author": _bmp_only(author), "subject": _bmp_only(subject),
                    "keywords": _bmp_only(keywords)}
        problems: list[str] = []
        result: Path | None = None
        for attempt in attempts:
            candidate = tmp / f"out-{attempt}.pdf"
            started = time.perf_counter()
            try:
                _run_ocrmypdf(images_pdf, candidate, ocr_json, backend=attempt, **stand_in)
                if (stand_in["title"], stand_in["author"]) != (title, author):
                    _write_metadata(candidate, title=title, author=author)
            except PdfaError as e:
                problems.append(str(e))
                log.warning("PDF/A via %s failed: %s", attempt, e)
                continue
            issues = validate_pdfa(candidate, expected_pages=len(pages))
            log.info("PDF/A via %s: %.2f s, %d issue(s)", attempt,
                     time.perf_counter() - started, len(issues))
            if not issues:
                result = candidate
                break
            problems.append(f"{attempt}: " + "; ".join(issues))
        if result is None:
            raise PdfaError("could not produce a valid PDF/A-2b: " + " | ".join(problems))

        atomic_copy(result, out_path)

    return ArchivedItem(
        archival_code=archival_code,
        pdf_path=out_path,
        pdf_sha256=sha256_file(out_path)[0],
        page_count=len(pages),
    )


# OCRmyPDF refuses metadata with characters beyond the Basic Multilingual Plane or in a
# private-use area; a title from a file name may hold rare Han characters of CJK Extension B+
# (𠀀, 𪚥: they occur in names) or an emoji. OCRmyPDF gets 〓 (the geta mark, CJK type's
# stand-in for a missing character) instead, and the real text is written with pikepdf after.
_GETA = "\u3013"


def _bmp_only(text: str | None) -> str | None:
    if text is None:
        return None
    return "".join(_GETA if ord(ch) >= 0x10000 or unicodedata.category(ch) == "Co" else ch for ch in text)


def _write_metadata(pdf_path: Path, *, title: str, author: str | None) -> None:
    """The real title and author into a PDF/A built with stand-ins (XMP and Info kept in step)."""
    with pikepdf.open(pdf_path, allow_overwriting_input=True) as pdf:
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta["dc:title"] = title
            if author is not None:
                meta["dc:creator"] = [author]
        pdf.save(pdf_path)


def stamp_identity(pdf_path: Path, *, archival_code: str, title: str) -> str:
    """Write a 档号 issued after the PDF/A was built into its metadata; return the new SHA-256.

    Only the XMP packet and the Info dictionary change (kept in step by pikepdf), so the
    file stays PDF/A-2b; it is checked again before it replaces the old one.
    """
    pdf_path = Path(pdf_path)
    with tempfile.TemporaryDirectory(prefix="dangan-stamp-", dir=pdf_path.parent) as tmp_name:
        tmp = Path(tmp_name) / pdf_path.name
        with pikepdf.open(pdf_path) as pdf:
            with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
                meta["dc:identifier"] = archival_code
                meta["dc:title"] = title
            pdf.save(tmp)
        issues = validate_pdfa(tmp)
        if issues:
            raise PdfaError(f"{pdf_path}: re-stamping broke PDF/A: {'; '.join(issues)}")
        atomic_copy(tmp, pdf_path)
    return sha256_file(pdf_path)[0]
