"""Classification (分类): filing category, retention, year and title of an item (件).

This is the placeholder stage: every item gets the configured filing defaults
and is flagged for review. What it does derive from the text is deliberately
simple and conservative: the 年度 from the first plausible ``YYYY年`` date and a
title taken from the first heading-like line, bracketed ``[ ]`` as DA/T 22 asks
for a title that was supplied rather than transcribed.
"""

from __future__ import annotations

import re
from datetime import datetime

from pipeline.config.settings import ClassifySettings
from pipeline.domain import Classification, OcrPage

_YEAR = re.compile(r"(19[4-9]\d|20[0-9]\d)\s*年")
_CJK = re.compile(r"[\u3400-\u9fff]")


def guess_year(text: str, fallback: int) -> tuple[int, bool]:
    """First ``YYYY年`` in the text (1940–2099); (year, found)."""
    match = _YEAR.search(text)
    return (int(match.group(1)), True) if match else (fallback, False)


def guess_title(pages: list[OcrPage], fallback: str) -> str:
    for page in pages[:1]:
        for line in page.lines[:5]:
            text = line.text.strip()
            if len(_CJK.findall(text)) >= 4:
                return f"[{text[:60]}]"
    return f"[{fallback}]"


def classify(pages: list[OcrPage], settings: ClassifySettings, *, received_at: datetime, label: str) -> Classification:
    text = "\n".join(p.text for p in pages)
    if settings.year is not None:
        year, found = settings.year, True
    else:
        year, found = guess_year(text, received_at.year)
    return Classification(
        fonds=settings.fonds,
        category=settings.category,
        year=year,
        retention=settings.retention,
        org=settings.org,
        title=guess_title(pages, label),
        confidence=0.5 if found else 0.1,
        needs_review=True,
    )
