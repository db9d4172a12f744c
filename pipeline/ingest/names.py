"""Inbox file names as the catalog keeps and shows them.

A share or USB stick written by Chinese Windows and mounted without a UTF-8 ``iocharset``
gives names in GBK (or Big5, Shift-JIS) bytes; Python hands them over with surrogate
escapes, which a database, JSON or a log line cannot hold. The file itself is opened by
its real name (the surrogates stand for the exact bytes); the catalog gets the name
decoded from the legacy encoding it most plausibly is, and the raw bytes are recorded in
hex beside it, so nothing is guessed away.
"""

from __future__ import annotations

import os
import unicodedata

# Tried in this order after UTF-8. GB2312 first and strict: GBK decodes almost any byte
# pair, so a Big5 or Shift-JIS name would come out as GBK nonsense; GB2312's narrower
# byte ranges reject those, and what it accepts is what Simplified-Chinese Windows writes.
_LEGACY = ("gb2312", "big5", "shift_jis", "gb18030")
# Room left in a 255-byte file name for a time stamp and ".reason.json".
NAME_BYTES = 180


def has_raw_bytes(name: str) -> bool:
    """True when ``name`` carries bytes that are not UTF-8 (surrogate escapes)."""
    return any("\udc80" <= ch <= "\udcff" for ch in name)


def raw_hex(name: str) -> str | None:
    """The name's bytes in hex when they are not UTF-8 (for the event log), else None."""
    return os.fsencode(name).hex() if has_raw_bytes(name) else None


def readable_name(name: str) -> str:
    """``name`` as text the catalog can store: UTF-8 names unchanged, legacy-encoded ones
    decoded, bytes no encoding explains written as ``\\xNN``."""
    if not has_raw_bytes(name):
        return name
    raw = os.fsencode(name)
    for encoding in _LEGACY:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if text.isprintable():
            return text
    return raw.decode("utf-8", "backslashreplace")


def storable(text: str) -> str:
    """A message that may quote a raw name (an error from Pillow or qpdf): its non-UTF-8
    bytes written as ``\\xNN``, the rest unchanged."""
    if not has_raw_bytes(text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def file_name(name: str, limit: int = NAME_BYTES) -> str:
    """A name for a file we write (quarantine): readable, no control or path characters,
    at most ``limit`` UTF-8 bytes with the extension kept."""
    text = "".join("_" if (unicodedata.category(ch)[0] == "C" or ch in "/\\") else ch
                   for ch in readable_name(name)) or "_"
    if len(text.encode("utf-8")) <= limit:
        return text
    stem, dot, ext = text.rpartition(".")
    ext = dot + ext if dot and len(ext.encode("utf-8")) <= 16 else ""
    stem = stem if ext else text
    budget = limit - len(ext.encode("utf-8")) - len("…".encode())
    return stem.encode("utf-8")[:budget].decode("utf-8", "ignore") + "…" + ext
