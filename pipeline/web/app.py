"""The clerks' web UI (FastAPI, server-rendered Jinja2 templates, Simplified Chinese).

Every route needs a signed-in user except the login page and static files; each route
also names the permission it needs (:data:`pipeline.access.ROLE_PERMISSIONS`).
Searches and sign-ins go to the hash-chained audit log. OCR text is untrusted input:
templates autoescape everything, and highlight marks are added only after escaping.

Personal numbers: every string a template prints passes :func:`shown`, which masks ID and
phone numbers and labelled birth dates (a title or a file name holding one included); only
the OCR text of a registered visit is released whole. Queries travel in links sealed
(``qt=``, :class:`pipeline.web.security.QueryCodec`), never as ``q=``: a URL ends up in the
browser history and in access logs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import Depends, FastAPI, Form, Path as PathParam, Query, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from pipeline import __version__
from pipeline.filing.desk import FilingDesk
from pipeline.config import Settings, load_settings
from pipeline.index import SharedIndex
from pipeline.text import mask_private_numbers
from pipeline.store import Catalog, Database
from pipeline.access import (
    ID_TYPES,
    PROOFS,
    RELATIONS,
    ROLES,
    USES,
    Access,
    AccessError,
    can,
    permissions_of,
    roles_of,
)
from pipeline.store.models import utcnow
from pipeline.web.security import COOKIE, SESSION_SECONDS, QueryCodec, SessionCodec, csrf_ok, load_secret
from pipeline.web.viewer import (
    load_page,
    page_geometry,
    print_pdf,
    sensitive_items,
    thumbnail,
    watermark_text,
)

HERE = Path(__file__).parent
PUBLIC = ("/login", "/static/")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: with no-referrer Chromium sends "Origin: null" on our own
    # forms, and the sign-in form's Origin check (same_origin) could not tell them from a forgery.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages carry personal data: never kept by a shared browser
}


def same_origin(request: Request) -> bool:
    """False when the browser says the request came from another site, or hides where it came
    from ("null"). No Origin header at all: a non-browser client or an old browser, nothing to check."""
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


def highlight(snippet: str) -> Markup:
    """Escape OCR text, then turn the index's 【】 marks into <mark>."""
    return Markup(str(escape(mask_private_numbers(snippet))).replace("【", "<mark>").replace("】", "</mark>"))


class Link(str):
    """A URL or query string the app built (ids and sealed queries): printed as it is."""


def shown(value):
    """What a template prints: strings masked (ID and phone numbers, labelled birth dates),
    except markup the app released on purpose and the links it built."""
    if isinstance(value, str) and not isinstance(value, (Markup, Link)) and not value.startswith("/"):
        return mask_private_numbers(value)
    return value


def released(text: str) -> Markup:
    """Text shown whole (after a 查档登记): escaped here, so ``shown`` leaves it alone."""
    return Markup(escape(text))


ROLE_NAMES = {"operator": "录入", "clerk": "查档接待", "reviewer": "审核", "admin": "管理"}
PER_PAGE = 20  # search results per page
MAX_QUERY = 200  # characters: a name, an ID number, a phrase or a few
MAX_OFFSET = 10_000  # deepest result a list or the viewer's hit navigation may ask for
# Catalog ids and page numbers in a path: larger values cannot be rows (SQLite integers are 64-bit).
DbId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]
Count = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
# Filters offered as facets, in the order shown (class_code = document type, 类目).
FACETS = (("village", "村"), ("year", "年度"), ("class_code", "类目"), ("fonds", "全宗"), ("category", "门类"),
          ("retention", "保管期限"))
TEXT_FILTERS = ("village", "fonds", "category", "retention", "class_code")


