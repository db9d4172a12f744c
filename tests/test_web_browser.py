"""The clerk's visit end to end in real headless Chromium (Debian's /usr/bin/chromium, Playwright).

Sign in → search a name → open the page → 查档登记 → the hit highlighted on the page image →
print (a watermarked PDF). A screenshot of each step is saved (TEST_ARTIFACTS=DIR keeps them).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, activity, dangan_env, wait_progress
from test_web import ID, PASSWORD, catalog_and_index_page

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(settings, home):
    from pipeline.store import Database
    from pipeline.access import Access

    db = Database(settings.db_url)
    Access.open(db, settings.home).users.create("clerk1", PASSWORD, ["clerk"], by="test", display_name="窗口甲")
    catalog_and_index_page(settings, db)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "web", "--port", str(port)], cwd=REPO,
                            env=dangan_env(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return proc.poll() is not None

    wait_progress(up, activity, stall=90, what="web server")
    assert proc.poll() is None, proc.stdout.read().decode()
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_clerk_finds_views_registers_and_prints_in_chromium(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("TEST_ARTIFACTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(locale="zh-CN", accept_downloads=True)
        page.goto(f"{server}/search")
        expect(page).to_have_url(re.compile(r"/login$"))  # nothing without signing in
        page.fill("input[name=username]", "clerk1")
        page.fill("input[name=password]", PASSWORD)
        page.screenshot(path=shots / "1-login.png")
        page.click("button[type=submit]")
        expect(page).to_have_url(re.compile(r"/search$"))

        page.fill("input[name=q]", "王秀英")
        page.click("form.search button")
        expect(page.locator("mark").first).to_have_text("王秀英")
        assert ID not in page.content()  # masked in the result list
        page.screenshot(path=shots / "2-results.png")

        page.click("ol.hits a")
        expect(page).to_have_url(re.compile(r"/register/new"))  # a sensitive file: register first
        page.fill("input[name=requester_name]", "王小明")
        page.fill("input[name=id_number]", "11010519491231002X")
        page.select_option("select[name=relation]", "直系亲属")
        page.check("input[value=信用承诺书]")
        page.fill("input[name=purpose]", "建房审批")
        page.select_option("select[name=use]", "复制")
        page.screenshot(path=shots / "3-register.png")
        page.click("form.register button")

        expect(page).to_have_url(re.compile(r"/view/1/1\?.*reg=\d{4}-\d{6}"))
        expect(page.locator("rect.hit")).to_have_count(1)
        box = page.locator("svg.page image").bounding_box()
        assert box and box["width"] > 100  # the page image itself loaded and is shown
        page.screenshot(path=shots / "4-viewer.png", full_page=True)

        with page.expect_download() as download:
            page.click("form.print button")
        pdf = tmp_path / "print.pdf"
        download.value.save_as(pdf)
        browser.close()
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "窗口甲" in text and re.search(r"登记号 \d{4}-\d{6}", text)
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-singlefile", str(pdf), str(shots / "5-print")], check=True)


def test_status_page_updates_itself_in_chromium(server, settings, tmp_path):
    """The operator's status page is live: new work shows without reloading (status.js)."""
    from playwright.sync_api import expect, sync_playwright

    from pipeline.store import Database, Item, ItemState
    from pipeline.access import Access

    db = Database(settings.db_url)
    Access.open(db, settings.home).users.create("op1", PASSWORD, ["operator"], by="test")
    shots = Path(os.environ.get("TEST_ARTIFACTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(locale="zh-CN")
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{server}/login")
        page.fill("input[name=username]", "op1")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("form.logout")).to_be_visible()  # signed in
        page.goto(f"{server}/status")
        expect(page.locator("td[data-k=queue]")).to_have_text("0")
        with db.session() as s:  # a scanner batch arrives while the page is open
            s.add_all([Item(id=n, fingerprint=f"q{n}", label=f"batch-{n}", state=ItemState.QUEUED) for n in (7, 8)])
        expect(page.locator("td[data-k=queue]")).to_have_text("2", timeout=15_000)
        expect(page.locator("[data-k=at]")).not_to_be_empty()
        page.screenshot(path=shots / "6-status.png", full_page=True)
        browser.close()
    assert not errors  # no script error (nor a CSP refusal) in the console


def test_an_id_searched_in_chromium_stays_out_of_the_address_bar_and_a_reviewer_lands_on_review(server, settings):
    """Issue 13: the search form posts, the address bar shows a sealed query, the page shows the
    ID masked; a reviewer's first page is one a reviewer may see (it used to be a 403)."""
    from playwright.sync_api import expect, sync_playwright

    from pipeline.store import Database
    from pipeline.access import Access

    Access.open(Database(settings.db_url), settings.home).users.create("rev1", PASSWORD, ["reviewer"], by="test")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(locale="zh-CN")
        page.goto(f"{server}/login")
        page.fill("input[name=username]", "clerk1")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.fill("input[name=q]", ID)
        page.click("form.search button")
        expect(page.locator("ol.hits li")).to_have_count(1)
        assert ID not in page.url and "qt=" in page.url
        assert ID not in page.content() and "360122********8999" in page.content()
        history = page.evaluate("() => window.location.href")
        assert ID not in history
        page.click("form.logout button")

        page.fill("input[name=username]", "rev1")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(re.compile(r"/review$"))
        expect(page.locator("h1")).to_contain_text("审核")
        browser.close()
