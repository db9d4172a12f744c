"""The clerks' web UI (FastAPI, server-rendered Jinja2 templates, Simplified Chinese).

Every route needs a signed-in user except the login page and static files; each route
also names the permission it needs (:data:`pipeline.access.ROLE_PERMISSIONS`).
Searches and sign-ins go to the hash-chained audit log. OCR text is untrusted input:
templates autoescape everything, and highlight marks are added only after escaping.

Personal numbers: every string a template prints passes :func:`pipeline.web.present.shown`,
which masks ID and phone numbers and labelled birth dates (a title or a file name holding one
included); only the OCR text of a registered visit is released whole. Queries travel in links
sealed (``qt=``, :class:`pipeline.web.security.QueryCodec`), never as ``q=``: a URL ends up in
the browser history and in access logs.

This module only assembles the app: the shared context (:class:`pipeline.web.context.WebContext`,
on ``app.state.ctx``), authentication, security headers, the CSRF guard, error pages, static
files and the routes of :mod:`pipeline.web.routes`, one router per concern.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from pipeline.config import Settings, load_settings
from pipeline.web.context import HERE, Forbidden, WebContext
from pipeline.web.routes import admin, auth, filing, pages, register, search, status
from pipeline.web.security import COOKIE, csrf_ok

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
# In this order: no two of their paths overlap today, but a fixed path must stay ahead of a
# path parameter that could take it (Starlette tries routes in the order they were added).
ROUTERS = (auth, search, register, pages, status, filing, admin)


def same_origin(request: Request) -> bool:
    """False when the browser says the request came from another site, or hides where it came
    from ("null"). No Origin header at all: a non-browser client or an old browser, nothing to check."""
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


class CsrfRefused(Exception):
    pass


async def csrf_guard(request: Request) -> None:
    """Every state-changing request of a signed-in user carries the session's token.

    A dependency, not middleware: the form is parsed once and the route reads the same."""
    if request.method not in ("GET", "HEAD") and request.state.session is not None:
        form = await request.form()
        token = form.get("csrf")
        if not csrf_ok(request.state.session, token if isinstance(token, str) else None):
            raise CsrfRefused()
    elif request.method == "POST" and not same_origin(request):
        # Sign-in has no session to hold a token yet: a form posted from another site (login
        # CSRF, signing the clerk into someone else's account) is refused by its Origin.
        raise CsrfRefused()


def create_app(settings: Settings) -> FastAPI:
    ctx = WebContext.open(settings)
    app = FastAPI(title="dangan", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(csrf_guard)])
    app.state.ctx = ctx  # what every route reaches through the Ctx dependency
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        return _secure(PlainTextResponse("请求无效（CSRF）", status_code=403))

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> HTMLResponse:
        return ctx.page(request, "error.html", 403, message="您没有权限访问此页面。")

    @app.middleware("http")
    async def authenticate(request: Request, call_next) -> Response:
        started = time.perf_counter()
        path = request.url.path
        request.state.user = request.state.session = None
        if not path.startswith(PUBLIC):
            # Catalog reads: in the thread pool, never on the event loop every request shares.
            user, session = await run_in_threadpool(ctx.signed_in, request.cookies.get(COOKIE))
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

    for module in ROUTERS:
        include(app, module.router)
    return app


def include(app: FastAPI, router: APIRouter) -> None:
    """The router's routes added to the app itself, in their order: what ``include_router`` did
    before FastAPI 0.137, which now keeps an included router as one opaque node of ``app.routes``.
    Each route is built for this app (its CSRF guard dependency, its dependency overrides), and
    ``app.routes`` lists every route: the check that each one needs a signed-in user walks it."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{route!r}: only path operations belong in a router of pipeline.web.routes")
        app.add_api_route(route.path, route.endpoint, methods=sorted(route.methods or ()), name=route.name,
                          response_class=route.response_class, status_code=route.status_code,
                          dependencies=route.dependencies)


def app_from_environment() -> FastAPI:
    """The app for settings from the environment and config file: what each of several
    uvicorn worker processes builds for itself (``dangan web --workers N``)."""
    return create_app(load_settings())


def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
