"""Search quality through pipeline.index.search (the function the web UI and
the CLI call), on real tantivy and Whoosh indexes built from the pages below.

Each query's expected pages were worked out by hand from these texts.
"""

from __future__ import annotations

import json

import pytest

from pipeline.domain import PageDocument
from pipeline.index import BACKENDS, needs_rebuild, open_index, search
from pipeline.text import mask_private_numbers
from pipeline.index.base import SENTINEL_NAME
from pipeline.index.confusion import lookalikes, variants


def page(page_id, text, *, item_id=None, page_no=1, year=2016, village="三河村", category="WS", fonds="J117",
         retention="Y", class_code="WS·C01", doc_date=None, title="登记表"):
    item_id = item_id or page_id
    return PageDocument(
        page_id=page_id,
        item_id=item_id,
        archival_code=f"{fonds}-{category}·{year}-{retention}-{item_id:04d}",
        title=title,
        page_no=page_no,
        text=text,
        year=year,
        village=village,
        category=category,
        pdf_path=f"/archive/{item_id}.pdf",
        fonds=fonds,
        retention=retention,
        class_code=class_code,
        class_name="户籍证明",
        doc_date=doc_date,
        image_path=f"/work/{item_id}/{page_no}.png",
        sensitive="id phone",
    )


DOCS = [
    page(1, "户主姓名：王秀英 性别：女\n身份证号：33010219800101001X\n联系电话：13812345678\n" + "家庭人口：4人。" * 8,
         year=1990, doc_date="19900315", class_code="JF·C02·SQ", category="JF"),
    # OCR read 秀 as 季 (王秀英 → 王季英), several times: would outscore page 1 on BM25 alone
    page(2, "申请人王季英，王季英之夫，王季英户", year=2005, village="李家庄村", doc_date="20050101", retention="D30"),
    # Traditional page; 末 for 未 in the name 李未明 and phone on a landline
    page(3, "戶籍證明\n茲證明李末明系本村村民\n電話：0571-87654321", year=1956, category="TD", doc_date="19560700",
         fonds="J118"),
    # untrusted OCR text
    page(4, "<script>alert('王秀英')</script> 会议记录 精准扶贫工作", year=2016, doc_date=None),
    # Simplified 户籍证明, ID with a lower-case check character, 2-character name
    page(5, "户籍证明\n兹证明张伟系本村村民，身份证号：320105198506151234 钟秀", year=2018, village="李家庄村",
         doc_date="20180601", class_code="JF·C02·SQ", category="JF"),
    page(6, "低保审批表 申请人：赵敏 身份证号 44030619900303001x 精准 扶贫", year=2018, doc_date="20181201"),
]


@pytest.fixture(params=BACKENDS, scope="module")
def ix(request, tmp_path_factory):
    index = open_index(request.param, tmp_path_factory.mktemp(request.param) / "ix")
    index.add(DOCS)
    index.commit()
    yield index
    index.close()


def ids(result) -> list[int]:
    return [h.page_id for h in result.hits]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("钟", {5}),  # 1-character surname
        ("钟秀", {5}),  # 2-character name
        ("赵敏", {6}),
        ("33010219800101001X", {1}),  # full ID, X
        ("33010219800101001x", {1}),  # x
        ("44030619900303001X", {6}),  # the page has x
        ("01001x", {1}),  # last 6 characters
        ("01001X", {1}),
        ("03001x", {6}),
        ("151234", {5}),
        ("330102********001X", {1}),  # as printed masked in a list
        ("440306＊＊＊＊＊＊＊＊001x", {6}),
        ("330102********0010", set()),
        ("3301**********001X", {1}),  # the 4 + 4 form this product's own lists print
        ("3301**********001x", {1}),
        ("4403**********001X", {6}),
        ("3302**********001X", set()),
        ("33010219******001X", {1}),  # more digits than the key holds: checked in full
        ("33010218******001X", set()),
        ("330102********01001X", set()),  # 20 characters: not an ID
        ("精准扶贫", {4, 6}),  # unquoted phrase; page 6 has it split by an OCR space
        ('"精准 扶贫"', {4, 6}),  # quoted
        ("户籍证明", {3, 5}),  # Simplified query finds the Traditional page …
        ("戶籍證明", {3, 5}),  # … and a Traditional query the Simplified one
        ("茲證明", {3, 5}),
        ("会议记录", {4}),
    ],
)
def test_exact_queries(ix, query, expected):
    result = search(ix, query)
    assert {h.page_id for h in result.hits if not h.approximate} == expected
    assert result.total - result.approximate_total == len(expected)


def test_partial_id_is_highlighted_and_masked(ix):
    hit = search(ix, "01001x").hits[0]
    assert "【330102********001X】" in hit.snippet


