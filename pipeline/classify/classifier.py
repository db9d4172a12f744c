"""The classifier: rules and the learned model voting on an item's class, plus its description (著录)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from pipeline.classify.metadata import extract_metadata
from pipeline.classify.model import LearnedModel
from pipeline.classify.rules import TextView, rank, rule_probabilities
from pipeline.config.settings import ClassifySettings
from pipeline.domain import Classification, Evidence, ItemMetadata, OcrPage
from pipeline.scheme.taxonomy import FilingClass, Taxonomy, load_taxonomy
from pipeline.text import HAN

MODEL_WEIGHT = 0.5  # share of the learned model in the combined probability

# A project is named by the words before 项目/工程 ("石门村道路硬化项目"); labels and
# function words in front of it are not part of the name.
_PROJECT = re.compile(rf"([{HAN}0-9]{{4,30}}?(?:项目|工程))")
_PROJECT_PREFIX = re.compile(r"^(?:关于|对|同意|项目名称|工程名称|实施|建设|的)+")


@dataclass(frozen=True)
class Described:
    """What classification gives the catalog for one item."""

    filing: Classification
    metadata: ItemMetadata


def project_name(title: str, text: str) -> str | None:
    for source in (title, text):
        names = [_PROJECT_PREFIX.sub("", m) for m in _PROJECT.findall(source.replace(" ", ""))]
        names = [n for n in names if len(n) >= 5]
        if names:
            return max(names, key=len) if source is title else names[0]
    return None


def volume_key_for(cls: FilingClass, metadata: ItemMetadata, text: str) -> str | None:
    """Which volume an item of a volume class joins, or None when the text does not say."""
    if cls.volume_key == "household":
        # Only a head the text names as such (户主, 王秀英户, the applicant): other names on a
        # page are the recorder's, the helper's, a roster's.
        head = metadata.household_head
        return f"household:{metadata.village}:{head}" if head and metadata.village else None
    if cls.volume_key == "project":
        name = project_name(metadata.title, text)
        return f"project:{name}" if name else None
    if cls.volume_key == "village":
        return f"village:{metadata.village}" if metadata.village else None
    return None


class Classifier:
    def __init__(self, taxonomy: Taxonomy, settings: ClassifySettings, model: LearnedModel | None = None) -> None:
        self.taxonomy = taxonomy
        self.settings = settings
        self.model = model

    @classmethod
    def from_settings(cls, settings: ClassifySettings, model: LearnedModel | None = None) -> Classifier:
        return cls(load_taxonomy(settings.taxonomy), settings, model)

    def describe(self, pages: list[OcrPage], *, received_at: datetime, label: str) -> Described:
        text = "\n".join(p.text for p in pages)
        first = [line.text for line in pages[0].lines] if pages else []
        return self.describe_text(text, first_lines=first, received_at=received_at, label=label)

    def classify_text(self, text: str, *, received_at: datetime, label: str) -> Classification:
        return self.describe_text(text, received_at=received_at, label=label).filing

    def describe_text(self, text: str, *, first_lines: list[str] | None = None,
                      received_at: datetime, label: str) -> Described:
        metadata = extract_metadata(text, first_lines=first_lines, fallback_title=label)
        view = TextView.of(text, None if metadata.title_supplied else metadata.title)
        ranked = rank(self.taxonomy, view)
        probabilities = rule_probabilities(ranked)
        evidence = {s.cls.code: s.evidence for s in ranked}
        if self.model is not None:
            learned = {c: p for c, p in self.model.probabilities(text).items() if c in self.taxonomy.classes}
            codes = set(probabilities) | set(learned)
            probabilities = {c: (1 - MODEL_WEIGHT) * probabilities.get(c, 0.0) + MODEL_WEIGHT * learned.get(c, 0.0)
                             for c in codes}
            for code, p in learned.items():
                evidence[code] = evidence.get(code, ()) + (
                    Evidence("model", f"n-gram model ({self.model.samples} confirmed items)", (), round(p, 3)),)
        best = max(probabilities, key=probabilities.__getitem__) if probabilities else None
        confidence, why = (probabilities[best], evidence.get(best, ())) if best is not None else (0.0, ())
        return Described(self._filing(best, confidence, why,
                                      metadata, text, received_at), metadata)

    def _filing(self, code: str | None, confidence: float, evidence: tuple[Evidence, ...],
                metadata: ItemMetadata, text: str, received_at: datetime) -> Classification:
        if self.settings.year is not None:
            year = self.settings.year
        elif metadata.date is not None:
            year = metadata.date.year
        else:
            year = received_at.year
            evidence += (Evidence("inferred", "year received: no date in the text"),)
        if code is None:
            return Classification(
                fonds=self.settings.fonds, category="", year=year, retention="", org=self.settings.org,
                title=metadata.title, confidence=0.0, needs_review=True, village=metadata.village,
                evidence=evidence + (Evidence("none", "no rule of the filing scheme matched"),))
        return self.filing_for(self.taxonomy.get(code), metadata, text, year=year,
                               confidence=confidence, evidence=evidence)

    def filing_for(self, cls: FilingClass, metadata: ItemMetadata, text: str, *, year: int,
                   confidence: float, evidence: tuple[Evidence, ...] = ()) -> Classification:
        """The filing an item gets in class ``cls`` (also used when a person sets the class)."""
        key = volume_key_for(cls, metadata, text) if cls.unit == "volume" else None
        needs_review = confidence < self.settings.review_below
        if cls.unit == "volume" and key is None:
            needs_review = True  # cannot tell which household/project: a person decides
            evidence += (Evidence("volume", f"no {cls.volume_key} found in the text for the volume"),)
        return Classification(
            fonds=self.settings.fonds, category=cls.category, year=year,
            retention=self.taxonomy.retention_for(cls, metadata.title), org=cls.org or self.settings.org,
            title=metadata.title, confidence=round(confidence, 4), needs_review=needs_review,
            village=metadata.village, class_code=cls.code, class_name=cls.name, evidence=evidence,
            unit=cls.unit, volume_key=key,
            village_code=self.taxonomy.villages.get(metadata.village or "", ""),
        )

    def reclassify(self, year: int, code: str, metadata: ItemMetadata, text: str) -> Classification:
        """A person's decision: class ``code`` (full path or unique leaf code), full confidence."""
        cls = self.taxonomy.resolve(code)
        if not cls.leaf:
            raise KeyError(f"class {cls.code} has sub-classes; choose one of: "
                           + ", ".join(c.code for c in self.taxonomy.leaves if c.code.startswith(cls.code + "·")))
        return self.filing_for(cls, metadata, text, year=year, confidence=1.0,
                               evidence=(Evidence("person", "set by a reviewer"),))
