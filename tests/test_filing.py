"""Filing: the scheme file, rule + learned classification, review queue, 档号 and volumes (案卷).

Text-level tests (no OCR): the classifier and the catalog operations on a real SQLite
catalog; the OCR'd end-to-end household volume is in test_household_volume.py.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import dangan_env, run_cli, run_processes
from pipeline.classify import Classifier, LearnedModel
from pipeline.classify.model import ModelIntegrityError
from pipeline.scheme.taxonomy import TaxonomyError, load_taxonomy, parse_taxonomy
from pipeline.config import load_settings
from pipeline.store import Database, Event, Item, ItemState, Page, ReviewState, Volume
from pipeline.filing import FilingError, FilingStore

NOW = datetime(2026, 11, 22, tzinfo=timezone.utc)
REPO = Path(__file__).resolve().parents[1]

APPLICATION = "贫困户申请书\n石门村村民委员会：\n我叫王秀英，家住石门村三组，家庭人口4人，因病致贫，特申请纳入贫困户。\n申请人：王秀英\n2016年3月5日"
SURVEY = "精准扶贫入户调查表\n户主姓名王秀英 家庭人口4人 石门村\n住房情况 砖木结构 调查人 李明\n2016年3月12日"
MINUTES = ("石门村贫困户民主评议会议记录\n时间：2016年3月20日 地点：村委会\n应到25人，实到23人\n"
           "议题：评议王秀英户是否纳入贫困户\n表决结果：同意22票")
CARD = "贫困户精准扶贫明白卡\n户主王秀英 石门村\n帮扶责任人：赵建国 联系电话13812345678\n2016年5月1日"
EXIT = "脱贫确认书\n石门村王秀英户经核查已达到脱贫标准，本户认可脱贫结果。\n户主：王秀英\n2019年12月10日"
TOWNSHIP = "南山镇人民政府关于做好2017年春季森林防火工作的通知\n南府发〔2017〕3号\n各村委会：……\n南山镇人民政府\n2017年2月8日"


@pytest.fixture(scope="module")
def cfg():
    return load_settings(environ={})


@pytest.fixture(scope="module")
def classifier(cfg):
    return Classifier.from_settings(cfg.classify)


# ── the scheme file ──────────────────────────────────────────────


def test_repo_scheme_loads_with_volume_classes_and_order():
    t = load_taxonomy(REPO / "config" / "taxonomy.yaml")
    household = [c.code.split("·")[-1] for c in t.volume_leaves("JF·C02")]
    assert household[:4] == ["SQ", "SF", "DC", "PY"] and household.index("CJ") < household.index("TQR")
    project = [c.name for c in t.volume_leaves("JF·03·XM")]
    assert project == ["项目申请与批复", "项目招投标", "项目施工", "项目验收与审核结算"]
    assert t.get("JF·C02·CJ").sensitive == ("id_number", "health", "income")
    assert t.retention_name("D30") == "定期30年" and t.retention_name("C") == "长期"  # legacy kept as written
    assert t.resolve("MBK").code == "JF·C02·MBK"


MINIMAL = """
name: 某县方案
retention_codes: {Y: {name: 永久}, D30: {name: 定期30年, years: 30}}
legacy_retention: {C: 长期}
categories: {WS: 文书}
classes:
  - code: A
    name: 甲类
    category: WS
    retention: D30
    children:
      - {code: X, name: 会议记录, keywords: [会议记录]}
      - {code: L, name: 旧卷, retention: C}
