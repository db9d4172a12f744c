"""档号: template grammar and counters that never skip or repeat under concurrency."""

import re

import pytest
from sqlalchemy import select

from conftest import filing_store, run_processes, settled_filing
from pipeline.scheme.archival_code import ArchivalCodeTemplate
from pipeline.domain import Classification
from pipeline.store import Database, Item

DAT22 = "{fonds}-{category}·{year}-{retention}-{org}-{item:04d}"


def cls(year=2011, retention="Y", org="BGS"):
    return Classification(fonds="Z109", category="WS", year=year, retention=retention, org=org, title="[t]")


def test_dat22_form_and_scope():
    t = ArchivalCodeTemplate(DAT22)
    assert t.render(cls(), 1) == "Z109-WS·2011-Y-BGS-0001"
    assert t.render(cls(), 26) == "Z109-WS·2011-Y-BGS-0026"
    assert t.scope(cls()) == "Z109-WS·2011-Y-BGS-#"
    assert t.scope(cls(retention="D30")) != t.scope(cls())


def test_dat13_2022_form_is_configurable():
    t = ArchivalCodeTemplate("{fonds}-{category}·{year}·{retention}·{org}-{item:04d}")
    assert t.render(cls(), 1) == "Z109-WS·2011·Y·BGS-0001"


@pytest.mark.parametrize("bad", ["{fonds}-{year}", "{fonds}-{item}-{item}", "{fonds}-{shelf}-{item}", "{fonds"])
def test_bad_templates(bad):
    with pytest.raises(ValueError):
        ArchivalCodeTemplate(bad)


def _assign(url: str, item_ids: list[int], worker: int) -> None:
    store = filing_store(url)
    for n, item_id in enumerate(item_ids):
        filing, described = settled_filing(year=2011 + (item_id % 2))  # two scopes interleaved
        code = store.record(item_id, filing, described, f"w{worker}")
        if n % 5 == 0:  # a re-run (after a crash) keeps the code already issued
            assert store.record(item_id, filing, described, f"w{worker}") == code


def test_concurrent_assignment_has_no_gap_or_duplicate(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    db = Database(url)
    with db.session() as s:
        items = [Item(fingerprint=f"f{i}", label=f"l{i}") for i in range(120)]
        s.add_all(items)
    with db.session() as s:
        ids = [i.id for i in s.scalars(select(Item))]
    run_processes(_assign, [(url, ids[n::4], n) for n in range(4)])
    with db.session() as s:
        rows = s.execute(select(Item.archival_code, Item.year, Item.item_number)).all()
    codes = [r[0] for r in rows]
    assert len(set(codes)) == len(codes) == 120
    for year in (2011, 2012):
        numbers = sorted(r[2] for r in rows if r[1] == year)
        assert numbers == list(range(1, len(numbers) + 1)), f"gap or duplicate in {year}"
        assert all(re.fullmatch(rf"Z109-WS·{year}-Y-BGS-\d{{4}}", r[0]) for r in rows if r[1] == year)


def test_reassignment_keeps_code(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    store = filing_store(url, upgrade=True)
    with store.db.session() as s:
        s.add(Item(fingerprint="x", label="x"))
    first = store.record(1, *settled_filing(), "test")
    again = store.record(1, *settled_filing(retention="D10"), "test")
    assert first == again == "Z109-WS·2011-Y-BGS-0001"
