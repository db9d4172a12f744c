"""The watched inbox: events or polling, a readiness gate, and a periodic rescan.

A top-level entry of the inbox (a file, or a folder = one batch item) is taken
only when it is *ready*: untouched for ``quiet_seconds``, its size and mtime
unchanged between two looks, and every file parses. Until then it sits in the
in-flight table, so it is never queued twice. Watch events only mark entries
for a look; the periodic full rescan finds anything an event missed.

An entry whose intake fails unexpectedly is retried with a growing pause (its own
reads must not wake it again), logged with a traceback once, and quarantined with
the error after a few tries; a full disk is waited out instead (see ``space``).
What the gate holds is published (``report``) for `dangan status` and the web UI.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import EVENT_TYPE_CLOSED_NO_WRITE, EVENT_TYPE_OPENED, FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from pipeline.config.settings import IngestSettings
from pipeline.fileio import is_disk_full
from pipeline.ingest.intake import Intake, IntakeResult, members
from pipeline.ingest.junk import BENIGN_NAMES, is_junk
from pipeline.ingest.names import readable_name
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


# Unexpected intake errors of one entry: pause after the n-th for FIRST_RETRY × 2^(n-1)
# seconds (at most MAX_RETRY); after MAX_ERRORS the entry is quarantined with the error.
FIRST_RETRY, MAX_RETRY, MAX_ERRORS = 5.0, 300.0, 3


@dataclass
class Candidate:
    entry: Path
    snapshot: tuple = ()
    stable_since: float = 0.0
    first_failure: float | None = None
    last_reason: str = ""
    read_attempted: bool = False
    next_look: float = 0.0
    errors: int = 0  # unexpected intake failures in a row (not "still being written")
    waiting_for_space: bool = False  # the last try failed for lack of disk space


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

    def __init__(self, intake: Intake, cfg: IngestSettings, clock=time.monotonic,
                 space: Callable[[], str | None] = lambda: None) -> None:
        self.intake = intake
        self.cfg = cfg
        self.clock = clock
        self.space = space  # why intake must wait for disk space, or None
        self._lock = threading.Lock()
        self._marked: set[Path] = set()
        self.candidates: dict[Path, Candidate] = {}
        self.ignored: dict[str, str] = {}  # inbox names never taken (hidden, temporary) → why
        self.paused: str | None = None

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
        ignored = {}
        for name in names:
            if not is_junk(name):
                self.mark(self.cfg.inbox / name)
            elif name.lower() not in BENIGN_NAMES:
                ignored[readable_name(name)] = ("hidden name (starts with a dot): rename it to ingest it"
                                                if name.startswith(".") else "temporary or system file name")
        self.ignored = ignored

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
            if not (cand.errors or cand.waiting_for_space):  # backing off after an error: keeps its pause
                cand.next_look = min(cand.next_look, now)
        paused = self.space()
        if bool(paused) != bool(self.paused):  # said once when it starts and once when it ends
            (log.warning if paused else log.info)("intake %s", f"paused: {paused}" if paused else "resumed")
        self.paused = paused
        if paused:
            return []  # nothing is copied in while the disk is (nearly) full; entries stay put
        results = []
        for entry, cand in list(self.candidates.items()):
            if cand.next_look > now:
                continue
            try:
                result = self._look(cand, now)
            except Exception as exc:
                result = self._failed(cand, exc, now)
            if result is not None:
                self.candidates.pop(entry, None)
                if result.outcome != "waiting":
                    results.append(result)
        return results

    def _failed(self, cand: Candidate, exc: Exception, now: float) -> IntakeResult | None:
        """An unexpected error taking ``cand`` in: back off; after MAX_ERRORS, quarantine."""
        name = readable_name(cand.entry.name)
        cand.last_reason = f"{type(exc).__name__}: {exc}"
        full = is_disk_full(exc)
        cand.errors += 0 if full else 1  # a full disk is waited out, not counted against the file
        cand.next_look = now + min(FIRST_RETRY * 2 ** max(cand.errors - 1, 0), MAX_RETRY)
        if full:
            if not cand.waiting_for_space:  # said once, not at every retry
                log.warning("intake of %s waits for disk space: %s", name, cand.last_reason)
            cand.waiting_for_space = True
            return None
        cand.waiting_for_space = False
        if cand.errors == 1:
            log.exception("intake of %s failed; will retry", name)
        else:
            log.warning("intake of %s failed again (%d): %s", name, cand.errors, cand.last_reason)
        if cand.errors < MAX_ERRORS:
            return None
        try:
            return self.intake.quarantine(
                cand.entry, f"could not be taken in ({cand.errors} tries): {cand.last_reason}", root=self.cfg.inbox)
        except Exception as again:  # quarantine needs the disk and catalog too: keep trying, slowly
            log.warning("could not quarantine %s either: %s: %s", name, type(again).__name__, again)
            return None

    def report(self) -> dict:
        """What the gate holds, for `dangan status` and the web UI (names readable, unmasked:
        they are masked where they are shown)."""
        waiting = [{"entry": readable_name(c.entry.name), "reason": c.last_reason, "errors": c.errors}
                   for c in sorted(self.candidates.values(), key=lambda c: c.entry.name) if c.last_reason]
        return {"in_flight": len(self.candidates), "waiting": waiting[:50],
                "ignored": [{"entry": n, "reason": r} for n, r in sorted(self.ignored.items())][:50],
                "ignored_count": len(self.ignored), "paused": self.paused}

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
        if event.event_type in (EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE):
            return  # our own reads: they change nothing and must not wake the entry again
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
