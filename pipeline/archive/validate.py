"""Checks on a produced PDF/A-2b and on its extractable text.

There is no veraPDF on this machine, so :func:`validate_pdfa` checks the
structural requirements we rely on ourselves, with pikepdf, and adds the
verdict of pikepdf's own PDF/A validator (the one OCRmyPDF 17 uses for its
speculative conversion). It is not a full ISO 19005-2 validation; it catches
what our pipeline can get wrong: missing declaration, missing OutputIntent,
non-embedded fonts (the CJK trap), encryption and scripts.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pikepdf
from pikepdf import Array, Dictionary, Name, Stream

log = logging.getLogger(__name__)

_FONT_FILES = ("/FontFile", "/FontFile2", "/FontFile3")
_ACTION_KEYS = ("/OpenAction", "/AA", "/A")


def _is_js_action(obj: object) -> bool:
    return isinstance(obj, Dictionary) and (
        obj.get("/S") == Name.JavaScript or "/JS" in obj
    )


def _font_embedded(font: pikepdf.Object) -> bool:  # a font dictionary (array items are typed Object)
    subtype = font.get("/Subtype")
    if subtype == Name.Type3:  # glyphs are content streams; nothing to embed
        return True
    if subtype == Name.Type0:
        descendants = font.get("/DescendantFonts")
        if not isinstance(descendants, Array) or len(descendants) == 0:
            return False
        return all(_font_embedded(d) for d in descendants)
    descriptor = font.get("/FontDescriptor")
    if not isinstance(descriptor, Dictionary):
        return False
    return any(isinstance(descriptor.get(k), Stream) for k in _FONT_FILES)


def _check_output_intent(pdf: pikepdf.Pdf) -> list[str]:
    intents = pdf.Root.get("/OutputIntents")
    if not isinstance(intents, Array) or len(intents) == 0:
        return ["no OutputIntents in the catalog"]
    for intent in intents:
        if not isinstance(intent, Dictionary) or intent.get("/S") != Name.GTS_PDFA1:
            continue
        profile = intent.get("/DestOutputProfile")
        if not isinstance(profile, Stream):
            return ["GTS_PDFA1 OutputIntent has no embedded ICC profile"]
        data = profile.read_bytes()
        if len(data) < 128 or data[36:40] != b"acsp":
            return ["GTS_PDFA1 OutputIntent profile is not an ICC profile"]
        return []
    return ["no OutputIntent with /S /GTS_PDFA1"]


def _check_metadata(pdf: pikepdf.Pdf) -> list[str]:
    if not isinstance(pdf.Root.get("/Metadata"), Stream):
        return ["no XMP metadata stream in the catalog"]
    meta = pdf.open_metadata()
    part = meta.get("pdfaid:part")
    conformance = meta.get("pdfaid:conformance")
    issues = []
    if str(part) != "2":
        issues.append(f"XMP pdfaid:part is {part!r}, expected '2'")
    if str(conformance).upper() != "B":
        issues.append(f"XMP pdfaid:conformance is {conformance!r}, expected 'B'")
    return issues


def _check_objects(pdf: pikepdf.Pdf) -> list[str]:
    """Walk every indirect object once: fonts, scripts, forbidden filters."""
    issues: list[str] = []
    unembedded: set[str] = set()
    js = 0
    lzw = 0
    for obj in pdf.objects:
        if isinstance(obj, Stream):
            filters = obj.get("/Filter")
            names = list(filters) if isinstance(filters, Array) else [filters]
            if Name.LZWDecode in names:
                lzw += 1
            continue
        if not isinstance(obj, Dictionary):
            continue
        if obj.get("/Type") == Name.Font and obj.get("/Subtype") != Name.CIDFontType0 \
                and obj.get("/Subtype") != Name.CIDFontType2:
            # CID descendants are checked through their Type0 parent
            if not _font_embedded(obj):
                unembedded.add(str(obj.get("/BaseFont", "?")))
        if _is_js_action(obj):
            js += 1
        for key in _ACTION_KEYS:
            if _is_js_action(obj.get(key)):
                js += 1
    if unembedded:
        issues.append("fonts not embedded: " + ", ".join(sorted(unembedded)))
    if js:
        issues.append(f"{js} JavaScript action(s)")
    if lzw:
        issues.append(f"{lzw} LZW-compressed stream(s) (forbidden in PDF/A)")
    return issues


def _pikepdf_verdict(path: Path) -> list[str]:
    try:
        from pikepdf.pdfa import validate_written
    except ImportError:  # older pikepdf: nothing to add
        return []
    try:
        report = validate_written(path, "2b")
    except Exception as e:  # the validator itself failed; report, don't crash
        return [f"pikepdf PDF/A validator error: {e}"]
    if report.verdict == "fail":
        return [f"pikepdf PDF/A validator: {len(report.violations)} violation(s): "
                + report.summary(limit=5)]
    # 'not_checked' = constructs its validator does not cover; our own checks
    # above still apply, so it is not an error by itself.
    return []


def validate_pdfa(path: Path | str, *, expected_pages: int | None = None) -> list[str]:
    """Problems that stop ``path`` being an acceptable PDF/A-2b; [] means OK.

    Checks: not encrypted; page count > 0 (and = ``expected_pages``); XMP
    ``pdfaid:part`` = 2 and ``pdfaid:conformance`` = B; an OutputIntent
    /GTS_PDFA1 with an embedded ICC profile; every font embedded (Type0 via
    its descendant CID fonts); no JavaScript (names tree, actions, OpenAction,
    additional actions); no LZW; PDF version ≤ 1.7; pikepdf's PDF/A verdict.
    """
    path = Path(path)
    try:
        pdf = pikepdf.open(path)
    except pikepdf.PasswordError:
        return ["encrypted (password required)"]
    except pikepdf.PdfError as e:
        return [f"not a readable PDF: {e}"]
    issues: list[str] = []
    with pdf:
        if pdf.is_encrypted or "/Encrypt" in pdf.trailer:
            issues.append("encrypted (/Encrypt in trailer)")
        n = len(pdf.pages)
        if n == 0:
            issues.append("no pages")
        elif expected_pages is not None and n != expected_pages:
            issues.append(f"{n} pages, expected {expected_pages}")
        if pdf.pdf_version > "1.7":
            issues.append(f"PDF version {pdf.pdf_version} > 1.7")
        issues += _check_metadata(pdf)
        issues += _check_output_intent(pdf)
        names = pdf.Root.get("/Names")
        if isinstance(names, Dictionary) and "/JavaScript" in names:
            issues.append("document-level JavaScript (/Names /JavaScript)")
        if "/AA" in pdf.Root:
            issues.append("catalog additional actions (/AA)")
        if _is_js_action(pdf.Root.get("/OpenAction")):
            issues.append("OpenAction runs JavaScript")
        issues += _check_objects(pdf)
    if not issues:  # the full validator only matters once the basics hold
        issues += _pikepdf_verdict(path)
    return issues


# ───────────────────────────── text ─────────────────────────────


def extract_text(path: Path | str, *, layout: bool = False) -> str:
    """Text of the PDF as ``pdftotext`` (poppler) extracts it, UTF-8.

    Default mode, not ``-layout``: the default gives lines in reading order
    the way viewers copy and search them, while ``-layout`` pads with runs of
    spaces to keep columns aligned, which inserts spaces between spaced-out
    Han characters (e.g. a table header 姓  名) that are not in the text.
    ``layout=True`` is there for inspecting positions.
    """
    cmd = ["pdftotext", "-enc", "UTF-8"]
    if layout:
        cmd.append("-layout")
    cmd += [str(path), "-"]
    try:
        proc = subprocess.run(cmd, capture_output=True, check=True, timeout=120)
    except FileNotFoundError as e:
        raise RuntimeError("pdftotext (poppler-utils) is not installed") from e
    except subprocess.CalledProcessError as e:
        raise RuntimeError(f"pdftotext failed: {e.stderr.decode(errors='replace')}") from e
    return proc.stdout.decode("utf-8")
