"""A long item keeps its finished pages across kill -9, a graceful stop and a damaged layout file.

Real files, the real service and worker: ``dangan watch`` processes a multi-page TIFF and is
interrupted once the catalog shows pages finished while the item is still processing; a
second start finishes the item. Pages finished before the interruption must not be read
again (one "ocr" event each), and the PDF/A must still hold every page, in order.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from pathlib import Path
from typing import Callable

import pytest

from conftest import dangan_env, run_cli, start_service, wait_progress
from pipeline.domain import OcrLine, OcrPage, OcrWord
from scanfactory import body_paragraphs, render_page, squash

PAGES = 8
INTERRUPT_AFTER = 3  # pages finished when the service is stopped


def write_item(home: Path, kind: str) -> tuple[Path, list[str]]:
    """Small pages with a numbered heading each, outside the inbox: a multi-page grey TIFF
    (masters are extracted frames) or a folder of JPEGs (each original is its own master).
    Returns the path to move into the inbox and the headings in page order."""
    headings = [f"会议记录第{n}号" for n in range(1, PAGES + 1)]
    images = [
        render_page([body_paragraphs(40 + n, count=1)[0][:40]], seed=40 + n, dpi=150, page_size=(900, 420),
                    font="hei", title=heading).convert("L")
        for n, heading in enumerate(headings, 1)
    ]
    if kind == "tiff":
        path = home / "long-item.tif"
        images[0].save(path, save_all=True, append_images=images[1:], compression="tiff_lzw", dpi=(150, 150))
    else:
        path = home / "long-item"
        path.mkdir()
        for n, img in enumerate(images, 1):
            img.save(path / f"{n:02d}.jpg", quality=90, dpi=(150, 150))
    return path, headings


def log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


def wait_service(proc: subprocess.Popen, log: Path, predicate: Callable[[], bool], timeout: float,
                 what: str, interval: float = 0.5) -> None:
    """Wait while the service makes progress (its log or the catalog's events grow; ``timeout``
    is the longest stall allowed), failing at once (with the service log) if it exits."""
    def check() -> bool:
        return proc.poll() is not None or predicate()

    def progress() -> tuple[int, int]:
        events = 0
        if (log.parent / "data" / "catalog.sqlite3").exists():
            con = catalog(log.parent)
            try:
                events = con.execute("SELECT count(*) FROM events").fetchone()[0]
            except sqlite3.Error:  # not migrated yet
                pass
            finally:
                con.close()
        return (log.stat().st_size if log.exists() else 0), events

    try:
        wait_progress(check, progress, stall=timeout, interval=interval, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{log_tail(log)}") from None
    if proc.poll() is not None:
        raise AssertionError(f"the service exited ({proc.returncode}) before {what}:\n{log_tail(log)}")


def catalog(home: Path) -> sqlite3.Connection:
    con = sqlite3.connect(home / "data" / "catalog.sqlite3", timeout=60)
    con.row_factory = sqlite3.Row
    return con


def query(home: Path, sql: str, *args: object) -> list[sqlite3.Row]:
    con = catalog(home)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def finished_pages(home: Path) -> dict[int, str]:
    """page_no → layout path of every page whose OCR is committed."""
    return {r["page_no"]: r["ocr_layout_path"] for r in query(
        home, "select page_no, ocr_layout_path from pages where ocr_layout_path is not null")}


def page_events(home: Path, event_type: str) -> dict[int, int]:
    """page_no → how many times the event was recorded for that page."""
    rows = query(home, "select p.page_no, count(e.id) as n from pages p left join events e on e.object_type = "
                       "'page' and e.object_id = p.id and e.event_type = ? group by p.page_no", event_type)
    return {r["page_no"]: r["n"] for r in rows}


def item_events(home: Path, event_type: str) -> list[dict]:
    rows = query(home, "select detail from events where object_type = 'item' and event_type = ?", event_type)
    return [json.loads(r["detail"]) if r["detail"] else {} for r in rows]


def kill9(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # the service and its workers, mid-page
    proc.wait(timeout=60)


def graceful_stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)  # the service terminates its workers and exits cleanly
    assert proc.wait(timeout=60) == 0


def interrupt_then_finish(home: Path, stop: Callable[[subprocess.Popen], None],
                          damage: Callable[[dict[int, str]], None] | None = None, kind: str = "tiff") -> dict:
    """Drop the item, stop the service mid-item with ``stop``, optionally damage files, finish it.

    Returns what the test checks: the pages finished before the stop (page_no → layout mtime),
    the headings, and the finished item row.
    """
    env = dangan_env(home, DANGAN_WORKERS="1", DANGAN_IMAGING__DETECT_ORIENTATION="false")
    log = home / "service.log"
    staged, headings = write_item(home, kind)

    proc = start_service(env, log)
    try:
        wait_service(proc, log, lambda: (home / "data" / "catalog.sqlite3").exists(), 120, "service start")
        os.rename(staged, home / "inbox" / staged.name)  # the scanner's file (or batch) appears at once

        def midway() -> bool:
            try:
                state = query(home, "select state from items")
                processing = bool(state) and state[0]["state"] == "processing"
                return processing and len(finished_pages(home)) >= INTERRUPT_AFTER
            except sqlite3.OperationalError:  # the service may still be creating the schema
                return False

        wait_service(proc, log, midway, 300, f"{INTERRUPT_AFTER} pages finished", interval=0.1)
        stop(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)

    [item] = query(home, "select id, state from items")
    assert item["state"] == "processing", "the item must still be unfinished after the stop"
    before = finished_pages(home)
    assert INTERRUPT_AFTER <= len(before) < PAGES, f"stopped too late to test resuming: {sorted(before)}"
    assert set(page_events(home, "ocr").values()) <= {0, 1}
    if damage:
        damage(before)
    mtimes = {page_no: Path(path).stat().st_mtime_ns for page_no, path in before.items()}

    proc = start_service(env, log)
    try:
        def done() -> bool:
            return query(home, "select state from items where id = ?", item["id"])[0]["state"] == "done"

        wait_service(proc, log, done, 300, "the resumed item to be done")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            kill9(proc)
    assert proc.returncode == 0, log_tail(log)
    [row] = query(home, "select id, state, pdf_path from items")
    return {"before": mtimes, "headings": headings, "item": row, "env": env}


def assert_complete(home: Path, run: dict) -> None:
    """One DONE item whose catalog text and PDF/A hold every page, in page order."""
    import pikepdf

    from pipeline.archive import extract_text

    headings, item = run["headings"], run["item"]
    assert item["state"] == "done"
    assert len(item_events(home, "pdfa-built")) == 1, "the item was finished more than once"
    texts = [r["ocr_text"] for r in query(home, "select ocr_text from pages order by page_no")]
    assert len(texts) == PAGES
    for heading, text in zip(headings, texts):
        assert heading in squash(text)
    pdf = Path(item["pdf_path"])
    with pikepdf.open(pdf) as doc:
        assert len(doc.pages) == PAGES
    # pdftotext separates pages with a form feed: page i of the PDF carries page i's text.
    pdf_pages = extract_text(pdf).split("\f")[:PAGES]
    assert [squash(t) for t in pdf_pages] == [squash(t) for t in texts]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["tiff", "jpeg-folder"])
def test_kill9_mid_item_keeps_finished_pages(home: Path, kind: str):
    run = interrupt_then_finish(home, kill9, kind=kind)
    before = run["before"]
    assert_complete(home, run)
    # Every page was read exactly once: the pages finished before the kill were not OCR'd again.
    assert page_events(home, "ocr") == {n: 1 for n in range(1, PAGES + 1)}
    assert page_events(home, "preprocessed") == {n: 1 for n in range(1, PAGES + 1)}
    assert item_events(home, "resumed") == [{"pages_reused": len(before), "pages_total": PAGES}]
    assert len(item_events(home, "requeued")) == 1
    for page_no, mtime in before.items():  # their layout files were not even rewritten
        assert Path(finished_pages(home)[page_no]).stat().st_mtime_ns == mtime
    status = json.loads(run_cli(["status", "--json"], run["env"]).stdout)
    assert status["done"] == 1 and status["pages_searchable"] == PAGES
    print(f"\n{kind}: kill -9 after pages {sorted(before)} of {PAGES}: those reused, the rest read once")


@pytest.mark.slow
def test_graceful_stop_mid_item_keeps_finished_pages(home: Path):
    run = interrupt_then_finish(home, graceful_stop)
    assert_complete(home, run)
    assert page_events(home, "ocr") == {n: 1 for n in range(1, PAGES + 1)}
    assert item_events(home, "resumed") == [{"pages_reused": len(run["before"]), "pages_total": PAGES}]


@pytest.mark.slow
def test_finished_page_with_damaged_layout_is_redone(home: Path):
    damaged: list[int] = []

    def truncate_first(before: dict[int, str]) -> None:
        page_no = min(before)
        layout = Path(before[page_no])
        data = layout.read_bytes()
        layout.write_bytes(data[: len(data) // 2])  # e.g. a disk that lost the file's tail
        damaged.append(page_no)

    run = interrupt_then_finish(home, kill9, damage=truncate_first)
    assert_complete(home, run)
    [page_no] = damaged
    ocr = page_events(home, "ocr")
    # The damaged page was read again; the other finished pages and the rest once each.
    assert ocr == {n: 2 if n == page_no else 1 for n in range(1, PAGES + 1)}
    assert item_events(home, "resumed") == [{"pages_reused": len(run["before"]) - 1, "pages_total": PAGES}]
    layout = Path(finished_pages(home)[page_no])
    text = query(home, "select ocr_text from pages where page_no = ?", page_no)[0]["ocr_text"]
    assert OcrPage.from_json(layout.read_bytes()).text == text  # rewritten whole


def test_ocr_layout_round_trips_and_rejects_damage():
    quad = ((1.0, 2.0), (30.5, 2.0), (30.5, 20.0), (1.0, 20.0))
    page = OcrPage("engine 1", 900, 420, (
        OcrLine("会议记录", 0.99, quad, (OcrWord("会", 0.98, quad), OcrWord("议", 0.97, quad))),
        OcrLine("竖排", 0.5, quad, (), vertical=True),
    ), seconds=1.25)
    text = page.to_json()
    back = OcrPage.from_json(text)
    assert back == page and isinstance(back.lines[0].box[0], tuple)
    assert OcrPage.from_json(text.encode()) == page
    raw = json.loads(text)
    broken = [
        text[: len(text) // 2],  # truncated
        "",
        json.dumps({**raw, "width": "900"}),  # wrong type
        json.dumps({k: v for k, v in raw.items() if k != "lines"}),  # missing field
        json.dumps({**raw, "lines": [{**raw["lines"][0], "box": raw["lines"][0]["box"][:3]}]}),  # not a quad
        "[]",
    ]
    for bad in broken:
        with pytest.raises(ValueError):
            OcrPage.from_json(bad)
