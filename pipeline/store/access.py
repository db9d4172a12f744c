"""Access control: users and roles, the hash-chained audit log and the 查档登记 (access register).

The law behind it (BRIEF §9): 档案法 §28 lets people with 合法证明 use opened archives and
makes uses that touch personal information follow the personal-information law; PIPL §28
marks health, 低保 and identity data as sensitive and PIPL §51 asks for least-privilege
operator rights and de-identification (去标识化). So:

* passwords are argon2id hashes; five wrong passwords lock an account for 15 minutes, counted
  in the catalog so a restart does not reset them;
* every search, view, print, export, sign-in and admin act goes to ``audit_log``, where each
  entry carries the SHA-256 of the one before (tamper-evident; triggers also refuse UPDATE
  and DELETE);
* a requester's ID number is kept only masked (``3301**********0017``) and as an HMAC with a
  per-installation key, so a clerk can find a person's earlier visits without the number
  being stored; an ID number (or phone number) typed into a search is kept in the audit log
  the same way, so "who looked up this person" is answerable without the number in the log.
  The key lives in the data home (mode 0600): back it up with the catalog, or
  old visits can no longer be found by ID;
* sign-in failures are counted per client address in the catalog (every web process sees
  the same count): one clerk's typos lock neither the hall's shared address nor other accounts.

Lock order on PostgreSQL: a transaction that writes an audit entry takes the audit counter
last, after any register counter or user row, so concurrent writers cannot deadlock.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import IO, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Text, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from pipeline.classify.metadata import id_check_digit
from pipeline.store.catalog import next_number
from pipeline.store.db import Database
from pipeline.store.models import (
    AccessRegisterEntry,
    ArchivalCounter,
    AuditEntry,
    LoginFailure,
    User,
    WebSession,
    utcnow,
)


class AccessError(ValueError):
    """A request the access rules refuse (bad username, role, password, register field)."""


# ── roles and permissions ───────────────────────────────────────────

ROLES = ("operator", "clerk", "reviewer", "admin")
PERMISSIONS = ("ingest", "status", "search", "view", "print", "register", "review", "users", "config", "audit")
# Least privilege (PIPL §51): a clerk serves the window, nothing else; admin may do everything.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "operator": frozenset({"ingest", "status"}),
    "clerk": frozenset({"search", "view", "print", "register"}),
    "reviewer": frozenset({"review"}),
    "admin": frozenset(PERMISSIONS),
}


def roles_of(user: User) -> frozenset[str]:
    return frozenset(user.roles.split())


def permissions_of(user: User) -> frozenset[str]:
    """Everything ``user`` may do now; nothing for a disabled account."""
    if not user.active:
        return frozenset()
    return frozenset().union(*(ROLE_PERMISSIONS.get(r, frozenset()) for r in roles_of(user)))


def can(user: User, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")  # a typo must not read as "denied"
    return permission in permissions_of(user)


# ── passwords ────────────────────────────────────────────────────

_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (t=3, m=64 MiB, p=4)
MIN_PASSWORD = 10
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
_USERNAME = re.compile(r"[a-z][a-z0-9._-]{1,63}")


@functools.cache
def _dummy_hash() -> str:
    # Verified against when the user does not exist, so a wrong username costs as long as a wrong password.
    return _HASHER.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _utc(moment: datetime | None) -> datetime:
    """UTC with microseconds; SQLite gives naive datetimes back, and they are UTC."""
    if moment is None:
        return utcnow()
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


class UserStore:
    """Accounts. Every change and every sign-in, failed or not, is written to the audit log."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, username: str, password: str, roles: Iterable[str], *, by: str,
               display_name: str | None = None) -> User:
        if not _USERNAME.fullmatch(username):
            raise AccessError(f"username {username!r}: 2–64 of a-z 0-9 . _ -, starting with a letter")
        role_list = _check_roles(roles)
        _check_password(password)
        if display_name is not None and len(display_name) > 64:
            raise AccessError("display name too long: at most 64 characters")
        with self.db.session() as s:
            if s.scalar(select(User.id).where(User.username == username)) is not None:
                raise AccessError(f"user {username!r} exists")
            user = User(username=username, display_name=display_name, password_hash=hash_password(password),
                        roles=" ".join(role_list), active=True, failed_logins=0, created_at=utcnow())
            s.add(user)
            s.flush()
            audit(s, by, "admin", detail={"op": "user-add", "username": username, "roles": role_list})
            return user

    def create_first_admin(self, *, by: str, username: str = "admin") -> str | None:
        """On a fresh catalog (no account at all) create ``username`` as admin with a random
        password, and return that password; None when accounts exist already. Without this,
        the web UI that ``make run`` starts could not be signed into."""
        with self.db.session() as s:
            if s.scalar(select(User.id).limit(1)) is not None:
                return None
        password = secrets.token_urlsafe(12)  # 16 characters
        self.create(username, password, ["admin"], by=by, display_name="管理员")
        return password

    def get(self, username: str) -> User | None:
        with self.db.reading() as s:
            return s.scalar(select(User).where(User.username == username))

    def list(self) -> list[User]:
        with self.db.session() as s:
            return list(s.scalars(select(User).order_by(User.username)))

    def set_password(self, username: str, password: str, *, by: str) -> None:
        _check_password(password)
        with self.db.session() as s:
            user = _existing(s, username)
            user.password_hash = hash_password(password)
            user.failed_logins, user.locked_until = 0, None  # an admin reset also lifts a lockout
            revoke_sessions(s, username)  # whoever knew the old password is signed out everywhere
            audit(s, by, "admin", detail={"op": "user-passwd", "username": username})

    def set_roles(self, username: str, roles: Iterable[str], *, by: str) -> None:
        role_list = _check_roles(roles)
        with self.db.session() as s:
            _existing(s, username).roles = " ".join(role_list)
            audit(s, by, "admin", detail={"op": "user-roles", "username": username, "roles": role_list})

    def deactivate(self, username: str, *, by: str) -> None:
        """Disable (never delete: audit and register entries name the user)."""
        with self.db.session() as s:
            _existing(s, username).active = False
            revoke_sessions(s, username)
            audit(s, by, "admin", detail={"op": "user-disable", "username": username})

    def activate(self, username: str, *, by: str) -> None:
        """Enable a disabled account again (its old sessions stay revoked: it signs in anew)."""
        with self.db.session() as s:
            _existing(s, username).active = True
            audit(s, by, "admin", detail={"op": "user-enable", "username": username})

    def authenticate(self, username: str, password: str, *, now: datetime | None = None) -> User | None:
        """The user, or None alike for an unknown name, a wrong password, a locked or disabled
        account (nothing to tell an attacker); the audit log records which it was."""
        now = _utc(now)
        with self.db.session() as s:
            # Row lock: two wrong passwords at once must both count.
            user = s.scalar(select(User).where(User.username == username).with_for_update())
            ok = verify_password(user.password_hash if user else _dummy_hash(), password)
            reason = None
            if user is None:
                reason = "unknown user"
            elif not user.active:
                reason = "disabled"
            elif user.locked_until is not None and now < _utc(user.locked_until):
                reason = "locked"
            elif not ok:
                reason = "wrong password"
                user.failed_logins += 1
                if user.failed_logins >= MAX_FAILURES:
                    user.failed_logins, user.locked_until = 0, now + LOCKOUT
                    reason = f"wrong password; locked for {LOCKOUT.seconds // 60} minutes"
            if reason is not None:
                audit(s, username[:64], "login-failed", detail={"reason": reason}, now=now)
                return None
            user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
            if _HASHER.check_needs_rehash(user.password_hash):  # parameters raised since it was set
                user.password_hash = hash_password(password)
            audit(s, username, "login", now=now)
            return user


