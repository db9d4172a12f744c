"""User management (admin).

Every change goes through UserStore, which writes its audit entry ("admin", op user-…)
in the same transaction as the change: both are committed, or neither.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pipeline.access import ROLES, AccessError, roles_of
from pipeline.web.context import Ctx, WebContext
from pipeline.web.present import ROLE_NAMES

router = APIRouter()


def users_page(ctx: WebContext, request: Request, status_code: int = 200, error: str | None = None) -> HTMLResponse:
    return ctx.page(request, "users.html", status_code, users=ctx.access.users.list(), roles=ROLES,
                    role_names=ROLE_NAMES, roles_of=roles_of, error=error)


def admin_act(ctx: WebContext, request: Request, act) -> Response:
    user = ctx.need(request, "users")
    try:
        act(user.username)
    except AccessError as exc:
        return users_page(ctx, request, 422, f"操作未完成：{exc}")
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/users", response_class=HTMLResponse)
def users(request: Request, ctx: Ctx) -> HTMLResponse:
    ctx.need(request, "users")
    return users_page(ctx, request)


@router.post("/admin/users")
def user_create(request: Request, ctx: Ctx, username: str = Form(...), password: str = Form(...),
                display_name: str = Form(""), roles: list[str] = Form([])) -> Response:
    return admin_act(ctx, request, lambda by: ctx.access.users.create(
        username.strip(), password, roles, by=by, display_name=display_name.strip() or None))


@router.post("/admin/users/{username}/roles")
def user_roles(request: Request, ctx: Ctx, username: str, roles: list[str] = Form([])) -> Response:
    def act(by: str) -> None:
        if username == by and "admin" not in roles:  # nobody left to undo it
            raise AccessError("不能取消自己的管理员角色")
        ctx.access.users.set_roles(username, roles, by=by)
    return admin_act(ctx, request, act)


@router.post("/admin/users/{username}/active")
def user_active(request: Request, ctx: Ctx, username: str, active: str = Form(...)) -> Response:
    def act(by: str) -> None:
        if active == "1":
            ctx.access.users.activate(username, by=by)
        elif username == by:
            raise AccessError("不能停用自己的账户")
        else:
            ctx.access.users.deactivate(username, by=by)
    return admin_act(ctx, request, act)


@router.post("/admin/users/{username}/password")
def user_password(request: Request, ctx: Ctx, username: str, password: str = Form(...)) -> Response:
    return admin_act(ctx, request, lambda by: ctx.access.users.set_password(username, password, by=by))