def test_ocr_confused_name_is_found_and_marked_approximate(ix):
    result = search(ix, "王秀英")
    assert set(ids(result)[:2]) == {1, 4} and ids(result)[2] == 2  # exact (best first), then the look-alike
    assert [h.approximate for h in result.hits] == [False, False, True]
    assert result.total == 3 and result.approximate_total == 1
    assert "【王季英】" in result.hits[2].snippet
    # The look-alike in the query, the right character on the page — and in Traditional script.
    result = search(ix, "李未明")
    assert ids(result) == [3] and result.hits[0].approximate
    assert "【李末明】" in result.hits[0].snippet
    result = search(ix, "王秀英", approximate=False)
    assert set(ids(result)) == {1, 4} and result.approximate_total == 0


def test_exact_hits_outrank_approximate_on_every_page_of_results(ix):
    pages = [search(ix, "王秀英", limit=1, offset=k) for k in range(4)]
    assert [ids(r) for r in pages] == [ids(search(ix, "王秀英"))[k : k + 1] for k in range(4)]
    assert ids(pages[2]) == [2] and pages[3].hits == []
    assert [r.hits[0].approximate for r in pages[:3]] == [False, False, True]
    assert {r.total for r in pages} == {3}
    assert ids(search(ix, "王秀英", sort="date")) == [1, 4, 2]  # date order inside each group


def test_longer_phrases_are_not_expanded(ix):
    assert search(ix, "李未明系本村").total == 0


def test_filters(ix):
    assert {h.page_id for h in search(ix, "户籍证明", filters={"village": "李家庄村"}).hits} == {5}
    assert ids(search(ix, "", filters={"year_from": 2005, "year_to": 2016}, sort="date")) == [2, 4]
    assert ids(search(ix, "", filters={"year_from": 2017}, sort="date")) == [5, 6]
    assert ids(search(ix, "", filters={"year_to": 1990}, sort="date")) == [3, 1]
    assert ids(search(ix, "", filters={"class_code": "JF·C02·SQ"})) == [1, 5]
    assert ids(search(ix, "", filters={"fonds": "J118"})) == [3]
    assert ids(search(ix, "", filters={"retention": "D30"})) == [2]
    assert ids(search(ix, "", filters={"category": "TD"})) == [3]
    # name + village + year range, approximate hits filtered too
    assert ids(search(ix, "王秀英", filters={"village": "李家庄村", "year_from": 2000})) == [2]
    assert ids(search(ix, "王秀英", filters={"year_to": 2000})) == [1]
    with pytest.raises(ValueError):
        search(ix, "王", filters={"colour": "red"})
    with pytest.raises(ValueError):
        search(ix, "王", sort="size")


def test_facets(ix):
    facets = search(ix, "").facets
    assert facets["village"] == {"三河村": 4, "李家庄村": 2}
    assert facets["year"] == {"1990": 1, "2005": 1, "1956": 1, "2016": 1, "2018": 2}
    assert facets["fonds"] == {"J117": 5, "J118": 1}
    assert facets["retention"] == {"Y": 5, "D30": 1}
    assert facets["class_code"] == {"JF·C02·SQ": 2, "WS·C01": 4}
    assert facets["category"] == {"JF": 2, "WS": 3, "TD": 1}
    # over exact + approximate matches, within the filters
    facets = search(ix, "王秀英").facets
    assert facets["village"] == {"三河村": 2, "李家庄村": 1}
    assert search(ix, "王秀英", filters={"fonds": "J117", "year": 2005}).facets["year"] == {"2005": 1}
    assert search(ix, "", facets=False).facets == {}


def test_huge_result_sets_skip_facets_and_approximate_matches(ix, monkeypatch):
    monkeypatch.setattr("pipeline.index.service.LARGE_RESULT", 2)
    assert search(ix, "").facets == {}
    result = search(ix, "王秀英", limit=1)  # 2 exact: approximate still counted, 3 in all: no facets
    assert (result.total, result.approximate_total, result.facets) == (3, 1, {})
    monkeypatch.setattr("pipeline.index.service.LARGE_RESULT", 1)
    result = search(ix, "王秀英", limit=1)
    assert (result.total, result.approximate_total) == (2, 0)
    assert ids(search(ix, "王秀英", limit=1, offset=2)) == [2]  # the window past the exact hits
    monkeypatch.setattr("pipeline.index.service.LARGE_RESULT", 5)
    assert search(ix, "王秀英").facets["village"] == {"三河村": 2, "李家庄村": 1}


def test_date_sort(ix):
    # doc_date, then archival code; undated pages (4 has only a year … 2016) fall back to the year
    assert ids(search(ix, "", sort="date")) == [3, 1, 2, 4, 5, 6]
    assert ids(search(ix, "户籍证明", sort="date")) == [3, 5]


def test_hits_carry_filing_fields(ix):
    hit = search(ix, "钟秀").hits[0]
    assert (hit.fonds, hit.retention, hit.class_code, hit.class_name) == ("J117", "Y", "JF·C02·SQ", "户籍证明")
    assert (hit.doc_date, hit.image_path, hit.sensitive, hit.page_no) == ("20180601", "/work/5/1.png", "id phone", 1)
    assert hit.approximate is False


