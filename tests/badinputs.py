"""Makers of bad scanner input: each returns the name it created in the inbox."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import pikepdf
from PIL import Image


def _jpeg(size=(200, 120)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "white").save(buf, "JPEG")
    return buf.getvalue()


def _png(size=(200, 120)) -> bytes:
    buf = io.BytesIO()
    Image.new("L", size, 255).save(buf, "PNG")
    return buf.getvalue()


def _tiff(frames=2) -> bytes:
    buf = io.BytesIO()
    imgs = [Image.new("L", (300, 200), 255) for _ in range(frames)]
    imgs[0].save(buf, "TIFF", save_all=True, append_images=imgs[1:], compression="raw")
    return buf.getvalue()


def _bmp() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (200, 120), "white").save(buf, "BMP")
    return buf.getvalue()


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
            + struct.pack(">I", zlib.crc32(chunk)) + b"\x00\x00\x00\x00IEND\xaeB`\x82")


def _pdf(pages: int, encrypt: pikepdf.Encryption | None = None) -> bytes:
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=(595, 842))
    buf = io.BytesIO()
    pdf.save(buf, encryption=encrypt or False)
    return buf.getvalue()


def make_all(inbox: Path) -> dict[str, str]:
    """Create 24 kinds of bad input; returns {entry name: expected reason fragment}."""
    inbox.mkdir(parents=True, exist_ok=True)
    expect: dict[str, str] = {}

    def put(name: str, data: bytes, reason: str) -> None:
        (inbox / name).write_bytes(data)
        expect[name] = reason

    put("zero.jpg", b"", "empty file")
    put("trunc.jpg", _jpeg()[:400], "truncated JPEG")
    put("trunc.png", _png()[:60], "truncated or corrupt PNG")
    put("trunc.tif", _tiff()[:5000], "truncated or corrupt TIFF")
    put("trunc.bmp", _bmp()[:300], "truncated or corrupt BMP")
    put("nopages.pdf", _pdf(0), "no pages")
    put("encrypted.pdf", _pdf(1, pikepdf.Encryption(user="secret", owner="secret")), "encrypted PDF")
    put("owner-locked.pdf", _pdf(1, pikepdf.Encryption(user="", owner="boss")), "encrypted PDF")
    put("trunc.pdf", _pdf(2)[:300], "truncated PDF")
    put("garbage-body.pdf", b"%PDF-1.7\n" + os.urandom(2000) + b"\n%%EOF\n", "corrupt PDF")
    put("text-named.jpg", "这不是图片，是一段文字。\n".encode() * 20, "not a supported scan")
    put("page.html.pdf", b"<html><body>404 not found</body></html>\n" * 5, "not a supported scan")
    put("random.tif", os.urandom(4096), "not a supported scan")
    put("letter.docx", b"PK\x03\x04" + os.urandom(500), "unsupported file type")
    put("animation.gif", b"GIF89a" + os.urandom(200), "unsupported file type")
    put("noextension", _png(), "unsupported file type")
    put("bomb-header.png", _png_header(100_000, 100_000), "-pixel limit")
    put("badcrc.png", _png()[:-20] + b"\x00" * 20, "truncated or corrupt PNG")
    put("jpeg-garbage.jpg", _jpeg()[:20] + os.urandom(3000) + b"\xff\xd9", "corrupt JPEG")
    # A real 30 000 × 30 000 image (bitonal, compresses to a few MB).
    Image.new("1", (30_000, 30_000), 1).save(inbox / "huge.tif", "TIFF", compression="group4")
    expect["huge.tif"] = "-pixel limit"
    os.symlink("/etc/passwd", inbox / "link.jpg")
    expect["link.jpg"] = "symbolic link"
    os.mkfifo(inbox / "pipe.jpg")
    expect["pipe.jpg"] = "not a regular file"
    batch = inbox / "batch-with-bad-page"
    batch.mkdir()
    (batch / "1.png").write_bytes(_png())
    (batch / "2.png").write_bytes(_png()[:50])
    expect["batch-with-bad-page"] = "2.png: truncated or corrupt PNG"
    bad_batch = inbox / "batch-with-link"
    bad_batch.mkdir()
    (bad_batch / "1.png").write_bytes(_png())
    os.symlink("/etc/hostname", bad_batch / "2.png")
    expect["batch-with-link"] = "2.png: symbolic link"
    return expect