@dataclass(frozen=True)
class SearchForm:
    """The query, filters and sort: what travels from the result list to the viewer and back,
    so that 上一处/下一处命中 can run the same search again."""

    q: str = ""
    qt: str = ""  # q sealed for links (QueryCodec)
    year_from: str = ""
    year_to: str = ""
    village: str = ""
    fonds: str = ""
    category: str = ""
    retention: str = ""
    class_code: str = ""
    sort: str = "relevance"

    @classmethod
    def of(cls, params: Mapping[str, str], codec: QueryCodec, username: str) -> SearchForm:
        """The form from a link (``qt``) or a typed query (``q``), with the query sealed."""
        values = {f.name: (params.get(f.name) or "").strip()[:MAX_QUERY] for f in fields(cls) if f.name != "qt"}
        values["sort"] = "date" if values["sort"] == "date" else "relevance"
        token = (params.get("qt") or "").strip()
        if token:
            values["q"] = codec.unseal(token, username) or ""  # a stale or foreign token: no query
        form = cls(**values)
        if form.q:
            form = replace(form, qt=token if token and values["q"] else codec.seal(form.q, username))
        return form

    def filters(self) -> dict:
        """For pipeline.index.search; empty fields and non-numeric years are no filter, not an error."""
        found = {"year_from": _int(self.year_from), "year_to": _int(self.year_to),
                 **{k: getattr(self, k) for k in TEXT_FILTERS}}
        return {k: v for k, v in found.items() if v not in (None, "")}

    def chosen(self, reg: str, names: Mapping[str, str]) -> list[tuple[str, str, str]]:
        """(label, value, query without it) of each filter set, for the 筛选 line's remove links."""
        out = []
        if self.year_from or self.year_to:
            out.append(("年度", f"{self.year_from or '…'}–{self.year_to or '…'}",
                        self.query(year_from="", year_to="", reg=reg)))
        for name, label in FACETS:
            if name in TEXT_FILTERS and getattr(self, name):
                value = getattr(self, name)
                out.append((label, names.get(value, value) if name == "class_code" else value,
                            self.query(**{name: "", "reg": reg})))
        return out

    def query(self, **extra) -> Link:
        """This form as a URL query string (empty fields left out, the query sealed), with
        ``extra`` fields."""
        pairs = {**asdict(self), **extra}
        del pairs["q"]  # never in a URL: qt carries it
        if pairs.get("sort") == "relevance":
            del pairs["sort"]  # the default: shorter links
        return Link(urlencode({k: v for k, v in pairs.items() if v not in (None, "")}))


REGISTER_LISTS = {"id_types": ID_TYPES, "relations": RELATIONS, "proofs": PROOFS, "uses": USES}


