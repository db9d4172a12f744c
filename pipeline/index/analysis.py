"""Chinese text analysis shared by every search backend.

Tokenisation happens here, in the application, not inside the engine: every
backend indexes the same whitespace-separated token streams, so tantivy and
Whoosh give the same answers and switching engines never changes recall.

Normalisation (research/search-engines.md §2.3: each step was measured to matter) is
:func:`pipeline.text.normalize`, shared with snippets, classification and the viewer: NFKC,
OCR-split words and grouped ID numbers re-joined, Traditional → Simplified character by
character, letter → digit repair inside ID-like runs, ASCII lower-casing; its offset map lets
snippets highlight and mask the *original* OCR text (see snippets.py).

Tokens: a Han run of n characters gives n unigrams and n-1 bigrams (a 1-char
run also goes into the bigram stream as itself); an ASCII/other letter-digit
run is one token in both streams, except that an ID number touching Latin
letters (``NO360122…``, ``ID…x``) is a token of its own; punctuation is dropped. Phrases and names of
≥2 characters are exact phrase queries over the bigram stream; a single
character is a term query over the unigram stream. A third stream holds
keys of every ID number on the page: its last 6 characters, so a clerk can
search by the tail a villager remembers (``123x``-style partial IDs), and its
masked forms (``3301*0017``, ``330102*0017``: head, ``*``, last 4), so an ID
copied from a masked list is one term lookup, not a regular expression over
every ID in the region. A fourth stream holds every Han run of 2–4
characters that stands alone (between spaces, punctuation, digits or line
ends): on forms and rosters that is how a name is written (户主：王芳 之女),
so a page naming 王芳 outranks one that only names 王芳芳 or 汪王芳.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.text import HAN as _HAN
from pipeline.text import normalize, normalize_chars

# Bump whenever normalize()/index_tokens() change what ends up in the index:
# the sentinel in the index directory then forces a rebuild from the catalog.
ANALYZER_VERSION = "cjk-unibi-4"

# Longest letter/digit token kept (engines have term-length limits; garbage
# OCR runs must not break indexing). Applied identically at query time.
MAX_TOKEN_CHARS = 64

# Token runs: Han runs, or runs of other letters/digits (not underscore).
_RUN_RE = re.compile(f"(?P<han>[{_HAN}]+)|(?P<alnum>[^\\W_{_HAN}]+)")
# A (normalised) ID number: 17 digits + digit or x. Letters may touch it (NO360122…, ID…x):
# only digits around it make it part of a longer number.
ID_RE = re.compile(r"(?<![0-9])[0-9]{17}[0-9x](?![0-9])")
# A partial ID query: the last 6 characters.
ID_TAIL_CHARS = 6
_ID_TAIL_RE = re.compile(r"[0-9]{5}[0-9x]")
# An ID as printed masked (3301**********0017 or 330102********001x, copied
# from a list): at least 4 known digits at each end.
_MASKED_ID_RE = re.compile(r"([0-9]{4,16})(\*+)([0-9]*[0-9]{3}[0-9x])")
# Masked-ID keys indexed per ID: these head lengths, the last 4 characters.
MASK_HEADS, MASK_TAIL = (4, 6), 4
# Standalone Han runs of these lengths are indexed whole (names: 2–4 characters).
WORD_MIN_CHARS, WORD_MAX_CHARS = 2, 4


def runs(normalized: str) -> list[tuple[str, bool]]:
    """(run, is_han) for every token run of normalised text, in order."""
    out = []
    for m in _RUN_RE.finditer(normalized):
        han = m.group("han")
        if han is not None:
            out.append((han, True))
        else:
            out.extend((part[:MAX_TOKEN_CHARS], False) for part in _split_ids(m.group("alnum")))
    return out


def _split_ids(alnum: str) -> list[str]:
    """An ID number inside a letter run (``no360122…``) as a token of its own, so the
    full number finds it and its ID keys are indexed."""
    pieces, pos = [], 0
    for m in ID_RE.finditer(alnum):
        if m.start() > pos:
            pieces.append(alnum[pos:m.start()])
        pieces.append(m.group(0))
        pos = m.end()
    if pos < len(alnum):
        pieces.append(alnum[pos:])
    return pieces or [alnum]


def index_tokens(normalized: str) -> tuple[list[str], list[str]]:
    """(unigram stream, bigram stream) of normalised text."""
    unigrams: list[str] = []
    bigrams: list[str] = []
    for run, han in runs(normalized):
        if han:
            unigrams.extend(run)
            if len(run) == 1:
                bigrams.append(run)
            else:
                bigrams.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            unigrams.append(run)
            bigrams.append(run)
    return unigrams, bigrams


# Separates title tokens from page-text tokens in one stream; index_tokens never
# emits it, so no phrase can match across the title/text boundary.
FIELD_BREAK = "|"


def mask_key(head: str, tail: str) -> str:
    return f"{head}*{tail}"


def id_keys(normalized: str) -> list[str]:
    """Per ID number in normalised text: its last ID_TAIL_CHARS characters and
    its masked keys (MASK_HEADS digits, ``*``, the last MASK_TAIL)."""
    keys = []
    for m in ID_RE.finditer(normalized):
        number = m.group(0)
        keys.append(number[-ID_TAIL_CHARS:])
        keys.extend(mask_key(number[:h], number[-MASK_TAIL:]) for h in MASK_HEADS)
    return keys


def standalone_words(text: str) -> list[str]:
    """Han runs of WORD_MIN_CHARS–WORD_MAX_CHARS characters of raw ``text``,
    whole, normalised. Spaces still separate here: on a form the space between
    a name and the next cell is what makes the name stand alone (normalize()
    joins Han characters across spaces, for OCR's split words)."""
    spaced = normalize_chars(text)
    return [run for run, han in runs(spaced) if han and WORD_MIN_CHARS <= len(run) <= WORD_MAX_CHARS]


@dataclass(frozen=True)
class PageStreams:
    """A page's token streams, space-joined for the engines' whitespace
    tokenizers. uni/bi: title tokens, FIELD_BREAK, text tokens."""

    uni: str
    bi: str
    ids: str  # ID tails and masked-ID keys
    words: str  # standalone 2–4-character Han runs (names)


def page_streams(title: str, text: str) -> PageStreams:
    t_norm, norm = normalize(title or ""), normalize(text or "")
    t_uni, t_bi = index_tokens(t_norm)
    x_uni, x_bi = index_tokens(norm)
    return PageStreams(
        uni=" ".join([*t_uni, FIELD_BREAK, *x_uni]),
        bi=" ".join([*t_bi, FIELD_BREAK, *x_bi]),
        ids=" ".join(id_keys(norm)),
        words=" ".join(standalone_words(title or "") + standalone_words(text or "")),
    )


# ───────────────────────────── queries ─────────────────────────────


@dataclass(frozen=True)
class QueryTerm:
    """One AND-ed query term.

    A page matches when it holds every token of ``unigrams`` in the unigram
    stream AND the token sequence ``phrase`` consecutively in the bigram
    stream (a 1-token phrase is a plain term query). With ``any_of``, any one
    of those sequences replaces ``phrase`` (approximate search: look-alike
    spellings). With ``id_tail``, the ID-tail stream holding it is enough too.
    ``id_key`` (a masked ID) is a term of the ID-key stream instead of a phrase;
    ``id_pattern``, the masked ID as a regular expression over whole
    bigram-stream tokens, is required as well when the query shows more digits
    than the key holds (not ``id_key_exact``). ``words`` (the 2–4-character Han term, or with
    ``any_of`` its look-alike spellings) add score, not a condition, to pages where one of them
    stands alone (see ``standalone_words``): 沉磊 alone is more likely a misread 沈磊 than 沉磊春 is.
    """

    raw: str  # as typed (without quotes)
    normalized: str
    runs: tuple[tuple[str, bool], ...]  # token runs of the normalised term
    unigrams: tuple[str, ...] = ()
    phrase: tuple[str, ...] = ()
    any_of: tuple[tuple[str, ...], ...] = ()
    id_tail: str = ""
    id_key: str = ""
    id_pattern: str = ""
    id_key_exact: bool = False  # the key holds every digit the masked query shows
    words: tuple[str, ...] = ()

    @property
    def phrases(self) -> tuple[tuple[str, ...], ...]:
        """The bigram sequences of which one must occur (none: unigrams only)."""
        return self.any_of or ((self.phrase,) if self.phrase else ())


@dataclass(frozen=True)
class QueryPlan:
    query: str
    terms: tuple[QueryTerm, ...]

    @property
    def empty(self) -> bool:
        return not self.terms


_QUERY_PART_RE = re.compile(r'"([^"]*)"|(\S+)')


def _masked_id_term(raw: str, norm: str) -> QueryTerm | None:
    m = _MASKED_ID_RE.fullmatch(norm)
    if not m or len(norm) != 18:
        return None
    head, stars, tail = m.groups()
    key_head = max(h for h in MASK_HEADS if h <= len(head))
    key = mask_key(head[:key_head], tail[-MASK_TAIL:])
    pattern = f"{head}[0-9]{{{len(stars)}}}{tail}"
    exact = len(head) == key_head and len(tail) == MASK_TAIL
    return QueryTerm(raw, norm, ((norm, False),), id_key=key, id_pattern=pattern, id_key_exact=exact)


def _plan_term(raw: str) -> QueryTerm | None:
    norm = normalize(raw)
    masked = _masked_id_term(raw, norm)
    if masked is not None:
        return masked
    term_runs = runs(norm)
    if not term_runs:
        return None  # punctuation only
    if len(term_runs) == 1 and term_runs[0][1] and len(term_runs[0][0]) == 1:
        return QueryTerm(raw, norm, tuple(term_runs), unigrams=(term_runs[0][0],))
    unigrams: list[str] = []
    middle = list(term_runs)
    # A 1-char Han run at the *edge* of a mixed term ("2016年") may be the
    # start/end of a longer run in the page ("2016年度" → bigram 年度), so it
    # cannot be a phrase position; require it as a unigram instead.
    if len(middle) > 1 and middle[-1][1] and len(middle[-1][0]) == 1:
        unigrams.append(middle.pop()[0])
    if len(middle) > 1 and middle[0][1] and len(middle[0][0]) == 1:
        unigrams.append(middle.pop(0)[0])
    _, phrase = index_tokens(" ".join(run for run, _ in middle))
    tail = norm if _ID_TAIL_RE.fullmatch(norm) else ""
    word = len(term_runs) == 1 and term_runs[0][1] and WORD_MIN_CHARS <= len(norm) <= WORD_MAX_CHARS
    return QueryTerm(raw, norm, tuple(term_runs), unigrams=tuple(unigrams), phrase=tuple(phrase), id_tail=tail,
                     words=(norm,) if word else ())


def query_plan(query: str) -> QueryPlan:
    """Parse a user query: whitespace-separated terms are AND-ed,
    "double-quoted" phrases are kept whole (their inner spaces are
    normalised away like OCR spaces). An empty plan matches every page."""
    terms: list[QueryTerm] = []
    for m in _QUERY_PART_RE.finditer(query or ""):
        raw = m.group(1) if m.group(1) is not None else m.group(2)
        # Inside quotes, spaces are part of the phrase, also between Latin words.
        term = _plan_term(raw)
        if term is not None and term not in terms:
            terms.append(term)
    return QueryPlan(query or "", tuple(terms))
