"""The per-item pipeline a worker runs: pages → imaging → OCR → classify → 档号 → PDF/A.

Everything here is idempotent: a worker killed at any point leaves the item
``processing``; the next start puts it back in the queue and this runs again,
overwriting its own half-written outputs (same paths, atomic replaces) and
keeping the 档号 already issued.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import traceback
from dataclasses import asdict
from pathlib import Path

from sqlalchemy import select

from pipeline import __version__
from pipeline.archive.desk import load_classifier
from pipeline.config import Settings
from pipeline.domain import OcrPage, PreparedPage
from pipeline.fileio import atomic_write_bytes
from pipeline.ingest.pages import page_master
from pipeline.store import Catalog, Database, Item, ItemState, Page, SourceFile, record_event
from pipeline.store.filing import FilingStore

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3


class ItemProcessor:
    """Holds what a worker process loads once (OCR models) and processes items."""

    def __init__(self, settings: Settings, db: Database, worker: str) -> None:
        from pipeline.ocr import PageReader

        self.settings = settings
        self.db = db
        self.catalog = Catalog(db)
        self.worker = worker
        # Models load here, once per worker process, never per page.
        self.reader = PageReader.from_settings(settings.ocr)
        self.filing = FilingStore.from_settings(db, settings)
        self.classifier = load_classifier(settings, self.filing)
        self.agent = f"dangan {__version__} {worker}"

    def run_one(self) -> int | None:
        """Claim and process the next queued item; None when the queue is empty."""
        item_id = self.catalog.claim_next(self.worker)
        if item_id is None:
            return None
        try:
            self.process(item_id)
        except Exception as exc:  # one bad item must never stop the worker
            log.exception("item %s failed", item_id)
            self._fail(item_id, exc)
        return item_id

    def _fail(self, item_id: int, exc: Exception) -> None:
        message = f"{type(exc).__name__}: {exc}"
        with self.db.session() as s:
            item = s.get(Item, item_id)
            retry = item.attempts < MAX_ATTEMPTS
            item.state = ItemState.QUEUED if retry else ItemState.FAILED
            item.last_error = message
            record_event(s, "item", item_id, "failed", outcome="failure", agent=self.agent,
                         detail={"error": message, "will_retry": retry,
                                 "trace": traceback.format_exc(limit=5)})

    def process(self, item_id: int) -> None:
        from pipeline.archive.pdfa import build_pdfa, stamp_identity
        from pipeline.imaging import ocr_copy, prepare_page_pixels

        started = time.monotonic()
        with self.db.session() as s:
            item = s.get(Item, item_id)
            received_at, label = item.received_at, item.label
            rows = s.execute(
                select(Page, SourceFile).join(SourceFile, Page.source_file_id == SourceFile.id)
                .where(Page.item_id == item_id).order_by(Page.page_no)
            ).all()
            pages = [(p.id, p.page_no, p.frame, src.stored_path, src.media_type, src.sha256) for p, src in rows]

        out_dir = self.settings.pages_dir / f"{item_id:08d}"
        out_dir.mkdir(parents=True, exist_ok=True)
        done: list[tuple[PreparedPage, OcrPage]] = []
        for page_id, page_no, frame, stored, media_type, sha in pages:
            source, master_sha = page_master(
                Path(stored), media_type, frame, index=page_no - 1, source_sha256=sha,
                out_dir=out_dir, pdf_dpi=self.settings.ingest.pdf_dpi,
            )
            prepared, pixels = prepare_page_pixels(
                source, out_dir, default_dpi=self.settings.imaging.default_dpi,
                detect_orientation=self.settings.imaging.detect_orientation,
                deskew=self.settings.imaging.deskew,
            )
            # The OCR copy has red seal ink removed; the working copy (and the PDF) keeps it.
            ocr_pixels, seal_share = ocr_copy(pixels)
            del pixels
            ocr = self.reader.read(ocr_pixels)
            del ocr_pixels
            operations = list(prepared.operations)
            if seal_share:
                operations.append(f"seal-suppressed-for-ocr share {seal_share:.2%}")
            flags = list(prepared.quality)
            if self.reader.needs_review(ocr):
                flags.append("low-ocr-confidence")
            layout = out_dir / f"p{page_no:04d}.ocr.json"
            atomic_write_bytes(layout, json.dumps(asdict(ocr), ensure_ascii=False).encode())
            with self.db.session() as s:
                page = s.get(Page, page_id)
                page.master_path, page.master_sha256 = str(source.master), master_sha
                page.working_path = str(prepared.working)
                page.width, page.height, page.dpi = prepared.width, prepared.height, prepared.dpi
                page.colour_mode, page.rotation = prepared.colour_mode, prepared.rotation
                page.deskew_angle, page.blank = prepared.deskew_angle, prepared.blank
                page.operations = json.dumps(operations, ensure_ascii=False)
                page.quality_flags = " ".join(flags)
                page.ocr_text, page.ocr_engine = ocr.text, ocr.engine
                page.ocr_confidence, page.ocr_layout_path = ocr.confidence, str(layout)
                record_event(s, "page", page_id, "preprocessed", agent=self.agent, detail={
                    "rotation": prepared.rotation, "deskew_angle": round(prepared.deskew_angle, 3),
                    "dpi": prepared.dpi, "colour_mode": prepared.colour_mode, "blank": prepared.blank,
                    "operations": operations, "quality_flags": flags})
                record_event(s, "page", page_id, "ocr", agent=self.agent, detail={
                    "engine": ocr.engine, "confidence": round(ocr.confidence, 4),
                    "characters": len(ocr.text), "seconds": round(ocr.seconds, 2)})
            done.append((prepared, ocr))

        described = self.classifier.describe([o for _, o in done], received_at=received_at, label=label)
        self.filing.record(item_id, described.filing, described.metadata, self.agent)
        with self.db.session() as s:
            # A re-run keeps the filing its 档号 was issued with, even if the config changed since.
            item = s.get(Item, item_id)
            fonds, year, title, code = item.fonds, item.year, item.title, item.archival_code

        # Named by item, not by 档号: an item in review or in a 预立卷 is numbered later,
        # and its file must not move then.
        pdf_path = self.settings.pdf_dir / fonds / str(year) / f"{item_id:08d}.pdf"
        archived = build_pdfa(done, pdf_path, title=title, archival_code=code or f"item-{item_id:08d}",
                              author=fonds, work_dir=self.settings.staging_dir)
        sha = archived.pdf_sha256
        with self.db.session() as s:
            current = s.get(Item, item_id).archival_code
        if current != code:  # a reviewer numbered it while the PDF was being built
            sha = stamp_identity(archived.pdf_path, archival_code=current, title=title)
        with self.db.session() as s:
            item = s.get(Item, item_id)
            item.pdf_path, item.pdf_sha256 = str(archived.pdf_path), sha
            item.state, item.last_error, item.worker = ItemState.ARCHIVED, None, None
            record_event(s, "item", item_id, "pdfa-built", agent=self.agent, detail={
                "path": str(archived.pdf_path), "sha256": sha,
                "pages": archived.page_count, "seconds": round(time.monotonic() - started, 2)})


def set_parent_death_signal(signum: int | None = None) -> None:
    """Die with the parent (SIGKILL unless told otherwise): an orphaned worker must not keep
    writing after a crash."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signum or signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux
        pass


def worker_main(settings_json: str, worker: str, parent_pid: int) -> None:
    """Entry point of a worker process: pull items from the catalog until told to stop."""
    set_parent_death_signal()
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {worker} %(levelname)s %(message)s")
    for noisy in ("fontTools", "ocrmypdf", "pikepdf", "RapidOCR"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = Settings.model_validate_json(settings_json)
    # OCRmyPDF ignores its work_folder and uses the temp dir: keep that inside staging,
    # which the service sweeps at start, so a kill -9 mid-build leaves nothing behind.
    scratch = settings.staging_dir / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    os.environ["TMPDIR"] = str(scratch)
    tempfile.tempdir = None  # re-read TMPDIR
    db = Database(settings.db_url, upgrade=False)
    processor = ItemProcessor(settings, db, worker)
    while os.getppid() == parent_pid:
        if processor.run_one() is None:
            time.sleep(0.3)
