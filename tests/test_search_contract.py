"""Search contract: every SearchIndex backend must pass the same tests.

Real engines on small synthetic pages written here, no mocks. Each query's
expected page set was worked out by hand from the texts below.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import exact
from pipeline.domain import PageDocument
from pipeline.index import (
    BACKENDS,
    IndexDirectoryError,
    SearchIndex,
    needs_rebuild,
    open_index,
)
from pipeline.index.analysis import index_tokens, query_plan
from pipeline.index.base import SENTINEL_NAME
from pipeline.text import mask_id_numbers, normalize


def page(page_id, item_id, text, *, page_no=1, year=2016, village="三河村", category="WS", title="登记表"):
    return PageDocument(
        page_id=page_id,
        item_id=item_id,
        archival_code=f"J117-{category}·{year}-Y-{item_id:04d}",
        title=title,
        page_no=page_no,
        text=text,
        year=year,
        village=village,
        category=category,
        pdf_path=f"/archive/{item_id}.pdf",
    )


DOCS = [
    page(1, 100, "户主姓名：钟建国 性别：男\n身份证号：61010219800101123X\n家庭人口：4人 致贫原因：因病"),
    # 2-char name; a 3-char name with OCR spaces between its characters
    page(2, 100, "家庭成员：钟秀 关系：女儿 文化程度：初中\n帮扶责任人：刘 海 洋", page_no=2),
    # a phrase broken by an OCR line wrap
    page(3, 101, "村民代表大会会议记录\n出席：王秀英、李桂兰\n会议学习精准扶\n贫工作政策", year=2017, village="李家庄村"),
    # Traditional script (1950s certificate)
    page(4, 102, "土地房產所有證\n戶主：陳國華\n戶籍證明 附後", year=1956, category="TD"),
    # ID split by spaces (OCR), Simplified 户籍证明
    page(5, 103, "户籍证明\n兹证明张伟系本村村民，身份证号：320105 19850615 1234", year=2018, village="李家庄村"),
    # ID with letter O for digit 0
    page(6, 104, "低保审批表 申请人：赵敏 身份证号 44O306199003O30015 家庭人口3人", year=2018),
    # 张, 伟, 华 all present but never adjacent
    page(7, 105, "张三说伟大的华夏儿女要团结", year=2019),
]


def ids(result) -> set[int]:
    return {hit.page_id for hit in result.hits}


def build(backend: str, path: Path, docs=DOCS) -> SearchIndex:
    ix = open_index(backend, path)
    ix.add(docs)
    ix.commit()
    return ix


@pytest.fixture(params=BACKENDS, scope="module")
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def shared(backend, tmp_path_factory):
    """Read-only index holding DOCS, built once per backend."""
    ix = build(backend, tmp_path_factory.mktemp(backend) / "ix")
    yield ix
    ix.close()


@pytest.fixture
def fresh(backend, tmp_path):
    ix = build(backend, tmp_path / "ix")
    yield ix
    ix.close()


# ───────────────────────────── queries ─────────────────────────────


@pytest.mark.parametrize(
    "query, expected",
    [
        ("钟", {1, 2}),  # 1-character surname
        ("钟秀", {2}),  # 2-character name
        ("钟建国", {1}),  # 3-character name
        ("61010219800101123X", {1}),  # 18-digit ID, check character X
        ("61010219800101123x", {1}),
        ("320105198506151234", {5}),  # ID split by OCR spaces in the page
        ("440306199003030015", {6}),  # ID with O for 0 in the page
        ("致贫原因", {1}),  # phrase inside unsegmented text
        ("精准扶贫", {3}),  # phrase across an OCR line break
        ("刘海洋", {2}),  # name with spaces between its characters
        ('"刘 海洋"', {2}),  # quoted phrase, spaces normalised away
        ("户籍证明", {4, 5}),  # Simplified query finds the Traditional page
        ("戶籍證明", {4, 5}),  # Traditional query finds the Simplified page
        ("陈国华", {4}),
        ("钟 因病", {1}),  # AND of terms
        ("钟 女儿", {2}),
        ("户籍证明 张伟", {5}),
        ("钟 精准扶贫", set()),
        ("张伟华", set()),  # chars only non-adjacent in page 7: no false hit
        ("伟华", set()),
        ("张伟", {5}),
        ("华夏", {7}),
        ("1234", set()),  # part of an ID is not a token of its own
    ],
)
def test_query_finds_exactly(shared, query, expected):
    result = exact(shared, query, limit=50)
    assert ids(result) == expected, query
    assert result.total == len(expected)


def test_hit_carries_catalog_fields(shared):
    [hit] = exact(shared, "钟建国").hits
    assert (hit.page_id, hit.item_id, hit.page_no) == (1, 100, 1)
    assert hit.archival_code == "J117-WS·2016-Y-0100"
    assert hit.title == "登记表" and hit.pdf_path == "/archive/100.pdf"
    assert (hit.year, hit.village, hit.category) == (2016, "三河村", "WS")
    assert hit.score > 0


def test_filters(shared):
    filtered = exact(shared, "户籍证明", filters={"year": 1956})
    assert ids(filtered) == {4} and filtered.total == 1
    browse = exact(shared, "", filters={"village": "三河村"})
    assert ids(browse) == {1, 2, 4, 6, 7} and browse.total == 5
    assert ids(exact(shared, "户籍证明", filters={"village": "李家庄村"})) == {5}
    assert ids(exact(shared, "户籍证明", filters={"category": "TD"})) == {4}
    assert ids(exact(shared, "户籍证明", filters={"year": 2018, "village": "三河村"})) == set()
    assert ids(exact(shared, "身份证", filters={"year": 2018})) == {5, 6}
    assert ids(exact(shared, "", filters={"village": "李家庄村"})) == {3, 5}
    with pytest.raises(ValueError, match="village"):
        exact(shared, "钟", filters={"town": "x"})


def test_order_total_and_paging(shared):
    browse = exact(shared, "", limit=100)
    assert browse.total == len(DOCS)
    keys = [(h.archival_code, h.page_no) for h in browse.hits]
    assert keys == sorted(keys)  # constant score: archival_code, page order
    ranked = exact(shared, "身份证", limit=100)
    assert ranked.total == 3
    order = [(-h.score, h.archival_code, h.page_no) for h in ranked.hits]
    assert order == sorted(order)
    paged = [h.page_id for off in range(3) for h in exact(shared, "身份证", limit=1, offset=off).hits]
    assert paged == [h.page_id for h in ranked.hits]
    assert exact(shared, "身份证", limit=0).total == 3


def test_count(shared):
    assert shared.count() == len(DOCS)


# ───────────────────────────── snippets ─────────────────────────────


def test_snippet_highlights_and_masks_id(shared):
    [hit] = exact(shared, "61010219800101123X").hits
    assert "610102********123X" in hit.snippet
    assert "19800101" not in hit.snippet
    assert "【" in hit.snippet and "】" in hit.snippet
    [hit] = exact(shared, "钟建国").hits
    assert "【钟建国】" in hit.snippet
    assert "610102********123X" in hit.snippet and "\n" not in hit.snippet


def test_snippet_masks_ocr_damaged_ids(shared):
    [hit] = exact(shared, "320105198506151234").hits
    assert "19850615" not in hit.snippet.replace(" ", "")
    assert "320105" in hit.snippet and "1234" in hit.snippet
    [hit] = exact(shared, "赵敏").hits
    assert "【赵敏】" in hit.snippet
    assert "199003" not in hit.snippet and "O30015" not in hit.snippet


def test_snippet_shows_original_traditional_text(shared):
    hits = {h.page_id: h for h in exact(shared, "户籍证明").hits}
    assert "【戶籍證明】" in hits[4].snippet
    assert "【户籍证明】" in hits[5].snippet


def test_snippet_highlights_across_line_break(shared):
    [hit] = exact(shared, "精准扶贫").hits
    assert "【精准扶 贫】" in hit.snippet  # newline collapsed, still one highlight


def test_mask_id_numbers():
    assert mask_id_numbers("号 61010219800101123X 止") == "号 610102********123X 止"
    assert mask_id_numbers("【61010219800101123X】") == "【610102********123X】"
    assert mask_id_numbers("【610102】19800101123X") == "【610102】********123X"
    assert mask_id_numbers("电话 13800138000，年份 2016") == "电话 13800138000，年份 2016"


# ───────────────────────────── writes ─────────────────────────────


def test_upsert_does_not_duplicate(fresh):
    changed = page(1, 100, "户主姓名：钟建华 身份证号：61010219800101123X")
    fresh.add([changed, changed])
    fresh.commit()
    assert fresh.count() == len(DOCS)
    assert ids(exact(fresh, "钟建华")) == {1}
    assert ids(exact(fresh, "钟建国")) == set()


def test_delete_items(fresh):
    fresh.delete_items([100, 999])
    fresh.commit()
    assert fresh.count() == len(DOCS) - 2
    assert ids(exact(fresh, "钟")) == set()
    assert ids(exact(fresh, "户籍证明")) == {4, 5}


def test_add_then_delete_in_one_batch(fresh):
    fresh.add([page(50, 200, "临时页面 钟无艳")])
    fresh.delete_items([200])
    fresh.commit()
    assert ids(exact(fresh, "钟无艳")) == set()
    assert fresh.count() == len(DOCS)


def test_clear(fresh):
    fresh.clear()
    assert fresh.count() == 0
    assert exact(fresh, "钟").total == 0


def test_persistence_across_reopen(backend, tmp_path):
    path = tmp_path / "ix"
    build(backend, path).close()
    ix = open_index(backend, path)
    try:
        assert ix.count() == len(DOCS)
        assert ids(exact(ix, "陈国华")) == {4}
    finally:
        ix.close()


def test_uncommitted_changes_are_dropped_on_close(backend, tmp_path):
    path = tmp_path / "ix"
    ix = build(backend, path)
    ix.add([page(60, 300, "未提交 欧阳")])
    ix.close()
    ix = open_index(backend, path)
    try:
        assert ix.count() == len(DOCS)
    finally:
        ix.close()


# ───────────────────────────── rebuild sentinel ─────────────────────────────


def test_fresh_index_needs_rebuild_until_rebuilt(backend, tmp_path):
    path = tmp_path / "ix"
    assert needs_rebuild(backend, path)  # no index at all
    ix = open_index(backend, path)
    try:
        assert needs_rebuild(backend, path)
        assert ix.rebuild(iter(DOCS), batch=3) == len(DOCS)
        assert not needs_rebuild(backend, path)
        assert ix.count() == len(DOCS)
        sentinel = json.loads((path / SENTINEL_NAME).read_text("utf-8"))
        assert sentinel["backend"] == backend
        assert sentinel["schema_version"] == ix.schema_version
    finally:
        ix.close()


@pytest.mark.parametrize("key", ["analyzer_version", "schema_version"])
def test_sentinel_mismatch_wipes_and_requires_rebuild(backend, tmp_path, key):
    path = tmp_path / "ix"
    ix = build(backend, path)
    ix.mark_rebuilt()
    ix.close()
    assert not needs_rebuild(backend, path)

    sentinel_path = path / SENTINEL_NAME
    sentinel = json.loads(sentinel_path.read_text("utf-8"))
    sentinel[key] = "old"
    sentinel_path.write_text(json.dumps(sentinel), "utf-8")
    assert needs_rebuild(backend, path)

    ix = open_index(backend, path)
    try:
        assert ix.count() == 0  # wiped
        assert needs_rebuild(backend, path)  # until the caller rebuilds
        ix.add(DOCS)
        ix.commit()
        assert needs_rebuild(backend, path)  # a commit alone is not a rebuild
        ix.mark_rebuilt()
        assert not needs_rebuild(backend, path)
    finally:
        ix.close()


def test_other_backend_directory_is_wiped(backend, tmp_path):
    other = next(b for b in BACKENDS if b != backend)
    path = tmp_path / "ix"
    ix = build(other, path)
    ix.mark_rebuilt()
    ix.close()
    assert needs_rebuild(backend, path)
    ix = open_index(backend, path)
    try:
        assert ix.count() == 0
        assert ids(exact(ix, "钟")) == set()
    finally:
        ix.close()


def test_refuses_to_wipe_foreign_directory(backend, tmp_path):
    (tmp_path / "precious.txt").write_text("not an index")
    with pytest.raises(IndexDirectoryError):
        open_index(backend, tmp_path)
    assert (tmp_path / "precious.txt").exists()


def test_unknown_backend():
    with pytest.raises(ValueError, match="tantivy.*whoosh"):
        open_index("elastic", Path("/nonexistent"))
    with pytest.raises(ValueError, match="tantivy"):
        needs_rebuild("elastic", Path("/nonexistent"))


# ───────────────────────────── analysis ─────────────────────────────


def test_normalize():
    assert normalize("戶籍 證明\n６１０１０２") == "户籍证明\n610102"
    assert normalize("张 伟\n华") == "张伟华"
    assert normalize("61010219800l0ll23X") == "61010219800101123x"
    assert normalize("2016 年") == "2016 年"  # only Han–Han and digit–digit gaps are OCR splits


def test_index_tokens():
    uni, bi = index_tokens(normalize("钟建国，男 ID61010219800101123X 钟"))
    # An ID number touching letters is a token of its own: the full number finds it.
    assert uni == ["钟", "建", "国", "男", "id", "61010219800101123x", "钟"]
    assert bi == ["钟建", "建国", "男", "id", "61010219800101123x", "钟"]
    # An ID written in groups is one token, with its keys; a date range keeps its parts.
    assert index_tokens(normalize("证号 610102-19800101-123X"))[1] == ["证号", "61010219800101123x"]
    assert index_tokens(normalize("2016.05.12-2017.06.30"))[1] == ["2016", "05", "12", "2017", "06", "30"]


def test_query_plan():
    plan = query_plan('钟 钟秀 "刘 海洋" 61010219800101123X 2016年')
    terms = [(t.unigrams, t.phrase) for t in plan.terms]
    assert terms == [
        (("钟",), ()),
        ((), ("钟秀",)),
        ((), ("刘海", "海洋")),
        ((), ("61010219800101123x",)),
        (("年",), ("2016",)),
    ]
    assert query_plan("  ，。 ").empty


def test_punctuation_only_query_finds_nothing(shared):
    assert exact(shared, "，。").total == 0
    assert exact(shared, "").total == len(DOCS)  # empty query = browse


def test_spaced_and_damaged_id_numbers_are_masked():
    """A grid-boxed ID comes out of OCR digit by digit, sometimes a digit short: still private."""

    spaced = mask_id_numbers("公民身份号码 3 6 0 2 2 9 4 4 0 5 2 2 8 9 9 9")
    assert "4 4 0 5 2 2" not in spaced and spaced.startswith("公民身份号码 3 6 0 2 2 9")
    assert mask_id_numbers("旧证号 360122440522899") == "旧证号 360122*****2899"
    assert mask_id_numbers("电话 13912345678") == "电话 13912345678"  # not an ID number


def test_shared_index_follows_commits_and_rebuilds(backend, tmp_path):
    """The web UI's one open index: nothing until built, then it sees the indexer's later
    commits (another writer, as the pipeline is), and a wipe for a new schema puts it aside."""
    import time

    from pipeline.index import SharedIndex
    from pipeline.index.base import write_sentinel

    path = tmp_path / "ix"
    shared = SharedIndex(backend, path)
    assert shared.get() is None
    with open_index(backend, path) as writer:
        writer.add([page(1, 1, "户主王秀英")])
        writer.commit()
        assert shared.get() is None  # not rebuilt yet: a search would miss pages
        writer.mark_rebuilt()
    first = shared.get()
    assert first is not None and exact(first, "王秀英").total == 1
    with open_index(backend, path) as writer:
        writer.add([page(2, 2, "户主李强")])
        writer.commit()
    deadline = time.monotonic() + 10
    while exact(shared.get(), "李强").total != 1:  # tantivy reloads shortly after a commit
        assert time.monotonic() < deadline, "the shared index never saw the new commit"
        time.sleep(0.1)
    assert shared.get() is first  # not reopened for a commit
    write_sentinel(path, backend, 0, "rebuild-needed")  # as prepare_directory does before wiping
    assert shared.get() is None
