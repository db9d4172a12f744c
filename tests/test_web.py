"""The clerks' web UI: every route authenticated, CSRF, roles, escaping, throttling, audit.

Real app, real catalog and tantivy index, driven over HTTP by Starlette's TestClient.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from pipeline.domain import OcrLine, OcrPage, OcrWord, PageDocument
from pipeline.store import Database
from pipeline.access import Access
from pipeline.web.app import create_app

PASSWORD = "correct horse 12"
ID = "360122194405228999"
TOKEN = r"[A-Za-z0-9_%-]{60,}"  # a sealed query (QueryCodec) as it appears in a link


@pytest.fixture
def web(settings):
    return make_web(settings)


def make_web(settings):
    """The app over a catalog with three users (clerk, admin, operator) and one sensitive page."""
    db = Database(settings.db_url)
    access = Access.open(db, settings.home)
    access.users.create("clerk1", PASSWORD, ["clerk"], by="test", display_name="窗口甲")
    access.users.create("admin1", PASSWORD, ["admin"], by="test")
    access.users.create("op1", PASSWORD, ["operator"], by="test")
    from pipeline.index import open_index

    catalog_page(settings, db)
    with open_index(settings.index.backend, settings.index_dir) as index:
        index.add([PageDocument(page_id=1, item_id=1, archival_code="Z001-WS·2016-D30-XZ-0001",
                                title="关于王秀英户的批复", page_no=1,
                                text=f"户主王秀英<script>alert(1)</script>身份证{ID}", year=2016)])
        index.commit()
        index.mark_rebuilt()
    return TestClient(create_app(settings)), access


def catalog_page(settings, db) -> None:
    """Item 1, page 1: a scanned page with per-character OCR boxes, holding an ID number."""

    from PIL import Image

    from pipeline.store import Item, ItemState, Page

    image = settings.home / "pages" / "p1.png"
    image.parent.mkdir(parents=True, exist_ok=True)
    from PIL import ImageDraw, ImageFont

    page = Image.new("RGB", (600, 400), "white")
    font = ImageFont.truetype("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 30, index=2)
    draw = ImageDraw.Draw(page)
    for i, ch in enumerate("户主王秀英"):  # where the OCR boxes below say the characters are
        draw.text((100 + 30 * i, 52), ch, font=font, fill="black")
    draw.text((100, 120), f"身份证{ID}", font=ImageFont.truetype(
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 24, index=2), fill="black")
    page.save(image)
    chars = tuple(OcrWord(ch, 0.99, ((100 + 30 * i, 50), (130 + 30 * i, 50), (130 + 30 * i, 90), (100 + 30 * i, 90)))
                  for i, ch in enumerate("户主王秀英"))
    layout = settings.home / "pages" / "p1.ocr.json"
    line = OcrLine("户主王秀英", 0.99, chars[0].box, chars)
    layout.write_text(OcrPage("test", 600, 400, (line,)).to_json(), encoding="utf-8")  # as the worker writes it
    with db.session() as s:
        s.add(Item(id=1, fingerprint="f1", label="scan.jpg", state=ItemState.DONE, title="关于王秀英户的批复",
                   archival_code="Z001-WS·2016-D30-XZ-0001", sensitive="id_number"))
        s.add(Page(item_id=1, page_no=1, working_path=str(image), ocr_layout_path=str(layout),
                   ocr_text=f"户主王秀英\n身份证{ID}", width=600, height=400))


def catalog_and_index_page(settings, db) -> None:
    """``catalog_page`` and the same page in the search index, marked rebuilt (what a web server
    started on this data home serves)."""
    from pipeline.index import open_index

    catalog_page(settings, db)
    with open_index(settings.index.backend, settings.index_dir) as index:
        index.add([PageDocument(page_id=1, item_id=1, archival_code="Z001-WS·2016-D30-XZ-0001",
                                title="关于王秀英户的批复", page_no=1, text=f"户主王秀英\n身份证{ID}", year=2016)])
        index.commit()
        index.mark_rebuilt()


def login(client: TestClient, username: str, password: str = PASSWORD):
    return client.post("/login", data={"username": username, "password": password}, follow_redirects=False)


def csrf(client: TestClient, path: str = "/search") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def listed(page: str) -> list[list[tuple[bool, str]]]:
    """Each result list of a search page: [(marked approximate?, 档号), …]."""
    return [[(bool(approx), code) for approx, code in
             re.findall(r'<li( class="approximate")?>.*?<div class="code"><a [^>]*>([^ <]+)', ol, re.S)]
            for ol in re.findall(r'<ol class="hits[^"]*"[^>]*>(.*?)</ol>', page, re.S)]


def add_pages(settings, docs: list[PageDocument]) -> None:
    """Index ``docs`` and catalogue them as items without personal data, each page showing p1.png."""
    from pipeline.index import open_index
    from pipeline.store import Item, ItemState, Page

    db = Database(settings.db_url)
    image = settings.home / "pages" / "p1.png"
    with db.session() as s:
        for d in docs:
            if s.get(Item, d.item_id) is None:
                s.add(Item(id=d.item_id, fingerprint=f"f{d.item_id}", label=f"scan{d.item_id}.jpg",
                           state=ItemState.DONE, title=d.title, archival_code=d.archival_code))
                s.flush()
            s.add(Page(item_id=d.item_id, page_no=d.page_no, working_path=str(image), ocr_text=d.text,
                       width=600, height=400))
    db.dispose()
    with open_index(settings.index.backend, settings.index_dir) as index:
        index.add(docs)
        index.commit()


def register_visit(client: TestClient, next_url: str = "/search") -> str:
    """A 查档登记 through the form; its 登记号."""
    form = {"csrf": csrf(client, "/register/new"), "requester_name": "王小明", "id_type": "居民身份证",
            "id_number": "11010519491231002x", "relation": "直系亲属", "proof": ["身份证"],
            "purpose": "建房审批", "use": "复制", "next": next_url}
    r = client.post("/register", data=form, follow_redirects=False)
    return re.search(r"reg=(\d{4}-\d{6})", r.headers["location"]).group(1)


def test_every_route_needs_a_signed_in_user(web):
    client, _ = web
    app = client.app
    paths = {r.path for r in app.routes if getattr(r, "path", "").startswith("/")} - {"/login", "/static"}
    assert {"/search", "/status", "/admin/users", "/logout", "/"} <= paths
    for path in paths:
        r = client.get(path, follow_redirects=False)
        assert r.status_code in (303, 405) and (r.status_code == 405 or r.headers["location"] == "/login"), path
        assert client.post(path, data={}, follow_redirects=False).status_code in (401, 405), path
    client.cookies.set("dangan_session", "eyJ1IjoiYWRtaW4xIn0.forged.sig")  # {"u": "admin1"}, unsigned
    assert client.get("/search", follow_redirects=False).status_code == 303


def test_login_search_escapes_ocr_text_and_masks_ids(web):
    client, access = web
    r = login(client, "clerk1")
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert client.get("/", follow_redirects=False).headers["location"] == "/search"  # a clerk's first page
    page = client.get("/search", params={"q": "王秀英"})
    assert page.status_code == 200
    assert re.fullmatch(r"app;dur=\d+\.\d", page.headers["server-timing"])  # the server's own time
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
    assert "<mark>王秀英</mark>" in page.text
    assert ID not in page.text and "360122********8999" in page.text.replace("\n", "")
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.headers["cache-control"] == "no-store"
    actions = [(e.user, e.action, e.query) for e in access.audit.list(limit=10)]
    assert ("clerk1", "search", "王秀英") in actions and ("clerk1", "login", None) in actions
    assert access.audit.verify() == []


def test_csrf_is_required_for_every_post(web):
    client, access = web
    # Sign-in, before any session: a form posted from another site is refused by its Origin.
    forged = client.post("/login", data={"username": "clerk1", "password": PASSWORD},
                         headers={"Origin": "http://evil.example"}, follow_redirects=False)
    assert forged.status_code == 403 and "dangan_session" not in forged.headers.get("set-cookie", "")
    same_site = client.post("/login", data={"username": "clerk1", "password": PASSWORD},
                            headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert same_site.status_code == 303
    client.cookies.clear()
    login(client, "clerk1")
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert client.post("/logout", data={"csrf": "wrong"}, follow_redirects=False).status_code == 403
    token = csrf(client)
    assert client.post("/logout", data={"csrf": token}, follow_redirects=False).status_code == 303


def test_roles_limit_what_a_user_reaches(web):
    client, _ = web
    login(client, "clerk1")
    assert client.get("/admin/users").status_code == 403  # a clerk cannot reach admin routes
    assert client.get("/status").status_code == 403  # nor the operators' status page
    client.cookies.clear()
    login(client, "op1")
    assert client.get("/search").status_code == 403
    assert client.get("/status").status_code == 200
    client.cookies.clear()
    login(client, "admin1")
    assert "clerk1" in client.get("/admin/users").text


def test_static_files_do_not_leave_their_folder(web):
    client, _ = web
    login(client, "admin1")
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py", "/static/../../catalog.sqlite3",
                 "/static/%2e%2e/%2e%2e/%2e%2e/config/dangan.toml"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 404, path
        assert "create_app" not in r.text and "SQLite format" not in r.text, path


def test_failed_logins_are_throttled_and_audited(web):
    client, access = web
    for _ in range(10):
        assert login(client, "nobody", "wrong password").status_code == 401
    assert login(client, "nobody", "wrong password").status_code == 429  # that account, from here
    # A colleague at the same address is not locked out by someone else's typing.
    assert login(client, "clerk1").status_code == 303
    assert any(e.action == "login-failed" for e in access.audit.list(limit=50))


def test_sensitive_page_needs_a_register_entry_then_shows_the_hit_on_the_image(web):
    client, access = web
    login(client, "clerk1")
    r = client.get("/view/1/1", params={"q": "王秀英"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/register/new?next=")
    assert client.get("/image/1/1", follow_redirects=False).status_code == 303  # the image too
    form = {"csrf": csrf(client, "/register/new"), "requester_name": "王小明", "id_type": "居民身份证",
            "id_number": "11010519491231002x", "relation": "直系亲属", "proof": ["身份证", "信用承诺书"],
            "purpose": "建房审批", "use": "复制", "next": "/view/1/1?q=%E7%8E%8B%E7%A7%80%E8%8B%B1"}
    r = client.post("/register", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    reg = re.search(r"reg=(\d{4}-\d{6})", r.headers["location"]).group(1)
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and reg in page.text
    # The hit is drawn on the image: 王秀英 is characters 3–5 of the OCR line (x 160…250).
    assert re.search(r'<rect class="hit" x="160(\.0)?" y="50(\.0)?" width="90(\.0)?" height="40(\.0)?"', page.text)
    assert ID in page.text  # the full ID only now, after the register entry
    assert client.get(f"/image/1/1?reg={reg}").headers["content-type"] == "image/png"
    entry = access.register.entry(reg)
    assert entry.id_number_masked.startswith("1101") and "11010519491231002" not in str(entry.__dict__)
    assert "Z001-WS·2016-D30-XZ-0001" in entry.items

    printed = client.post("/print", data={"csrf": csrf(client), "item_id": "1", "pages": ["1"], "reg": reg})
    assert printed.headers["content-type"] == "application/pdf"
    import subprocess

    text = subprocess.run(["pdftotext", "-", "-"], input=printed.content, capture_output=True).stdout.decode()
    assert "窗口甲" in text and reg in text  # watermark: clerk, date, register number
    actions = [e.action for e in access.audit.list(limit=20)]
    assert {"register", "view", "view-image", "print"} <= set(actions)
    assert access.audit.verify() == []


def test_print_without_a_register_entry_is_refused(web):
    client, _ = web
    login(client, "clerk1")
    r = client.post("/print", data={"csrf": csrf(client), "item_id": "1", "pages": ["1"]}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/register/new")
    r = client.post("/print", data={"csrf": csrf(client), "item_id": "1", "pages": ["1"], "reg": "2026-999999"},
                    follow_redirects=False)
    assert r.status_code == 303  # someone else's or an invented register number does not count


def test_reviewer_settles_a_doubtful_item_and_it_joins_its_volume(web, settings):
    from conftest import filing_store
    from pipeline.domain import Classification, ItemMetadata
    from pipeline.store import Item, ItemState, Page

    client, access = web
    access.users.create("rev1", PASSWORD, ["reviewer"], by="test")
    store = filing_store(settings.db_url)
    with store.db.session() as s:
        s.add(Item(id=2, fingerprint="f2", label="scan2.jpg", state=ItemState.DONE))
        s.add(Page(item_id=2, page_no=1, ocr_text="贫困户申请书\n户主王秀英 石门村\n2016年3月5日"))
    doubtful = Classification("Z001", "ZY", 2016, "D30", "JFC2", "贫困户申请书", confidence=0.4,
                              needs_review=True, class_code="JF·C02·SQ", unit="volume",
                              volume_key="household:石门村:王秀英")
    store.record(2, doubtful, ItemMetadata(title="贫困户申请书", title_supplied=False, date=None), "test")
    login(client, "clerk1")
    assert client.get("/review").status_code == 403  # a clerk does not review
    client.cookies.clear()
    login(client, "rev1")
    assert "贫困户申请书" in client.get("/review").text
    r = client.post("/review/2", data={"csrf": csrf(client, "/review"), "class_code": ""}, follow_redirects=False)
    assert r.status_code == 303
    assert "贫困户申请书" not in client.get("/review").text
    with store.db.session() as s:
        item = s.get(Item, 2)
        assert (item.review_state, item.reviewed_by, item.volume_key) == ("confirmed", "rev1", "household:石门村:王秀英")

    # The viewer shows the volume's 卷内目录 with the current item marked.
    client.cookies.clear()
    login(client, "clerk1")
    viewer = client.get("/view/2/1").text
    assert "所属案卷：石门村王秀英户精准扶贫档案" in viewer and '<tr class="current"><td>1</td>' in viewer

    # The volume's box label, scanned into the search box, opens it (only for a signed-in user).
    token = store.volume("household:石门村:王秀英").label_token
    client.cookies.clear()
    assert client.get(f"/v/{token}", follow_redirects=False).status_code == 303
    login(client, "clerk1")
    r = client.get("/search", params={"q": f"DANGAN-V:{token}"})
    assert r.status_code == 200 and "石门村王秀英户精准扶贫档案" in r.text and "贫困户申请书" in r.text
    assert client.get("/v/household:石门村:王秀英").status_code == 404  # internal keys are not labels


def test_operator_retries_a_failed_item_and_sees_quarantine_reasons(web, settings):
    from pipeline.store import Database, Item, ItemState, QuarantinedFile

    client, _ = web
    db = Database(settings.db_url)
    with db.session() as s:
        s.add(Item(id=3, fingerprint="f3", label="bad.tif", state=ItemState.FAILED, attempts=3,
                   last_error="OSError: <b>cannot identify</b>"))
        s.add(QuarantinedFile(original_name="x.pdf", reason="encrypted PDF: a password is needed"))
    login(client, "clerk1")
    assert client.post("/retry/3", data={"csrf": csrf(client)}, follow_redirects=False).status_code == 403
    client.cookies.clear()
    login(client, "op1")
    page = client.get("/status").text
    assert "encrypted PDF" in page and "&lt;b&gt;cannot identify" in page
    live = client.get("/status.json").json()  # what the status page polls every 5 s
    assert (live["failed"], live["quarantined"], live["queue"]) == (1, 1, 0)
    assert client.post("/retry/3", data={"csrf": csrf(client, "/status")}, follow_redirects=False).status_code == 303
    with db.session() as s:
        assert (s.get(Item, 3).state, s.get(Item, 3).attempts) == (ItemState.QUEUED, 0)
    assert client.get("/status.json").json()["queue"] == 1 and client.get("/status.json").json()["failed"] == 0


def test_register_entries_are_searchable_and_export_to_xlsx(web):
    import io

    import openpyxl

    client, access = web
    access.register.record(clerk="clerk1", requester_name="李四", id_type="居民身份证", id_number=ID,
                           relation="本人", proof=["身份证"], purpose="社保", use="阅览")
    login(client, "clerk1")
    access.register.record(clerk="clerk1", requester_name="张三", id_type="居民身份证", id_number="11010519491231002x",
                           relation="本人", proof=["身份证"], purpose="社保", use="阅览")
    # Looked up by ID number with a POST: the number never goes into a URL or an access log.
    page = client.post("/register/find", data={"csrf": csrf(client, "/register"), "id_number": ID})
    assert "李四" in page.text and "张三" not in page.text
    assert ID not in page.text and "3601**********8999" in page.text
    xlsx = client.get("/register.xlsx")
    rows = list(openpyxl.load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True))
    assert len(rows) == 3 and "李四" in str(rows) and ID not in str(rows)


def test_search_marks_approximate_hits_after_exact_ones_and_offers_facets(web, settings):
    from pipeline.domain import PageDocument
    from pipeline.index import open_index

    client, _ = web
    with open_index(settings.index.backend, settings.index_dir) as index:
        # 王季英: one look-alike character (秀/季), as OCR misread it on an older page.
        index.add([PageDocument(page_id=2, item_id=2, archival_code="Z001-WS·1998-Y-JSW-0007", title="独生子女证明",
                                page_no=1, text="户主王季英 石门村", year=1998, village="石门村")])
        index.commit()
    login(client, "clerk1")
    page = client.get("/search", params={"q": "王秀英", "year_from": "", "sort": "relevance"}).text
    # The exact hit first; the misread page too, marked as an approximate match.
    assert listed(page) == [[(False, "Z001-WS·2016-D30-XZ-0001"), (True, "Z001-WS·1998-Y-JSW-0007")]]
    assert "近似匹配" in page and "石门村" in page  # a facet value
    filtered = client.get("/search", params={"q": "王秀英", "year_from": "2010", "year_to": "2020"}).text
    assert "JSW-0007" not in filtered and "Z001-WS·2016-D30-XZ-0001" in filtered


# ── server-side sessions ───────────────────────────────────────────


def test_a_cookie_kept_from_before_logout_is_refused_after_it(web):
    client, access = web
    login(client, "clerk1")
    kept = client.cookies["dangan_session"]
    assert client.get("/search", follow_redirects=False).status_code == 200
    assert client.post("/logout", data={"csrf": csrf(client)}, follow_redirects=False).status_code == 303
    client.cookies.set("dangan_session", kept)  # replayed, e.g. copied off a shared computer
    r = client.get("/search", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    with access.users.db.session() as s:  # the catalog holds only the session id's hash
        from sqlalchemy import select

        from pipeline.store.models import WebSession

        rows = list(s.scalars(select(WebSession)))
    assert len(rows) == 1 and rows[0].revoked_at is not None and len(rows[0].token_hash) == 64
    assert all(rows[0].token_hash not in kept for _ in [0])


def test_disabling_a_user_or_a_new_password_ends_their_open_sessions(web):
    client, access = web
    login(client, "clerk1")
    assert client.get("/search", follow_redirects=False).status_code == 200
    access.users.deactivate("clerk1", by="admin1")
    assert client.get("/search", follow_redirects=False).status_code == 303
    access.users.activate("clerk1", by="admin1")
    # Enabled again, the account signs in anew: the old session stays revoked.
    assert client.get("/search", follow_redirects=False).status_code == 303
    login(client, "clerk1")
    assert client.get("/search", follow_redirects=False).status_code == 200
    access.users.set_password("clerk1", "another horse 34", by="admin1")
    assert client.get("/search", follow_redirects=False).status_code == 303


def test_sessions_end_after_30_idle_minutes_and_after_8_hours(web):
    from datetime import datetime, timedelta, timezone

    _, access = web
    t0 = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)
    idle = access.sessions.open("clerk1", now=t0)
    assert access.sessions.check(idle, now=t0 + timedelta(minutes=29)) == "clerk1"
    assert access.sessions.check(idle, now=t0 + timedelta(minutes=60)) is None  # 31 minutes since last seen
    busy = access.sessions.open("clerk1", now=t0)
    for minutes in range(20, 8 * 60, 20):  # a request every 20 minutes all day
        assert access.sessions.check(busy, now=t0 + timedelta(minutes=minutes)) == "clerk1"
    assert access.sessions.check(busy, now=t0 + timedelta(hours=8, minutes=5)) is None


# ── user management ───────────────────────────────────────────────


def test_admin_creates_a_clerk_who_can_then_sign_in_and_manages_the_account(web):
    client, access = web
    login(client, "admin1")
    token = csrf(client, "/admin/users")
    weak = {"csrf": token, "username": "clerk2", "display_name": "窗口乙", "roles": ["clerk"], "password": "short"}
    r = client.post("/admin/users", data=weak, follow_redirects=False)
    assert r.status_code == 422 and "操作未完成" in r.text and access.users.get("clerk2") is None
    r = client.post("/admin/users", data={**weak, "password": "window two 2026"}, follow_redirects=False)
    assert r.status_code == 303
    assert "窗口乙" in client.get("/admin/users").text
    other = TestClient(client.app)
    assert login(other, "clerk2", "window two 2026").status_code == 303 and other.get("/search").status_code == 200
    assert other.get("/search").status_code == 200

    r = client.post("/admin/users/clerk2/roles", data={"csrf": token, "roles": ["clerk", "reviewer"]},
                    follow_redirects=False)
    assert r.status_code == 303 and access.users.get("clerk2").roles == "clerk reviewer"
    assert other.get("/review").status_code == 200  # at once: roles are read on every request
    r = client.post("/admin/users/clerk2/password", data={"csrf": token, "password": "window two 2027"},
                    follow_redirects=False)
    assert r.status_code == 303 and other.get("/search", follow_redirects=False).status_code == 303
    assert login(other, "clerk2", "window two 2027").status_code == 303
    r = client.post("/admin/users/clerk2/active", data={"csrf": token, "active": "0"}, follow_redirects=False)
    assert r.status_code == 303 and not access.users.get("clerk2").active
    assert other.get("/search", follow_redirects=False).status_code == 303
    assert login(other, "clerk2", "window two 2027").status_code == 401
    client.post("/admin/users/clerk2/active", data={"csrf": token, "active": "1"})
    assert login(other, "clerk2", "window two 2027").status_code == 303
    # An admin cannot lock themselves out.
    assert client.post("/admin/users/admin1/active", data={"csrf": token, "active": "0"}).status_code == 422
    assert client.post("/admin/users/admin1/roles", data={"csrf": token, "roles": ["clerk"]}).status_code == 422
    assert access.users.get("admin1").active and access.users.get("admin1").roles == "admin"

    ops = [(e.user, e.detail["op"]) for e in access.audit.list(action="admin", user="admin1")]
    assert {("admin1", op) for op in ("user-add", "user-roles", "user-passwd", "user-disable", "user-enable")} \
        <= set(ops)
    assert access.audit.verify() == []


def test_user_management_is_for_admins_only_and_needs_the_csrf_token(web):
    client, access = web
    login(client, "clerk1")
    token = csrf(client)
    new = {"csrf": token, "username": "mallory", "roles": ["admin"], "password": "let me in 12345"}
    routes = [("/admin/users", new), ("/admin/users/clerk1/roles", {"csrf": token, "roles": ["admin"]}),
              ("/admin/users/op1/active", {"csrf": token, "active": "0"}),
              ("/admin/users/admin1/password", {"csrf": token, "password": "let me in 12345"})]
    for path, data in routes:
        assert client.post(path, data=data, follow_redirects=False).status_code == 403, path
    assert access.users.get("mallory") is None and access.users.get("clerk1").roles == "clerk"
    assert access.users.get("op1").active
    client.cookies.clear()
    login(client, "admin1")
    for path, data in routes:
        without = {k: v for k, v in data.items() if k != "csrf"}
        assert client.post(path, data=without, follow_redirects=False).status_code == 403, path
        assert client.post(path, data={**without, "csrf": "x"}, follow_redirects=False).status_code == 403, path
    assert access.users.get("mallory") is None and access.users.get("op1").active


# ── search: thumbnails, approximate list, pages of results, facets ──────


def _exact_pages(n: int, first_item: int = 10) -> list[PageDocument]:
    return [PageDocument(page_id=100 + k, item_id=first_item + k, archival_code=f"Z002-WS·2015-Y-MZ-{k:04d}",
                         title="低保审批表", page_no=1, text=f"户主王秀英 第{k}号", year=2015, village="石门村",
                         fonds="Z002", category="WS", retention="Y", class_code="JF·C02·SQ",
                         class_name="贫困户申请书")
            for k in range(n)]


def test_a_misread_page_shows_in_its_own_list_below_a_full_page_of_exact_hits(web, settings):
    client, _ = web
    add_pages(settings, _exact_pages(24) + [
        PageDocument(page_id=99, item_id=9, archival_code="Z001-WS·1998-Y-JSW-0007", title="独生子女证明",
                     page_no=1, text="户主王季英 石门村", year=1998, village="石门村")])
    login(client, "clerk1")
    page = client.get("/search", params={"q": "王秀英"}).text
    exact, approximate = listed(page)
    assert len(exact) == 20 and not any(a for a, _ in exact)
    assert approximate == [(True, "Z001-WS·1998-Y-JSW-0007")]
    assert "近似匹配（可能为识别错误）" in page and "共 26 页命中（其中 1 页为近似匹配）" in page
    # Its link carries its place after all 25 exact hits.
    assert re.search(r'href="/view/9/1\?qt=[^"]*&amp;n=26&amp;of=26"', page)
    assert 'rel="next"' in page and 'rel="prev"' not in page

    second = client.get("/search", params={"q": "王秀英", "offset": "20"}).text
    assert len(listed(second)) == 1 and len(listed(second)[0]) == 6  # the last 5 exact, then the misread one
    assert listed(second)[0][-1] == (True, "Z001-WS·1998-Y-JSW-0007")
    assert 'rel="prev"' in second and 'rel="next"' not in second and 'start="21"' in second


def test_facets_filter_by_fonds_category_retention_and_name_the_class(web, settings, tmp_path):
    client, access = web
    add_pages(settings, _exact_pages(3))
    login(client, "clerk1")
    page = client.get("/search", params={"q": "王秀英"}).text
    for heading in ("全宗", "门类", "保管期限", "类目", "村"):
        assert f"<h3>{heading}</h3>" in page, heading
    assert ">贫困户申请书</a> (3)" in page  # the class facet by its name, not only its code
    link = re.search(r'href="/search\?([^"]*retention=Y[^"]*)"', page).group(1).replace("&amp;", "&")
    filtered = client.get(f"/search?{link}").text
    assert [code for _, code in listed(filtered)[0]] == [f"Z002-WS·2015-Y-MZ-{k:04d}" for k in range(3)]
    assert "保管期限：Y ×" in filtered and '<input type="hidden" name="retention" value="Y">' in filtered
    other = client.get("/search", params={"q": "王秀英", "fonds": "Z002", "category": "WS"}).text
    assert len(listed(other)[0]) == 3 and "全宗：Z002 ×" in other and "门类：WS ×" in other
    assert access.audit.list(action="search", limit=1)[0].detail["filters"] == {"fonds": "Z002", "category": "WS"}
    assert "共 0 页命中" in client.get("/search", params={"q": "王秀英", "category": "DA"}).text


def test_thumbnails_are_small_cached_and_withheld_for_personal_files_until_registered(web, settings):
    import io

    from PIL import Image

    client, access = web
    add_pages(settings, _exact_pages(1))
    login(client, "clerk1")
    page = client.get("/search", params={"q": "王秀英"}).text
    assert '<div class="thumb locked">需登记后查看</div>' in page  # item 1 holds an ID number
    assert '<img src="/thumb/10/1?reg="' in page
    assert client.get("/thumb/1/1").status_code == 403
    r = client.get("/thumb/10/1")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(r.content)).size == (160, 107)  # 600 × 400, 160 wide
    cached = list((settings.home / "web" / "thumbs").rglob("*.jpg"))
    assert len(cached) == 1 and client.get("/thumb/10/1").content == cached[0].read_bytes()
    assert not any(e.action.startswith("view") for e in access.audit.list(limit=20))

    reg = register_visit(client)
    assert client.get(f"/thumb/1/1?reg={reg}").status_code == 200
    page = client.get("/search", params={"q": "王秀英", "reg": reg}).text
    assert "需登记后查看" not in page and f'<img src="/thumb/1/1?reg={reg}"' in page
    client.cookies.clear()
    assert client.get(f"/thumb/1/1?reg={reg}", follow_redirects=False).status_code == 303  # signed in only


# ── viewer: next / previous hit, print selected pages ────────────────


def test_viewer_steps_through_the_hits_of_a_search(web, settings):
    client, access = web
    add_pages(settings, _exact_pages(3))
    login(client, "clerk1")
    page = client.get("/search", params={"q": "王秀英", "retention": "Y", "sort": "date"}).text
    first = re.search(r'<div class="code"><a href="([^"]+)"', page).group(1).replace("&amp;", "&")
    # The query travels sealed (qt=…), never as text in a URL.
    assert re.fullmatch(rf"/view/10/1\?qt={TOKEN}&retention=Y&sort=date&n=1&of=3", first), first
    viewer = client.get(first).text
    assert "第 1 / 3 处命中" in viewer and "上一处命中" not in viewer
    step = re.search(r'<a href="(/hit\?[^"]+)" rel="next">下一处命中</a>', viewer).group(1).replace("&amp;", "&")
    r = client.get(step, follow_redirects=False)
    assert r.status_code == 303
    assert re.fullmatch(rf"/view/11/1\?qt={TOKEN}&retention=Y&sort=date&n=2&of=3", r.headers["location"])
    viewer = client.get(r.headers["location"]).text
    assert "第 2 / 3 处命中" in viewer and "上一处命中" in viewer and "下一处命中" in viewer
    assert 'class="hit"' in viewer or "<svg" in viewer
    last = access.audit.list(action="search", limit=1)[0]
    assert last.query == "王秀英" and last.detail["hit"] == 2 and last.detail["filters"] == {"retention": "Y"}
    assert client.get("/hit", params={"q": "王秀英", "retention": "Y", "n": "4"}).status_code == 404

    # A sensitive page reached by stepping: register first, then back to the same hit, 登记号 along.
    r = client.get("/hit", params={"q": "王秀英", "n": "1"}, follow_redirects=False)
    assert r.headers["location"].startswith("/view/1/1?") and "n=1" in r.headers["location"]
    r = client.get(r.headers["location"], follow_redirects=False)
    assert r.headers["location"].startswith("/register/new?next=")
    back = re.search(r'name="next" value="([^"]+)"', client.get(r.headers["location"]).text).group(1)
    reg = register_visit(client, back.replace("&amp;", "&"))
    viewer = client.get(f"{back.replace('&amp;', '&')}&reg={reg}").text
    assert "第 1 / 4 处命中" in viewer and ID in viewer
    step = re.search(r'<a href="(/hit\?[^"]+)" rel="next">', viewer).group(1).replace("&amp;", "&")
    assert f"reg={reg}" in step
    assert f"reg={reg}" in client.get(step, follow_redirects=False).headers["location"]


def test_clerk_prints_the_pages_ticked_in_the_viewer(web, settings, tmp_path):
    import subprocess

    from pipeline.store import Page

    client, access = web
    with Database(settings.db_url).session() as s:
        s.add(Page(item_id=1, page_no=2, working_path=str(settings.home / "pages" / "p1.png"), ocr_text="第二页",
                   width=600, height=400))
    login(client, "clerk1")
    reg = register_visit(client)
    viewer = client.get(f"/view/1/2?reg={reg}").text
    boxes = re.findall(r'<input type="checkbox" name="pages" value="(\d)"( checked)?>', viewer)
    assert boxes == [("1", ""), ("2", " checked")]  # the page on screen is ticked
    printed = client.post("/print", data={"csrf": csrf(client), "item_id": "1", "pages": ["2", "1"], "reg": reg})
    assert printed.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "print.pdf"
    pdf.write_bytes(printed.content)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, check=True, text=True).stdout
    assert re.search(r"^Pages:\s+2$", info, re.M), info
    for n in (1, 2):
        text = subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), str(pdf), "-"], capture_output=True,
                              check=True, text=True).stdout
        assert reg in text and "窗口甲" in text, n  # every page carries the watermark
    assert access.audit.list(action="print", limit=1)[0].detail["pages"] == [1, 2]
    assert access.register.entry(reg).pages_copied == 2
    r = client.post("/print", data={"csrf": csrf(client), "item_id": "1", "reg": reg})
    assert r.status_code == 422 and "请至少选择一页" in r.text


def test_the_shared_listening_socket_is_tcp_so_connections_get_nodelay():
    """With --workers N uvicorn's own listener reports protocol 0 and asyncio leaves Nagle on
    (uvicorn #3149: ~40 ms per keep-alive request); ours reports TCP."""
    import socket

    from pipeline.web.server import APP, _TcpConfig

    sock = _TcpConfig(APP, factory=True, host="127.0.0.1", port=0, workers=2).bind_socket()
    try:
        assert (sock.family, sock.proto) == (socket.AF_INET, socket.IPPROTO_TCP) and sock.get_inheritable()
    finally:
        sock.close()
