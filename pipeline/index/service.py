"""The search the clerk's desk (web UI) and `dangan search` call: one function.

``search`` runs the exact query (analysis.query_plan: surnames, names,
phrases, ID numbers and their last 6 characters, Traditional or Simplified),
then the *approximate* query: every 2–4-character Han term may also match a
spelling with one character swapped for an OCR look-alike (confusion.py), and
pages the exact query already found are excluded. Exact hits come first (in
the requested order), approximate ones after them, marked ``approximate`` —
so an exact hit always outranks an approximate one, on every page of results.
Facets count both groups, over the same filters.
"""

from __future__ import annotations

import time
from dataclasses import replace

from ..domain import SearchResult
from .analysis import QueryPlan, index_tokens, query_plan
from .base import SORTS, SearchIndex, check_filters, fetch_with_ties, make_hit
from .confusion import variants

# Names are 2–4 characters (复姓 + 2-character given name at most); longer
# terms are phrases, searched exactly.
APPROX_MIN_CHARS, APPROX_MAX_CHARS = 2, 4
# Counting facets is a second pass over every match (tantivy cannot aggregate
# and rank in one call): ~200 ms for an 800k-page phrase at 1M pages. Above
# this many matches facets are left empty (the UI asks the clerk to narrow),
# and approximate matches, which would all rank below them, are not counted.
LARGE_RESULT = 50_000


def approximate_plan(plan: QueryPlan) -> tuple[QueryPlan, QueryPlan] | None:
    """(match plan, highlight plan) for look-alike spellings, or None when no
    term is a 2–4-character Han run with a confusable character. In the match
    plan each such term matches its own spelling or any variant (the exact
    pages are excluded separately); the highlight plan lists every spelling."""
    terms = []
    spellings: list[str] = []
    for term in plan.terms:
        word = term.runs[0][0] if len(term.runs) == 1 and term.runs[0][1] else ""
        alts = variants(word) if APPROX_MIN_CHARS <= len(word) <= APPROX_MAX_CHARS else []
        if not alts:
            terms.append(term)
            continue
        phrases = [term.phrase] + [tuple(index_tokens(alt)[1]) for alt in alts]
        terms.append(replace(term, any_of=tuple(phrases), words=tuple(alts) if term.words else ()))
        spellings.extend(alts)
    if not spellings:
        return None
    highlight = query_plan(" ".join([plan.query, *spellings]))
    return QueryPlan(plan.query, tuple(terms)), highlight


def _fetch(index: SearchIndex, plan: QueryPlan, filters: dict, n: int, sort: str, exclude: QueryPlan | None = None):
    """(total, rows) in final order: score, then archival code and page; or date order."""
    if n <= 0:
        total, _ = index.query(plan, filters, 1, sort=sort, exclude=exclude)
        return total, []
    if plan.empty or sort == "date":
        return index.query(plan, filters, n, sort=sort, exclude=exclude)
    total, rows = fetch_with_ties(lambda k: index.query(plan, filters, k, sort=sort, exclude=exclude), n)
    rows.sort(key=lambda r: (-r[0], r[1]["archival_code"], r[1]["page_no"]))
    return total, rows


def search(
    index: SearchIndex,
    query: str,
    *,
    filters: dict | None = None,
    sort: str = "relevance",
    limit: int = 10,
    offset: int = 0,
    approximate: bool = True,
    facets: bool = True,
) -> SearchResult:
    """Search ``index`` for ``query``.

    filters: any of year, year_from, year_to (inclusive), village, category,
    fonds, retention, class_code (exact values; base.FILTER_FIELDS).
    sort: "relevance" (score, then archival code, page) or "date" (doc_date,
    then archival code, page; undated pages last). An empty query lists every
    (filtered) page in archival-code order, or date order.
    Returns hits offset..offset+limit of [exact hits…, approximate hits…],
    ``total`` = exact + approximate matches (``approximate_total`` of them
    approximate) and, with ``facets``, page counts per value of fonds,
    village, year, category, retention and class_code over all matches.
    When the exact hits fill the first window (offset 0), ``approximate_hits``
    holds the best ``limit`` approximate ones, for a separate list below them.
    Above LARGE_RESULT exact matches, approximate ones are neither counted
    nor fetched (unless the window reaches past the exact hits), and above
    LARGE_RESULT matches in all, facets are empty.
    """
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; valid: {', '.join(SORTS)}")
    started = time.perf_counter()
    plan = query_plan(query)
    clean = check_filters(filters)
    limit, offset = max(int(limit), 0), max(int(offset), 0)
    want = offset + limit
    if plan.empty and (query or "").strip():  # only punctuation: nothing to look for
        return SearchResult(query=query, total=0, millis=(time.perf_counter() - started) * 1000)

    total, rows = _fetch(index, plan, clean, want, sort)
    ranked = [(score, f, plan, False) for score, f in rows[:want]]
    huge = total > LARGE_RESULT and want <= total
    approx = approximate_plan(plan) if approximate and not plan.empty and not huge else None
    approx_total, aside = 0, []
    if approx is not None:
        match, highlight = approx
        # Only as many approximate rows as the exact ones leave room for (rows holds every
        # exact match whenever there are fewer than ``want``).
        room = want - len(ranked)
        # On the first window, full of exact hits, the best approximate ones are fetched
        # anyway for their own list (``approximate_hits``): a misread page of a common name
        # must not hide behind pages and pages of exact hits.
        side = limit if offset == 0 and room <= 0 else 0
        approx_total, approx_rows = _fetch(index, match, clean, max(room, side), sort, exclude=plan)
        if side:
            aside = [make_hit(score, f, highlight, approximate=True) for score, f in approx_rows[:side]]
        else:
            ranked += [(score, f, highlight, True) for score, f in approx_rows[:room]]
    small = total + approx_total <= LARGE_RESULT
    counts = index.facets(approx[0] if approx else plan, clean) if facets and small else {}
    return SearchResult(
        query=query,
        total=total + approx_total,
        hits=[make_hit(score, f, p, approximate=a) for score, f, p, a in ranked[offset:want]],
        millis=(time.perf_counter() - started) * 1000,
        facets=counts,
        approximate_total=approx_total,
        approximate_hits=aside,
    )
