"""Result snippets: a window of the original OCR text around the first match,
matches in 【】, ID numbers, phone numbers and labelled birth dates masked.

Matching runs on the normalised text (so "张 伟", a Traditional page or an ID
with an OCR 'O' still match) and is mapped back to the original characters
through normalize_with_map's offset map. ID numbers are located on the whole
normalised page too, so an ID split by a line break or cut by the window edge
is still recognised and masked.
"""

from __future__ import annotations

import re

from .analysis import (
    _HAN,
    QueryPlan,
    normalize_with_map,
)

HL_OPEN, HL_CLOSE = "【", "】"
# Characters between two token runs that the index ignores (punctuation, spaces).
_GAP = f"[^0-9a-z{_HAN}]*"
_WS_RE = re.compile(r"\s+")
# Keep the first 6 (region) and last 4 characters of an 18-char ID.
_KEEP_HEAD, _KEEP_TAIL = 6, 4


def _term_pattern(term) -> str:
    if term.id_pattern:
        return f"(?<![0-9a-z]){term.id_pattern}(?![0-9a-z])"
    term_runs = term.runs
    parts = [re.escape(run) for run, _ in term_runs]
    pattern = _GAP.join(parts)
    # ASCII tokens are whole tokens in the index: do not highlight "123" inside "41234".
    if not term_runs[0][1]:
        pattern = "(?<![0-9a-z])" + pattern
    if not term_runs[-1][1]:
        pattern += "(?![0-9a-z])"
    if term.id_tail:  # a partial ID lights up the whole ID number it ends
        pattern += f"|(?<![0-9a-z])[0-9]{{12}}{re.escape(term.id_tail)}(?![0-9a-z])"
    return pattern


def _match_spans(norm: str, plan: QueryPlan) -> list[tuple[int, int]]:
    """Spans (in normalised text) of every occurrence of every query term."""
    if plan.empty:
        return []
    pattern = re.compile("|".join(f"(?:{_term_pattern(t)})" for t in plan.terms))
    return [m.span() for m in pattern.finditer(norm) if m.end() > m.start()]


# Long digit runs: 18-digit IDs, first-generation 15-digit IDs, and IDs whose OCR lost or
# gained a digit (a grid-boxed "1" is easily dropped) — and bank card numbers. All private.
# Letters may touch them (NO360122…, ID…x): only a neighbouring digit makes it another number.
SENSITIVE_NUMBER_RE = re.compile(r"(?<![0-9])[0-9]{14,18}[0-9x](?![0-9])")
# Mainland mobile numbers (138 1234 5678 is re-joined by normalisation): keep 3 + 4.
MOBILE_RE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
# Landlines with an area code and a hyphen (0571-87654321): keep the area code and 4.
LANDLINE_RE = re.compile(r"(?<![0-9])0[0-9]{2,3}-[0-9]{7,8}(?![0-9])")
_PHONE_KEEP_TAIL = 4
# A birth date printed beside its label or followed by 出生 (forms print it next to the ID
# number, whose mask hides exactly the birth date). Its digits are masked; 年/月/日 stay.
_CN_NUM = "〇零一二三四五六七八九十"
_DATE = (rf"(?:(?:19|20)[0-9]{{2}}\s*(?:年|[-./])\s*(?:[0-9]{{1,2}}\s*(?:月|[-./])?\s*(?:[0-9]{{1,2}}\s*日?)?)?"
         rf"|(?:19|20)[0-9]{{6}}(?![0-9])"
         rf"|[{_CN_NUM}]{{4}}年(?:[{_CN_NUM}]{{1,3}}月(?:[{_CN_NUM}]{{1,3}}日)?)?)")
BIRTH_DATE_RE = re.compile(
    rf"(?:出生(?:日期|年月日|年月|时间|年份)?|生日|生于)[\s:|()为是于在]{{0,4}}(?P<after>{_DATE})"
    rf"|(?<![0-9])(?P<before>{_DATE})\s*(?:出生|生人|生(?![产活效态日病长])|出世)"
)
_DATE_DIGIT = re.compile(f"[0-9{_CN_NUM}]")


