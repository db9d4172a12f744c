"""Shared fixtures: an isolated data home + inbox per test, real services only."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def dangan_env(home: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DANGAN_")}
    env.update({
        "DANGAN_HOME": str(home / "data"),
        "DANGAN_INGEST__INBOX": str(home / "inbox"),
        "DANGAN_INGEST__QUIET_SECONDS": "0.5",
        "DANGAN_INGEST__RESCAN_SECONDS": "2",
        "DANGAN_INGEST__PARSE_TIMEOUT_SECONDS": "3",
        "DANGAN_WORKERS": "2",
        "OMP_THREAD_LIMIT": "1",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(overrides)
    return env


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "inbox").mkdir()
    return tmp_path


@pytest.fixture
def settings(home: Path, monkeypatch):
    from pipeline.config import load_settings

    env = dangan_env(home)
    for k, v in env.items():
        if k.startswith("DANGAN_"):
            monkeypatch.setenv(k, v)
    return load_settings()


DANGAN = [sys.executable, "-m", "pipeline.cli"]


def run_cli(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(DANGAN + args, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def start_service(env: dict[str, str], log: Path) -> subprocess.Popen:
    fh = open(log, "ab")
    # Own process group so a test can kill -9 the service and its workers together.
    return subprocess.Popen(DANGAN + ["watch"], env=env, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for(predicate, timeout: float, interval: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