"""


def test_a_county_scheme_loads_without_code_changes():
    t = parse_taxonomy(MINIMAL)
    assert [c.code for c in t.leaves] == ["A·X", "A·L"]
    assert t.get("A·L").retention == "C"  # legacy 长期 stored as written, not mapped to D30


@pytest.mark.parametrize("change, message", [
    (("retention: D30\n    children", "retention: D20\n    children"), r"classes\[0\] \(A\): retention 'D20' is not a retention code"),
    (("category: WS", "category: XX"), r"category 'XX' is not in categories"),
    (("keywords: [会议记录]", "title_patterns: ['会议(记录']"), r"classes\[0\]\.children\[0\]\.title_patterns.*not a valid regular expression"),
    (("{code: L, name: 旧卷, retention: C}", "{code: L, name: 旧卷, unit: volume}"), r"unit 'volume' needs a volume_key"),
    (("name: 某县方案", "nam: 某县方案"), r"nam: Extra inputs are not permitted"),
    (("{code: X,", "{code: 'X-1',"), r"children\[0\]\.code"),
])
def test_a_bad_scheme_names_the_key(change, message):
    with pytest.raises(TaxonomyError, match=message):
        parse_taxonomy(MINIMAL.replace(*change))


def test_missing_scheme_file_is_a_clear_error(tmp_path):
    with pytest.raises(TaxonomyError, match="filing scheme not found"):
        load_taxonomy(tmp_path / "nope.yaml")


def test_cli_checks_a_scheme_file(tmp_path):
    env = dangan_env(tmp_path)
    good = tmp_path / "county.yaml"
    good.write_text(MINIMAL, encoding="utf-8")
    assert "2 leaf classes" in run_cli(["taxonomy", "check", str(good)], env).stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL.replace("retention: C}", "retention: Q}"), encoding="utf-8")
    r = run_cli(["taxonomy", "check", str(bad)], env)
    assert r.returncode == 1 and "retention 'Q'" in r.stderr


# ── classification ───────────────────────────────────────────────


@pytest.mark.parametrize("text, expected", [
    (APPLICATION, "JF·C02·SQ"), (SURVEY, "JF·C02·DC"), (MINUTES, "JF·C02·PY"), (CARD, "JF·C02·MBK"),
    (EXIT, "JF·C02·TQR"), (TOWNSHIP, "XZ·XZ"),
])
def test_rules_classify_unsegmented_text_with_evidence(classifier, text, expected):
    c = classifier.classify_text(text, received_at=NOW, label="scan.jpg")
    assert c.class_code == expected
    assert not c.needs_review and c.confidence >= 0.6
    assert any(e.source == "title-pattern" for e in c.evidence)


def test_traditional_and_ocr_spaced_text_classify_the_same(classifier):
    traditional = "貧困戶申請書\n石門村村民委員會：\n我叫王秀英，家庭人口4人，特申請納入貧困戶。\n申請人：王秀英\n2016年3月5日"
    spaced = "贫 困 户 申 请 书\n" + APPLICATION.split("\n", 1)[1]
    for text in (traditional, spaced):
        assert classifier.classify_text(text, received_at=NOW, label="x").class_code == "JF·C02·SQ"


def test_household_document_gets_its_volume_key_and_retention(classifier):
    c = classifier.classify_text(SURVEY, received_at=NOW, label="x")
    assert (c.unit, c.volume_key, c.retention, c.year) == ("volume", "household:石门村:王秀英", "D30", 2016)


def test_no_rule_matches_goes_to_review(classifier):
    c = classifier.classify_text("今天天气很好，我们去公园散步。", received_at=NOW, label="x")
    assert c.class_code is None and c.needs_review and c.year == 2026
    assert any(e.source == "inferred" for e in c.evidence)  # the year is a guess, and says so


def test_model_joins_the_rules_and_disagreement_lowers_confidence(cfg):
    # People confirmed village meeting minutes (CJ·CW) and household applications (JF·C02·SQ).
    meeting = "村民代表会议记录\n时间：2018年4月2日 应到30人 实到28人 议题：{}\n表决结果：同意26票"
    topics = ["修建村道", "村规民约修订", "集体林地承包", "饮水工程选址", "卫生整治", "选举监委会"]
    samples = [(meeting.format(t), "CJ·CW") for t in topics] + [(APPLICATION.replace("王秀英", n), "JF·C02·SQ")
                                                                 for n in ("李梅", "张强", "陈兰", "刘军", "赵芳", "周平")]
    model = LearnedModel.train(samples)
    both = Classifier.from_settings(cfg.classify, model=model)
    agree = both.classify_text(APPLICATION.replace("王秀英", "孙丽"), received_at=NOW, label="x")
    assert agree.class_code == "JF·C02·SQ" and any(e.source == "model" for e in agree.evidence)
    # Minutes that read like a household's 评议: the rules lean to JF·C02·PY, the model to CJ·CW.
    torn = both.classify_text(meeting.format("评议贫困户"), received_at=NOW, label="x")
    learned = model.probabilities(meeting.format("评议贫困户"))
    assert torn.confidence < agree.confidence and torn.confidence < max(learned.values())


def test_model_file_has_no_pickle_and_is_refused_when_changed(tmp_path):
    model = LearnedModel.train([(APPLICATION, "JF·C02·SQ"), (CARD, "JF·C02·MBK"), (EXIT, "JF·C02·TQR")])
    path = tmp_path / "m.zip"
    sha = model.save(path)
    again = LearnedModel.load(path, sha)
    assert again.probabilities(CARD) == pytest.approx(model.probabilities(CARD), abs=1e-6)
    assert max(again.probabilities(CARD), key=again.probabilities(CARD).get) == "JF·C02·MBK"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="refusing to load"):
        LearnedModel.load(path, sha)


# ── catalog: review, 档号, volumes ───────────────────────────────


def _store(tmp_path, cfg) -> FilingStore:
    return FilingStore.from_settings(Database(f"sqlite:///{tmp_path / 'c.sqlite3'}"), cfg)


def _item(store: FilingStore, text: str, n: int) -> int:
    with store.db.session() as s:
        item = Item(fingerprint=f"f{n}-{hash(text)}", label=f"scan{n}.jpg", state=ItemState.ARCHIVED,
                    pdf_path=f"/tmp/{n}.pdf")
        s.add(item)
        s.flush()
        s.add(Page(item_id=item.id, page_no=1, ocr_text=text))
        return item.id


def _file(store, classifier, text, n):
    item_id = _item(store, text, n)
    d = classifier.describe_text(text, received_at=NOW, label=f"scan{n}.jpg")
    store.record(item_id, d.filing, d.metadata, "test")
    return item_id


def test_confident_item_is_numbered_doubtful_one_waits_for_review(tmp_path, cfg, classifier):
    store = _store(tmp_path, cfg)
    notice = _file(store, classifier, TOWNSHIP, 1)
    doubt = _file(store, classifier, "今天天气很好，我们去公园散步。", 2)
    with store.db.session() as s:
        a, b = s.get(Item, notice), s.get(Item, doubt)
        assert a.review_state == ReviewState.AUTO and a.archival_code == "Z001-WS·2017-D10-XZ-0001"
        assert a.doc_number == "南府发〔2017〕3号" and a.doc_date == "20170208"
        assert b.review_state == ReviewState.PENDING and b.archival_code is None
    assert [e.item_id for e in store.review_queue()] == [doubt]

    filing = classifier.reclassify(2017, "XZ·XZ", *_describe(store, classifier, doubt))
    store.decide(doubt, filing, "审核员甲", agent="test")
    with store.db.session() as s:
        b = s.get(Item, doubt)
        assert (b.review_state, b.reviewed_by) == (ReviewState.CORRECTED, "审核员甲")
        assert b.archival_code == "Z001-WS·2017-D30-XZ-0001"  # its own scope (retention D30)
        events = [e.event_type for e in s.scalars(select(Event).where(Event.object_id == doubt))]
        assert "class-corrected" in events and "code-assigned" in events
    assert store.review_queue() == []

    # A worker re-run never overwrites the person's decision or the number.
    d = classifier.describe_text("今天天气很好", received_at=NOW, label="x")
    assert store.record(doubt, d.filing, d.metadata, "rerun") == "Z001-WS·2017-D30-XZ-0001"
    with store.db.session() as s:
        assert s.get(Item, doubt).review_state == ReviewState.CORRECTED


def _describe(store, classifier, item_id):
    from pipeline.classify.metadata import extract_metadata

    item, text, first = store.item_text(item_id)
    return extract_metadata(text, first_lines=first, fallback_title=item.label), text


def test_correcting_a_class_keeps_the_number_renumbering_is_explicit(tmp_path, cfg, classifier):
    store = _store(tmp_path, cfg)
    item_id = _file(store, classifier, TOWNSHIP, 1)
    filing = classifier.reclassify(2017, "CJ·ZZ", *_describe(store, classifier, item_id))
    store.decide(item_id, filing, "审核员甲", agent="test")
    with store.db.session() as s:
        assert s.get(Item, item_id).archival_code == "Z001-WS·2017-D10-XZ-0001"  # never silently changed
    with pytest.raises(FilingError, match="reason"):
        store.renumber(item_id, " ", "审核员甲", agent="test")
    old, new = store.renumber(item_id, "类别更正为综治调解", "审核员甲", agent="test")
    assert (old, new) == ("Z001-WS·2017-D10-XZ-0001", "Z001-WS·2017-D30-ZZ-0001")
    with store.db.session() as s:
        event = s.scalar(select(Event).where(Event.event_type == "code-renumbered"))
        assert event.detail == {"by": "审核员甲", "from": old, "to": new, "reason": "类别更正为综治调解"}


def test_household_items_form_a_pre_volume_in_entry_to_exit_order(tmp_path, cfg, classifier):
    store = _store(tmp_path, cfg)
    ids = {name: _file(store, classifier, text, n)
           for n, (name, text) in enumerate([("exit", EXIT), ("card", CARD), ("application", APPLICATION),
                                             ("minutes", MINUTES), ("survey", SURVEY)])}
    v = store.volume("household:石门村:王秀英")
    assert v.state == "pre_volume" and v.archival_code is None
    assert [m.item_id for m in v.members] == [ids[k] for k in ("application", "survey", "minutes", "card", "exit")]
    assert all(m.archival_code is None for m in v.members)  # 预立卷: nothing numbered yet
    assert v.title == "石门村王秀英户精准扶贫档案"

    v = store.move(v.key, ids["card"], 1, "立卷人", agent="test")  # reordering is allowed before finalising
    assert v.members[0].item_id == ids["card"]
    store.move(v.key, ids["card"], 4, "立卷人", agent="test")

    v, numbered = store.finalize(v.key, "立卷人", agent="test", checked_by="检查人")
    assert v.archival_code == "Z001-JF·C02-001" and sorted(numbered) == sorted(ids.values())
    assert [m.archival_code for m in v.members] == [f"Z001-JF·C02-001-00{n}" for n in range(1, 6)]
    sheet = store.volume_sheet(v.key)
    assert (sheet.start_date, sheet.end_date, sheet.retention) == ("20160305", "20191210", "定期30年")
    assert "缺少：身份证明材料" in sheet.note and sheet.compiled_by == "立卷人"
    with pytest.raises(FilingError, match="final"):
        store.move(v.key, ids["card"], 1, "立卷人", agent="test")
    late = _file(store, classifier, APPLICATION.replace("2016年3月5日", "2016年3月6日"), 9)
    with store.db.session() as s:
        assert s.get(Item, late).volume_id is None  # a final volume takes nothing more:
        assert s.get(Item, late).review_state == ReviewState.PENDING  # a person decides
    with pytest.raises(FilingError, match="final"):
        store.add(late, v.key, "立卷人", agent="test")
    # The next household's volume gets the next 案卷号.
    _file(store, classifier, SURVEY.replace("王秀英", "李桂兰"), 10)
    v2, _ = store.finalize("household:石门村:李桂兰", "立卷人", agent="test")
    assert v2.archival_code == "Z001-JF·C02-002"


def test_pre_volume_with_items_in_review_cannot_be_finalised(tmp_path, cfg, classifier):
    store = _store(tmp_path, cfg)
    _file(store, classifier, APPLICATION, 1)
    doubt = _item(store, "户主王秀英 石门村 材料一份", 2)
    filing = classifier.reclassify(2016, "JF·C02·SR", *_describe(store, classifier, doubt))
    store.decide(doubt, filing, "审核员", agent="test")  # household found by name + village: joins
    with store.db.session() as s:
        s.get(Item, doubt).review_state = ReviewState.PENDING
    with pytest.raises(FilingError, match="still in review"):
        store.finalize("household:石门村:王秀英", "立卷人", agent="test")


# ── 档号 under concurrency: 4 workers × 500 items ─────────────────


def _file_many(url: str, item_ids: list[int], worker: int) -> None:
    settings = load_settings(environ={})
    store = FilingStore.from_settings(Database(url, upgrade=False), settings)
    classifier = Classifier(store.taxonomy, settings.classify)
    texts = [TOWNSHIP, TOWNSHIP.replace("2017年2月8日", "2018年2月8日"), APPLICATION]
    described = [classifier.describe_text(t, received_at=NOW, label="x") for t in texts]
    for item_id in item_ids:
        d = described[item_id % 3]
        filing = d.filing
        if filing.unit == "volume":  # one household per item: each forms its own pre-volume
            filing = replace(filing, volume_key=f"household:石门村:户{item_id}")
        store.record(item_id, filing, d.metadata, f"w{worker}")
        if item_id % 3 == 2:
            store.finalize(f"household:石门村:户{item_id}", f"w{worker}", agent=f"w{worker}")


def test_four_workers_file_2000_items_without_gap_or_duplicate(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    db = Database(url)
    with db.session() as s:
        items = [Item(fingerprint=f"f{i}", label=f"l{i}", state=ItemState.ARCHIVED, pdf_path="x") for i in range(2000)]
        s.add_all(items)
    with db.session() as s:
        ids = list(s.scalars(select(Item.id).order_by(Item.id)))
    run_processes(_file_many, [(url, ids[n::4], n) for n in range(4)])
    with db.session() as s:
        rows = s.execute(select(Item.id, Item.archival_code, Item.item_number, Item.year, Item.volume_id)).all()
        volumes = s.execute(select(Volume.volume_number, Volume.archival_code)).all()
    codes = [r.archival_code for r in rows]
    assert None not in codes and len(set(codes)) == len(codes) == 2000
    for year in (2017, 2018):
        numbers = sorted(r.item_number for r in rows if r.year == year and r.volume_id is None)
        assert numbers == list(range(1, len(numbers) + 1)), f"gap or duplicate in {year}"
    assert sorted(v.volume_number for v in volumes) == list(range(1, len(volumes) + 1))
    assert all(re.fullmatch(r"Z001-JF·C02-\d{3}", v.archival_code) for v in volumes)