def _check_roles(roles: Iterable[str]) -> list[str]:
    wanted = set(roles)
    if not wanted or not wanted <= set(ROLES):
        raise AccessError(f"roles must be one or more of {', '.join(ROLES)}")
    return sorted(wanted, key=ROLES.index)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccessError(f"password too short: at least {MIN_PASSWORD} characters")


def _existing(s: Session, username: str) -> User:
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise AccessError(f"no user {username!r}")
    return user


# ── web sessions ─────────────────────────────────────────────────

# A working day at the window, and 30 minutes without a request: the terminal in a public
# archive hall may be left signed in when the clerk walks away.
SESSION_MAX_AGE = timedelta(hours=8)
SESSION_IDLE = timedelta(minutes=30)
# last_seen_at is written at most this often: not one write per image request.
_TOUCH_EVERY = timedelta(seconds=60)
# Ended sessions are kept this long (who was signed in when), then purged at sign-in.
_SESSION_KEEP = timedelta(days=90)


def _token_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def revoke_sessions(session: Session, username: str, *, now: datetime | None = None) -> None:
    """End every open session of ``username`` inside the caller's transaction."""
    session.execute(update(WebSession).where(WebSession.username == username, WebSession.revoked_at.is_(None))
                    .values(revoked_at=_utc(now)))


