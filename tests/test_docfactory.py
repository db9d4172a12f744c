"""The labelled document corpus (tests/docfactory.py): labels, household files, rendering, determinism.

Fast: no OCR. The classifier benchmark on this corpus is bench/classify_bench.py.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

try:
    from tests import docfactory as df
    from tests import scanfactory as sf
except ImportError:
    import docfactory as df  # type: ignore[no-redef]
    import scanfactory as sf  # type: ignore[no-redef]

TAXONOMY = Path(__file__).resolve().parents[1] / "config" / "taxonomy.yaml"


def leaf_paths(classes: list[dict], prefix: str = "") -> list[str]:
    """Path codes of the leaves, in file order (codes joined with ·)."""
    out = []
    for cls in classes:
        path = f"{prefix}·{cls['code']}" if prefix else str(cls["code"])
        out += leaf_paths(cls["children"], path) if cls.get("children") else [path]
    return out


@pytest.fixture(scope="module")
def leaves() -> list[str]:
    return leaf_paths(yaml.safe_load(TAXONOMY.read_text(encoding="utf-8"))["classes"])


def test_every_label_is_a_taxonomy_leaf(leaves):
    assert len(df.LABELS) >= 18
    assert [label for label in df.LABELS if label not in leaves] == []
    docs = df.corpus(2, seed=5)
    assert {d.label for d in docs} == set(df.LABELS)
    assert len(docs) == 2 * len(df.LABELS)


def test_household_file_in_taxonomy_order_mentions_head_and_village(leaves):
    rng = random.Random(11)
    hh = df.make_household(rng)
    assert len(hh.id_number) == 18 and sf.id_check_digit(hh.id_number[:17]) == hh.id_number[17]
    assert hh.size == len(hh.members) and hh.members[0].name == hh.head
    volume = df.household_file(hh, rng)
    assert len(volume) >= 12
    labels = [d.label for d in volume]
    household_leaves = [leaf for leaf in leaves if leaf.startswith("JF·C02·")]
    assert labels == sorted(labels, key=household_leaves.index)
    for d in volume:
        assert d.household == hh
        assert hh.head in d.text and hh.village in d.text, d.label
    dates = [d.date for d in volume if not d.label.endswith("·CS")]  # the receipts come whenever aid was paid
    assert dates == sorted(dates)


def test_project_documents_mention_the_project():
    rng = random.Random(3)
    for label in [label for label in df.LABELS if label.startswith("JF·03·XM·")]:
        d = df.make_document(label, rng, project="塔城乡东湖村2017年通组道路硬化项目")
        assert d.project == "塔城乡东湖村2017年通组道路硬化项目" and d.project in d.text, label


def test_same_seed_same_text():
    a, b = df.corpus(1, seed=9), df.corpus(1, seed=9)
    assert [(d.label, d.title, d.pages, d.date) for d in a] == [(d.label, d.title, d.pages, d.date) for d in b]
    assert [d.pages for d in df.corpus(1, seed=10)] != [d.pages for d in a]


@pytest.mark.parametrize("kind", ["text", "form", "letter"])
def test_render_a4_300dpi_with_all_text(kind):
    doc = next(d for d in df.corpus(1, seed=2) if d.kind == kind and (d.seal or kind == "letter"))
    pages = df.render_document(doc, random.Random(0))
    assert len(pages) == len(doc.pages)
    for page in pages:
        assert abs(page.width - 2480) <= 2 and abs(page.height - 3508) <= 2
        assert page.info["dpi"] == (300, 300)
    drawn = sf.squash("".join(page.info["gt"] for page in pages))
    for line in doc.text.split("\n"):  # every printed line made it onto a page
        for part in line.replace("：", " ").split():
            assert sf.squash(part) in drawn, part
    again = df.render_document(doc, random.Random(0))
    assert again[0].tobytes() == pages[0].tobytes()
