"""A catalogued page: the viewer, its image and thumbnail, and printing pages (watermarked PDF)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response

from pipeline.web.context import Count, Ctx, DbId, WebContext
from pipeline.web.present import MAX_OFFSET, Link, released
from pipeline.web.viewer import load_page, page_geometry, print_pdf, thumbnail, watermark_text

router = APIRouter()


def viewable(ctx: WebContext, request: Request, item_id: int, page_no: int, reg: str | None):
    user = ctx.need(request, "view")
    view = load_page(ctx.db, item_id, page_no)
    if view is None:
        return user, None, None, PlainTextResponse("没有这一页", status_code=404)
    entry = ctx.visit(request, reg)
    if view.item.sensitive and entry is None:  # 查档登记 before a sensitive file is opened
        # Back to the viewer with the search context (query, filters, hit number); the 登记号 is added.
        context = urlencode([(k, v) for k, v in parse_qsl(request.url.query) if k not in ("reg", "q")]
                            + ([("qt", ctx.query_codec.seal(q, user.username))]
                               if (q := request.query_params.get("q")) else []))
        back = f"/view/{item_id}/{page_no}?{context}"
        return user, view, None, RedirectResponse(f"/register/new?next={quote(back)}", status_code=303)
    return user, view, entry, None


@router.get("/view/{item_id}/{page_no}", response_class=HTMLResponse)
def view(request: Request, ctx: Ctx, item_id: DbId, page_no: DbId, reg: str | None = None, n: Count = 0,
         of: Annotated[int, Query(ge=0)] = 0) -> Response:
    user, view, entry, refusal = viewable(ctx, request, item_id, page_no, reg)
    if refusal:
        return refusal
    form = ctx.search_form(request, request.query_params)
    code = view.item.archival_code or f"item-{item_id}"
    ctx.access.audit.append(user.username, "view", query=form.q or None, items=[code],
                            detail={"page": page_no, "register": entry.register_number if entry else None})
    if entry:
        ctx.access.register.complete(entry.register_number, by=user.username, items=[code])
    text = view.page.ocr_text or ""
    volume = ctx.desk.store.volume(str(view.item.volume_id)) if view.item.volume_id else None
    reg = entry.register_number if entry else ""
    # n / of: this page's place among the search's hits (of = their number when the list was shown).
    hits = {"n": n, "of": of,
            "prev": Link(f"/hit?{form.query(n=n - 1, reg=reg)}") if form.q and n > 1 else None,
            "next": Link(f"/hit?{form.query(n=n + 1, reg=reg)}") if form.q and 0 < n < min(of, MAX_OFFSET) else None}
    return ctx.page(request, "view.html", v=view, g=page_geometry(view.page, form.q), q=form.q, form=form,
                    reg=reg, hits=hits, here=form.query(n=n or None, of=of or None, reg=reg),
                    text=released(text) if entry else text, volume=volume)  # masked by `shown` unless released


@router.get("/image/{item_id}/{page_no}")
def image(request: Request, ctx: Ctx, item_id: DbId, page_no: DbId, reg: str | None = None) -> Response:
    user, view, entry, refusal = viewable(ctx, request, item_id, page_no, reg)
    if refusal:
        return refusal
    path = Path(view.page.working_path or "")
    if not path.is_file():
        return PlainTextResponse("图像不存在", status_code=404)
    ctx.access.audit.append(user.username, "view-image", items=[view.item.archival_code or f"item-{item_id}"],
                            detail={"page": page_no})
    return FileResponse(path)


@router.get("/thumb/{item_id}/{page_no}")
def thumb(request: Request, ctx: Ctx, item_id: DbId, page_no: DbId, reg: str | None = None) -> Response:
    """A 160-pixel-wide JPEG for the result list. Not audited as a view: at that size a page
    cannot be read, and the search that listed it is in the audit log with its items. Files
    holding personal data get none before a 查档登记 (the list shows 需登记后查看 instead)."""
    ctx.need(request, "view")
    view = load_page(ctx.db, item_id, page_no)
    if view is None:
        return PlainTextResponse("没有这一页", status_code=404)
    if view.item.sensitive and ctx.visit(request, reg) is None:
        return PlainTextResponse("需登记后查看", status_code=403)
    path = thumbnail(Path(view.page.working_path or ""), ctx.thumbs)
    if path is None:
        return PlainTextResponse("图像不存在", status_code=404)
    return FileResponse(path, media_type="image/jpeg")


@router.post("/print")
def print_pages(request: Request, ctx: Ctx, item_id: int = Form(..., ge=1, le=2**63 - 1),
                pages: list[int] = Form([]), reg: str = Form("", max_length=32)) -> Response:
    user = ctx.need(request, "print")
    pages = sorted({p for p in pages if 1 <= p <= 100_000})  # the ticked pages, in page order, each once
    entry = ctx.visit(request, reg)
    if entry is None:  # printing anything needs the visit registered
        first = pages[0] if pages else 1
        return RedirectResponse(f"/register/new?next={quote(f'/view/{item_id}/{first}')}", status_code=303)
    if not pages:
        return ctx.page(request, "error.html", 422, message="请至少选择一页再打印。")
    views = [v for n in pages if (v := load_page(ctx.db, item_id, n)) is not None]
    images = [Path(v.page.working_path) for v in views if v.page.working_path]
    if len(images) != len(pages) or not all(image.is_file() for image in images):
        return PlainTextResponse("没有这一页", status_code=404)
    code = views[0].item.archival_code or f"item-{item_id}"
    data = print_pdf(images,
                     watermark_text(user.display_name or user.username, entry.register_number, datetime.now()))
    ctx.access.audit.append(user.username, "print", items=[code],
                            detail={"pages": pages, "register": entry.register_number})
    ctx.access.register.complete(entry.register_number, by=user.username, items=[code],
                                 pages_copied=(entry.pages_copied or 0) + len(pages))
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(code)}.pdf"})