def _masked_positions(norm: str, offsets: list[int], private: bool = True) -> set[int]:
    """Original-text indices of ID characters that must not be shown, and with ``private``
    those of phone numbers and labelled birth dates too."""
    hidden: set[int] = set()
    for m in SENSITIVE_NUMBER_RE.finditer(norm):
        for k in range(m.start() + _KEEP_HEAD, m.end() - _KEEP_TAIL):
            hidden.add(offsets[k])
    if not private:
        return hidden
    for m in MOBILE_RE.finditer(norm):
        for k in range(m.start() + 3, m.end() - _PHONE_KEEP_TAIL):
            hidden.add(offsets[k])
    for m in LANDLINE_RE.finditer(norm):
        for k in range(norm.index("-", m.start()) + 1, m.end() - _PHONE_KEEP_TAIL):
            hidden.add(offsets[k])
    for m in BIRTH_DATE_RE.finditer(norm):
        group = "after" if m.group("after") is not None else "before"
        start = m.start(group)
        hidden.update(offsets[start + d.start()] for d in _DATE_DIGIT.finditer(m.group(group)))
    return hidden


def make_snippet(text: str, query_plan: QueryPlan, width: int = 60) -> str:
    """About ``width`` original characters around the first match, matches in
    【】, newlines collapsed, ID and phone numbers masked (also inside 【】)."""
    if not text:
        return ""
    norm, offsets = normalize_with_map(text)
    spans = [(offsets[a], offsets[b - 1] + 1) for a, b in _match_spans(norm, query_plan)]
    hidden = _masked_positions(norm, offsets)

    if spans:
        first_start, first_end = spans[0]
        slack = max(width - (first_end - first_start), 0)
        start = max(first_start - slack // 3, 0)  # a little context before, more after
    else:
        start = 0
    end = min(max(start + width, spans[0][1] if spans else 0), len(text))
    start = max(min(start, end - width), 0)

    lit = [False] * (end - start)
    for s, e in spans:
        for i in range(max(s, start), min(e, end)):
            lit[i - start] = True
    out: list[str] = []
    for i in range(start, end):
        on = lit[i - start]
        if on and (i == start or not lit[i - start - 1]):
            out.append(HL_OPEN)
        out.append("*" if i in hidden else text[i])
        if on and (i == end - 1 or not lit[i - start + 1]):
            out.append(HL_CLOSE)
    snippet = _WS_RE.sub(" ", "".join(out)).strip()
    if start > 0:
        snippet = "…" + snippet
    if end < len(text):
        snippet += "…"
    # Safety net: anything ID- or phone-shaped that slipped through is masked as well.
    return mask_private_numbers(snippet)


def mask_id_numbers(text: str) -> str:
    """Mask 18-character ID numbers, keeping the first 6 and the last 4:
    ``610102********123X``. IDs split by spaces/line breaks, with OCR letters
    for digits, in full-width digits or with 【】 inside are masked too."""
    return _mask(text, phones=False)


def mask_private_numbers(text: str) -> str:
    """mask_id_numbers, and phone numbers and labelled birth dates too: ``138****5678``,
    ``0571-****4321``, ``出生日期：****年*月**日`` (what snippets, titles, file names and list
    views show before a 查档登记)."""
    return _mask(text, phones=True)


# Nothing to mask without a digit (any script: NFKC folds them) or the 生 of a birth date:
# the common case of titles, names and labels skips normalisation altogether.
_MAYBE_PRIVATE = re.compile(r"\d|生")


def _mask(text: str, phones: bool) -> str:
    if not text or not _MAYBE_PRIVATE.search(text):
        return text
    # Look through highlight brackets: they are ours, not part of the page.
    visible = [i for i, c in enumerate(text) if c not in (HL_OPEN, HL_CLOSE)]
    view = "".join(text[i] for i in visible)
    norm, offsets = normalize_with_map(view)
    hidden = _masked_positions(norm, offsets, private=phones)
    if not hidden:
        return text
    chars = list(text)
    for k in hidden:
        chars[visible[k]] = "*"
    return "".join(chars)
