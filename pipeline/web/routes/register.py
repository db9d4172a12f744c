"""查档登记: registering a requester's visit, the list of visits and its export."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pipeline.access import AccessError
from pipeline.web.context import Ctx
from pipeline.web.present import MAX_QUERY, REGISTER_LISTS

router = APIRouter()


def local(url: str) -> str:
    return url if url.startswith("/") and not url.startswith("//") else "/search"


@router.get("/register/new", response_class=HTMLResponse)
def register_form(request: Request, ctx: Ctx, next: str = "/search") -> HTMLResponse:
    ctx.need(request, "register")
    return ctx.page(request, "register.html", next=local(next), lists=REGISTER_LISTS)


@router.post("/register")
def register(request: Request, ctx: Ctx, requester_name: str = Form(...), id_type: str = Form(...),
             id_number: str = Form(...), relation: str = Form(...), proof: list[str] = Form(...),
             purpose: str = Form(...), use: str = Form(...), phone: str = Form(""),
             next: str = Form("/search")) -> Response:
    user = ctx.need(request, "register")
    try:
        entry = ctx.access.register.record(clerk=user.username, requester_name=requester_name, id_type=id_type,
                                           id_number=id_number, relation=relation, proof=proof, purpose=purpose,
                                           use=use, phone=phone or None)
    except AccessError as exc:
        return ctx.page(request, "register.html", 422, next=local(next), lists=REGISTER_LISTS, error=str(exc))
    target = local(next)
    return RedirectResponse(f"{target}{'&' if '?' in target else '?'}reg={entry.register_number}",
                            status_code=303)


# ── 查档登记 list and export ─────────────────────────────────

@router.get("/register", response_class=HTMLResponse)
def register_list(request: Request, ctx: Ctx, q: str = Query("", max_length=MAX_QUERY)) -> HTMLResponse:
    user = ctx.need(request, "register")
    entries = ctx.access.register.find(by=user.username, query=q or None, limit=200)
    return ctx.page(request, "register_list.html", entries=entries, q=q)


@router.post("/register/find", response_class=HTMLResponse)
def register_find(request: Request, ctx: Ctx, q: str = Form("", max_length=MAX_QUERY),
                  id_number: str = Form("", max_length=32)) -> HTMLResponse:
    """A requester's earlier visits by ID number: posted, so the number is in no URL or log."""
    user = ctx.need(request, "register")
    entries = ctx.access.register.find(by=user.username, query=q or None, id_number=id_number or None, limit=200)
    return ctx.page(request, "register_list.html", entries=entries, q=q)


@router.get("/register.xlsx")
def register_export(request: Request, ctx: Ctx, q: str = Query("", max_length=MAX_QUERY)) -> Response:
    import io

    user = ctx.need(request, "register")
    entries = ctx.access.register.find(by=user.username, query=q or None)
    buf = io.BytesIO()
    ctx.access.register.export_xlsx(buf, entries, by=user.username)
    return Response(buf.getvalue(), headers={"Content-Disposition": "attachment; filename*=UTF-8''"
                                             + quote("查档登记.xlsx")},
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