def test_snippets_mask_ids_and_phones(ix):
    snippet = search(ix, "王秀英", filters={"year": 1990}).hits[0].snippet
    assert "【王秀英】" in snippet
    assert "330102********001X" in snippet and "138****5678" in snippet
    assert "13812345678" not in snippet
    assert "0571-****4321" in search(ix, "户籍证明", filters={"category": "TD"}).hits[0].snippet


def test_script_in_ocr_text_survives_as_text(ix):
    snippet = search(ix, "会议记录").hits[0].snippet
    # Kept verbatim (the UI escapes it); only 【】 are added around the match.
    assert "<script>alert('王秀英')</script>" in snippet
    assert "【会议记录】" in snippet


def test_mask_private_numbers():
    assert mask_private_numbers("手机 138 1234 5678") == "手机 138 **** 5678"
    assert mask_private_numbers("电话0571-87654321。") == "电话0571-****4321。"
    assert mask_private_numbers("ID 61010219800101123X 年份 2016") == "ID 610102********123X 年份 2016"
    assert mask_private_numbers("金额 12345678901 元") == "金额 12345678901 元"  # not a mobile number (12…)


def test_confusion_table_is_symmetric():
    for char in "己已巳未末土士人入日曰戊戌戍候侯茶荼析柝刺剌崇祟微徽汩汨采釆":
        assert lookalikes(char), char
        assert all(char in lookalikes(other) for other in lookalikes(char))
    assert variants("王秀英")[:3] == ["主秀英", "壬秀英", "玉秀英"]
    assert "王季英" in variants("王秀英")


@pytest.mark.parametrize("backend", BACKENDS)
def test_index_from_before_the_filing_fields_must_be_rebuilt(backend, tmp_path):
    path = tmp_path / "ix"
    with open_index(backend, path) as ix:
        ix.rebuild(DOCS)
    assert not needs_rebuild(backend, path)
    sentinel = path / SENTINEL_NAME
    meta = json.loads(sentinel.read_text("utf-8"))
    sentinel.write_text(json.dumps({**meta, "schema_version": meta["schema_version"] - 1}), "utf-8")
    assert needs_rebuild(backend, path)


def test_a_name_written_alone_outranks_longer_names_containing_it(tmp_path):
    """王芳 the villager is on pages 2 and 4; 王芳芳 and 汪王芳 only contain the
    characters (and say them more often, which BM25 alone would reward)."""
    docs = [
        page(1, "户主姓名：王芳芳 王芳芳之女 王芳芳户"),
        page(2, "户主姓名：王芳 性别：女"),
        page(3, "申请人汪王芳，汪王芳户，汪王芳之子"),
        page(4, "家庭成员：\n李强 户主\n王芳 之妻 身份证号 33010219800101001X"),
    ]
    for backend in BACKENDS:
        with open_index(backend, tmp_path / backend) as index:
            index.add(docs)
            index.commit()
            result = search(index, "王芳")
            assert result.total == 4, backend
            assert set(ids(result)[:2]) == {2, 4}, backend
            assert ids(search(index, "王芳 李强"))[0] == 4, backend


def test_a_misread_name_written_alone_outranks_longer_names_containing_the_misreading(tmp_path):
    """沈磊 misread as 沉磊 (page 5) ranks above 沉磊春 and 沉磊芳, who are other people."""
    docs = [page(1, "户主姓名：沉磊春 沉磊春户 沉磊春之子"), page(2, "户主姓名：沉磊芳 性别：女 沉磊芳户"),
            page(5, "户主姓名：沉磊 性别：男"), page(6, "户主姓名：沈磊 性别：男")]
    for backend in BACKENDS:
        with open_index(backend, tmp_path / backend) as index:
            index.add(docs)
            index.commit()
            result = search(index, "沈磊")
            assert ids(result)[:2] == [6, 5] and result.hits[1].approximate, backend


def test_approximate_hits_are_listed_apart_when_exact_hits_fill_the_window(tmp_path):
    docs = [page(i, f"户主姓名：王秀英 第{i}户") for i in range(1, 13)] + [page(20, "户主姓名：王季英")]
    with open_index("tantivy", tmp_path / "ix") as index:
        index.add(docs)
        index.commit()
        result = search(index, "王秀英", limit=10)
        assert len(result.hits) == 10 and not any(h.approximate for h in result.hits)
        assert [h.page_id for h in result.approximate_hits] == [20]
        assert result.approximate_hits[0].approximate and result.approximate_total == 1
        # Past the first window the approximate page takes its place in the one list.
        later = search(index, "王秀英", limit=10, offset=10)
        assert [h.page_id for h in later.hits] == [11, 12, 20] and later.approximate_hits == []
