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

from dataclasses import dataclass
from pathlib import Path

from pipeline.store.db import Database

from .audit import GENESIS, AuditLog, audit, entry_hash
from .common import AccessError
from .register import ID_TYPES, KEY_FILE, PROOFS, RELATIONS, USES, XLSX_HEADERS, AccessRegister, load_key
from .users import (
    LOCKOUT,
    MAX_FAILURES,
    MIN_PASSWORD,
    PERMISSIONS,
    ROLE_PERMISSIONS,
    ROLES,
    SESSION_IDLE,
    SESSION_MAX_AGE,
    LoginThrottle,
    SessionStore,
    UserStore,
    can,
    hash_password,
    permissions_of,
    revoke_sessions,
    roles_of,
    verify_password,
)

__all__ = [
    "GENESIS", "ID_TYPES", "KEY_FILE", "LOCKOUT", "MAX_FAILURES", "MIN_PASSWORD", "PERMISSIONS", "PROOFS",
    "RELATIONS", "ROLES", "ROLE_PERMISSIONS", "SESSION_IDLE", "SESSION_MAX_AGE", "USES", "XLSX_HEADERS",
    "Access", "AccessError", "AccessRegister", "AuditLog", "LoginThrottle", "SessionStore", "UserStore",
    "audit", "can", "entry_hash", "hash_password", "load_key", "permissions_of", "revoke_sessions", "roles_of",
    "verify_password",
]


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
