"""ItemProcessor in-process: the Tesseract fallback, retries up to MAX_ATTEMPTS, recovery.

Real parts throughout: the SQLite catalog made by the normal settings and migrations, a
rendered scan taken into custody by the product's own intake, real Tesseract, real PDF/A.
Only the main OCR engine is replaced (through the public ``reader`` attribute) by one that
fails on purpose. The default engine (RapidOCR) is never loaded: the settings name
Tesseract, so constructing the processor loads nothing slow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from conftest import dangan_env
from pipeline.domain import OcrPage
from pipeline.ocr.base import DEFAULT_LANGUAGES, OcrEngine
from scanfactory import render_page, squash

# A heading and a line in a clean, large type: Tesseract reads them reliably, and the
# check below needs only a few of these characters back.
TEXT = ["镇党委会会议纪要", "关于村民委员会换届选举工作的通知"]
DISTINCTIVE = "党委会议纪要村民员换届选举工作通知"


class FailingEngine(OcrEngine):
    """A real OcrEngine whose recognition always raises (a crashed model, a bad page)."""

    name = "failing"

    def __init__(self) -> None:
        self.calls = 0

    def version(self) -> str:
        return "failing 0"

    def recognize(self, image: np.ndarray, *, languages: str = DEFAULT_LANGUAGES) -> OcrPage:
        self.calls += 1
        raise RuntimeError(f"engine broke on call {self.calls}")


class FailsOnceEngine(OcrEngine):
    """Fails on its first call only, then reads with the real Tesseract engine."""

    name = "fails-once"

    def __init__(self, real) -> None:
        self.real = real
        self.calls = 0

    def version(self) -> str:
        return self.real.version()

    def recognize(self, image: np.ndarray, *, languages: str = DEFAULT_LANGUAGES) -> OcrPage:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("transient engine failure")
        return self.real.recognize(image, languages=languages)


@pytest.fixture
def settings(home: Path, monkeypatch):
    """conftest's settings (isolated home and inbox), with Tesseract as the configured engine."""
    from pipeline.config import load_settings

    for key, value in dangan_env(home, DANGAN_OCR__ENGINE="tesseract").items():
        if key.startswith("DANGAN_"):
            monkeypatch.setenv(key, value)
    return load_settings()


@pytest.fixture
def db(settings):
    from pipeline.store import Database

    database = Database(settings.db_url)  # creates the catalog through the migrations
    yield database
    database.dispose()


@pytest.fixture
def queued_item(settings, db) -> int:
    """One small scan dropped in the inbox and taken into custody by the intake: a queued item."""
    from pipeline.ingest.intake import Intake
    from pipeline.store import Item, ItemState

    inbox = Path(settings.ingest.inbox)
    scan = inbox / "scan-1.png"
    render_page(TEXT[1:], seed=1, dpi=200, page_size=(900, 420), font="sans", font_pt=14,
                title=TEXT[0]).save(scan, dpi=(200, 200))
    intake = Intake(settings, db)
    result = intake.take(scan, intake.check(scan), root=inbox)
    assert result.outcome == "queued", result
    assert not scan.exists()  # custody taken: the inbox entry is cleared
    with db.session() as s:
        item = s.get(Item, result.item_id)
        assert item.state == ItemState.QUEUED and item.attempts == 0
        assert len(item.pages) == 1
    return result.item_id


def processor_with(settings, db, reader):
    from pipeline.ocr import PageReader
    from pipeline.runner.worker import ItemProcessor

    processor = ItemProcessor(settings, db, "test-worker")
    assert isinstance(processor.reader, PageReader)
    assert processor.reader.engine.name == "tesseract"  # the settings' engine, not RapidOCR
    processor.reader = reader
    return processor


def item_row(db, item_id: int) -> dict:
    from pipeline.store import Item

    with db.session() as s:
        item = s.get(Item, item_id)
        pages = [(p.ocr_engine, p.ocr_text) for p in item.pages]
        return {"state": item.state, "attempts": item.attempts, "last_error": item.last_error,
                "pdf_path": item.pdf_path, "pdf_sha256": item.pdf_sha256, "worker": item.worker,
                "pages": pages}


def item_events(db, item_id: int, event_type: str) -> list[tuple[str, dict]]:
    from pipeline.store import Event

    with db.session() as s:
        rows = s.execute(select(Event.outcome, Event.detail).where(
            Event.object_type == "item", Event.object_id == item_id, Event.event_type == event_type,
        ).order_by(Event.id)).all()
        return [(outcome, detail) for outcome, detail in rows]


