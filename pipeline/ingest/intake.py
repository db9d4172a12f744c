"""Custody of an inbox entry: a file is one item (件), a folder is one item of many pages.

Order of operations, each step durable before the next:
  1. copy every file to staging while hashing it (SHA-256), fsync;
  2. move the copies into the content-addressed originals store, fsync;
  3. one catalog transaction: item + source files + pages + events (or a
     ``duplicate`` event on the item that already has these bytes);
  4. only then remove the entry from the inbox.
A crash before 3 leaves the inbox entry in place (it is taken again); a crash
between 3 and 4 is recognised on the next pass and finishes the removal.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from pipeline import __version__
from pipeline.config import Settings
from pipeline.fileio import atomic_write_bytes, sha256_file
from pipeline.ingest.custody import FileVanished, OriginalsStore, copy_hashed, move_durably
from pipeline.ingest.junk import is_junk
from pipeline.ingest.names import file_name, raw_hex, readable_name, storable
from pipeline.ingest.probe import BadInput, FileProbe, probe
from pipeline.store import Database, Item, ItemState, Page, QuarantinedFile, SourceFile, record_event


def natural_key(text: str) -> list[object]:
    """``1.jpg, 2.jpg, 10.jpg`` order: digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def members(entry: Path) -> list[Path]:
    """The files that make up an inbox entry, in page order (junk left out)."""
    if entry.is_symlink() or not entry.is_dir():
        return [entry]
    found = [
        p for p in entry.rglob("*")
        if not any(is_junk(part) for part in p.relative_to(entry).parts)
        and (p.is_symlink() or not p.is_dir())
    ]
    return sorted(found, key=lambda p: natural_key(str(p.relative_to(entry))))


def _relative_name(path: Path, root: Path) -> str:
    """``path`` relative to the inbox, as the disk gives it (bytes that are not UTF-8 included)."""
    return str(path.relative_to(root)) if path.is_relative_to(root) else path.name


def entry_label(entry: Path, root: Path) -> str:
    """The inbox entry's name as the catalog keeps it (relative to the inbox, readable text)."""
    return readable_name(_relative_name(entry, root))


def _raw_names(entry: Path, files: list[Path], root: Path) -> dict[str, str]:
    """Names (relative to the inbox) whose bytes are not UTF-8, in hex: kept in the event log
    beside the decoded name, so the name exactly as the disk gave it is never lost."""
    found = {}
    for path in dict.fromkeys([entry, *files]):
        name = _relative_name(path, root)
        if hexed := raw_hex(name):
            found[readable_name(name)] = hexed
    return found


@dataclass(frozen=True)
class IntakeResult:
    outcome: str  # queued | duplicate | resumed | quarantined
    entry: str
    item_id: int | None = None
    message: str = ""