class SessionStore:
    """Server-side sessions, so that signing out, disabling an account or a new password
    ends a session at once (a signed cookie alone stays valid until it expires)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def open(self, username: str, *, now: datetime | None = None) -> str:
        """A new session for ``username``; returns its id (to go into the cookie, nowhere else)."""
        now = _utc(now)
        session_id = secrets.token_urlsafe(32)
        with self.db.session() as s:
            s.execute(delete(WebSession).where(WebSession.created_at < now - _SESSION_KEEP))
            s.add(WebSession(token_hash=_token_hash(session_id), username=username, created_at=now,
                             last_seen_at=now))
        return session_id

    def check(self, session_id: str, *, now: datetime | None = None) -> str | None:
        """The session's username while it is open (not revoked, not past its age or idle limit)."""
        now = _utc(now)
        token = _token_hash(session_id)
        with self.db.reading() as s:  # every request: no write lock for the usual case
            row = s.scalar(select(WebSession).where(WebSession.token_hash == token))
        if (row is None or row.revoked_at is not None or now - _utc(row.created_at) > SESSION_MAX_AGE
                or now - _utc(row.last_seen_at) > SESSION_IDLE):
            return None
        if now - _utc(row.last_seen_at) > _TOUCH_EVERY:
            with self.db.session() as s:
                s.execute(update(WebSession).where(WebSession.token_hash == token).values(last_seen_at=now))
        return row.username

    def revoke(self, session_id: str, *, now: datetime | None = None) -> None:
        with self.db.session() as s:
            s.execute(update(WebSession).where(WebSession.token_hash == _token_hash(session_id),
                                               WebSession.revoked_at.is_(None)).values(revoked_at=_utc(now)))


# ── sign-in throttle ─────────────────────────────────────────────

# Failed sign-ins counted per client address over THROTTLE_WINDOW. A password guesser is
# refused after THROTTLE_PER_ACCOUNT failures for one account (on top of the account lockout)
# or THROTTLE_PER_CLIENT failures for any accounts (rotating usernames); a clerk who mistypes
# their own password does not lock out the colleagues who share the hall's address.
THROTTLE_WINDOW = timedelta(minutes=15)
THROTTLE_PER_ACCOUNT = 10
THROTTLE_PER_CLIENT = 50


