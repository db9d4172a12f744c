"""Sessions, CSRF and login throttling for the clerks' web UI.

* Session: a signed, time-limited cookie (itsdangerous) holding a random session id and the
  session's CSRF token. The session itself lives in the catalog
  (:class:`pipeline.access.SessionStore`, only the id's SHA-256 stored) and is checked on
  every request: signing out, disabling the account or a new password revoke it at once, and
  it ends after 8 hours, or after 30 minutes without a request (a terminal left signed in at a
  public archive window). The user is re-read on every request too, so role changes apply at once.
* CSRF: every state-changing request carries the session's token in a form field; a missing
  or different token is refused (403) before the handler runs.
* Login throttling per client address lives in the catalog
  (:class:`pipeline.access.LoginThrottle`), shared by every web process.
* Search queries never appear in a URL (browser history, proxy and access logs): links carry
  the query sealed (:class:`QueryCodec`, Fernet: encrypted and authenticated with a key
  derived from the installation's secret), bound to the clerk, valid for a working day.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from pipeline.access import SESSION_MAX_AGE

COOKIE = "dangan_session"
SESSION_SECONDS = int(SESSION_MAX_AGE.total_seconds())  # one working day at the window
SECRET_FILE = Path("web") / "session.key"


def load_secret(home: Path) -> bytes:
    """The per-installation signing key (created on first use, readable by the owner only)."""
    path = home / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(32))
    return path.read_bytes()


@dataclass(frozen=True)
class Session:
    id: str  # looked up (by its hash) in the catalog's web_sessions
    csrf: str


class SessionCodec:
    def __init__(self, secret: bytes) -> None:
        self._s = URLSafeTimedSerializer(secret, salt="dangan-session")

    def issue(self, session_id: str) -> tuple[str, Session]:
        session = Session(session_id, secrets.token_urlsafe(24))
        return self._s.dumps({"i": session.id, "c": session.csrf}), session

    def read(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            data = self._s.loads(cookie, max_age=SESSION_SECONDS)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or "i" not in data:  # a cookie from before server-side sessions
            return None
        return Session(str(data["i"]), str(data["c"]))


def csrf_ok(session: Session, token: str | None) -> bool:
    if not token:
        return False
    return hmac.compare_digest(session.csrf, token)


class QueryCodec:
    """A search query (name, ID number) as an opaque token for links: ``qt=gAAAA…``."""

    def __init__(self, secret: bytes) -> None:
        key = hashlib.sha256(b"dangan-query-token|" + secret).digest()  # not the cookie's key
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, query: str, username: str) -> str:
        payload = json.dumps({"q": query, "u": username}, ensure_ascii=False).encode("utf-8")
        return self._fernet.encrypt(payload).decode("ascii")

    def unseal(self, token: str, username: str) -> str | None:
        """The query, or None: forged, expired, or sealed for another clerk."""
        try:
            data = json.loads(self._fernet.decrypt(token.encode("ascii"), ttl=SESSION_SECONDS))
        except (InvalidToken, ValueError, UnicodeError):
            return None
        if not isinstance(data, dict) or data.get("u") != username or not isinstance(data.get("q"), str):
            return None
        return data["q"]
