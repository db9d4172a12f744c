"""Watched-inbox intake: readiness, custody, duplicates, batches, quarantine."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from pathlib import Path

import pytest
from badinputs import make_all
from conftest import wait_progress
from PIL import Image
from sqlalchemy import select

from pipeline.ingest.intake import Intake, natural_key
from pipeline.ingest.watch import ReadinessGate
from pipeline.store import Database, Event, Item, Page, QuarantinedFile, SourceFile


def png_bytes(text_seed: int = 0, size=(240, 160)) -> bytes:
    img = Image.new("L", size, 255)
    img.putpixel((text_seed % size[0], 5), 0)  # distinct bytes per seed
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def drain(gate: ReadinessGate, stall: float = 30.0) -> list:
    results: list = []
    gate.rescan()

    def settled() -> bool:
        results.extend(gate.poll())
        if not gate.candidates:
            gate.rescan()
            results.extend(gate.poll())
        return not gate.candidates

    wait_progress(settled, lambda: (len(results), sorted(str(c) for c in gate.candidates)), stall=stall,
                  interval=0.2, what="the readiness gate to settle")
    return results


@pytest.fixture
def gate(settings):
    db = Database(settings.db_url)
    return ReadinessGate(Intake(settings, db), settings.ingest)


def test_bad_inputs_each_end_in_quarantine_with_a_reason(settings, gate):
    inbox = settings.ingest.inbox
    expected = make_all(inbox)
    (inbox / "good.png").write_bytes(png_bytes(1))
    assert len(expected) >= 20
    results = drain(gate, stall=60)
    by_entry = {r.entry: r for r in results}
    assert by_entry["good.png"].outcome == "queued"
    with gate.intake.db.session() as s:
        rows = {q.original_name: q for q in s.scalars(select(QuarantinedFile))}
    for name, fragment in expected.items():
        assert name in rows, f"{name} was not quarantined"
        assert fragment in rows[name].reason, f"{name}: {rows[name].reason!r} lacks {fragment!r}"
        kept = rows[name].stored_path
        assert kept and (Path(kept).exists() or Path(kept).is_symlink()), f"{name}: nothing kept"
        reason_file = Path(kept).with_name(Path(kept).name + ".reason.json")
        assert fragment in json.loads(reason_file.read_text(encoding="utf-8"))["reason"]
    assert sorted(p.name for p in inbox.iterdir()) == []  # nothing left behind, nothing lost
    # Symlinks are quarantined as links, never followed.
    assert Path(rows["link.jpg"].stored_path).is_symlink()


def test_file_deleted_while_being_read(settings, gate):
    inbox = settings.ingest.inbox
    victim = inbox / "scan.jpg"
    full = io.BytesIO()
    Image.new("RGB", (300, 200), "white").save(full, "JPEG")
    victim.write_bytes(full.getvalue()[:500])  # scanner still writing: not parseable yet
    old = time.time() - 10
    os.utime(victim, (old, old))
    gate.rescan()
    for _ in range(3):
        gate.poll()
        time.sleep(0.3)
    assert gate.candidates, "the half-written file should still be in flight"
    victim.unlink()
    results = drain(gate)
    assert [r.outcome for r in results] == ["quarantined"]
    assert "disappeared from the inbox while being read" in results[0].message


def test_duplicate_bytes_are_recorded_not_reprocessed(settings, gate):
    inbox = settings.ingest.inbox
    (inbox / "a.png").write_bytes(png_bytes(7))
    first = drain(gate)
    (inbox / "again.png").write_bytes(png_bytes(7))
    second = drain(gate)
    assert [r.outcome for r in first] == ["queued"]
    assert [r.outcome for r in second] == ["duplicate"]
    assert second[0].item_id == first[0].item_id
    with gate.intake.db.session() as s:
        assert s.scalar(select(Item.id).where(Item.id != first[0].item_id)) is None
        dup = s.scalars(select(Event).where(Event.event_type == "duplicate")).all()
        assert len(dup) == 1 and dup[0].detail["entry"] == "again.png"
    assert not any(inbox.iterdir())


def test_original_is_hashed_and_kept_byte_identical(settings, gate):
    data = png_bytes(3)
    (settings.ingest.inbox / "p.png").write_bytes(data)
    [r] = drain(gate)
    with gate.intake.db.session() as s:
        src = s.scalar(select(SourceFile))
    assert src.sha256 == hashlib.sha256(data).hexdigest()
    kept = Path(src.stored_path)
    assert kept.read_bytes() == data
    assert kept.stat().st_mode & 0o222 == 0, "originals are read-only"
    assert kept.parent.parent == settings.originals_dir


def test_batch_folder_is_one_item_in_natural_order(settings, gate):
    batch = settings.ingest.inbox / "户主王秀英"
    batch.mkdir()
    for n in (10, 2, 1):
        (batch / f"{n}.png").write_bytes(png_bytes(n))
    (batch / "Thumbs.db").write_bytes(b"junk")
    (batch / ".DS_Store").write_bytes(b"junk")
    [r] = drain(gate)
    assert r.outcome == "queued"
    with gate.intake.db.session() as s:
        item = s.get(Item, r.item_id)
        names = [src.original_name for src in item.sources]
        pages = [(p.page_no, p.source_file_id) for p in item.pages]
    assert names == ["户主王秀英/1.png", "户主王秀英/2.png", "户主王秀英/10.png"]
    assert [p[0] for p in pages] == [1, 2, 3]
    assert natural_key("10.jpg") > natural_key("2.jpg")


def test_multipage_tiff_and_pdf_become_pages(settings, gate):
    inbox = settings.ingest.inbox
    frames = [Image.new("1", (400, 300), 1) for _ in range(3)]
    frames[0].save(inbox / "g4.tif", "TIFF", save_all=True, append_images=frames[1:], compression="group4")
    import pikepdf

    pdf = pikepdf.new()
    for _ in range(2):
        pdf.add_blank_page()
    pdf.save(inbox / "scan.pdf")
    results = drain(gate)
    with gate.intake.db.session() as s:
        counts = {r.entry: len(s.get(Item, r.item_id).pages) for r in results}
    assert counts == {"g4.tif": 3, "scan.pdf": 2}


def test_junk_is_left_alone(settings, gate):
    inbox = settings.ingest.inbox
    junk = (".DS_Store", "Thumbs.db", "._scan.jpg", "scan.jpg.part", "~$notes.docx", ".gitkeep", ".sync-tmp1")
    for name in junk:
        (inbox / name).write_bytes(b"x")
    (inbox / ".Trashes").mkdir()
    assert drain(gate) == []
    assert len(list(inbox.iterdir())) == len(junk) + 1


def test_crash_between_commit_and_inbox_removal_resumes(settings, gate):
    inbox = settings.ingest.inbox
    f = inbox / "x.png"
    f.write_bytes(png_bytes(9))
    first_mtime = f.stat().st_mtime_ns
    checked = gate.intake.check(f)
    first = gate.intake.take(f, checked, root=inbox)
    f.write_bytes(png_bytes(9))  # as if the crash came before the removal: same bytes, same name
    os.utime(f, ns=(0, first_mtime))
    with gate.intake.db.session() as s:
        s.scalar(select(SourceFile)).inbox_removed = False
    again = drain(gate)
    assert first.outcome == "queued"
    assert [r.outcome for r in again] == ["resumed"]
    with gate.intake.db.session() as s:
        assert s.scalars(select(Event).where(Event.event_type == "duplicate")).all() == []
        assert s.scalar(select(SourceFile.inbox_removed))
    assert not f.exists()


def test_file_still_being_written_is_not_taken(settings, gate):
    inbox = settings.ingest.inbox
    f = inbox / "growing.png"
    data = png_bytes(4)
    f.write_bytes(data[:30])
    gate.rescan()
    for _ in range(4):
        assert gate.poll() == []
        time.sleep(0.15)
    f.write_bytes(data)
    [r] = drain(gate)
    assert r.outcome == "queued"
    with gate.intake.db.session() as s:
        assert s.scalar(select(SourceFile.size)) == len(data)
        assert s.scalar(select(Page.id)) is not None
