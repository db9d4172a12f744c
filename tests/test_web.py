"""The clerks' web UI: every route authenticated, CSRF, roles, escaping, throttling, audit.

Real app, real catalog and tantivy index, driven over HTTP by Starlette's TestClient.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from pipeline.domain import PageDocument
from pipeline.store import Database
from pipeline.store.access import Access
from pipeline.web.app import create_app

PASSWORD = "correct horse 12"
ID = "360122194405228999"


@pytest.fixture
def web(settings):
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
    import json

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
    words = [{"text": ch, "confidence": 0.99, "box": [[100 + 30 * i, 50], [130 + 30 * i, 50],
                                                        [130 + 30 * i, 90], [100 + 30 * i, 90]]}
             for i, ch in enumerate("户主王秀英")]
    layout = settings.home / "pages" / "p1.ocr.json"
    layout.write_text(json.dumps({"width": 600, "height": 400, "lines": [
        {"text": "户主王秀英", "confidence": 0.99, "box": words[0]["box"], "words": words}]}), encoding="utf-8")
    with db.session() as s:
        s.add(Item(id=1, fingerprint="f1", label="scan.jpg", state=ItemState.DONE, title="关于王秀英户的批复",
                   archival_code="Z001-WS·2016-D30-XZ-0001", sensitive="id_number"))
        s.add(Page(item_id=1, page_no=1, working_path=str(image), ocr_layout_path=str(layout),
                   ocr_text=f"户主王秀英\n身份证{ID}", width=600, height=400))


def login(client: TestClient, username: str, password: str = PASSWORD):
    return client.post("/login", data={"username": username, "password": password}, follow_redirects=False)


def csrf(client: TestClient, path: str = "/search") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


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
    assert r.status_code == 303 and r.headers["location"] == "/search"
    page = client.get("/search", params={"q": "王秀英"})
    assert page.status_code == 200
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
    assert login(client, "clerk1").status_code == 429  # even the right password waits
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
    assert client.post("/retry/3", data={"csrf": csrf(client, "/status")}, follow_redirects=False).status_code == 303
    with db.session() as s:
        assert (s.get(Item, 3).state, s.get(Item, 3).attempts) == (ItemState.QUEUED, 0)


def test_register_entries_are_searchable_and_export_to_xlsx(web):
    import io

    import openpyxl

    client, access = web
    access.register.record(clerk="clerk1", requester_name="李四", id_type="居民身份证", id_number=ID,
                           relation="本人", proof=["身份证"], purpose="社保", use="阅览")
    login(client, "clerk1")
    page = client.get("/register", params={"id_number": ID})
    assert "李四" in page.text and ID not in page.text and "3601**********8999" in page.text
    xlsx = client.get("/register.xlsx")
    rows = list(openpyxl.load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True))
    assert len(rows) == 2 and "李四" in rows[1] and ID not in str(rows)


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
    hits = re.findall(r'<li( class="approximate")?>\s*<div class="code">.*?(Z001-[^ <]+)', page, re.S)
    codes = [(bool(approx), code) for approx, code in hits]
    # The exact hit first; the misread page too, marked as an approximate match.
    assert codes == [(False, "Z001-WS·2016-D30-XZ-0001"), (True, "Z001-WS·1998-Y-JSW-0007")]
    assert "近似匹配" in page and "石门村" in page  # a facet value
    filtered = client.get("/search", params={"q": "王秀英", "year_from": "2010", "year_to": "2020"}).text
    assert "JSW-0007" not in filtered and "Z001-WS·2016-D30-XZ-0001" in filtered
