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

    with open_index(settings.index.backend, settings.index_dir) as index:
        index.add([PageDocument(page_id=1, item_id=1, archival_code="Z001-WS·2016-D30-XZ-0001",
                                title="关于王秀英户的批复", page_no=1,
                                text=f"户主王秀英<script>alert(1)</script>身份证{ID}", year=2016)])
        index.commit()
        index.mark_rebuilt()
    return TestClient(create_app(settings)), access


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
