"""The per-item pipeline a worker runs: pages → imaging → OCR → classify → 档号 → PDF/A.

Everything here is idempotent: a worker killed at any point leaves the item
``processing``; the next start puts it back in the queue and this runs again,
overwriting its own half-written outputs (same paths, atomic replaces) and
keeping the 档号 already issued. Pages whose imaging and OCR were committed
before the interruption are taken from the catalog, not redone (see
:func:`finished_page`): a 500-page item does not start again from page 1.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from pipeline import __version__, logs
from pipeline.config import Settings
from pipeline.domain import OcrPage, PageSource, PreparedPage
from pipeline.fileio import atomic_write_bytes, is_disk_full, sha256_file
from pipeline.filing import FilingStore
from pipeline.filing.desk import load_classifier
from pipeline.ingest.pages import page_master
from pipeline.ingest.probe import set_pixel_limit
from pipeline.ocr import REVIEW_FLAG, SEAL_OPERATION, PageReader, read_page
from pipeline.store import Catalog, Database, Item, ItemState, Page, SourceFile, must_get, record_event

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
# After a write failed for lack of space: wait this long before claiming again, doubling up to
# the maximum while it keeps failing (seconds).
SPACE_RETRY_FIRST, SPACE_RETRY_MAX = 2.0, 60.0


@dataclass(frozen=True)
class PageRecord:
    """One page as the catalog holds it, copied out so no transaction stays open while hashing."""

    page_id: int
    page_no: int
    frame: int
    stored: Path  # the original in the originals store
    media_type: str
    source_sha256: str
    master_path: str | None
    master_sha256: str | None
    working_path: str | None
    width: int | None
    height: int | None
    dpi: int | None
    colour_mode: str | None
    rotation: int | None
    deskew_angle: float | None
    blank: bool | None
    operations: str | None
    quality_flags: str | None
    ocr_text: str | None
    ocr_engine: str | None
    ocr_layout_path: str | None

    @classmethod
    def of(cls, page: Page, src: SourceFile) -> PageRecord:
        return cls(page.id, page.page_no, page.frame, Path(src.stored_path), src.media_type, src.sha256,
                   page.master_path, page.master_sha256, page.working_path, page.width, page.height,
                   page.dpi, page.colour_mode, page.rotation, page.deskew_angle, page.blank,
                   page.operations, page.quality_flags, page.ocr_text, page.ocr_engine, page.ocr_layout_path)


def layout_path(out_dir: Path, page_no: int) -> Path:
    return out_dir / f"p{page_no:04d}.ocr.json"


def finished_page(rec: PageRecord, out_dir: Path) -> tuple[PreparedPage, OcrPage] | None:
    """The page's imaging and OCR as committed by an earlier, interrupted run; None to redo it.

    Trusted only when every part is durable and consistent: the catalog row is complete, the
    master is the one ``page_master`` gives (its recorded SHA-256 still matches), the working
    image decodes at the recorded size, and the layout file parses and agrees with the row.
    Anything else (a crash between writing the files and the commit, a damaged file) means redo.
    """
    # Each field spelled out (not any(...) over a tuple) so the type checker sees them not None below.
    if (rec.master_path is None or rec.master_sha256 is None or rec.working_path is None
            or rec.width is None or rec.height is None or rec.dpi is None
            or rec.colour_mode is None or rec.rotation is None or rec.deskew_angle is None
            or rec.blank is None or rec.operations is None or rec.quality_flags is None
            or rec.ocr_text is None or rec.ocr_engine is None or rec.ocr_layout_path is None):
        return None
    master, working, layout = Path(rec.master_path), Path(rec.working_path), Path(rec.ocr_layout_path)
    original = rec.media_type in ("image/jpeg", "image/png") and master == rec.stored
    try:
        if original:
            # A single-page image is its own master: the originals store is write-once and
            # checked at intake, so the recorded checksum only has to be the source's.
            if rec.master_sha256 != rec.source_sha256 or not master.is_file():
                return None
        elif master != out_dir / f"p{rec.page_no:04d}-master.png" or sha256_file(master)[0] != rec.master_sha256:
            return None
        if layout != layout_path(out_dir, rec.page_no) or not working.is_file():
            return None
        with Image.open(working) as img:
            if img.size != (rec.width, rec.height):  # the size the PDF will be built with
                return None
            # Decoded whole (milliseconds, against seconds of OCR): a damaged working image
            # trusted here would fail the PDF on every retry instead of being made again.
            img.load()
        with Image.open(master) as img:
            # Stated resolution as page_master reads it (PDF rasters carry the configured one).
            dpi = img.info.get("dpi")
            stated = int(round(float(dpi[0]))) if dpi and float(dpi[0]) > 1 else None
        ocr = OcrPage.from_json(layout.read_bytes())
        operations = json.loads(rec.operations)
        if not isinstance(operations, list) or not all(isinstance(op, str) for op in operations):
            return None
    except (OSError, ValueError, TypeError, Image.DecompressionBombError):  # missing, unreadable, damaged
        return None
    if (ocr.text, ocr.engine, ocr.width, ocr.height) != (rec.ocr_text, rec.ocr_engine, rec.width, rec.height):
        return None  # the file and the row are from different runs
    source = PageSource(rec.page_no - 1, master, rec.source_sha256, rec.frame, stated,
                        not (original and rec.media_type == "image/jpeg"))
    prepared = PreparedPage(
        source=source, working=working, width=rec.width, height=rec.height, dpi=rec.dpi,
        colour_mode=rec.colour_mode, rotation=rec.rotation, deskew_angle=rec.deskew_angle, blank=rec.blank,
        operations=tuple(op for op in operations if not op.startswith(SEAL_OPERATION)),
        quality=tuple(flag for flag in rec.quality_flags.split() if flag != REVIEW_FLAG),
        # Not stored; the applied correction is its negative (a skew below the deskew
        # threshold is lost, and nothing after imaging reads it).
        skew_detected=-rec.deskew_angle if rec.deskew_angle else 0.0,
    )
    return prepared, ocr


class ItemProcessor:
    """Holds what a worker process loads once (OCR models) and processes items."""

    def __init__(self, settings: Settings, db: Database, worker: str) -> None:
        self.settings = settings
        self.db = db
        self.catalog = Catalog(db)
        self.worker = worker
        # Models load here, once per worker process, never per page.
        self.reader = PageReader.from_settings(settings.ocr)
        self.filing = FilingStore.from_settings(db, settings)
        self.classifier = load_classifier(settings, self.filing)
        self.agent = f"dangan {__version__} {worker}"
        self._space_wait, self._space_wait_until = 0.0, 0.0  # back-off after a full disk

    def run_one(self) -> int | None:
        """Claim and process the next queued item; None when the queue is empty, or while the
        disk is too full to work (below ``min_free_mb``, or after a write failed for space)."""
        if time.monotonic() < self._space_wait_until or self.settings.space_problem():
            return None
        try:
            item_id = self.catalog.claim_next(self.worker)
        except Exception as exc:  # the catalog cannot take the claim: wait, do not die and restart
            if not is_disk_full(exc):
                raise
            self._wait_for_space(True)
            return None
        if item_id is None:
            return None
        try:
            self.process(item_id)
            self._space_wait = 0.0
        except Exception as exc:  # one bad item must never stop the worker
            if is_disk_full(exc):
                log.warning("item %s: disk full (%s); back in the queue, this attempt not counted",
                            item_id, type(exc).__name__)
            else:
                log.exception("item %s failed", item_id)
            self._fail(item_id, exc)
        return item_id

    def _fail(self, item_id: int, exc: Exception) -> None:
        """Record the failure; a full disk puts the item back without using up an attempt. The
        record needs the disk too: retried (slowly) until it is written, so the item never stays
        "processing" behind a live worker."""
        full = is_disk_full(exc)
        delay = SPACE_RETRY_FIRST
        while True:
            try:
                self._record_failure(item_id, exc, full)
                break
            except Exception as again:
                if not is_disk_full(again):
                    raise
                time.sleep(delay)
                delay = min(delay * 2, SPACE_RETRY_MAX)
        self._wait_for_space(full)

    def _wait_for_space(self, full: bool) -> None:
        """After a full disk, wait before claiming again (doubling while it stays full): the
        next item would only fail too."""
        if full and not self._space_wait:
            log.warning("disk full: claiming no item for a while")
        self._space_wait = min(max(self._space_wait * 2, SPACE_RETRY_FIRST), SPACE_RETRY_MAX) if full else 0.0
        self._space_wait_until = time.monotonic() + self._space_wait

    def _record_failure(self, item_id: int, exc: Exception, full: bool) -> None:
        message = f"{type(exc).__name__}: {exc}"
        with self.db.session() as s:
            item = must_get(s, Item, item_id)
            if full:
                item.state, item.attempts = ItemState.QUEUED, max(item.attempts - 1, 0)
                item.last_error = message
                record_event(s, "item", item_id, "waiting-for-space", outcome="info", agent=self.agent,
                             detail={"error": message})
                return
            retry = item.attempts < MAX_ATTEMPTS
            item.state = ItemState.QUEUED if retry else ItemState.FAILED
            item.last_error = message
            record_event(s, "item", item_id, "failed", outcome="failure", agent=self.agent,
                         detail={"error": message, "will_retry": retry,
                                 "trace": "".join(traceback.format_exception(exc, limit=5))})

    def process(self, item_id: int) -> None:
        from pipeline.archive.pdfa import build_pdfa, stamp_identity

        started = time.monotonic()
        with self.db.session() as s:
            item = must_get(s, Item, item_id)
            received_at, label = item.received_at, item.label
            pages = [PageRecord.of(p, src) for p, src in s.execute(
                select(Page, SourceFile).join(SourceFile, Page.source_file_id == SourceFile.id)
                .where(Page.item_id == item_id).order_by(Page.page_no)
            ).all()]

        out_dir = self.settings.pages_dir / f"{item_id:08d}"
        out_dir.mkdir(parents=True, exist_ok=True)
        # An interrupted run's committed pages are kept; their events were written with them.
        reused = {rec.page_no: pair for rec in pages if (pair := finished_page(rec, out_dir)) is not None}
        if reused:
            log.info("item %s: %d of %d pages already done, reused", item_id, len(reused), len(pages))
            with self.db.session() as s:
                record_event(s, "item", item_id, "resumed", agent=self.agent,
                             detail={"pages_reused": len(reused), "pages_total": len(pages)})
        done: list[tuple[PreparedPage, OcrPage]] = []
        for rec in pages:
            if rec.page_no in reused:
                done.append(reused[rec.page_no])
                continue
            page_id, page_no = rec.page_id, rec.page_no
            source, master_sha = page_master(
                rec.stored, rec.media_type, rec.frame, index=page_no - 1, source_sha256=rec.source_sha256,
                out_dir=out_dir, pdf_dpi=self.settings.ingest.pdf_dpi,
            )
            reading = read_page(source, self.reader, self.settings.imaging, work_dir=out_dir)
            prepared, ocr = reading.prepared, reading.ocr
            assert prepared is not None  # a catalogued page always gets its working copy
            operations, flags = list(reading.operations), list(reading.flags)
            layout = layout_path(out_dir, page_no)
            atomic_write_bytes(layout, ocr.to_json().encode())
            with self.db.session() as s:
                page = must_get(s, Page, page_id)
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
            item = must_get(s, Item, item_id)
            fonds, year, title, code = item.fonds, item.year, item.title, item.archival_code
        # filing.record above gave the item its fonds and title (or kept those a person or an
        # earlier run recorded).
        assert fonds is not None and title is not None

        # Named by item, not by 档号: an item in review or in a 预立卷 is numbered later,
        # and its file must not move then.
        pdf_path = self.settings.pdf_dir / fonds / str(year) / f"{item_id:08d}.pdf"
        archived = build_pdfa(done, pdf_path, title=title, archival_code=code or f"item-{item_id:08d}",
                              author=fonds, work_dir=self.settings.staging_dir)
        sha = archived.pdf_sha256
        with self.db.session() as s:
            current = must_get(s, Item, item_id).archival_code
        if current is not None and current != code:  # a reviewer numbered it while the PDF was being built
            sha = stamp_identity(archived.pdf_path, archival_code=current, title=title)
        with self.db.session() as s:
            item = must_get(s, Item, item_id)
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
    logs.setup(fmt=f"%(asctime)s {worker} %(levelname)s %(message)s")  # ID numbers masked
    for noisy in ("fontTools", "ocrmypdf", "pikepdf", "RapidOCR"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = Settings.model_validate_json(settings_json)
    set_pixel_limit(settings.ingest.max_pixels)  # what intake accepted, the worker can open
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
