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

from pipeline.text import HAN as _HAN
from pipeline.text import HL_CLOSE, HL_OPEN, mask_private_numbers, masked_positions, normalize_with_map

from .analysis import QueryPlan

# Characters between two token runs that the index ignores (punctuation, spaces).
_GAP = f"[^0-9a-z{_HAN}]*"
_WS_RE = re.compile(r"\s+")


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
def make_snippet(text: str, query_plan: QueryPlan, width: int = 60) -> str:
    """About ``width`` original characters around the first match, matches in
    【】, newlines collapsed, ID and phone numbers masked (also inside 【】)."""
    if not text:
        return ""
    norm, offsets = normalize_with_map(text)
    spans = [(offsets[a], offsets[b - 1] + 1) for a, b in _match_spans(norm, query_plan)]
    hidden = masked_positions(norm, offsets)

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