def _int(text: str) -> int | None:
    """A year typed in a filter field; anything else (², ١٩, a 20-digit number) is no filter."""
    return int(text) if re.fullmatch(r"[0-9]{1,4}", text.strip()) else None


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
    secret = load_secret(settings.home)
    codec = SessionCodec(secret)
    queries = QueryCodec(secret)
    thumbs = settings.home / "web" / "thumbs"
    shared_index = SharedIndex(settings.index.backend, settings.index_dir)
    class_names = {code: c.name for code, c in desk.store.taxonomy.classes.items()}
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["highlight"] = highlight
    templates.env.finalize = shown  # every printed string: personal numbers masked

    async def csrf_guard(request: Request) -> None:
        """Every state-changing request of a signed-in user carries the session's token.

        A dependency, not middleware: the form is parsed once and the route reads the same."""
        if request.method not in ("GET", "HEAD") and request.state.session is not None:
            form = await request.form()
            if not csrf_ok(request.state.session, form.get("csrf")):
                raise CsrfRefused()
        elif request.method == "POST" and not same_origin(request):
            # Sign-in has no session to hold a token yet: a form posted from another site (login
            # CSRF, signing the clerk into someone else's account) is refused by its Origin.
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
        return _secure(PlainTextResponse("请求无效（CSRF）", status_code=403))

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> HTMLResponse:
        return page(request, "error.html", 403, message="您没有权限访问此页面。")

    def signed_in(cookie: str | None):
        """(user, session) of a session cookie, or (None, None): revoked, expired, idle, disabled."""
        session = codec.read(cookie)
        username = access.sessions.check(session.id) if session else None
        user = access.users.get(username) if username else None
        return (user, session) if user is not None and user.active else (None, None)

    @app.middleware("http")
    async def authenticate(request: Request, call_next) -> Response:
        started = time.perf_counter()
        path = request.url.path
        request.state.user = request.state.session = None
        if not path.startswith(PUBLIC):
            # Catalog reads: in the thread pool, never on the event loop every request shares.
            user, session = await run_in_threadpool(signed_in, request.cookies.get(COOKIE))
            if user is None:
                if request.method == "GET":
                    response: Response = RedirectResponse("/login", status_code=303)
                else:
                    response = PlainTextResponse("请先登录", status_code=401)
                return _secure(response)
            request.state.user, request.state.session = user, session
        response = _secure(await call_next(request))
        # The server's own time for the request (browser dev tools and the load bench read it).
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> HTMLResponse:
        return page(request, "login.html")

    @app.post("/login")
    def login(request: Request, username: str = Form(..., max_length=64),
              password: str = Form(..., max_length=1024)) -> Response:
        # The connecting address, or the X-Forwarded-For of a configured proxy (web.trusted_proxies).
        client = request.client.host if request.client else "?"
        if not access.throttle.allowed(client, username):
            return page(request, "login.html", 429, error="登录失败次数过多，请稍后再试。")
        user = access.users.authenticate(username, password)
        if user is None:
            access.throttle.failed(client, username)
            return page(request, "login.html", 401, error="用户名或密码错误，或账户已锁定。")
        cookie, _session = codec.issue(access.sessions.open(user.username))
        access.audit.append(user.username, "login", detail={"client": client})
        response = RedirectResponse("/", status_code=303)  # each role to its own first page
        response.set_cookie(COOKIE, cookie, max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response

    @app.post("/logout")
    def logout(request: Request) -> Response:
        access.audit.append(request.state.user.username, "logout")
        access.sessions.revoke(request.state.session.id)  # the cookie, if kept somewhere, is now worthless
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    # Each role's first page, in this order: a clerk searches, a reviewer reviews, an operator
    # watches the queue; an account with none of these sees who it is and can sign out.
    FIRST_PAGES = (("search", "/search"), ("review", "/review"), ("status", "/status"), ("users", "/admin/users"))

    @app.get("/")
    def home(request: Request) -> Response:
        first = next((url for perm, url in FIRST_PAGES if can(request.state.user, perm)), None)
        if first is None:
            return page(request, "error.html", 200, message="此账户尚无任何权限，请联系管理员分配角色。")
        return RedirectResponse(first, status_code=303)

    def search_form(request: Request, params: Mapping[str, str]) -> SearchForm:
        return SearchForm.of(params, queries, request.state.user.username)

    def run_search(user, form: SearchForm, offset: int, limit: int, **detail):
        """(result, problem): the search, audited like every search, or why it could not run."""
        import logging

        from pipeline.index import IndexDamaged
        from pipeline.index import search as search_index

        unavailable = "检索索引尚未建立或需要重建，请联系管理员。"
        index = shared_index.get()
        if index is None:
            return None, unavailable
        filters = form.filters()
        try:
            result = search_index(index, form.q, filters=filters or None, sort=form.sort, limit=limit, offset=offset)
        except IndexDamaged as exc:
            # Damage the open-time check missed: the next search opens (and checks) the index again.
            logging.getLogger(__name__).warning("search: %s", exc)
            shared_index.discard(index)
            return None, unavailable
        shown = result.hits + result.approximate_hits
        access.audit.append(user.username, "search", query=form.q, items=sorted({h.item_id for h in shown}),
                            detail={"filters": filters, "sort": form.sort, "total": result.total,
                                    "offset": offset, **detail})
        return result, None

    @app.post("/search")
    async def search_posted(request: Request) -> Response:
        """The search form: its query goes into the link it redirects to sealed, not as text."""
        from pipeline.archive.labels import parse_label_payload

        need(request, "search")
        data = await request.form()
        params = {k: v for k, v in data.items() if isinstance(v, str) and k not in ("csrf", "qt")}
        form = search_form(request, params)
        if (token := parse_label_payload(form.q)) is not None:  # a box label scanned into the search box
            return RedirectResponse(f"/v/{quote(token)}", status_code=303)
        return RedirectResponse(f"/search?{form.query(reg=params.get('reg', ''))}", status_code=303)

    @app.get("/search", response_class=HTMLResponse)
    def search(request: Request, offset: Count = 0, reg: str = "") -> Response:
        from pipeline.archive.labels import parse_label_payload

        user = need(request, "search")
        form = search_form(request, request.query_params)
        if (token := parse_label_payload(form.q)) is not None:  # a box label scanned into the search box
            return RedirectResponse(f"/v/{quote(token)}", status_code=303)
        if "q" in request.query_params:  # a typed link (?q=…): into the address bar sealed instead
            return RedirectResponse(f"/search?{form.query(offset=offset or None, reg=reg)}", status_code=303)
        result, problem, locked = None, None, set()
        if form.q:
            result, problem = run_search(user, form, offset, PER_PAGE)
        if result is not None and visit(request, reg) is None:
            # No thumbnail of a file holding personal data before the visit is registered.
            locked = sensitive_items(db, {h.item_id for h in result.hits + result.approximate_hits})
        return page(request, "search.html", form=form, result=result, problem=problem, offset=offset,
                    per_page=PER_PAGE, reg=reg if visit(request, reg) else "", locked=locked, facets=FACETS,
                    class_names=class_names)

    @app.get("/hit")
    def hit(request: Request, n: Count = 1, reg: str = "") -> Response:
        """The n-th hit (1-based) of a search, for 上一处/下一处命中 in the viewer: the search runs
        again (and is audited again) rather than trusting a list of pages kept in the browser."""
        user = need(request, "search")
        form = search_form(request, request.query_params)
        if not form.q or n < 1:
            return RedirectResponse(f"/search?{form.query(reg=reg)}", status_code=303)
        result, problem = run_search(user, form, n - 1, 1, hit=n)
        if result is None or not result.hits:
            return page(request, "error.html", 404, message=problem or f"没有第 {n} 处命中。")
        h = result.hits[0]
        return RedirectResponse(f"/view/{h.item_id}/{h.page_no}?{form.query(n=n, of=result.total, reg=reg)}",
                                status_code=303)

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

    def viewable(request: Request, item_id: int, page_no: int, reg: str | None):
        user = need(request, "view")
        view = load_page(db, item_id, page_no)
        if view is None:
            return user, None, None, PlainTextResponse("没有这一页", status_code=404)
        entry = visit(request, reg)
        if view.item.sensitive and entry is None:  # 查档登记 before a sensitive file is opened
            # Back to the viewer with the search context (query, filters, hit number); the 登记号 is added.
            context = urlencode([(k, v) for k, v in parse_qsl(request.url.query) if k not in ("reg", "q")]
                                + ([("qt", queries.seal(q, user.username))] if (q := request.query_params.get("q"))
                                   else []))
            back = f"/view/{item_id}/{page_no}?{context}"
            return user, view, None, RedirectResponse(f"/register/new?next={quote(back)}", status_code=303)
        return user, view, entry, None

    @app.get("/view/{item_id}/{page_no}", response_class=HTMLResponse)
    def view(request: Request, item_id: DbId, page_no: DbId, reg: str | None = None, n: Count = 0,
             of: Annotated[int, Query(ge=0)] = 0) -> Response:
        user, view, entry, refusal = viewable(request, item_id, page_no, reg)
        if refusal:
            return refusal
        form = search_form(request, request.query_params)
        code = view.item.archival_code or f"item-{item_id}"
        access.audit.append(user.username, "view", query=form.q or None, items=[code],
                            detail={"page": page_no, "register": entry.register_number if entry else None})
        if entry:
            access.register.complete(entry.register_number, by=user.username, items=[code])
        text = view.page.ocr_text or ""
        volume = desk.store.volume(str(view.item.volume_id)) if view.item.volume_id else None
        reg = entry.register_number if entry else ""
        # n / of: this page's place among the search's hits (of = their number when the list was shown).
        hits = {"n": n, "of": of,
                "prev": Link(f"/hit?{form.query(n=n - 1, reg=reg)}") if form.q and n > 1 else None,
                "next": Link(f"/hit?{form.query(n=n + 1, reg=reg)}") if form.q and 0 < n < min(of, MAX_OFFSET) else None}
        return page(request, "view.html", v=view, g=page_geometry(view.page, form.q), q=form.q, form=form,
                    reg=reg, hits=hits, here=form.query(n=n or None, of=of or None, reg=reg),
                    text=released(text) if entry else text, volume=volume)  # masked by `shown` unless released

    @app.get("/image/{item_id}/{page_no}")
    def image(request: Request, item_id: DbId, page_no: DbId, reg: str | None = None) -> Response:
        user, view, entry, refusal = viewable(request, item_id, page_no, reg)
        if refusal:
            return refusal
        path = Path(view.page.working_path or "")
        if not path.is_file():
            return PlainTextResponse("图像不存在", status_code=404)
        access.audit.append(user.username, "view-image", items=[view.item.archival_code or f"item-{item_id}"],
                            detail={"page": page_no})
        return FileResponse(path)

    @app.get("/thumb/{item_id}/{page_no}")
    def thumb(request: Request, item_id: DbId, page_no: DbId, reg: str | None = None) -> Response:
        """A 160-pixel-wide JPEG for the result list. Not audited as a view: at that size a page
        cannot be read, and the search that listed it is in the audit log with its items. Files
        holding personal data get none before a 查档登记 (the list shows 需登记后查看 instead)."""
        need(request, "view")
        view = load_page(db, item_id, page_no)
        if view is None:
            return PlainTextResponse("没有这一页", status_code=404)
        if view.item.sensitive and visit(request, reg) is None:
            return PlainTextResponse("需登记后查看", status_code=403)
        path = thumbnail(Path(view.page.working_path or ""), thumbs)
        if path is None:
            return PlainTextResponse("图像不存在", status_code=404)
        return FileResponse(path, media_type="image/jpeg")

    @app.post("/print")
    def print_pages(request: Request, item_id: int = Form(..., ge=1, le=2**63 - 1),
                    pages: list[int] = Form([]), reg: str = Form("", max_length=32)) -> Response:
        user = need(request, "print")
        pages = sorted({p for p in pages if 1 <= p <= 100_000})  # the ticked pages, in page order, each once
        entry = visit(request, reg)
        if entry is None:  # printing anything needs the visit registered
            first = pages[0] if pages else 1
            return RedirectResponse(f"/register/new?next={quote(f'/view/{item_id}/{first}')}", status_code=303)
        if not pages:
            return page(request, "error.html", 422, message="请至少选择一页再打印。")
        views = [load_page(db, item_id, n) for n in pages]
        if any(v is None or not Path(v.page.working_path or "").is_file() for v in views):
            return PlainTextResponse("没有这一页", status_code=404)
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
                    failed=catalog.failed_items(), quarantine=catalog.recent_quarantine(),
                    inbox=catalog.inbox_state(settings.ingest.station))

    @app.get("/status.json")
    def status_json(request: Request) -> Response:
        """The counters of /status, polled by its page every few seconds (live status)."""
        need(request, "status")
        st = catalog.status()
        return JSONResponse({"queue": st.queue_depth, "done": st.by_state.get("done", 0),
                             "failed": st.by_state.get("failed", 0), "quarantined": st.quarantined,
                             "pages_done": st.pages_done, "pages_per_minute": round(st.pages_per_minute, 1),
                             "review_pending": st.review_pending, "pre_volumes": st.pre_volumes,
                             "paused": bool(catalog.inbox_state(settings.ingest.station).get("paused")),
                             "at": datetime.now(timezone.utc).isoformat(timespec="seconds")})

    @app.post("/retry/{item_id}")
    def retry(request: Request, item_id: DbId) -> Response:
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
    def decide(request: Request, item_id: DbId, class_code: str = Form("", max_length=128)) -> Response:
        from pipeline.filing import FilingError

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
        from pipeline.filing import FilingError

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
    def register_list(request: Request, q: str = Query("", max_length=MAX_QUERY)) -> HTMLResponse:
        user = need(request, "register")
        entries = access.register.find(by=user.username, query=q or None, limit=200)
        return page(request, "register_list.html", entries=entries, q=q)

    @app.post("/register/find", response_class=HTMLResponse)
    def register_find(request: Request, q: str = Form("", max_length=MAX_QUERY),
                      id_number: str = Form("", max_length=32)) -> HTMLResponse:
        """A requester's earlier visits by ID number: posted, so the number is in no URL or log."""
        user = need(request, "register")
        entries = access.register.find(by=user.username, query=q or None, id_number=id_number or None, limit=200)
        return page(request, "register_list.html", entries=entries, q=q)

    @app.get("/register.xlsx")
    def register_export(request: Request, q: str = Query("", max_length=MAX_QUERY)) -> Response:
        import io

        user = need(request, "register")
        entries = access.register.find(by=user.username, query=q or None)
        buf = io.BytesIO()
        access.register.export_xlsx(buf, entries, by=user.username)
        return Response(buf.getvalue(), headers={"Content-Disposition": "attachment; filename*=UTF-8''"
                                                 + quote("查档登记.xlsx")},
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    # ── user management (admin) ────────────────────────────────
    # Every change goes through UserStore, which writes its audit entry ("admin", op user-…)
    # in the same transaction as the change: both are committed, or neither.

    def users_page(request: Request, status_code: int = 200, error: str | None = None) -> HTMLResponse:
        return page(request, "users.html", status_code, users=access.users.list(), roles=ROLES,
                    role_names=ROLE_NAMES, roles_of=roles_of, error=error)

    def admin_act(request: Request, act) -> Response:
        user = need(request, "users")
        try:
            act(user.username)
        except AccessError as exc:
            return users_page(request, 422, f"操作未完成：{exc}")
        return RedirectResponse("/admin/users", status_code=303)

    @app.get("/admin/users", response_class=HTMLResponse)
    def users(request: Request) -> HTMLResponse:
        need(request, "users")
        return users_page(request)

    @app.post("/admin/users")
    def user_create(request: Request, username: str = Form(...), password: str = Form(...),
                    display_name: str = Form(""), roles: list[str] = Form([])) -> Response:
        return admin_act(request, lambda by: access.users.create(
            username.strip(), password, roles, by=by, display_name=display_name.strip() or None))

    @app.post("/admin/users/{username}/roles")
    def user_roles(request: Request, username: str, roles: list[str] = Form([])) -> Response:
        def act(by: str) -> None:
            if username == by and "admin" not in roles:  # nobody left to undo it
                raise AccessError("不能取消自己的管理员角色")
            access.users.set_roles(username, roles, by=by)
        return admin_act(request, act)

    @app.post("/admin/users/{username}/active")
    def user_active(request: Request, username: str, active: str = Form(...)) -> Response:
        def act(by: str) -> None:
            if active == "1":
                access.users.activate(username, by=by)
            elif username == by:
                raise AccessError("不能停用自己的账户")
            else:
                access.users.deactivate(username, by=by)
        return admin_act(request, act)

    @app.post("/admin/users/{username}/password")
    def user_password(request: Request, username: str, password: str = Form(...)) -> Response:
        return admin_act(request, lambda by: access.users.set_password(username, password, by=by))

    return app


def app_from_environment() -> FastAPI:
    """The app for settings from the environment and config file: what each of several
    uvicorn worker processes builds for itself (``dangan web --workers N``)."""
    return create_app(load_settings())


def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