class LoginThrottle:
    """Failed sign-ins per client address, in the catalog: the same count for every web process."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def allowed(self, client: str, username: str, *, now: datetime | None = None) -> bool:
        since = _utc(now) - THROTTLE_WINDOW
        with self.db.reading() as s:
            recent = (LoginFailure.client == client[:64]) & (LoginFailure.occurred_at >= since)
            per_client = s.scalar(select(func.count()).select_from(LoginFailure).where(recent)) or 0
            per_account = s.scalar(select(func.count()).select_from(LoginFailure).where(
                recent, LoginFailure.username == username[:64])) or 0
        return per_client < THROTTLE_PER_CLIENT and per_account < THROTTLE_PER_ACCOUNT

    def failed(self, client: str, username: str, *, now: datetime | None = None) -> None:
        moment = _utc(now)
        with self.db.session() as s:
            s.execute(delete(LoginFailure).where(LoginFailure.occurred_at < moment - THROTTLE_WINDOW))
            s.add(LoginFailure(client=client[:64], username=username[:64], occurred_at=moment))


# ── audit log ────────────────────────────────────────────────────

GENESIS = "0" * 64  # prev_hash of entry 1
_AUDIT_SCOPE = "§audit-log"  # its counter in archival_counters: issues ids gap-free and serialises appends
_ACTION = re.compile(r"[a-z][a-z-]{1,31}")


def _iso(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(entry_id: int, occurred_at: datetime, user: str, action: str, query: str | None,
               items: list, detail: dict | None, prev_hash: str) -> str:
    """SHA-256 (hex) of the UTF-8 canonical JSON (sorted keys, no spaces, non-ASCII kept) of
    {id, occurred_at (UTC ISO 8601 with microseconds and Z), user, action, query, items, detail,
    prev_hash}: documented so an outside auditor can recompute the chain."""
    body = {"id": entry_id, "occurred_at": _iso(occurred_at), "user": user, "action": action, "query": query,
            "items": items, "detail": detail, "prev_hash": prev_hash}
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# ID numbers (15–18 characters, also typed in groups) and phone numbers in a search query.
# Spaces do not join groups here: "2016 2017 2018" is three years, not a number.
_PRIVATE_NUMBER = re.compile(r"(?<![0-9])[0-9](?:[-./_]?[0-9]){9,16}(?:[-./_]?[0-9Xx])(?![0-9])")


def _number(m: re.Match[str]) -> str:
    """A number found by _PRIVATE_NUMBER without its group separators (normalise_id_number)."""
    return normalise_id_number(re.sub(r"[./_]", "", m.group()))


def private_numbers(query: str) -> list[str]:
    """The ID and phone numbers in a query, as normalise_id_number gives them."""
    return [_number(m) for m in _PRIVATE_NUMBER.finditer(unicodedata.normalize("NFKC", query))]


def mask_query(query: str) -> str:
    """A query as the audit log keeps it: ID numbers ``3601**********8999``, phones ``138****5678``."""
    def hide(m: re.Match[str]) -> str:
        number = _number(m)
        return mask(number, 4, 4) if len(number) > 11 else mask(number, 3, 4)

    return _PRIVATE_NUMBER.sub(hide, unicodedata.normalize("NFKC", query))


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
    moment = _utc(now)
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
        stmt = _date_range(stmt, AuditEntry.occurred_at, date_from, date_to)
        with self.db.session() as s:
            return list(s.scalars(stmt))

    def verify(self) -> list[str]:
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


def _date_range(stmt, column, date_from: date | None, date_to: date | None):
    # Local calendar days (the archive's), turned into UTC instants: stored times are UTC.
    if date_from is not None:
        stmt = stmt.where(column >= _local_midnight(date_from))
    if date_to is not None:
        stmt = stmt.where(column < _local_midnight(date_to + timedelta(days=1)))
    return stmt


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time()).astimezone().astimezone(timezone.utc)


# ── 查档登记 (access register) ───────────────────────────────────────

ID_TYPES = ("居民身份证", "户口簿", "护照", "其他")
RELATIONS = ("本人", "直系亲属", "代理", "单位")  # 与档案当事人关系
PROOFS = ("身份证", "户口簿", "关系证明", "信用承诺书", "委托书", "介绍信")  # 信用承诺书: Yiwu practice
USES = ("阅览", "复制", "摘录", "出具证明")  # 实施条例 §33
XLSX_HEADERS = ("登记号", "查档时间", "接待人", "查档人", "证件类型", "证件号码", "联系电话", "与当事人关系",
                "证明材料", "查档目的", "检索词", "查阅档号", "利用方式", "复制页数", "利用效果", "审批人", "备注")
KEY_FILE = Path("access") / "register.key"  # under the data home


def normalise_id_number(value: str) -> str:
    """Spaces and hyphens dropped, check letter upper-cased: ``x`` and ``X`` are the same ID."""
    return re.sub(r"[\s-]", "", value).upper()


def mask(value: str, keep_start: int = 4, keep_end: int = 4) -> str:
    """``330102198001010017`` → ``3301**********0017``; too short to mask → all stars."""
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[-keep_end:]


def _check_id_number(id_type: str, number: str) -> None:
    # 户口簿 carries the same 公民身份号码, so both are checked against GB 11643.
    if id_type in ("居民身份证", "户口簿"):
        if re.fullmatch(r"\d{15}", number):
            return  # legacy 15-digit number, no check digit
        if not re.fullmatch(r"\d{17}[\dX]", number) or id_check_digit(number[:17]) != number[17]:
            raise AccessError("居民身份证号码 invalid: 18 characters with a valid check digit (GB 11643)")
    elif len(number) < 5:
        raise AccessError("ID number too short")


def load_key(path: Path) -> bytes:
    """The installation's HMAC key, made on first use (mode 0600, readable by nobody else)."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent)  # mkstemp files are 0600
        try:
            os.write(fd, secrets.token_hex(32).encode())
            os.fsync(fd)
            os.close(fd)
            try:
                os.link(tmp, path)  # atomic and refusing to replace: two first users agree on one key
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    if path.stat().st_mode & 0o077:
        raise AccessError(f"{path} is readable by others: chmod 600 it")
    return bytes.fromhex(path.read_text().strip())


