"""A damaged search index never stops the service and can always be rebuilt from the catalog.

Real indexes built through the real code, damaged the ways disks and people damage them
(random bytes, a truncated meta.json, deleted or zeroed files, an emptied directory), then
driven through the real CLI, web app and service.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import dangan_env, exact, run_cli, start_service, wait_progress
from pipeline.domain import PageDocument
from pipeline.index import IndexDamaged, SharedIndex, needs_rebuild, open_index, reset_index
from pipeline.index.base import SENTINEL_NAME
from pipeline.store import Database, Item, ItemState, Page

NAME = "王秀英"
CODE = "Z001-WS·2016-D30-XZ-0001"
UNAVAILABLE = "检索索引尚未建立或需要重建，请联系管理员。"
SEGMENT_SUFFIXES = (".idx", ".pos", ".term", ".store", ".fast", ".fieldnorm")


def doc(page_id: int, item_id: int, person: str, code: str = CODE) -> PageDocument:
    return PageDocument(page_id=page_id, item_id=item_id, archival_code=code, title=f"关于{person}户的批复",
                        page_no=1, text=f"户主{person}，汉族", year=2016)


DOCS = [doc(1, 1, NAME), doc(2, 2, "李强", "Z001-WS·2016-D30-XZ-0002")]


def build(backend: str, path: Path) -> None:
    """An index as the indexer leaves it: pages committed, rebuilt mark set."""
    with open_index(backend, path) as index:
        index.add(DOCS)
        index.commit()
        index.mark_rebuilt()


def segment_files(path: Path) -> list[Path]:
    return [f for f in path.iterdir() if f.suffix in SEGMENT_SUFFIXES or f.suffix == ".seg"]


def _random_bytes(path: Path) -> None:
    for f in segment_files(path):
        f.write_bytes(os.urandom(f.stat().st_size))


def _truncated_meta(path: Path) -> None:
    (path / "meta.json").write_text('{"index_settings": {\n', encoding="utf-8")


def _deleted(suffix: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        for f in path.glob(f"*{suffix}"):
            f.unlink()
    return damage


def _all_zero_store(path: Path) -> None:
    for f in path.glob("*.store"):
        f.write_bytes(bytes(f.stat().st_size))


def _emptied(path: Path) -> None:
    """Everything gone but our sentinel, which still says the index mirrors the catalog."""
    for f in path.iterdir():
        if f.name != SENTINEL_NAME:
            f.unlink()


TANTIVY_DAMAGE: dict[str, Callable[[Path], None]] = {
    "random-bytes-over-segment-files": _random_bytes,
    "truncated-meta-json": _truncated_meta,
    "deleted-store": _deleted(".store"),
    "deleted-idx": _deleted(".idx"),
    "deleted-term": _deleted(".term"),
    "deleted-pos": _deleted(".pos"),  # only a phrase query reads positions: the open check finds it
    "all-zero-store": _all_zero_store,
    "empty-directory-with-sentinel": _emptied,
}


def _whoosh_truncated_toc(path: Path) -> None:
    for f in path.glob("_*.toc"):
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


WHOOSH_DAMAGE: dict[str, Callable[[Path], None]] = {
    "random-bytes-over-segment-files": _random_bytes,
    "truncated-toc": _whoosh_truncated_toc,
    "deleted-segment": _deleted(".seg"),
    "empty-directory-with-sentinel": _emptied,
}


# ───────────────────────────── the index itself ─────────────────────────────


@pytest.mark.parametrize("kind", list(TANTIVY_DAMAGE))
def test_tantivy_damage_is_one_typed_error_and_reset_recovers(tmp_path, kind):
    path = tmp_path / "ix"
    build("tantivy", path)
    TANTIVY_DAMAGE[kind](path)
    assert not needs_rebuild("tantivy", path)  # the sentinel alone cannot tell
    with pytest.raises(IndexDamaged, match="dangan index rebuild"):
        open_index("tantivy", path)
    with reset_index("tantivy", path) as index:
        assert needs_rebuild("tantivy", path)
        assert index.rebuild(iter(DOCS)) == len(DOCS)
        assert exact(index, NAME).total == 1
    assert not needs_rebuild("tantivy", path)


@pytest.mark.parametrize("kind", list(WHOOSH_DAMAGE))
def test_whoosh_damage_is_one_typed_error_and_reset_recovers(tmp_path, kind):
    path = tmp_path / "ix"
    build("whoosh", path)
    WHOOSH_DAMAGE[kind](path)
    with pytest.raises(IndexDamaged, match="dangan index rebuild"):
        with open_index("whoosh", path) as index:
            exact(index, NAME)  # Whoosh reads some files only when searching
    with reset_index("whoosh", path) as index:
        assert index.rebuild(iter(DOCS)) == len(DOCS)
        assert exact(index, NAME).total == 1


def test_damage_found_while_searching_is_typed(tmp_path):
    """Bytes damaged inside the doc store pass the cheap open check; the search that reads
    them raises IndexDamaged, not the engine's error."""
    from pipeline.index import search

    path = tmp_path / "ix"
    build("tantivy", path)
    store = next(path.glob("*.store"))
    data = bytearray(store.read_bytes())
    body = len(data) - 200  # leave the footer: only a checksum over the whole file would see this
    data[:body] = bytes(body)
    store.write_bytes(bytes(data))
    try:
        index = open_index("tantivy", path)
    except IndexDamaged:
        return  # found at open: as good
    with index, pytest.raises(IndexDamaged, match="dangan index rebuild"):
        search(index, NAME)


