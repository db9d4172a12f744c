"""The clerks' web UI (FastAPI, server-rendered Jinja2 templates, Simplified Chinese).

Every route needs a signed-in user except the login page and static files; each route
also names the permission it needs (:data:`pipeline.store.access.ROLE_PERMISSIONS`).
Searches and sign-ins go to the hash-chained audit log. OCR text is untrusted input:
templates autoescape everything, and highlight marks are added only after escaping.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from pipeline import __version__
from pipeline.config import Settings
from pipeline.store import Catalog, Database
from pipeline.store.access import Access, can, permissions_of
from pipeline.web.security import COOKIE, SESSION_SECONDS, LoginThrottle, SessionCodec, csrf_ok, load_secret

HERE = Path(__file__).parent
PUBLIC = ("/login", "/static/")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",  # pages carry personal data: never kept by a shared browser
}


def highlight(snippet: str) -> Markup:
    """Escape OCR text, then turn the index's 【】 marks into <mark>."""
    return Markup(str(escape(snippet)).replace("【", "<mark>").replace("】", "</mark>"))


class Forbidden(Exception):
    pass


def create_app(settings: Settings) -> FastAPI:
    db = Database(settings.db_url)
    access = Access.open(db, settings.home)
    catalog = Catalog(db)
    codec = SessionCodec(load_secret(settings.home))
    throttle = LoginThrottle()
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["highlight"] = highlight
    app = FastAPI(title="dangan", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def page(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
        user = getattr(request.state, "user", None)
        return templates.TemplateResponse(request, name, {
            "user": user, "perms": permissions_of(user) if user else frozenset(),
            "csrf": request.state.session.csrf if getattr(request.state, "session", None) else "",
            "version": __version__, **context}, status_code=status_code)

    def need(request: Request, permission: str):
        user = request.state.user
        if not can(user, permission):
            raise Forbidden(permission)
        return user

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> HTMLResponse:
        return page(request, "error.html", 403, message="您没有权限访问此页面。")

    @app.middleware("http")
    async def authenticate(request: Request, call_next) -> Response:
        path = request.url.path
        request.state.user = request.state.session = None
        if not path.startswith(PUBLIC):
            session = codec.read(request.cookies.get(COOKIE))
            user = access.users.get(session.username) if session else None
            if user is None or not user.active:
                if request.method == "GET":
                    response: Response = RedirectResponse("/login", status_code=303)
                else:
                    response = Response("请先登录", status_code=401)
                return _secure(response)
            request.state.user, request.state.session = user, session
            if request.method not in ("GET", "HEAD"):
                form = await request.form()
                if not csrf_ok(session, form.get("csrf")):
                    return _secure(Response("请求无效（CSRF）", status_code=403))
        return _secure(await call_next(request))

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> HTMLResponse:
        return page(request, "login.html")

    @app.post("/login")
    def login(request: Request, username: str = Form(...), password: str = Form(...)) -> Response:
        client = request.client.host if request.client else "?"
        if not throttle.allowed(client):
            return page(request, "login.html", 429, error="登录失败次数过多，请稍后再试。")
        user = access.users.authenticate(username, password)
        if user is None:
            throttle.failed(client)
            return page(request, "login.html", 401, error="用户名或密码错误，或账户已锁定。")
        cookie, _session = codec.issue(user.username)
        access.audit.append(user.username, "login", detail={"client": client})
        response = RedirectResponse("/search", status_code=303)
        response.set_cookie(COOKIE, cookie, max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response

    @app.post("/logout")
    def logout(request: Request) -> Response:
        access.audit.append(request.state.user.username, "logout")
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/")
    def home(request: Request) -> Response:
        return RedirectResponse("/search" if can(request.state.user, "search") else "/status", status_code=303)

    @app.get("/search", response_class=HTMLResponse)
    def search(request: Request, q: str = "", year: int | None = None, village: str = "") -> HTMLResponse:
        from pipeline.index import needs_rebuild, open_index

        user = need(request, "search")
        result, problem = None, None
        if q.strip():
            if needs_rebuild(settings.index.backend, settings.index_dir):
                problem = "检索索引尚未建立或需要重建，请联系管理员。"
            else:
                filters = {k: v for k, v in (("year", year), ("village", village or None)) if v is not None}
                with open_index(settings.index.backend, settings.index_dir) as index:
                    result = index.search(q, limit=20, filters=filters or None)
                access.audit.append(user.username, "search", query=q, items=sorted({h.item_id for h in result.hits}),
                                    detail={"filters": filters, "total": result.total})
        return page(request, "search.html", q=q, year=year, village=village, result=result, problem=problem)

    @app.get("/status", response_class=HTMLResponse)
    def status(request: Request) -> HTMLResponse:
        need(request, "status")
        return page(request, "status.html", st=catalog.status(), flagged=catalog.flagged_pages())

    @app.get("/admin/users", response_class=HTMLResponse)
    def users(request: Request) -> HTMLResponse:
        need(request, "users")
        return page(request, "users.html", users=access.users.list())

    return app


def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
