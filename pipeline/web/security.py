"""Sessions, CSRF and login throttling for the clerks' web UI.

* Session: a signed, time-limited cookie (itsdangerous) holding a random session id and the
  session's CSRF token. The session itself lives in the catalog
  (:class:`pipeline.store.access.SessionStore`, only the id's SHA-256 stored) and is checked on
  every request: signing out, disabling the account or a new password revoke it at once, and
  it ends after 8 hours, or after 30 minutes without a request (a terminal left signed in at a
  public archive window). The user is re-read on every request too, so role changes apply at once.
* CSRF: every state-changing request carries the session's token in a form field; a missing
  or different token is refused (403) before the handler runs.
* Login throttling per client address, on top of the per-account lockout in the catalog
  (:class:`pipeline.store.access.UserStore`): a password guesser rotating usernames is
  slowed down too.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from pipeline.store.access import SESSION_MAX_AGE

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
    return bool(token) and hmac.compare_digest(session.csrf, token)


class LoginThrottle:
    """At most ``attempts`` failed logins per client address in ``window`` seconds."""

    def __init__(self, attempts: int = 10, window: float = 300.0) -> None:
        self.attempts, self.window = attempts, window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        q = self._failures.setdefault(client, deque())
        while q and q[0] < now - self.window:
            q.popleft()
        return q

    def allowed(self, client: str) -> bool:
        with self._lock:
            return len(self._recent(client, time.monotonic())) < self.attempts

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client, time.monotonic()).append(time.monotonic())
