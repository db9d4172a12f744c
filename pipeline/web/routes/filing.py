"""Filing: the review queue (审核) and a volume found by its box label or 档号."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pipeline.web.context import Ctx, DbId

router = APIRouter()


# ── review queue (审核) ───────────────────────────────────────

@router.get("/review", response_class=HTMLResponse)
def review(request: Request, ctx: Ctx) -> HTMLResponse:
    ctx.need(request, "review")
    store = ctx.desk.store
    return ctx.page(request, "review.html", queue=store.review_queue(), classes=store.taxonomy.leaves)


@router.post("/review/{item_id}")
def decide(request: Request, ctx: Ctx, item_id: DbId, class_code: str = Form("", max_length=128)) -> Response:
    from pipeline.filing import FilingError

    user = ctx.need(request, "review")
    try:
        ctx.desk.set_class(item_id, class_code or None, user.username)
    except (FilingError, KeyError) as exc:
        return ctx.page(request, "review.html", 422, queue=ctx.desk.store.review_queue(),
                        classes=ctx.desk.store.taxonomy.leaves, error=str(exc))
    ctx.access.audit.append(user.username, "review", items=[item_id], detail={"class": class_code or "confirmed"})
    return RedirectResponse("/review", status_code=303)


# ── volumes by box label ─────────────────────────────────────

@router.get("/v/{token}", response_class=HTMLResponse)
def volume(request: Request, ctx: Ctx, token: str) -> Response:
    from pipeline.archive.labels import parse_label_payload
    from pipeline.filing import FilingError

    user = ctx.need(request, "view")
    token = parse_label_payload(token) or token  # a scanner types the whole QR payload
    try:
        v = ctx.desk.store.volume(token)
    except FilingError:
        return ctx.page(request, "error.html", 404, message="没有这个案卷。")
    if token not in (v.label_token, v.archival_code):  # labels and 档号 only, not internal keys
        return ctx.page(request, "error.html", 404, message="没有这个案卷。")
    ctx.access.audit.append(user.username, "view", items=[v.archival_code or v.key], detail={"volume": v.id})
    return ctx.page(request, "volume.html", v=v)