def test_reset_refuses_a_foreign_directory(tmp_path):
    (tmp_path / "precious.txt").write_text("not an index")
    with pytest.raises(Exception, match="refusing to wipe"):
        reset_index("tantivy", tmp_path)
    assert (tmp_path / "precious.txt").exists()


def test_shared_index_waits_out_damage_until_rebuilt(tmp_path):
    path = tmp_path / "ix"
    build("tantivy", path)
    _truncated_meta(path)
    shared = SharedIndex("tantivy", path)
    assert shared.get() is None
    assert shared.get() is None  # tried again, still damaged: still no exception
    with reset_index("tantivy", path) as index:
        index.rebuild(iter(DOCS))
    index = shared.get()
    assert index is not None and exact(index, NAME).total == 1
    shared.close()


# ───────────────────────────── catalog, CLI, web, service ─────────────────────────────


def catalogue(settings) -> None:
    """DOCS as done items with one page each in the catalog (what a rebuild reads)."""
    db = Database(settings.db_url)
    with db.session() as s:
        for d in DOCS:
            s.add(Item(id=d.item_id, fingerprint=f"f{d.item_id}", label=f"scan{d.item_id}.jpg",
                       state=ItemState.DONE, title=d.title, archival_code=d.archival_code))
            s.flush()
            s.add(Page(item_id=d.item_id, page_no=d.page_no, working_path="/nonexistent.png", ocr_text=d.text,
                       width=600, height=400))
    db.dispose()


@pytest.fixture
def damaged_home(home: Path, settings) -> Callable[[str], dict[str, str]]:
    """A data home with a catalog and its tantivy index, damaged as asked; returns the CLI env."""

    def make(kind: str) -> dict[str, str]:
        catalogue(settings)
        build("tantivy", settings.index_dir)
        TANTIVY_DAMAGE[kind](settings.index_dir)
        return dangan_env(home)

    return make


def search_cli(env: dict[str, str]):
    return run_cli(["search", NAME, "--json"], env)


