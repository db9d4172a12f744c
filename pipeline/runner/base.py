"""The task-runner interface and its embedded default (local worker processes)."""

from __future__ import annotations

import logging
import multiprocessing
import os
from abc import ABC, abstractmethod

from pipeline.config import Settings

log = logging.getLogger(__name__)


class TaskRunner(ABC):
    """Keeps N workers pulling items from the catalog queue."""

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def ensure_alive(self) -> int:
        """Restart workers that died; return how many were restarted."""

    @abstractmethod
    def stop(self) -> None: ...


class LocalProcessRunner(TaskRunner):
    """One worker process per core, each single-threaded (measured fastest on 2 cores)."""

    def __init__(self, settings: Settings, count: int | None = None) -> None:
        self.settings = settings
        self.count = count or settings.worker_count
        # spawn: workers must not inherit the service's threads, locks or DB connections.
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: dict[str, multiprocessing.context.SpawnProcess] = {}

    def _spawn(self, name: str) -> None:
        from pipeline.runner.worker import worker_main

        proc = self._ctx.Process(
            target=worker_main, args=(self.settings.model_dump_json(), name, os.getpid()), name=name, daemon=True
        )
        proc.start()
        self._procs[name] = proc

    def start(self) -> None:
        for n in range(self.count):
            self._spawn(f"worker-{n + 1}")

    def ensure_alive(self) -> int:
        restarted = 0
        for name, proc in list(self._procs.items()):
            if not proc.is_alive():
                log.warning("%s exited (code %s); restarting", name, proc.exitcode)
                self._spawn(name)
                restarted += 1
        return restarted

    def stop(self) -> None:
        for proc in self._procs.values():
            proc.terminate()
        for proc in self._procs.values():
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
        self._procs.clear()
