"""The archivist's desk: what a person does after the pipeline has filed items.

Review decisions (confirm or correct a class), training the learned classifier on those
decisions, volumes (add, reorder, finalise, build the volume PDF/A), box labels. The CLI
and the web UI call these; the worker only uses :func:`load_classifier`.

When a number is issued after an item's PDF/A was built (review, volume finalised), the
PDF's metadata is re-stamped with the 档号 and the item is re-indexed, so the catalog, the
file and the search index agree.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline import __version__
from pipeline.classify import Classifier, LearnedModel
from pipeline.classify.metadata import extract_metadata
from pipeline.classify.model import ModelIntegrityError
from pipeline.config import Settings
from pipeline.domain import Label
from pipeline.fileio import safe_name
from pipeline.filing import FilingError, FilingStore, VolumeView
from pipeline.store import Catalog, Database, Item, must_get

if TYPE_CHECKING:
    from pipeline.archive.volume_pdf import VolumeBuild

log = logging.getLogger(__name__)


def load_classifier(settings: Settings, store: FilingStore) -> Classifier:
    """Rules plus the latest learned model, if one was trained and its file is intact."""
    model = None
    row = store.latest_model()
    if row is not None:
        try:
            model = LearnedModel.load(Path(row.path), row.sha256)
        except (OSError, ModelIntegrityError) as exc:
            # Filing carries on by the rules alone; doubtful items still go to review.
            log.error("learned classifier not used: %s", exc)
    return Classifier(store.taxonomy, settings.classify, model)


@dataclass(frozen=True)
class TrainReport:
    samples: int
    classes: list[str]
    path: Path
    sha256: str


class FilingDesk:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.catalog = Catalog(db)
        self.store = FilingStore.from_settings(db, settings)
        self.agent = f"dangan {__version__} desk"

    # ── review ───────────────────────────────────────────────────

    def set_class(self, item_id: int, code: str | None, user: str) -> Item:
        """Confirm the proposed class (``code`` None) or set another one."""
        item, text, first = self.store.item_text(item_id)
        code = code or item.class_code
        if not code:
            raise FilingError(f"item {item_id} has no proposed class; give one with --set")
        metadata = extract_metadata(text, first_lines=first, fallback_title=item.label)
        classifier = Classifier(self.store.taxonomy, self.settings.classify)
        year = item.year or (metadata.date.year if metadata.date else item.received_at.year)
        filing = classifier.reclassify(year, code, metadata, text)
        decided = self.store.decide(item_id, filing, user, agent=self.agent)
        self._after_numbering([item_id])
        return decided

    def train(self) -> TrainReport:
        samples = self.store.training_samples()
        minimum = self.settings.classify.min_training_items
        if len(samples) < minimum:
            raise FilingError(f"{len(samples)} person-confirmed items; training needs {minimum} "
                              "(classify.min_training_items)")
        model = LearnedModel.train(samples)
        path = self.settings.home / "models" / f"classifier-{len(samples)}.zip"
        sha = model.save(path)
        self.store.record_model(path, sha, model.samples, model.classes, self.agent)
        return TrainReport(model.samples, model.classes, path, sha)

    # ── volumes ──────────────────────────────────────────────────

    def finalize(self, ref: str, user: str, checked_by: str | None = None) -> VolumeView:
        view, item_ids = self.store.finalize(ref, user, agent=self.agent, checked_by=checked_by)
        self._after_numbering(item_ids)
        return view

    def build_volume(self, ref: str) -> tuple[VolumeView, VolumeBuild]:
        from pipeline.archive.volume_pdf import build_volume_pdf

        sheet = self.store.volume_sheet(ref)
        view = self.store.volume(ref)
        fonds = view.archival_code.split("-")[0] if view.archival_code else "volumes"
        path = self.settings.pdf_dir / fonds / "volumes" / f"{safe_name(sheet.archival_code)}.pdf"
        built = build_volume_pdf(sheet, path, page_number_position=self.settings.archive.page_number_position)
        self.store.record_volume_pdf(ref, built.pdf_path, built.sha256, agent=self.agent)
        return self.store.volume(ref), built

    def labels(self, refs: list[str], out: Path) -> Path:
        from pipeline.archive.labels import build_label_sheet, label_payload

        views = [self.store.volume(r) for r in refs] if refs else self.store.volumes(self.settings.classify.fonds)
        labels = [Label(archival_code=v.archival_code or f"预立卷 {v.id}", title=v.title or v.key,
                        qr_payload=label_payload(v.label_token),
                        lines=(f"{len(v.members)}件 {v.page_count}页",)) for v in views]
        if not labels:
            raise FilingError("no volumes to label")
        return build_label_sheet(labels, out)

    # ── keeping the PDF and the index in step with the catalog ──

    def _after_numbering(self, item_ids: list[int]) -> None:
        from pipeline.archive.pdfa import PdfaError, stamp_identity

        ready = self.store.items_settled_in_state(item_ids)
        for item_id in ready:
            with self.db.session() as s:
                item = must_get(s, Item, item_id)
                code, title, pdf = item.archival_code, item.title or item.label, item.pdf_path
            if not code or not pdf:
                continue
            try:
                sha = stamp_identity(Path(pdf), archival_code=code, title=title)
            except (OSError, PdfaError) as exc:
                # The decision and the number stand (they are committed); the file is what is wrong.
                raise FilingError(f"item {item_id}: recorded as {code}, but its PDF/A could not be "
                                  f"re-stamped: {exc}") from exc
            with self.db.session() as s:
                must_get(s, Item, item_id).pdf_sha256 = sha
        self.catalog.reindex(ready)


__all__ = ["FilingDesk", "FilingError", "TrainReport", "load_classifier"]