def assert_archived_with_tesseract_text(db, item_id: int) -> dict:
    from pipeline.archive import validate_pdfa
    from pipeline.store import ItemState

    row = item_row(db, item_id)
    assert row["state"] == ItemState.ARCHIVED
    assert row["last_error"] is None
    [(engine, text)] = row["pages"]
    assert engine and engine.startswith("tesseract"), engine
    found = set(squash(text)) & set(DISTINCTIVE)
    assert len(found) >= 6, f"OCR text {text!r} has too little of {DISTINCTIVE!r}"
    pdf = Path(row["pdf_path"])
    assert pdf.is_file()
    assert validate_pdfa(pdf, expected_pages=1) == []  # a one-page PDF/A-2b, as the product checks it
    assert len(item_events(db, item_id, "pdfa-built")) == 1
    return row


def test_failing_engine_falls_back_to_tesseract(settings, db, queued_item):
    """The main engine raises on the page; the fallback (real Tesseract) reads it and the
    item is archived in one attempt, its page recording Tesseract as the engine."""
    from pipeline.ocr import PageReader, get_engine

    failing = FailingEngine()
    processor = processor_with(settings, db, PageReader(failing, fallback=get_engine("tesseract")))

    assert processor.run_one() == queued_item
    assert failing.calls == 1  # the main engine was tried, and failed
    row = assert_archived_with_tesseract_text(db, queued_item)
    assert row["attempts"] == 1
    assert item_events(db, queued_item, "failed") == []
    assert processor.run_one() is None  # nothing else queued


def test_failing_engine_without_fallback_retries_then_fails(settings, db, queued_item):
    """No fallback: every attempt fails and puts the item back in the queue with the error,
    until MAX_ATTEMPTS attempts are used; then it is failed, with a failure event each time."""
    from pipeline.ocr import PageReader
    from pipeline.runner.worker import MAX_ATTEMPTS
    from pipeline.store import ItemState

    failing = FailingEngine()
    processor = processor_with(settings, db, PageReader(failing, fallback=None))
    assert MAX_ATTEMPTS >= 1

    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert processor.run_one() == queued_item
        assert failing.calls == attempt
        row = item_row(db, queued_item)
        assert row["attempts"] == attempt
        assert row["last_error"] == f"RuntimeError: engine broke on call {attempt}"
        assert row["pdf_path"] is None
        events = item_events(db, queued_item, "failed")
        assert len(events) == attempt
        outcome, detail = events[-1]
        assert outcome == "failure"
        assert detail["error"] == row["last_error"]
        assert "RuntimeError" in detail["trace"]
        if attempt < MAX_ATTEMPTS:
            assert row["state"] == ItemState.QUEUED
            assert detail["will_retry"] is True
        else:
            assert row["state"] == ItemState.FAILED
            assert detail["will_retry"] is False

    # Failed for good: not claimed again, and nothing was built for it.
    assert processor.run_one() is None
    assert failing.calls == MAX_ATTEMPTS
    assert item_row(db, queued_item)["state"] == ItemState.FAILED
    assert item_events(db, queued_item, "pdfa-built") == []
    assert processor.catalog.failed_items() == [
        (queued_item, "scan-1.png", f"RuntimeError: engine broke on call {MAX_ATTEMPTS}")]


def test_engine_failing_once_recovers_on_the_retry(settings, db, queued_item):
    """A transient engine failure costs one attempt: the item goes back to the queue, the
    next run archives it, and the catalog keeps both the failure and the success."""
    from pipeline.ocr import PageReader, get_engine
    from pipeline.runner.worker import MAX_ATTEMPTS
    from pipeline.store import ItemState

    assert MAX_ATTEMPTS >= 2, "a retry needs a second attempt"
    flaky = FailsOnceEngine(get_engine("tesseract"))
    processor = processor_with(settings, db, PageReader(flaky, fallback=None))

    assert processor.run_one() == queued_item
    row = item_row(db, queued_item)
    assert row["state"] == ItemState.QUEUED
    assert row["attempts"] == 1
    assert row["last_error"] == "RuntimeError: transient engine failure"
    assert row["pdf_path"] is None

    assert processor.run_one() == queued_item
    assert flaky.calls == 2
    row = assert_archived_with_tesseract_text(db, queued_item)
    assert row["attempts"] == 2
    assert row["worker"] is None
    [(outcome, detail)] = item_events(db, queued_item, "failed")
    assert outcome == "failure"
    assert detail["will_retry"] is True
    assert detail["error"] == "RuntimeError: transient engine failure"

    assert processor.run_one() is None  # nothing else queued
