"""Each role's first page, the search and the n-th hit of a search (上一处/下一处命中)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pipeline.access import can
from pipeline.web.context import Count, Ctx, WebContext
from pipeline.web.present import FACETS, PER_PAGE, SearchForm
from pipeline.web.viewer import sensitive_items

router = APIRouter()

# Each role's first page, in this order: a clerk searches, a reviewer reviews, an operator
# watches the queue; an account with none of these sees who it is and can sign out.
FIRST_PAGES = (("search", "/search"), ("review", "/review"), ("status", "/status"), ("users", "/admin/users"))


@router.get("/")
def home(request: Request, ctx: Ctx) -> Response:
    first = next((url for perm, url in FIRST_PAGES if can(request.state.user, perm)), None)
    if first is None:
        return ctx.page(request, "error.html", 200, message="此账户尚无任何权限，请联系管理员分配角色。")
    return RedirectResponse(first, status_code=303)


def run_search(ctx: WebContext, user, form: SearchForm, offset: int, limit: int, **detail):
    """(result, problem): the search, audited like every search, or why it could not run."""
    import logging

    from pipeline.index import IndexDamaged
    from pipeline.index import search as search_index

    unavailable = "检索索引尚未建立或需要重建，请联系管理员。"
    index = ctx.shared_index.get()
    if index is None:
        return None, unavailable
    filters = form.filters()
    try:
        result = search_index(index, form.q, filters=filters or None, sort=form.sort, limit=limit, offset=offset)
    except IndexDamaged as exc:
        # Damage the open-time check missed: the next search opens (and checks) the index again.
        logging.getLogger(__name__).warning("search: %s", exc)
        ctx.shared_index.discard(index)
        return None, unavailable
    shown = result.hits + result.approximate_hits
    ctx.access.audit.append(user.username, "search", query=form.q, items=sorted({h.item_id for h in shown}),
                            detail={"filters": filters, "sort": form.sort, "total": result.total,
                                    "offset": offset, **detail})
    return result, None


@router.post("/search")
async def search_posted(request: Request, ctx: Ctx) -> Response:
    """The search form: its query goes into the link it redirects to sealed, not as text."""
    from pipeline.archive.labels import parse_label_payload

    ctx.need(request, "search")
    data = await request.form()
    params = {k: v for k, v in data.items() if isinstance(v, str) and k not in ("csrf", "qt")}
    form = ctx.search_form(request, params)
    if (token := parse_label_payload(form.q)) is not None:  # a box label scanned into the search box
        return RedirectResponse(f"/v/{quote(token)}", status_code=303)
    return RedirectResponse(f"/search?{form.query(reg=params.get('reg', ''))}", status_code=303)


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, ctx: Ctx, offset: Count = 0, reg: str = "") -> Response:
    from pipeline.archive.labels import parse_label_payload

    user = ctx.need(request, "search")
    form = ctx.search_form(request, request.query_params)
    if (token := parse_label_payload(form.q)) is not None:  # a box label scanned into the search box
        return RedirectResponse(f"/v/{quote(token)}", status_code=303)
    if "q" in request.query_params:  # a typed link (?q=…): into the address bar sealed instead
        return RedirectResponse(f"/search?{form.query(offset=offset or None, reg=reg)}", status_code=303)
    result, problem, locked = None, None, set()
    if form.q:
        result, problem = run_search(ctx, user, form, offset, PER_PAGE)
    if result is not None and ctx.visit(request, reg) is None:
        # No thumbnail of a file holding personal data before the visit is registered.
        locked = sensitive_items(ctx.db, {h.item_id for h in result.hits + result.approximate_hits})
    return ctx.page(request, "search.html", form=form, result=result, problem=problem, offset=offset,
                    per_page=PER_PAGE, reg=reg if ctx.visit(request, reg) else "", locked=locked, facets=FACETS,
                    class_names=ctx.class_names)


@router.get("/hit")
def hit(request: Request, ctx: Ctx, n: Count = 1, reg: str = "") -> Response:
    """The n-th hit (1-based) of a search, for 上一处/下一处命中 in the viewer: the search runs
    again (and is audited again) rather than trusting a list of pages kept in the browser."""
    user = ctx.need(request, "search")
    form = ctx.search_form(request, request.query_params)
    if not form.q or n < 1:
        return RedirectResponse(f"/search?{form.query(reg=reg)}", status_code=303)
    result, problem = run_search(ctx, user, form, n - 1, 1, hit=n)
    if result is None or not result.hits:
        return ctx.page(request, "error.html", 404, message=problem or f"没有第 {n} 处命中。")
    h = result.hits[0]
    return RedirectResponse(f"/view/{h.item_id}/{h.page_no}?{form.query(n=n, of=result.total, reg=reg)}",
                            status_code=303)
