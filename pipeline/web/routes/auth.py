"""Signing in and out."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pipeline.web.context import Ctx
from pipeline.web.security import COOKIE, SESSION_SECONDS

router = APIRouter()


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, ctx: Ctx) -> HTMLResponse:
    return ctx.page(request, "login.html")


@router.post("/login")
def login(request: Request, ctx: Ctx, username: str = Form(..., max_length=64),
          password: str = Form(..., max_length=1024)) -> Response:
    access = ctx.access
    # The connecting address, or the X-Forwarded-For of a configured proxy (web.trusted_proxies).
    client = request.client.host if request.client else "?"
    if not access.throttle.allowed(client, username):
        return ctx.page(request, "login.html", 429, error="登录失败次数过多，请稍后再试。")
    user = access.users.authenticate(username, password)
    if user is None:
        access.throttle.failed(client, username)
        return ctx.page(request, "login.html", 401, error="用户名或密码错误，或账户已锁定。")
    cookie, _session = ctx.session_codec.issue(access.sessions.open(user.username))
    access.audit.append(user.username, "login", detail={"client": client})
    response = RedirectResponse("/", status_code=303)  # each role to its own first page
    response.set_cookie(COOKIE, cookie, max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def logout(request: Request, ctx: Ctx) -> Response:
    ctx.access.audit.append(request.state.user.username, "logout")
    ctx.access.sessions.revoke(request.state.session.id)  # the cookie, if kept somewhere, is now worthless
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
