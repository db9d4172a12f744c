"""The clerks' web UI (FastAPI, server-rendered Jinja2 templates, Simplified Chinese).

Every route needs a signed-in user except the login page and static files; each route
also names the permission it needs (:data:`pipeline.store.access.ROLE_PERMISSIONS`).
Searches and sign-ins go to the hash-chained audit log. OCR text is untrusted input:
templates autoescape everything, and highlight marks are added only after escaping.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from pipeline import __version__
from pipeline.archive.desk import FilingDesk
from pipeline.config import Settings
from pipeline.store import Catalog, Database
from pipeline.index.snippets import mask_private_numbers
from pipeline.store.access import ID_TYPES, PROOFS, RELATIONS, USES, Access, AccessError, can, permissions_of
from pipeline.store.models import utcnow
from pipeline.web.security import COOKIE, SESSION_SECONDS, LoginThrottle, SessionCodec, csrf_ok, load_secret
from pipeline.web.viewer import load_page, page_geometry, print_pdf, watermark_text

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


REGISTER_LISTS = {"id_types": ID_TYPES, "relations": RELATIONS, "proofs": PROOFS, "uses": USES}


def mask_snippet(text: str) -> str:
    """ID and phone numbers masked: the full values only after a 查档登记."""
    return mask_private_numbers(text)


def _int(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class Forbidden(Exception):
    pass


class CsrfRefused(Exception):
    pass


def create_app(settings: Settings) -> FastAPI:
    db = Database(settings.db_url)
    access = Access.open(db, settings.home)
    catalog = Catalog(db)
    desk = FilingDesk(settings, db)  # the filing scheme is loaded once, not per request
    codec = SessionCodec(load_secret(settings.home))
    throttle = LoginThrottle()
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["highlight"] = highlight

    async def csrf_guard(request: Request) -> None:
        """Every state-changing request of a signed-in user carries the session's token.

        A dependency, not middleware: the form is parsed once and the route reads the same."""
        if request.method not in ("GET", "HEAD") and request.state.session is not None:
            form = await request.form()
            if not csrf_ok(request.state.session, form.get("csrf")):
                raise CsrfRefused()

    app = FastAPI(title="dangan", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(csrf_guard)])
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

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        return _secure(Response("请求无效（CSRF）", status_code=403))

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
    def search(request: Request, q: str = "", year_from: str = "", year_to: str = "", village: str = "",
               class_code: str = "", sort: str = "relevance") -> Response:
        from pipeline.archive.labels import parse_label_payload
        from pipeline.index import needs_rebuild, open_index
        from pipeline.index import search as run_search

        user = need(request, "search")
        if (token := parse_label_payload(q.strip())) is not None:  # a box label scanned into the search box
            return RedirectResponse(f"/v/{token}", status_code=303)
        result, problem = None, None
        # Empty form fields arrive as "": no filter, not an error.
        filters = {k: v for k, v in (("year_from", _int(year_from)), ("year_to", _int(year_to)),
                                     ("village", village.strip() or None),
                                     ("class_code", class_code.strip() or None)) if v is not None}
        if q.strip():
            if needs_rebuild(settings.index.backend, settings.index_dir):
                problem = "检索索引尚未建立或需要重建，请联系管理员。"
            else:
                with open_index(settings.index.backend, settings.index_dir) as index:
                    result = run_search(index, q, filters=filters or None,
                                        sort="date" if sort == "date" else "relevance", limit=20)
                access.audit.append(user.username, "search", query=q, items=sorted({h.item_id for h in result.hits}),
                                    detail={"filters": filters, "sort": sort, "total": result.total})
        return page(request, "search.html", q=q, year_from=year_from, year_to=year_to, village=village,
                    class_code=class_code, sort=sort, result=result, problem=problem)

    # ── 查档登记, viewer, print ──────────────────────────────────

    def visit(request: Request, reg: str | None):
        """The register entry of the visit this clerk opened today, or None."""
        if not reg:
            return None
        entry = access.register.entry(reg)
        fresh = entry is not None and (utcnow() - _aware(entry.created_at)).total_seconds() < SESSION_SECONDS
        return entry if fresh and entry.clerk == request.state.user.username else None

    def local(url: str) -> str:
        return url if url.startswith("/") and not url.startswith("//") else "/search"

    @app.get("/register/new", response_class=HTMLResponse)
    def register_form(request: Request, next: str = "/search") -> HTMLResponse:
        need(request, "register")
        return page(request, "register.html", next=local(next), lists=REGISTER_LISTS)

    @app.post("/register")
    def register(request: Request, requester_name: str = Form(...), id_type: str = Form(...),
                 id_number: str = Form(...), relation: str = Form(...), proof: list[str] = Form(...),
                 purpose: str = Form(...), use: str = Form(...), phone: str = Form(""),
                 next: str = Form("/search")) -> Response:
        user = need(request, "register")
        try:
            entry = access.register.record(clerk=user.username, requester_name=requester_name, id_type=id_type,
                                           id_number=id_number, relation=relation, proof=proof, purpose=purpose,
                                           use=use, phone=phone or None)
        except AccessError as exc:
            return page(request, "register.html", 422, next=local(next), lists=REGISTER_LISTS, error=str(exc))
        target = local(next)
        return RedirectResponse(f"{target}{'&' if '?' in target else '?'}reg={entry.register_number}",
                                status_code=303)

    def viewable(request: Request, item_id: int, page_no: int, q: str, reg: str | None):
        user = need(request, "view")
        view = load_page(db, item_id, page_no)
        if view is None:
            return user, None, None, Response("没有这一页", status_code=404)
        entry = visit(request, reg)
        if view.item.sensitive and entry is None:  # 查档登记 before a sensitive file is opened
            back = f"/view/{item_id}/{page_no}?q={quote(q)}"
            return user, view, None, RedirectResponse(f"/register/new?next={quote(back)}", status_code=303)
        return user, view, entry, None

    @app.get("/view/{item_id}/{page_no}", response_class=HTMLResponse)
    def view(request: Request, item_id: int, page_no: int, q: str = "", reg: str | None = None) -> Response:
        user, view, entry, refusal = viewable(request, item_id, page_no, q, reg)
        if refusal:
            return refusal
        code = view.item.archival_code or f"item-{item_id}"
        access.audit.append(user.username, "view", query=q or None, items=[code],
                            detail={"page": page_no, "register": entry.register_number if entry else None})
        if entry:
            access.register.complete(entry.register_number, by=user.username, items=[code])
        text = view.page.ocr_text or ""
        volume = desk.store.volume(str(view.item.volume_id)) if view.item.volume_id else None
        return page(request, "view.html", v=view, g=page_geometry(view.page, q), q=q,
                    reg=entry.register_number if entry else "",
                    text=text if entry else mask_snippet(text), volume=volume)

    @app.get("/image/{item_id}/{page_no}")
    def image(request: Request, item_id: int, page_no: int, reg: str | None = None) -> Response:
        user, view, entry, refusal = viewable(request, item_id, page_no, "", reg)
        if refusal:
            return refusal
        path = Path(view.page.working_path or "")
        if not path.is_file():
            return Response("图像不存在", status_code=404)
        access.audit.append(user.username, "view-image", items=[view.item.archival_code or f"item-{item_id}"],
                            detail={"page": page_no})
        return FileResponse(path)

    @app.post("/print")
    def print_pages(request: Request, item_id: int = Form(...), pages: list[int] = Form(...),
                    reg: str = Form("")) -> Response:
        user = need(request, "print")
        entry = visit(request, reg)
        if entry is None:  # printing anything needs the visit registered
            return RedirectResponse(f"/register/new?next={quote(f'/view/{item_id}/{pages[0]}')}", status_code=303)
        views = [load_page(db, item_id, n) for n in pages]
        if any(v is None or not Path(v.page.working_path or "").is_file() for v in views):
            return Response("没有这一页", status_code=404)
        code = views[0].item.archival_code or f"item-{item_id}"
        data = print_pdf([Path(v.page.working_path) for v in views],
                         watermark_text(user.display_name or user.username, entry.register_number, datetime.now()))
        access.audit.append(user.username, "print", items=[code],
                            detail={"pages": pages, "register": entry.register_number})
        access.register.complete(entry.register_number, by=user.username, items=[code],
                                 pages_copied=(entry.pages_copied or 0) + len(pages))
        return Response(data, media_type="application/pdf",
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(code)}.pdf"})

    @app.get("/status", response_class=HTMLResponse)
    def status(request: Request) -> HTMLResponse:
        need(request, "status")
        return page(request, "status.html", st=catalog.status(), flagged=catalog.flagged_pages(),
                    failed=catalog.failed_items(), quarantine=catalog.recent_quarantine())

    @app.post("/retry/{item_id}")
    def retry(request: Request, item_id: int) -> Response:
        user = need(request, "ingest")
        if catalog.retry(item_id, f"web {user.username}"):
            access.audit.append(user.username, "retry", items=[item_id])
        return RedirectResponse("/status", status_code=303)

    # ── review queue (审核) ───────────────────────────────────────

    @app.get("/review", response_class=HTMLResponse)
    def review(request: Request) -> HTMLResponse:
        need(request, "review")
        return page(request, "review.html", queue=desk.store.review_queue(), classes=desk.store.taxonomy.leaves)

    @app.post("/review/{item_id}")
    def decide(request: Request, item_id: int, class_code: str = Form("")) -> Response:
        from pipeline.store.filing import FilingError

        user = need(request, "review")
        try:
            desk.set_class(item_id, class_code or None, user.username)
        except (FilingError, KeyError) as exc:
            return page(request, "review.html", 422, queue=desk.store.review_queue(),
                        classes=desk.store.taxonomy.leaves, error=str(exc))
        access.audit.append(user.username, "review", items=[item_id], detail={"class": class_code or "confirmed"})
        return RedirectResponse("/review", status_code=303)

    # ── volumes by box label ─────────────────────────────────────

    @app.get("/v/{token}", response_class=HTMLResponse)
    def volume(request: Request, token: str) -> Response:
        from pipeline.archive.labels import parse_label_payload
        from pipeline.store.filing import FilingError

        user = need(request, "view")
        token = parse_label_payload(token) or token  # a scanner types the whole QR payload
        try:
            v = desk.store.volume(token)
        except FilingError:
            return page(request, "error.html", 404, message="没有这个案卷。")
        if token not in (v.label_token, v.archival_code):  # labels and 档号 only, not internal keys
            return page(request, "error.html", 404, message="没有这个案卷。")
        access.audit.append(user.username, "view", items=[v.archival_code or v.key], detail={"volume": v.id})
        return page(request, "volume.html", v=v)

    # ── 查档登记 list and export ─────────────────────────────────

    @app.get("/register", response_class=HTMLResponse)
    def register_list(request: Request, q: str = "", id_number: str = "") -> HTMLResponse:
        user = need(request, "register")
        entries = access.register.find(by=user.username, query=q or None, id_number=id_number or None, limit=200)
        return page(request, "register_list.html", entries=entries, q=q)

    @app.get("/register.xlsx")
    def register_export(request: Request, q: str = "") -> Response:
        import io

        user = need(request, "register")
        entries = access.register.find(by=user.username, query=q or None)
        buf = io.BytesIO()
        access.register.export_xlsx(buf, entries, by=user.username)
        return Response(buf.getvalue(), headers={"Content-Disposition": "attachment; filename*=UTF-8''"
                                                 + quote("查档登记.xlsx")},
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    @app.get("/admin/users", response_class=HTMLResponse)
    def users(request: Request) -> HTMLResponse:
        need(request, "users")
        return page(request, "users.html", users=access.users.list())

    return app


def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