@pytest.mark.parametrize("kind", list(TANTIVY_DAMAGE))
def test_cli_reports_damage_and_rebuild_repairs_it(damaged_home, kind):
    env = damaged_home(kind)
    r = search_cli(env)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "damaged" in r.stderr and "dangan index rebuild" in r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr

    r = run_cli(["index", "rebuild"], env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"indexed {len(DOCS)} page(s)" in r.stdout
    r = search_cli(env)
    assert r.returncode == 0, r.stderr
    assert [h["archival_code"] for h in json.loads(r.stdout)["hits"]] == [CODE]


def test_cli_rebuild_still_refuses_a_foreign_directory(home: Path, settings):
    catalogue(settings)
    settings.index_dir.mkdir(parents=True)
    (settings.index_dir / "precious.txt").write_text("not an index")
    r = run_cli(["index", "rebuild"], dangan_env(home))
    assert r.returncode == 1 and "refusing to wipe" in r.stderr, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert (settings.index_dir / "precious.txt").exists()


@pytest.mark.parametrize("kind", list(TANTIVY_DAMAGE))
def test_web_search_on_damaged_index_says_so(settings, kind):
    from test_web import PASSWORD, login

    from pipeline.access import Access
    from pipeline.web.app import create_app

    catalogue(settings)
    build("tantivy", settings.index_dir)
    Access.open(Database(settings.db_url), settings.home).users.create("clerk1", PASSWORD, ["clerk"], by="test")
    client = TestClient(create_app(settings))
    login(client, "clerk1")
    TANTIVY_DAMAGE[kind](settings.index_dir)
    r = client.get("/search", params={"q": NAME})
    assert r.status_code == 200
    assert UNAVAILABLE in r.text
    with reset_index("tantivy", settings.index_dir) as index:  # what the service's rebuild does
        index.rebuild(iter(DOCS))
    r = client.get("/search", params={"q": NAME})
    assert r.status_code == 200 and UNAVAILABLE not in r.text and CODE in r.text


def test_indexer_rebuilds_when_indexing_finds_damage(settings, caplog):
    """Damage found by index_archived (the service loop's call) means a rebuild, not a crash:
    the new page and the catalog's old ones are all searchable afterwards."""
    from pipeline.runner.indexer import Indexer
    from pipeline.store import Catalog

    catalogue(settings)
    db = Database(settings.db_url)
    indexer = Indexer(settings, Catalog(db))  # no index yet: built from the catalog at start
    try:
        assert indexer.index is not None and exact(indexer.index, NAME).total == 1
        new = doc(3, 3, "张建国", "Z001-WS·2016-D30-XZ-0003")
        with db.session() as s:
            s.add(Item(id=3, fingerprint="f3", label="scan3.jpg", state=ItemState.ARCHIVED, title=new.title,
                       archival_code=new.archival_code))
            s.flush()
            s.add(Page(item_id=3, page_no=1, working_path="/nonexistent.png", ocr_text=new.text, width=600,
                       height=400))
        # Damaged under the open index and its writer (which holds tantivy's lock): the commit
        # of index_archived reads the damaged segments.
        _random_bytes(settings.index_dir)
        caplog.set_level("WARNING")
        assert indexer.index_archived() == 1
        assert "damaged" in caplog.text and "rebuilding it from the catalog" in caplog.text
        assert exact(indexer.index, "张建国").total == 1 and exact(indexer.index, NAME).total == 1
        assert indexer.catalog.items_in_state(ItemState.ARCHIVED) == []  # marked indexed by the rebuild
    finally:
        indexer.close()
        db.dispose()
    with open_index("tantivy", settings.index_dir) as index:  # and it is whole on disk
        assert index.count() == len(DOCS) + 1


@pytest.mark.slow
def test_watch_starts_on_a_damaged_index_and_rebuilds_it(home: Path, damaged_home):
    env = damaged_home("truncated-meta-json")
    log = home / "service.log"
    proc = start_service(env, log)
    try:
        def found() -> bool:
            r = search_cli(env)
            return r.returncode == 0 and json.loads(r.stdout)["total"] == 1

        wait_progress(found, lambda: log.stat().st_size if log.exists() else 0, stall=240, interval=1.0,
                      what="the page to be searchable again")
        assert proc.poll() is None, log.read_text()
        text = log.read_text(encoding="utf-8", errors="replace")
        assert text.count("is damaged") == 1, text  # one warning, then a normal start
        assert "Traceback" not in text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode == 0, log.read_text()[-3000:]
