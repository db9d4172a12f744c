"""The hash-chained audit log: every search, view, print, export, sign-in and admin act (see :mod:`pipeline.access`)."""

from __future__ import annotations

import builtins
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from pipeline.store.catalog import next_number
from pipeline.store.db import Database
from pipeline.store.models import (
    ArchivalCounter,
    AuditEntry,
)
from pipeline.text import mask_query, private_numbers

from .common import utc

# ── audit log ────────────────────────────────────────────────────

GENESIS = "0" * 64  # prev_hash of entry 1
_AUDIT_SCOPE = "§audit-log"  # its counter in archival_counters: issues ids gap-free and serialises appends
_ACTION = re.compile(r"[a-z][a-z-]{1,31}")


def _iso(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(entry_id: int, occurred_at: datetime, user: str, action: str, query: str | None,
               items: list, detail: dict | None, prev_hash: str) -> str:
    """SHA-256 (hex) of the UTF-8 canonical JSON (sorted keys, no spaces, non-ASCII kept) of
    {id, occurred_at (UTC ISO 8601 with microseconds and Z), user, action, query, items, detail,
    prev_hash}: documented so an outside auditor can recompute the chain."""
    body = {"id": entry_id, "occurred_at": _iso(occurred_at), "user": user, "action": action, "query": query,
            "items": items, "detail": detail, "prev_hash": prev_hash}
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def audit(session: Session, user: str, action: str, *, query: str | None = None, items: Iterable = (),
          detail: dict[str, Any] | None = None, now: datetime | None = None,
          id_hmac: Callable[[str], str] | None = None) -> AuditEntry:
    """Append an entry inside the caller's transaction (commits or vanishes with what it logs).

    The counter row lock makes this the only writer until commit, so the previous entry read
    here is the last one and ids stay gap-free. ID and phone numbers in ``query`` are stored
    masked, with their HMACs (``id_hmac``) in ``detail["number_hmacs"]`` to find them by.
    """
    if not _ACTION.fullmatch(action):
        raise ValueError(f"bad audit action {action!r}")
    if query:
        numbers = private_numbers(query)
        if numbers and id_hmac is not None:
            detail = {**(detail or {}), "number_hmacs": [id_hmac(n) for n in numbers]}
        query = mask_query(query)
    # Round-trip through JSON so what is hashed is exactly what the database gives back.
    items_json = json.loads(json.dumps(list(items), ensure_ascii=False))
    detail_json = json.loads(json.dumps(detail, ensure_ascii=False)) if detail is not None else None
    entry_id = next_number(session, _AUDIT_SCOPE)
    prev = session.scalar(select(AuditEntry.entry_hash).where(AuditEntry.id == entry_id - 1)) or GENESIS
    moment = utc(now)
    entry = AuditEntry(id=entry_id, occurred_at=moment, user=user, action=action, query=query, items=items_json,
                       detail=detail_json, prev_hash=prev,
                       entry_hash=entry_hash(entry_id, moment, user, action, query, items_json, detail_json, prev))
    session.add(entry)
    session.flush()
    return entry


class AuditLog:
    # One appender at a time per process: the threads of a busy web server then queue here
    # and wake at once, instead of in SQLite's busy handler, which sleeps up to 100 ms
    # between tries for the write lock (measured: the tail of 20 clerks' searches).
    _appending = threading.Lock()

    def __init__(self, db: Database, id_hmac: Callable[[str], str] | None = None) -> None:
        self.db = db
        self.id_hmac = id_hmac  # the register's: the same number gives the same HMAC in both

    def append(self, user: str, action: str, *, query: str | None = None, items: Iterable = (),
               detail: dict[str, Any] | None = None) -> AuditEntry:
        """One entry in its own transaction. Actions: search, view, print, export, login,
        login-failed, register, review, admin (any lower-case word with hyphens)."""
        with self._appending, self.db.session() as s:
            return audit(s, user, action, query=query, items=items, detail=detail, id_hmac=self.id_hmac)

    def list(self, *, limit: int = 100, user: str | None = None, action: str | None = None,
             date_from: date | None = None, date_to: date | None = None,
             number: str | None = None) -> list[AuditEntry]:
        """Newest first; dates are local calendar days, both ends included. ``number``: the
        entries whose query held this ID or phone number (found by its HMAC)."""
        stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if user is not None:
            stmt = stmt.where(AuditEntry.user == user)
        if action is not None:
            stmt = stmt.where(AuditEntry.action == action)
        if number is not None and self.id_hmac is not None:
            # A 64-hex HMAC cannot occur in the JSON by chance: a text match is exact enough.
            stmt = stmt.where(cast(AuditEntry.detail, Text).contains(self.id_hmac(number)))
        stmt = date_range(stmt, AuditEntry.occurred_at, date_from, date_to)
        with self.db.session() as s:
            return list(s.scalars(stmt))

    def verify(self) -> builtins.list[str]:  # plain `list` here is the method above
        """Problems found, empty when the chain is whole. Every entry whose content no longer
        matches its hash, the first broken link, and missing entries (id gaps, a cut tail)."""
        problems: list[str] = []
        chain_broken = False
        prev_id, prev_hash = 0, GENESIS
        with self.db.session() as s:
            for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)):
                if e.id != prev_id + 1:
                    problems.append(_missing(prev_id + 1, e.id - 1))
                if entry_hash(e.id, e.occurred_at, e.user, e.action, e.query, e.items, e.detail,
                              e.prev_hash) != e.entry_hash:
                    problems.append(f"entry {e.id}: content changed (hash mismatch)")
                if e.prev_hash != prev_hash and not chain_broken:
                    chain_broken = True
                    before = f"entry {prev_id}" if prev_id else "the start of the log"
                    problems.append(f"entry {e.id}: chain broken (prev_hash does not match {before})")
                prev_id, prev_hash = e.id, e.entry_hash
            issued = s.scalar(select(ArchivalCounter.last_value).where(ArchivalCounter.scope == _AUDIT_SCOPE)) or 0
        if issued > prev_id:
            problems.append(_missing(prev_id + 1, issued) + " at the end")
        elif issued < prev_id:
            problems.append(f"audit counter at {issued} but entries run to {prev_id} (counter changed)")
        return problems

    def head(self) -> tuple[int, str]:
        """(last id, its hash): write it down outside the system (e.g. print it monthly) so that
        even a rewrite of the whole chain would show."""
        with self.db.session() as s:
            row = s.execute(select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc())).first()
        return (row[0], row[1]) if row else (0, GENESIS)


def _missing(first: int, last: int) -> str:
    return f"entry {first}: missing (deleted)" if first == last else f"entries {first}–{last}: missing (deleted)"


def date_range(stmt, column, date_from: date | None, date_to: date | None):
    # Local calendar days (the archive's), turned into UTC instants: stored times are UTC.
    if date_from is not None:
        stmt = stmt.where(column >= _local_midnight(date_from))
    if date_to is not None:
        stmt = stmt.where(column < _local_midnight(date_to + timedelta(days=1)))
    return stmt


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time()).astimezone().astimezone(UTC)