class Intake:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.store = OriginalsStore(settings.originals_dir, settings.staging_dir)
        self.agent = f"dangan {__version__} ingest@{settings.ingest.station}"

    # ── checks ──────────────────────────────────────────────────

    def check(self, entry: Path) -> list[tuple[Path, FileProbe]]:
        """Probe every member; raise BadInput naming the offending file."""
        files = members(entry)
        if not files:
            raise BadInput("folder holds no files", final=False)
        cfg = self.settings.ingest
        checked = []
        for path in files:
            name = readable_name(path.name if path == entry else str(path.relative_to(entry)))
            if not path.is_symlink() and path.suffix.lower() not in cfg.extensions:
                raise BadInput(f"{name}: unsupported file type {path.suffix or '(no extension)'!r}", final=True)
            try:
                checked.append((path, probe(path, max_pixels=cfg.max_pixels, max_bytes=cfg.max_file_bytes,
                                                   pdf_dpi=cfg.pdf_dpi)))
            except BadInput as exc:
                prefix = "" if path == entry else f"{name}: "
                raise BadInput(prefix + exc.reason, final=exc.final) from exc
            except FileNotFoundError as exc:
                raise BadInput(f"{name}: disappeared while being read", final=False) from exc
        return checked

    # ── custody ─────────────────────────────────────────────────

    def take(
        self,
        entry: Path,
        checked: list[tuple[Path, FileProbe]],
        *,
        root: Path | None = None,
        remove: bool = True,
    ) -> IntakeResult:
        """Keep the originals, record the item, then (if ``remove``) clear the inbox entry."""
        root = root or entry.parent
        label = entry_label(entry, root)
        # every file is copied before any is adopted: a batch is kept whole or not at all
        # name, probe, staged copy, sha256, size, mtime_ns
        copies: list[tuple[str, FileProbe, Path, str, int, int]] = []
        for path, file_probe in checked:
            name = label if path == entry else str(Path(label) / readable_name(str(path.relative_to(entry))))
            try:
                mtime_ns = os.stat(path).st_mtime_ns
                tmp, sha256, size = copy_hashed(path, self.settings.staging_dir)
            except (FileVanished, FileNotFoundError) as exc:
                for _, _, earlier, *_ in copies:
                    earlier.unlink(missing_ok=True)
                shown = readable_name(path.name)
                if isinstance(exc, FileVanished):
                    return self.quarantine(
                        entry, f"{shown}: deleted or changed while being read; the bytes read are kept for review",
                        root=root, partial=Path(str(exc)))
                return self.quarantine(entry, f"{shown}: disappeared from the inbox while being read", root=root)
            copies.append((name, file_probe, tmp, sha256, size, mtime_ns))
        kept = [(name, file_probe, self.store.adopt(tmp, sha256, size), mtime_ns)
                for name, file_probe, tmp, sha256, size, mtime_ns in copies]

        fingerprint = "sha256:" + (
            kept[0][2].sha256 if len(kept) == 1 and not entry.is_dir()
            else hashlib.sha256("\n".join(k[2].sha256 for k in kept).encode()).hexdigest()
        )
        now = datetime.now(UTC)
        with self.db.session() as s:
            existing = s.scalar(select(Item).where(Item.fingerprint == fingerprint))
            if existing is not None:
                first = existing.sources[0] if existing.sources else None
                resumed = (  # our own crash between commit and removal, not a new drop
                    first is not None and not first.inbox_removed
                    and (first.original_name, first.inbox_mtime_ns) == (kept[0][0], kept[0][3])
                )
                if resumed:
                    outcome, item_id = "resumed", existing.id
                else:
                    outcome, item_id = "duplicate", existing.id
                    record_event(
                        s, "item", existing.id, "duplicate", outcome="info", agent=self.agent,
                        detail={"entry": label, "station": self.settings.ingest.station,
                                "fingerprint": fingerprint, "at": now.isoformat()},
                    )
            else:
                item = Item(fingerprint=fingerprint, label=label, station=self.settings.ingest.station,
                            state=ItemState.QUEUED, received_at=now)
                s.add(item)
                s.flush()
                detail = {"entry": label, "files": len(kept), "station": self.settings.ingest.station}
                if raw := _raw_names(entry, [path for path, _ in checked], root):
                    detail["raw_names_hex"] = raw  # the names as the disk gave them
                record_event(s, "item", item.id, "received", agent=self.agent, detail=detail)
                page_no = 0
                for position, (name, file_probe, stored, mtime_ns) in enumerate(kept):
                    source = SourceFile(
                        item_id=item.id, position=position, sha256=stored.sha256, size=stored.size,
                        original_name=name, media_type=file_probe.media_type, stored_path=str(stored.path),
                        station=self.settings.ingest.station, received_at=now, inbox_mtime_ns=mtime_ns,
                        inbox_removed=not remove,  # one-shot ingest leaves the user's file where it is
                    )
                    s.add(source)
                    s.flush()
                    record_event(s, "source_file", source.id, "hashed", agent=self.agent,
                                 detail={"sha256": stored.sha256, "size": stored.size, "name": name,
                                         "media_type": file_probe.media_type, "pages": file_probe.pages})
                    for frame in range(file_probe.pages):
                        page_no += 1
                        s.add(Page(item_id=item.id, page_no=page_no, source_file_id=source.id, frame=frame,
                                   dpi=file_probe.dpi))
                outcome, item_id = "queued", item.id

        if remove:
            self._remove(entry)
            with self.db.session() as s:
                for src in s.scalars(select(SourceFile).where(SourceFile.item_id == item_id)):
                    if not src.inbox_removed:
                        src.inbox_removed = True
        return IntakeResult(outcome, label, item_id)

    def _remove(self, entry: Path) -> None:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)

    # ── quarantine ──────────────────────────────────────────────

    def quarantine(
        self, entry: Path, reason: str, *, root: Path | None = None, partial: Path | None = None,
        remove: bool = True,
    ) -> IntakeResult:
        """Move bad input aside with its reason; the pipeline carries on.

        The reason and the catalog row are written before the move, so a crash
        in between leaves the entry in the inbox (quarantined again later),
        never a file that is gone with no record.
        """
        root = root or entry.parent
        label = entry_label(entry, root)
        reason = storable(reason)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        # Our own name for the kept file: readable, and short enough for ".reason.json" after it.
        dest = self.settings.quarantine_dir / f"{stamp}-{file_name(entry.name)}"
        source = entry if (entry.exists() or entry.is_symlink()) else partial
        sha256 = size = None
        try:
            if source is not None and source.is_symlink():
                sha256 = hashlib.sha256(os.readlink(source).encode()).hexdigest()
            elif source is not None and source.is_file():
                sha256, size = sha256_file(source)
        except FileNotFoundError:
            source = partial if partial is not None and partial.exists() else None
        if source is None:
            reason += " (nothing could be kept: the file was gone)"
        atomic_write_bytes(
            dest.with_name(dest.name + ".reason.json"),
            json.dumps({"entry": label, "raw_name_hex": raw_hex(entry.name), "reason": reason, "sha256": sha256,
                        "size": size, "quarantined_at": stamp, "station": self.settings.ingest.station},
                       ensure_ascii=False, indent=2).encode(),
        )
        with self.db.session() as s:
            row = QuarantinedFile(original_name=label, sha256=sha256, size=size,
                                  stored_path=str(dest) if source is not None else None, reason=reason,
                                  station=self.settings.ingest.station)
            s.add(row)
            s.flush()
            record_event(s, "quarantine", row.id, "quarantined", outcome="failure", agent=self.agent,
                         detail={"entry": label, "reason": reason, "sha256": sha256})
        if source is not None:
            if remove or source is partial:
                move_durably(source, dest)
            elif source.is_dir():
                shutil.copytree(source, dest, symlinks=True)
            else:
                shutil.copy2(source, dest, follow_symlinks=False)
        if partial is not None and partial.exists() and source is not partial:
            partial.unlink(missing_ok=True)
        return IntakeResult("quarantined", label, None, reason)
