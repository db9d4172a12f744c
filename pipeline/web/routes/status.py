"""The ingest queue's state (状态), live counters for its page, and retrying a failed file."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from pipeline.web.context import Ctx, DbId

router = APIRouter()


@router.get("/status", response_class=HTMLResponse)
def status(request: Request, ctx: Ctx) -> HTMLResponse:
    ctx.need(request, "status")
    catalog = ctx.catalog
    return ctx.page(request, "status.html", st=catalog.status(), flagged=catalog.flagged_pages(),
                    failed=catalog.failed_items(), quarantine=catalog.recent_quarantine(),
                    inbox=catalog.inbox_state(ctx.settings.ingest.station))


@router.get("/status.json")
def status_json(request: Request, ctx: Ctx) -> Response:
    """The counters of /status, polled by its page every few seconds (live status)."""
    ctx.need(request, "status")
    catalog = ctx.catalog
    st = catalog.status()
    return JSONResponse({"queue": st.queue_depth, "done": st.by_state.get("done", 0),
                         "failed": st.by_state.get("failed", 0), "quarantined": st.quarantined,
                         "pages_done": st.pages_done, "pages_per_minute": round(st.pages_per_minute, 1),
                         "review_pending": st.review_pending, "pre_volumes": st.pre_volumes,
                         "paused": bool(catalog.inbox_state(ctx.settings.ingest.station).get("paused")),
                         "at": datetime.now(UTC).isoformat(timespec="seconds")})


@router.post("/retry/{item_id}")
def retry(request: Request, ctx: Ctx, item_id: DbId) -> Response:
    user = ctx.need(request, "ingest")
    if ctx.catalog.retry(item_id, f"web {user.username}"):
        ctx.access.audit.append(user.username, "retry", items=[item_id])
    return RedirectResponse("/status", status_code=303)
