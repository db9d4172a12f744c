"""Printable sheets of box and volume labels (盒脊/案卷标签) with a QR code.

Each label shows the 档号 (large), the 题名 (up to three lines), the label's extra
``lines`` (年度, 保管期限, 起止件号 …) and a QR code. The QR code carries an opaque
identifier only — ``DANGAN-V:<token>``, see :func:`label_payload` — never a name, an
ID number or a phone number: the labels sit on open shelves and a phone camera reads
them. The clerk UI resolves the token (:func:`parse_label_payload`) to the volume.

Layout: A4, 2 columns × 5 rows of 95 × 55.4 mm labels inside 10 mm margins, with
dashed cut lines; more than 10 labels continue on further sheets. The QR codes are
made with OpenCV (``cv2.QRCodeEncoder``, error correction M, 4-module quiet zone)
and embedded as lossless 1-bit images; the text uses the same embedded CJK font as
the volume PDF (:func:`pipeline.archive.volume_pdf.new_document`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from fpdf import FPDF
from PIL import Image

from pipeline.archive.volume_pdf import check_glyphs, new_document, wrap
from pipeline.domain import Label
from pipeline.fileio import atomic_write_bytes

PAYLOAD_PREFIX = "DANGAN-V:"
# secrets.token_urlsafe() output fits. Hex tokens do not always: secrets.token_hex(8)
# holds an 11-digit run in ~1.6 % of cases, refused below as phone-number-like.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
# What a payload must not contain: 居民身份证号码 (18 or 15 digits, or 17 + X),
# mobile numbers (11 digits), also written in groups (138 1234 5678).
_PERSONAL = re.compile(
    r"\d{11,}|\d{17}[Xx]|\d{3}[- ]\d{4}[- ]\d{4}|\d{6}[- ]\d{8}[- ]\d{3}[\dXx]"
)

MARGIN = 10.0  # mm
COLUMNS, ROWS = 2, 5
LABEL_W = (210 - 2 * MARGIN) / COLUMNS  # 95 mm
LABEL_H = (297 - 2 * MARGIN) / ROWS  # 55.4 mm
PAD = 4.0
QR_MM = 32.0  # ~1 mm per module for short payloads: easy for phone cameras and printers
QR_QUIET = 4  # modules of white around the code (ISO/IEC 18004)


def label_payload(token: str | None) -> str:
    """The text to encode for a label: ``DANGAN-V:`` + ``token`` (1–64 of A–Z a–z 0–9 _ -)."""
    if not token or not _TOKEN.fullmatch(token):
        raise ValueError(f"label token must be 1-64 characters of A-Z a-z 0-9 _ -, got {token!r}")
    payload = PAYLOAD_PREFIX + token
    check_payload(payload)
    return payload


def parse_label_payload(text: str) -> str | None:
    """The token of a scanned ``DANGAN-V:`` payload, or None for anything else."""
    text = text.strip()
    if not text.startswith(PAYLOAD_PREFIX):
        return None
    token = text[len(PAYLOAD_PREFIX):]
    return token if _TOKEN.fullmatch(token) else None


def check_payload(payload: str) -> None:
    """Refuse a QR payload that could carry personal data (ValueError).

    A payload is an opaque identifier: printable ASCII only (so no Chinese name or
    address), and no ID-number- or phone-number-like digit run.
    """
    if not payload:
        raise ValueError("empty QR payload")
    if not all(" " <= c <= "~" for c in payload):
        raise ValueError("QR payload must be printable ASCII (no CJK: names stay off labels)")
    if _PERSONAL.search(payload):
        raise ValueError("QR payload holds an ID-number- or phone-number-like digit run")


def qr_image(payload: str, *, module_px: int = 8) -> Image.Image:
    """1-bit image of the QR code for ``payload`` with a 4-module quiet zone."""
    check_payload(payload)
    params = cv2.QRCodeEncoder.Params()
    params.correction_level = cv2.QRCODE_ENCODER_CORRECT_LEVEL_M
    modules = cv2.QRCodeEncoder.create(params).encode(payload)
    if modules is None or modules.size == 0:
        raise ValueError(f"payload too long for a QR code: {len(payload)} characters")
    border = 2  # OpenCV already leaves 2 modules of white
    modules = np.pad(modules, QR_QUIET - border, constant_values=255)
    img = Image.fromarray(modules).resize(
        (modules.shape[1] * module_px, modules.shape[0] * module_px), Image.Resampling.NEAREST
    )
    return img.convert("1")


def _fit(pdf: FPDF, text: str, width: float, *, cut: bool = False) -> str:
    """``text`` cut to ``width`` at the current font, ending in … when cut (always if ``cut``)."""
    if not cut and pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _label(pdf: FPDF, label: Label, x: float, y: float) -> None:
    inner = LABEL_W - 2 * PAD
    size = 20.0  # 档号: largest size that fits the label's width
    pdf.set_font("cjk", size=size)
    while size > 9 and pdf.get_string_width(label.archival_code) > inner:
        size -= 0.5
        pdf.set_font("cjk", size=size)
    pdf.set_xy(x + PAD, y + PAD)
    pdf.cell(inner, 9, _fit(pdf, label.archival_code, inner))

    top = y + PAD + 11
    text_w = inner - QR_MM - 3
    pdf.set_font("cjk", size=11)
    lines = wrap(pdf, label.title, text_w)
    if len(lines) > 3:
        lines = lines[:2] + [_fit(pdf, lines[2], text_w, cut=True)]
    cursor = top
    for line in lines:
        pdf.set_xy(x + PAD, cursor)
        pdf.cell(text_w, 5.2, line)
        cursor += 5.2
    pdf.set_font("cjk", size=9)
    cursor += 1.5
    for line in label.lines:
        if cursor + 4.5 > y + LABEL_H - PAD:
            break
        pdf.set_xy(x + PAD, cursor)
        pdf.cell(text_w, 4.5, _fit(pdf, line, text_w))
        cursor += 4.5
    pdf.image(qr_image(label.qr_payload), x=x + LABEL_W - PAD - QR_MM, y=top, w=QR_MM, h=QR_MM)


def _cut_lines(pdf: FPDF) -> None:
    with pdf.local_context(draw_color=150, line_width=0.2):
        pdf.set_dash_pattern(dash=2, gap=2)
        for c in range(COLUMNS + 1):
            x = MARGIN + c * LABEL_W
            pdf.line(x, 0, x, pdf.h)
        for r in range(ROWS + 1):
            y = MARGIN + r * LABEL_H
            pdf.line(0, y, pdf.w, y)


def build_label_sheet(labels: Sequence[Label], out_path: Path, *,
                      font_path: Path | None = None) -> Path:
    """Write an A4 PDF of ``labels`` (10 per sheet) to ``out_path`` atomically.

    Every ``qr_payload`` is checked first (:func:`check_payload`); one that looks like
    personal data raises ValueError and nothing is written.
    """
    if not labels:
        raise ValueError("no labels")
    for label in labels:
        check_payload(label.qr_payload)
    pdf = new_document(font_path)
    pdf.set_auto_page_break(False)
    per_page = COLUMNS * ROWS
    for k, label in enumerate(labels):
        if k % per_page == 0:
            pdf.add_page()
            _cut_lines(pdf)
        row, col = divmod(k % per_page, COLUMNS)
        _label(pdf, label, MARGIN + col * LABEL_W, MARGIN + row * LABEL_H)
    check_glyphs(pdf)
    out_path = Path(out_path)
    atomic_write_bytes(out_path, bytes(pdf.output()))
    return out_path