class AccessRegister:
    """查档登记: who looked at what, why, with which proof (档案法 §28, BRIEF §9)."""

    def __init__(self, db: Database, key_path: Path) -> None:
        self.db = db
        self.key_path = key_path
        self._key: bytes | None = None

    def id_hmac(self, id_number: str) -> str:
        if self._key is None:
            self._key = load_key(self.key_path)
        return hmac.new(self._key, normalise_id_number(id_number).encode(), hashlib.sha256).hexdigest()

    def record(self, *, clerk: str, requester_name: str, id_type: str, id_number: str, relation: str,
               proof: Sequence[str], purpose: str, use: str, items: Iterable = (), query: str | None = None,
               phone: str | None = None, result: str | None = None, pages_copied: int = 0,
               approved_by: str | None = None, remarks: str | None = None,
               now: datetime | None = None) -> AccessRegisterEntry:
        """Register a visit; its 登记号 (``2026-000123``) is gap-free per local calendar year."""
        number = normalise_id_number(id_number)
        _one_of("id_type", id_type, ID_TYPES)
        _one_of("relation", relation, RELATIONS)
        _one_of("use", use, USES)
        if not proof or not set(proof) <= set(PROOFS):
            raise AccessError(f"proof must be one or more of {', '.join(PROOFS)}")
        if not requester_name.strip() or not purpose.strip():
            raise AccessError("requester name and purpose are required")
        if pages_copied < 0:
            raise AccessError("pages_copied must not be negative")
        _check_lengths(requester_name=requester_name, id_number=id_number, purpose=purpose, phone=phone,
                       query=query, result=result, approved_by=approved_by, remarks=remarks)
        _check_id_number(id_type, number)
        digest = self.id_hmac(number)  # before the transaction: may create the key file
        moment = _utc(now)
        year = moment.astimezone().year
        with self.db.session() as s:
            reg_number = f"{year}-{next_number(s, f'§register-{year}'):06d}"
            entry = AccessRegisterEntry(
                register_number=reg_number, created_at=moment, clerk=clerk, requester_name=requester_name.strip(),
                id_type=id_type, id_number_masked=mask(number), id_number_hmac=digest,
                phone_masked=mask(re.sub(r"[\s-]", "", phone), 3, 4) if phone else None, relation=relation,
                proof=[p for p in PROOFS if p in proof], purpose=purpose.strip(), query=query,
                items=json.loads(json.dumps(list(items), ensure_ascii=False)), result=result, use=use,
                pages_copied=pages_copied, approved_by=approved_by, remarks=remarks)
            s.add(entry)
            s.flush()
            audit(s, clerk, "register", query=query, items=entry.items, now=moment, id_hmac=self.id_hmac,
                  detail={"register_number": reg_number, "relation": relation, "use": use})
            return entry

    def entry(self, register_number: str) -> AccessRegisterEntry | None:
        with self.db.reading() as s:
            entry = s.scalar(select(AccessRegisterEntry).where(AccessRegisterEntry.register_number == register_number))
            if entry is not None:
                s.expunge(entry)
            return entry

    def complete(self, register_number: str, *, by: str, items: Iterable = (), result: str | None = None,
                 pages_copied: int | None = None, remarks: str | None = None) -> AccessRegisterEntry:
        """After the lookup: add the 档号 looked at, the 利用效果 and the pages copied."""
        _check_lengths(result=result, remarks=remarks)
        with self.db.session() as s:
            entry = s.scalar(select(AccessRegisterEntry).where(AccessRegisterEntry.register_number == register_number))
            if entry is None:
                raise AccessError(f"no register entry {register_number}")
            added = [i for i in json.loads(json.dumps(list(items), ensure_ascii=False)) if i not in entry.items]
            entry.items = entry.items + added
            if result is not None:
                entry.result = result
            if pages_copied is not None:
                entry.pages_copied = pages_copied
            if remarks is not None:
                entry.remarks = remarks
            audit(s, by, "register", items=added, detail={"register_number": register_number, "op": "complete"})
            return entry

    def find(self, *, by: str, query: str | None = None, id_number: str | None = None,
             date_from: date | None = None, date_to: date | None = None,
             limit: int = 1000) -> list[AccessRegisterEntry]:
        """Entries, newest first; ``id_number`` finds every visit with that ID (by its HMAC).
        The lookup itself is audited (``search``), with the ID number masked."""
        stmt = select(AccessRegisterEntry).order_by(AccessRegisterEntry.id.desc()).limit(limit)
        if query:
            stmt = stmt.where(or_(*(col.contains(query, autoescape=True) for col in (
                AccessRegisterEntry.register_number, AccessRegisterEntry.requester_name,
                AccessRegisterEntry.purpose, AccessRegisterEntry.query, AccessRegisterEntry.result,
                AccessRegisterEntry.remarks))))
        if id_number:
            stmt = stmt.where(AccessRegisterEntry.id_number_hmac == self.id_hmac(id_number))
        stmt = _date_range(stmt, AccessRegisterEntry.created_at, date_from, date_to)
        with self.db.session() as s:
            found = list(s.scalars(stmt))
            detail: dict[str, Any] = {"what": "access-register", "found": len(found)}
            if id_number:
                detail["id_number"] = mask(normalise_id_number(id_number))
                detail["number_hmacs"] = [self.id_hmac(id_number)]
            if date_from or date_to:
                detail["dates"] = [d.isoformat() if d else None for d in (date_from, date_to)]
            audit(s, by, "search", query=query, detail=detail, id_hmac=self.id_hmac)
            return found

    def export_xlsx(self, out: Path | IO[bytes], entries: Sequence[AccessRegisterEntry], *, by: str) -> None:
        """The register as a spreadsheet with Chinese headers (audited as ``export``).
        Every cell is written as text: a requester name like ``=HYPERLINK(…)`` stays a name."""
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "查档登记"
        ws.append(XLSX_HEADERS)
        for e in entries:
            row = (e.register_number, _utc(e.created_at).astimezone().strftime("%Y-%m-%d %H:%M"), e.clerk,
                   e.requester_name, e.id_type, e.id_number_masked, e.phone_masked or "", e.relation,
                   "、".join(e.proof), e.purpose, e.query or "", "、".join(map(str, e.items)), e.use,
                   e.pages_copied, e.result or "", e.approved_by or "", e.remarks or "")
            ws.append(row)
            for cell in ws[ws.max_row]:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # never a formula
        for col, width in zip("ABCDEFGHIJKLMNOPQ", (13, 17, 10, 10, 10, 21, 14, 10, 22, 24, 16, 30, 8, 8, 24, 10, 20)):
            ws.column_dimensions[col].width = width
        ws.freeze_panes = "A2"
        wb.save(out)
        AuditLog(self.db).append(by, "export", items=[e.register_number for e in entries],
                                 detail={"what": "access-register", "entries": len(entries),
                                         "to": str(out) if isinstance(out, Path) else None})


# Longest value a register field takes (characters): a name, a number, a sentence or two.
FIELD_LIMITS = {"requester_name": 64, "id_number": 32, "phone": 32, "approved_by": 64, "purpose": 500,
                "query": 500, "result": 1000, "remarks": 1000}


def _check_lengths(**values: str | None) -> None:
    for field, value in values.items():
        if value is not None and len(value) > FIELD_LIMITS[field]:
            raise AccessError(f"{field} is too long: at most {FIELD_LIMITS[field]} characters")


def _one_of(field: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise AccessError(f"{field} must be one of {', '.join(allowed)}, not {value!r}")


# ── one bundle per process ────────────────────────────────────────


@dataclass(frozen=True)
class Access:
    """Users, audit log, register and web sessions over one catalog: what the CLI and web UI open."""

    users: UserStore
    audit: AuditLog
    register: AccessRegister
    sessions: SessionStore
    throttle: LoginThrottle

    @classmethod
    def open(cls, db: Database, home: Path) -> Access:
        register = AccessRegister(db, home / KEY_FILE)
        return cls(UserStore(db), AuditLog(db, register.id_hmac), register, SessionStore(db), LoginThrottle(db))
