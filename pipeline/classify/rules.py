"""Rule scoring: keywords, title patterns and exclusions from the filing scheme.

Chinese text is not segmented, so there are no word boundaries to lean on: a keyword
is a substring of the normalised text (full-width folded, Traditional folded to
Simplified, spaces OCR put between Han characters removed) and a title pattern is a
regular expression tried on the *title*, the heading the description step transcribed,
where a document names its type (申请书, 公示, 会议记录 …).

Weights were set on the bench corpus (``make bench-classify``): a title pattern is
strong evidence on its own; a keyword counts three times in the title zone; the
ancestors' keywords only break ties between branches.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.domain import Evidence
from pipeline.scheme.taxonomy import FilingClass, Taxonomy
from pipeline.text import normalize

W_TITLE_PATTERN = 6.0
W_BODY_PATTERN = 1.0
W_TITLE_KEYWORD = 3.0
W_BODY_KEYWORD = 1.0
W_INHERITED = 0.3
EXCLUDE_TITLE = 0.1  # an exclusion term in the title nearly rules the class out
MISSING_REQUIRED = 0.3  # none of the class's `requires` words anywhere in the text
NONE_OF_THESE = 3.0  # score mass kept for "no class fits": weak evidence stays unconfident


@dataclass(frozen=True)
class TextView:
    """The normalised title and body of an item.

    The title is the heading the description step transcribed (题名). Body sentences must
    not count as title evidence: a 公示 says 贫困户 and 公示 in its first sentence whatever
    its type, and an untitled cash journal starts with 收入 and 支出 columns.
    """

    title: str  # "" when the document has none: then only the body speaks, and an
    body: str  # untitled document is rightly less certain

    @classmethod
    def of(cls, text: str, title: str | None = None) -> TextView:
        return cls(normalize(title) if title else "", normalize(text))


@dataclass(frozen=True)
class Scored:
    cls: FilingClass
    score: float
    evidence: tuple[Evidence, ...]


def score_class(cls: FilingClass, view: TextView) -> Scored:
    score = 0.0
    evidence: list[Evidence] = []
    for pattern in cls.title_patterns:
        hit = pattern.search(view.title) if view.title else None
        if hit:
            score += W_TITLE_PATTERN
            evidence.append(Evidence("title-pattern", pattern.pattern, (hit.group(0),), W_TITLE_PATTERN))
        elif (m := pattern.search(view.body)) is not None:
            score += W_BODY_PATTERN
            evidence.append(Evidence("body-pattern", pattern.pattern, (m.group(0),), W_BODY_PATTERN))
    title_terms = [w for w in cls.keywords if w in view.title]
    body_terms = [w for w in cls.keywords if w not in view.title and w in view.body]
    if title_terms:
        score += W_TITLE_KEYWORD * len(title_terms)
        evidence.append(Evidence("title-keyword", cls.code, tuple(title_terms), W_TITLE_KEYWORD * len(title_terms)))
    if body_terms:
        score += W_BODY_KEYWORD * len(body_terms)
        evidence.append(Evidence("keyword", cls.code, tuple(body_terms), W_BODY_KEYWORD * len(body_terms)))
    inherited = [w for w in cls.inherited_keywords if w in view.body]
    if inherited and score:
        score += W_INHERITED * len(inherited)
        evidence.append(Evidence("parent-keyword", cls.code, tuple(inherited), W_INHERITED * len(inherited)))
    if score and cls.requires and not any(word in view.body for word in cls.requires):
        score *= MISSING_REQUIRED
        evidence.append(Evidence("requires", cls.code, cls.requires, MISSING_REQUIRED))
    # Exclusions read the title only: a body mentions 低保 or 项目 in passing, a title does not.
    excluded = [w for w in cls.exclude if w in view.title]
    if score and excluded:
        score *= EXCLUDE_TITLE
        evidence.append(Evidence("exclude", cls.code, tuple(excluded), EXCLUDE_TITLE))
    return Scored(cls, score, tuple(evidence))


def rank(taxonomy: Taxonomy, view: TextView) -> list[Scored]:
    """Every leaf class with a positive score, best first."""
    scored = [s for s in (score_class(c, view) for c in taxonomy.leaves) if s.score > 0]
    return sorted(scored, key=lambda s: -s.score)


def rule_probabilities(ranked: list[Scored]) -> dict[str, float]:
    """Each class's score against its strongest rival plus a 'none of these' mass.

    Related classes (the documents of one household file) share vocabulary, so a share of
    the total would punish the right answer for its neighbours; what matters is how far it
    stands above the next best.
    """
    out = {}
    for n, s in enumerate(ranked):
        rival = ranked[1].score if n == 0 and len(ranked) > 1 else ranked[0].score if n else 0.0
        out[s.cls.code] = s.score / (s.score + rival + NONE_OF_THESE)
    return out
