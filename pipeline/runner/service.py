"""The processor: watches the inbox, runs workers, feeds the index.

Only one processor may run per data home (an exclusive lock file); that is what
makes it safe to put every ``processing`` item back in the queue at start-up.

A full disk pauses it rather than stopping it: intake and workers wait below the
``min_free_mb`` floor, a write that fails for lack of space is retried once there is
room, and what the inbox holds (waiting, ignored, paused) is published in the catalog
for `dangan status` and the web UI.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from pipeline import __version__
from pipeline.config import Settings
from pipeline.fileio import TMP_GLOB, is_disk_full
from pipeline.ingest.intake import Intake, IntakeResult
from pipeline.ingest.watch import InboxWatcher, ReadinessGate
from pipeline.runner.base import LocalProcessRunner, TaskRunner
from pipeline.runner.indexer import Indexer
from pipeline.store import Catalog, Database

log = logging.getLogger(__name__)


class ServiceBusy(RuntimeError):
    """Another dangan processor holds this data home."""


class ProcessorLock:
    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.path = home / ".processor.lock"
        self._fh: TextIO | None = None

    def acquire(self) -> bool:
        self._fh = open(self.path, "a+")
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.close()
            self._fh = None
            return False
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(str(os.getpid()))
        self._fh.flush()
        return True

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def held_elsewhere(self) -> bool:
        if self.acquire():
            self.release()
            return False
        return True


class Service:
    """Everything ``dangan watch`` runs, also used by one-shot ``dangan ingest``."""

    def __init__(self, settings: Settings, *, runner: TaskRunner | None = None, watch: bool = True) -> None:
        self.settings = settings
        self.lock = ProcessorLock(settings.home)
        if not self.lock.acquire():
            raise ServiceBusy(f"another dangan processor is running on {settings.home}")
        self.agent = f"dangan {__version__} service"
        for d in (settings.originals_dir, settings.pages_dir, settings.pdf_dir,
                  settings.quarantine_dir, settings.staging_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._remove_crash_leftovers()
        self.db = Database(settings.db_url)
        self.catalog = Catalog(self.db)
        requeued = self.catalog.requeue_interrupted(self.agent)
        if requeued:
            log.warning("requeued %d item(s) interrupted by a crash", requeued)
        self.intake = Intake(settings, self.db)
        self.indexer = Indexer(settings, self.catalog)
        self.runner = runner or LocalProcessRunner(settings)
        self.watcher = (InboxWatcher(ReadinessGate(self.intake, settings.ingest, space=settings.space_problem),
                                     settings.ingest) if watch else None)
        self._stop = False
        self._published = ""  # the inbox state last written to the catalog (JSON)
        self._full_disk: set[str] = set()  # loop steps failing for lack of space

    def _remove_crash_leftovers(self) -> None:
        """Half-written files from a crash; what they were made from is still queued or in the inbox."""
        for leftover in self.settings.staging_dir.iterdir():
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        for root in (self.settings.pdf_dir, self.settings.pages_dir):
            for leftover in root.rglob(TMP_GLOB):
                leftover.unlink(missing_ok=True)

    def request_stop(self, *_args) -> None:
        self._stop = True

    def run(self, *, until: Callable[[], bool] | None = None,
            on_tick: Callable[[list[IntakeResult]], None] | None = None, tick_seconds: float = 0.3) -> None:
        """Main loop; returns on SIGTERM/SIGINT or when ``until()`` is true."""
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        self.runner.start()
        if self.watcher:
            self.watcher.start()
            log.info("watching %s (%s)", self.settings.ingest.inbox,
                     "polling" if self.watcher.polling else "native events")
        last_report, last_line = 0.0, ""
        try:
            while not self._stop:
                results = self.watcher.tick() if self.watcher else []
                for r in results:
                    log.info("%s: %s %s", r.entry, r.outcome, r.message)
                if self._step(self.indexer.index_archived, 0) or time.monotonic() - last_report > 30:
                    last_report = time.monotonic()
                    line = self._step(self.status_line, last_line)
                    if line != last_line:  # a quiet service stays quiet in the log
                        log.info("%s", line)
                        last_line = line
                self._step(self.publish, None)
                self.runner.ensure_alive()
                if on_tick:
                    on_tick(results)
                if until is not None and until():
                    break
                time.sleep(tick_seconds)
        finally:
            self.close()

    def _step(self, work: Callable, otherwise):
        """Run one step of the loop; a full disk (the index or catalog cannot be written) is
        said once and waited out, and the loop goes on. Space counts as back when the step
        that failed succeeds again."""
        name = getattr(work, "__name__", repr(work))
        try:
            value = work()
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            if not self._full_disk:
                log.warning("disk full: %s: %s; waiting for space", type(exc).__name__, exc)
            self._full_disk.add(name)
            return otherwise
        if name in self._full_disk:
            self._full_disk.discard(name)
            if not self._full_disk:
                log.info("disk space is back: going on")
        return value

    def publish(self) -> None:
        """Put the inbox's state in the catalog when it changed."""
        if self.watcher is None:
            return
        state = self.watcher.gate.report()
        if self._full_disk and not state["paused"]:
            state["paused"] = "disk full: a write failed for lack of space"
        text = json.dumps(state, ensure_ascii=False, sort_keys=True)
        if text != self._published:
            self.catalog.publish_inbox(self.settings.ingest.station, state)
            self._published = text

    def status_line(self) -> str:
        st = self.catalog.status()
        in_flight = self.watcher.gate.in_flight if self.watcher else 0
        return (f"status: {in_flight} in inbox, {st.queue_depth} queued/processing, "
                f"{st.by_state.get('done', 0)} done, {st.by_state.get('failed', 0)} failed, "
                f"{st.quarantined} quarantined, {st.pages_per_minute:.1f} pages/min")

    def close(self) -> None:
        if self.watcher:
            self.watcher.stop()
        self.runner.stop()
        self.indexer.close()
        self.db.dispose()
        self.lock.release()
