"""What the web UI's routes share: one :class:`WebContext` per app, reached by the ``Ctx`` dependency.

:func:`pipeline.web.app.create_app` builds the context and keeps it on ``app.state.ctx``; a
route asks for it with a ``ctx: Ctx`` parameter. Nothing here is a module-level global: several
apps with different settings live side by side in one process (the tests build many).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from pipeline import __version__
from pipeline.access import Access, can, permissions_of
from pipeline.config import Settings
from pipeline.filing.desk import FilingDesk
from pipeline.index import SharedIndex
from pipeline.store import Catalog, Database
from pipeline.store.models import as_utc, utcnow
from pipeline.web.present import MAX_OFFSET, SearchForm, highlight, shown
from pipeline.web.security import SESSION_SECONDS, QueryCodec, SessionCodec, load_secret

HERE = Path(__file__).parent

# Catalog ids and page numbers in a path: larger values cannot be rows (SQLite integers are 64-bit).
DbId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]
Count = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


class Forbidden(Exception):
    """The signed-in user lacks the permission a route needs (answered 403 by the app)."""


@dataclass(frozen=True, eq=False)
class WebContext:
    """The catalog, services, codecs and templates every route of one app uses."""

    settings: Settings
    db: Database
    access: Access
    catalog: Catalog
    desk: FilingDesk
    session_codec: SessionCodec
    query_codec: QueryCodec
    thumbs: Path
    shared_index: SharedIndex
    class_names: Mapping[str, str]
    templates: Jinja2Templates

    @classmethod
    def open(cls, settings: Settings) -> WebContext:
        db = Database(settings.db_url)
        access = Access.open(db, settings.home)
        catalog = Catalog(db)
        desk = FilingDesk(settings, db)  # the filing scheme is loaded once, not per request
        secret = load_secret(settings.home)
        session_codec = SessionCodec(secret)
        query_codec = QueryCodec(secret)
        thumbs = settings.home / "web" / "thumbs"
        shared_index = SharedIndex(settings.index.backend, settings.index_dir)
        class_names = {code: c.name for code, c in desk.store.taxonomy.classes.items()}
        templates = Jinja2Templates(directory=HERE / "templates")
        templates.env.filters["highlight"] = highlight
        templates.env.finalize = shown  # every printed string: personal numbers masked
        return cls(settings=settings, db=db, access=access, catalog=catalog, desk=desk,
                   session_codec=session_codec, query_codec=query_codec, thumbs=thumbs,
                   shared_index=shared_index, class_names=class_names, templates=templates)

    def page(self, request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
        user = getattr(request.state, "user", None)
        return self.templates.TemplateResponse(request, name, {
            "user": user, "perms": permissions_of(user) if user else frozenset(),
            "csrf": request.state.session.csrf if getattr(request.state, "session", None) else "",
            "version": __version__, **context}, status_code=status_code)

    def need(self, request: Request, permission: str):
        user = request.state.user
        if not can(user, permission):
            raise Forbidden(permission)
        return user

    def signed_in(self, cookie: str | None):
        """(user, session) of a session cookie, or (None, None): revoked, expired, idle, disabled."""
        session = self.session_codec.read(cookie)
        username = self.access.sessions.check(session.id) if session else None
        user = self.access.users.get(username) if username else None
        return (user, session) if user is not None and user.active else (None, None)

    def search_form(self, request: Request, params: Mapping[str, str]) -> SearchForm:
        return SearchForm.of(params, self.query_codec, request.state.user.username)

    def visit(self, request: Request, reg: str | None):
        """The register entry of the visit this clerk opened today, or None."""
        if not reg:
            return None
        entry = self.access.register.entry(reg)
        if entry is None:
            return None
        fresh = (utcnow() - as_utc(entry.created_at)).total_seconds() < SESSION_SECONDS
        return entry if fresh and entry.clerk == request.state.user.username else None


async def web_context(request: Request) -> WebContext:
    """The dependency: the context of the app serving this request (async: no thread-pool hop)."""
    return request.app.state.ctx


Ctx = Annotated[WebContext, Depends(web_context)]
