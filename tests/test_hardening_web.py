"""Issue 13, the clerk's side: full ID numbers never shown before a 查档登记 (titles, grouped
and letter-bound IDs, birth dates), never in a URL, a log line or the audit log; imported
pages tagged; a shared sign-in throttle; no 500 on odd parameters; each role's first page.

Real app and catalog (TestClient), and a real `dangan web` server where processes matter.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import httpx
import pytest

from conftest import REPO, dangan_env, run_cli, wait_progress
from test_web import ID, PASSWORD, add_pages, catalog_and_index_page, csrf, login, make_web, register_visit

from pipeline.domain import PageDocument
from pipeline.store import Database

@pytest.fixture
def web(settings):
    return make_web(settings)


GROUPED_ID = "360122-19720808-4563"  # the same person's number as printed on some forms
GROUPED_DIGITS = GROUPED_ID.replace("-", "")
LETTER_ID = "NO360122195511117779"
BIRTH = "1944年5月22日"


def _personal_pages(settings) -> None:
    """Pages whose text holds IDs in every form a scan shows them, catalogued as sensitive by
    the real description step."""
    from pipeline.classify.metadata import extract_metadata
    from pipeline.index import open_index
    from pipeline.store import Item

    texts = {21: f"户主赵六 身份证号：{GROUPED_ID} 家庭人口3人",
             22: f"证件 {LETTER_ID} 持证人钱七",
             23: f"申请人孙八 出生日期：{BIRTH} 公民身份号码：{ID}"}
    docs = [PageDocument(page_id=200 + k, item_id=k, archival_code=f"Z001-WS·2016-Y-BGS-{k:04d}",
                         title=f"[户主赵六身份证号{GROUPED_DIGITS}]" if k == 21 else "申请表", page_no=1, text=t)
            for k, t in texts.items()]
    add_pages(settings, docs)
    with Database(settings.db_url).session() as s:
        for k, text in texts.items():
            tags = extract_metadata(text).sensitive
            assert "id_number" in tags, (k, tags)  # grouped and letter-bound IDs count as IDs
            s.get(Item, k).sensitive = " ".join(tags)
    with open_index(settings.index.backend, settings.index_dir) as index:
        index.mark_rebuilt()


def test_ids_in_groups_or_touching_letters_and_birth_dates_are_masked(web, settings):
    client, _ = web
    _personal_pages(settings)
    login(client, "clerk1")
    for query, item in ((GROUPED_DIGITS, 21), (GROUPED_ID, 21), ("赵六", 21), ("360122195511117779", 22),
                        ("钱七", 22), ("出生日期", 23)):
        page = client.get("/search", params={"q": query}).text
        assert f"/view/{item}/1?" in page, query  # found, by the full number too
        for secret in (GROUPED_DIGITS, "19720808", "195511117779", ID, BIRTH, "1944"):
            assert secret not in page, (query, secret)
    page = client.get("/search", params={"q": "出生日期"}).text
    assert "出生日期：****年*月**日" in re.sub(r"</?mark>", "", page)
    # The title made from a file name or heading before this fix: masked where it is shown.
    assert "户主赵六身份证号360122********4563" in client.get("/search", params={"q": "赵六"}).text
    # Opening any of them needs a 查档登记 first; after it, the text is shown whole.
    for item in (21, 22, 23):
        r = client.get(f"/view/{item}/1", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/register/new"), item
    reg = register_visit(client)
    viewer = client.get(f"/view/23/1?reg={reg}").text
    assert ID in viewer and BIRTH in viewer


def test_a_title_with_an_id_number_from_a_file_name_or_heading_is_masked_at_the_source():
    from pipeline.classify.metadata import extract_metadata

    named = extract_metadata("", fallback_title="王秀英身份证360122194405228999.jpg")
    assert named.title == "[王秀英身份证360122********8999.jpg]" and "id_number" in named.sensitive
    heading = extract_metadata("户主赵六身份证号360122200102030406贫困户申请表\n申请理由：缺劳力")
    assert heading.title == "户主赵六身份证号360122********0406贫困户申请表"
    grouped = extract_metadata(f"证明\n户主身份证号 {GROUPED_ID} 特此证明")
    assert [i.value for i in grouped.id_numbers] == [GROUPED_DIGITS] and grouped.id_numbers[0].valid
    # A row of dates joins into 18 digits too, but is not taken for an ID number.
    dates = extract_metadata("记录\n2018.03.12 2019.04.15 12")
    assert not dates.id_numbers and [d.value for d in dates.dates] == ["20180312", "20190415"]


def test_odd_parameters_are_refused_not_answered_with_500(web):
    client, _ = web
    login(client, "clerk1")
    for path in ("/view/99999999999999999999/1", "/view/1/99999999999999999999", "/view/-1/1",
                 "/image/99999999999999999999/1", "/thumb/1/99999999999999999999",
                 "/search?q=王秀英&year_from=²", "/search?q=王秀英&year_from=99999999999999999999",
                 "/search?q=王秀英&year_to=١٩٩٨", "/search?q=王秀英&offset=99999999999999999999",
                 "/search?q=" + "王" * 5000, "/hit?q=王秀英&n=99999999999999999999",
                 "/view/1/1?n=99999999999999999999&of=99999999999999999999", "/search?qt=forged-token",
                 "/register?q=" + "x" * 5000):
        r = client.get(path, follow_redirects=False)
        assert r.status_code < 500, (path, r.status_code)
    for path, data in (("/retry/99999999999999999999", {}), ("/print", {"item_id": "99999999999999999999"}),
                       ("/print", {"item_id": "1", "pages": ["99999999999999999999"]})):
        r = client.post(path, data={"csrf": csrf(client), **data}, follow_redirects=False)
        assert r.status_code < 500, (path, r.status_code)
    r = client.get("/search", params={"q": "王秀英", "year_from": "²"})
    assert r.status_code == 200 and "/view/1/1?" in r.text  # an unreadable year is no filter


def test_register_fields_have_length_limits(web):
    client, access = web
    login(client, "clerk1")
    form = {"csrf": csrf(client, "/register/new"), "requester_name": "王" * 100_000, "id_type": "居民身份证",
            "id_number": "11010519491231002x", "relation": "本人", "proof": ["身份证"], "purpose": "建房",
            "use": "阅览", "next": "/search"}
    r = client.post("/register", data=form, follow_redirects=False)
    assert r.status_code == 422 and "too long" in r.text
    assert access.register.find(by="test") == []
    r = client.post("/register", data={**form, "requester_name": "王小明", "purpose": "因" * 501},
                    follow_redirects=False)
    assert r.status_code == 422
    assert client.post("/register", data={**form, "requester_name": "王小明"}, follow_redirects=False).status_code == 303


def test_each_role_lands_on_a_page_it_may_see(web):
    client, access = web
    access.users.create("rev1", PASSWORD, ["reviewer"], by="test")
    for user, first in (("clerk1", "/search"), ("rev1", "/review"), ("op1", "/status"), ("admin1", "/search")):
        client.cookies.clear()
        login(client, user)
        r = client.get("/", follow_redirects=False)
        assert r.headers["location"] == first, user
        assert client.get(first).status_code == 200, user


def test_imported_pages_with_personal_data_are_tagged_and_need_a_register_entry(home, settings, web):
    client, _ = web
    from pipeline.store import Item

    env = dangan_env(home)
    lines = [{"archival_code": "Z009-WS·2001-Y-BGS-0001", "title": "低保对象审批表", "page": 1,
              "text": "申请人周九 患慢性病 长期住院治疗 申请最低生活保障"},
             {"archival_code": "Z009-WS·2001-Y-BGS-0002", "title": "会议通知", "page": 1,
              "text": "定于三月五日召开村民代表大会 讨论道路硬化"}]
    jsonl = home / "legacy.jsonl"
    jsonl.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    r = run_cli(["index", "import", str(jsonl)], env)
    assert r.returncode == 0, r.stderr
    with Database(settings.db_url).session() as s:
        tags = {i.archival_code: i.sensitive for i in s.query(Item).filter(Item.origin == "import")}
        ids = {i.archival_code: i.id for i in s.query(Item).filter(Item.origin == "import")}
    assert set(tags["Z009-WS·2001-Y-BGS-0001"].split()) >= {"health", "dibao"}
    assert not tags["Z009-WS·2001-Y-BGS-0002"]
    login(client, "clerk1")
    r = client.get(f"/view/{ids['Z009-WS·2001-Y-BGS-0001']}/1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/register/new")
    assert client.get(f"/view/{ids['Z009-WS·2001-Y-BGS-0002']}/1", follow_redirects=False).status_code == 200


# ── a real `dangan web` server: URLs, access log, audit log, throttle ──────────


@pytest.fixture
def web_server(settings, home):
    """`dangan web --workers 2` on a free port, with a clerk and a page holding an ID number."""
    import socket

    from pipeline.access import Access

    db = Database(settings.db_url)
    access = Access.open(db, settings.home)
    access.users.create("clerk1", PASSWORD, ["clerk"], by="test")
    access.users.create("clerk2", PASSWORD, ["clerk"], by="test")
    catalog_and_index_page(settings, db)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = home / "web.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "web", "--port", str(port), "--workers", "2"],
                                cwd=REPO, env=dangan_env(home), stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/login", timeout=2).status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None

    wait_progress(up, lambda: log.stat().st_size, stall=90, what="dangan web")
    assert proc.poll() is None, log.read_text()
    yield url, log, access
    proc.terminate()
    proc.wait(timeout=30)


def _signed_in(url: str, user: str = "clerk1") -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    r = client.post("/login", data={"username": user, "password": PASSWORD})
    assert r.status_code == 303, r.text
    return client


def _token(client: httpx.Client, path: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


@pytest.mark.slow
def test_an_id_number_searched_is_in_no_url_log_line_or_audit_entry(web_server, home):
    url, log, access = web_server
    client = _signed_in(url)
    r = client.post("/search", data={"csrf": _token(client, "/search"), "q": ID})
    assert r.status_code == 303 and ID not in r.headers["location"] and "qt=" in r.headers["location"]
    results = client.get(r.headers["location"])
    assert results.status_code == 200 and "/view/1/1?" in results.text and ID not in results.text
    assert ID not in "".join(re.findall(r'href="([^"]+)"', results.text))  # no link carries it
    # A link typed by hand (?q=…) is answered by a redirect to the sealed form.
    typed = client.get("/search", params={"q": ID})
    assert typed.status_code == 303 and "qt=" in typed.headers["location"] and ID not in typed.headers["location"]
    # Another clerk cannot use the first one's link.
    other = _signed_in(url, "clerk2").get(r.headers["location"])
    assert "/view/1/1?" not in other.text
    # The register looked up by ID number: posted, not in the URL.
    found = client.post("/register/find", data={"csrf": _token(client, "/register"), "id_number": ID})
    assert found.status_code == 200
    viewer = client.get(f"/view/1/1?{r.headers['location'].split('?', 1)[1]}")  # sensitive: register first
    assert viewer.status_code == 303 and ID not in viewer.headers["location"]

    wait_progress(lambda: "POST /register/find" in log.read_text(encoding="utf-8"), lambda: log.stat().st_size,
                  stall=30, what="access log lines")
    assert ID not in log.read_text(encoding="utf-8")  # nor in any line the server wrote
    entries = access.audit.list(limit=20)
    assert any(e.action == "search" and e.query == "3601**********8999" for e in entries)
    assert all(ID not in json.dumps([e.query, e.detail], ensure_ascii=False) for e in entries)
    listed = run_cli(["audit", "list", "--json", "--number", ID], dangan_env(home))
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert rows and {r["action"] for r in rows} >= {"search"} and ID not in listed.stdout
    assert all(r["query"] is None or "**" in r["query"] for r in rows)


@pytest.mark.slow
def test_sign_in_throttle_is_shared_by_web_processes_and_ignores_forged_forwarded_for(web_server):
    url, _, _ = web_server
    anon = httpx.Client(base_url=url, timeout=30)
    codes = [anon.post("/login", data={"username": "nobody", "password": "wrong password"},
                       headers={"X-Forwarded-For": f"10.0.0.{n}"}).status_code for n in range(11)]
    # Ten failures, then refused, whichever of the two processes answered and whatever
    # address the client claimed (no proxy is configured, so X-Forwarded-For is not believed).
    assert codes == [401] * 10 + [429], codes
    assert anon.post("/login", data={"username": "clerk1", "password": PASSWORD}).status_code == 303
    for n in range(40):  # a guesser rotating usernames: the address as a whole is refused at 50
        anon.post("/login", data={"username": f"guess{n}", "password": "wrong password"})
    assert anon.post("/login", data={"username": "clerk2", "password": PASSWORD}).status_code == 429


def test_status_page_shows_what_the_inbox_holds_and_a_pause_for_disk_space(web, settings):
    """What `dangan watch` publishes (ReadinessGate.report) reaches the operator's page: files
    waiting and why, hidden names ignored, the pause banner; names with ID numbers masked."""
    from pipeline.store import Catalog

    Catalog(Database(settings.db_url)).publish_inbox(settings.ingest.station, {
        "in_flight": 2, "paused": "only 100 MiB free on /data, below the 256 MiB floor (min_free_mb)",
        "waiting": [{"entry": f"王秀英{ID}.jpg", "reason": "OSError: [Errno 28] No space left on device", "errors": 0}],
        "ignored": [{"entry": "..\\..\\evil.png", "reason": "hidden name (starts with a dot): rename it to ingest it"}],
        "ignored_count": 1})
    client, _ = web
    login(client, "op1")
    page = client.get("/status").text
    assert "磁盘空间不足" in page and "below the 256 MiB floor" in page
    assert "王秀英360122********8999.jpg" in page and ID not in page and "No space left" in page
    assert "..\\..\\evil.png" in page and "hidden name" in page
    assert client.get("/status.json").json()["paused"] is True
