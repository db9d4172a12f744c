"""The watched inbox: events or polling, a readiness gate, and a periodic rescan.

A top-level entry of the inbox (a file, or a folder = one batch item) is taken
only when it is *ready*: untouched for ``quiet_seconds``, its size and mtime
unchanged between two looks, and every file parses. Until then it sits in the
in-flight table, so it is never queued twice. Watch events only mark entries
for a look; the periodic full rescan finds anything an event missed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from pipeline.config.settings import IngestSettings
from pipeline.ingest.intake import Intake, IntakeResult, members
from pipeline.ingest.junk import is_junk
from pipeline.ingest.probe import BadInput

log = logging.getLogger(__name__)

# Filesystems on which inotify sees nothing of what other machines write.
NETWORK_FILESYSTEMS = {
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs", "ceph", "glusterfs",
    "fuse.glusterfs", "davfs", "fuse.davfs2", "vboxsf", "fuse.rclone", "fuse.s3fs", "lustre",
}


def filesystem_type(path: Path) -> str:
    """Type of the filesystem holding ``path`` (longest mount point in /proc/mounts)."""
    real = os.path.realpath(path)
    best, fstype = "", "unknown"
    try:
        with open("/proc/mounts", encoding="utf-8") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mount = parts[1].replace("\\040", " ")
                if (real == mount or real.startswith(mount.rstrip("/") + "/")) and len(mount) > len(best):
                    best, fstype = mount, parts[2]
    except OSError:
        pass
    return fstype


def use_polling(inbox: Path, mode: str) -> bool:
    if mode == "always":
        return True
    if mode == "never":
        return False
    return filesystem_type(inbox) in NETWORK_FILESYSTEMS


@dataclass
class Candidate:
    entry: Path
    snapshot: tuple = ()
    stable_since: float = 0.0
    first_failure: float | None = None
    last_reason: str = ""
    read_attempted: bool = False
    next_look: float = 0.0


def snapshot(entry: Path) -> tuple:
    """What changes while a scanner writes: names, sizes, mtimes, inodes."""
    out = []
    for path in members(entry):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        out.append((str(path), st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(out)


class ReadinessGate:
    """In-flight table of inbox entries and the decision when each is taken."""

    def __init__(self, intake: Intake, cfg: IngestSettings, clock=time.monotonic) -> None:
        self.intake = intake
        self.cfg = cfg
        self.clock = clock
        self._lock = threading.Lock()
        self._marked: set[Path] = set()
        self.candidates: dict[Path, Candidate] = {}

    def top_level(self, path: Path) -> Path | None:
        """The inbox entry a path belongs to (None for junk or the inbox itself)."""
        try:
            rel = Path(path).relative_to(self.cfg.inbox)
        except ValueError:
            return None
        if not rel.parts or is_junk(rel.parts[0]) or any(is_junk(p) for p in rel.parts):
            return None
        return self.cfg.inbox / rel.parts[0]

    def mark(self, path: Path) -> None:
        entry = self.top_level(path)
        if entry is not None:
            with self._lock:
                self._marked.add(entry)

    def rescan(self) -> None:
        try:
            names = os.listdir(self.cfg.inbox)
        except FileNotFoundError:
            return
        for name in names:
            if not is_junk(name):
                self.mark(self.cfg.inbox / name)

    @property
    def in_flight(self) -> int:
        return len(self.candidates)

    def poll(self) -> list[IntakeResult]:
        """Look at every due candidate; take the ready ones, quarantine the hopeless."""
        with self._lock:
            marked, self._marked = self._marked, set()
        now = self.clock()
        for entry in marked:
            cand = self.candidates.setdefault(entry, Candidate(entry, stable_since=now))
            cand.next_look = min(cand.next_look, now)
        results = []
        for entry, cand in list(self.candidates.items()):
            if cand.next_look > now:
                continue
            try:
                result = self._look(cand, now)
            except Exception as exc:  # e.g. disk full: keep the entry, try again later
                log.exception("intake of %s failed; will retry", entry)
                cand.next_look = now + 5.0
                cand.last_reason = f"{type(exc).__name__}: {exc}"
                continue
            if result is not None:
                self.candidates.pop(entry, None)
                if result.outcome != "waiting":
                    results.append(result)
        return results

    def _look(self, cand: Candidate, now: float) -> IntakeResult | None:
        entry = cand.entry
        if not (entry.exists() or entry.is_symlink()):
            if cand.read_attempted:
                return self.intake.quarantine(entry, "disappeared from the inbox while being read",
                                              root=self.cfg.inbox)
            return IntakeResult("waiting", entry.name)  # gone before we looked: nothing to keep
        snap = snapshot(entry)
        if snap != cand.snapshot:
            cand.snapshot, cand.stable_since = snap, now
        newest = max((s[2] for s in snap), default=0) / 1e9
        quiet_for = min(now - cand.stable_since, time.time() - newest)
        if not snap or quiet_for < self.cfg.quiet_seconds:
            # Still being written (or an empty folder): a slow copy is legitimate, so no timeout here.
            cand.next_look = now + max(0.2, min(self.cfg.quiet_seconds - max(quiet_for, 0), 1.0))
            return None
        try:
            cand.read_attempted = True
            checked = self.intake.check(entry)
        except BadInput as exc:
            cand.last_reason = exc.reason
            if exc.final:
                return self.intake.quarantine(entry, exc.reason, root=self.cfg.inbox)
            if cand.first_failure is None:
                cand.first_failure = now
            if now - cand.first_failure >= self.cfg.parse_timeout_seconds:
                return self.intake.quarantine(
                    entry, f"{exc.reason} (still unreadable after {self.cfg.parse_timeout_seconds:g} s)",
                    root=self.cfg.inbox)
            cand.next_look = now + 1.0
            return None
        if snapshot(entry) != snap:  # written to while we parsed it
            cand.snapshot, cand.stable_since = (), now
            cand.next_look = now + 0.5
            return None
        return self.intake.take(entry, checked, root=self.cfg.inbox)


class _Handler(FileSystemEventHandler):
    def __init__(self, gate: ReadinessGate) -> None:
        self.gate = gate

    def on_any_event(self, event: FileSystemEvent) -> None:
        for attr in ("src_path", "dest_path"):
            path = getattr(event, attr, None)
            if path:
                self.gate.mark(Path(os.fsdecode(path)))


class InboxWatcher:
    """Feeds the gate from filesystem events (native or polling) and periodic rescans."""

    def __init__(self, gate: ReadinessGate, cfg: IngestSettings) -> None:
        self.gate = gate
        self.cfg = cfg
        self.polling = use_polling(cfg.inbox, cfg.polling)
        self.observer = (PollingObserver(timeout=cfg.poll_interval_seconds) if self.polling else Observer())
        self._last_rescan = 0.0

    def start(self) -> None:
        self.cfg.inbox.mkdir(parents=True, exist_ok=True)
        self.observer.schedule(_Handler(self.gate), str(self.cfg.inbox), recursive=True)
        self.observer.start()
        self.gate.rescan()
        self._last_rescan = time.monotonic()

    def tick(self) -> list[IntakeResult]:
        if time.monotonic() - self._last_rescan >= self.cfg.rescan_seconds:
            self.gate.rescan()
            self._last_rescan = time.monotonic()
        return self.gate.poll()

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=5)
