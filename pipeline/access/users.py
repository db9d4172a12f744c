"""Users, roles and passwords; web sessions and the sign-in throttle (see :mod:`pipeline.access`)."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from pipeline.store.db import Database
from pipeline.store.models import (
    LoginFailure,
    User,
    WebSession,
    utcnow,
)

from .audit import audit
from .common import AccessError, utc

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
        now = utc(now)
        with self.db.session() as s:
            # Row lock: two wrong passwords at once must both count.
            user = s.scalar(select(User).where(User.username == username).with_for_update())
            ok = verify_password(user.password_hash if user else _dummy_hash(), password)
            reason = None
            if user is None:
                reason = "unknown user"
            elif not user.active:
                reason = "disabled"
            elif user.locked_until is not None and now < utc(user.locked_until):
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
            assert user is not None  # no such user has a reason above
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
                    .values(revoked_at=utc(now)))


class SessionStore:
    """Server-side sessions, so that signing out, disabling an account or a new password
    ends a session at once (a signed cookie alone stays valid until it expires)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def open(self, username: str, *, now: datetime | None = None) -> str:
        """A new session for ``username``; returns its id (to go into the cookie, nowhere else)."""
        now = utc(now)
        session_id = secrets.token_urlsafe(32)
        with self.db.session() as s:
            s.execute(delete(WebSession).where(WebSession.created_at < now - _SESSION_KEEP))
            s.add(WebSession(token_hash=_token_hash(session_id), username=username, created_at=now,
                             last_seen_at=now))
        return session_id

    def check(self, session_id: str, *, now: datetime | None = None) -> str | None:
        """The session's username while it is open (not revoked, not past its age or idle limit)."""
        now = utc(now)
        token = _token_hash(session_id)
        with self.db.reading() as s:  # every request: no write lock for the usual case
            row = s.scalar(select(WebSession).where(WebSession.token_hash == token))
        if (row is None or row.revoked_at is not None or now - utc(row.created_at) > SESSION_MAX_AGE
                or now - utc(row.last_seen_at) > SESSION_IDLE):
            return None
        if now - utc(row.last_seen_at) > _TOUCH_EVERY:
            with self.db.session() as s:
                s.execute(update(WebSession).where(WebSession.token_hash == token).values(last_seen_at=now))
        return row.username

    def revoke(self, session_id: str, *, now: datetime | None = None) -> None:
        with self.db.session() as s:
            s.execute(update(WebSession).where(WebSession.token_hash == _token_hash(session_id),
                                               WebSession.revoked_at.is_(None)).values(revoked_at=utc(now)))


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
        since = utc(now) - THROTTLE_WINDOW
        with self.db.reading() as s:
            recent = (LoginFailure.client == client[:64]) & (LoginFailure.occurred_at >= since)
            per_client = s.scalar(select(func.count()).select_from(LoginFailure).where(recent)) or 0
            per_account = s.scalar(select(func.count()).select_from(LoginFailure).where(
                recent, LoginFailure.username == username[:64])) or 0
        return per_client < THROTTLE_PER_CLIENT and per_account < THROTTLE_PER_ACCOUNT

    def failed(self, client: str, username: str, *, now: datetime | None = None) -> None:
        moment = utc(now)
        with self.db.session() as s:
            s.execute(delete(LoginFailure).where(LoginFailure.occurred_at < moment - THROTTLE_WINDOW))
            s.add(LoginFailure(client=client[:64], username=username[:64], occurred_at=moment))
