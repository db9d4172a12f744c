"""Deterministic rendered corpus for the OCR benchmark (bench/ocr_bench.py).

Every page is drawn by tests/scanfactory.py from real Chinese text (the seed articles in
tests/data/seed_text.py, 建档立卡 form fields with valid ID numbers) with real CJK fonts,
then put through scanner faults. The same arguments always give the same pixels.

    from bench.ocr_corpus import corpus
    for page in corpus(2, dpi=300):
        page.kind, page.name, page.image, page.gt_text, page.expected_rotation, page.expected_deskew

Kinds (``KINDS``):

=============  ===========================================================================
body_sc        Simplified body text; fonts cycle 宋 (Noto Serif) / 楷 (AR PL UKai) /
               黑 (Noto Sans) / 黑 (WenQuanYi) / 明 (AR PL UMing); 10.5–14 pt. No 仿宋 font
               is installed on Debian's CJK font packages, so there is no fangsong page.
body_tc        Traditional body text, the same fonts in their TC/TW faces.
vertical_sc    竖排: columns top to bottom, read right to left (render_page(vertical=True)).
vertical_tc    the same in Traditional.
form           建档立卡贫困户信息采集表 (label | value rows, hand-filled 楷 values, an ID
               number in an 18-box grid) alternating with a 扶贫明白卡; some with a red seal.
               Reading order of a table is ambiguous: read the bag-of-characters error.
sealed         body text with a red 公章 stamped over the last lines, yellowed paper.
rotated        a page laid on the glass turned 90 / 180 / 270° clockwise (at least 3 pages,
               so every turn is in the corpus whatever ``pages_per_kind`` is).
skewed         the sheet laid at an angle, up to ±10°.
dpi200         body text scanned at 200 dpi (whatever ``dpi`` is).
degraded       grey or yellowed paper, uneven light, a dark scanner border around the
               sheet, slight skew, heavier noise and JPEG.
blank          a blank separator sheet (one of two with show-through of the page behind):
               the expected output is nothing; its error is the number of characters read.
photo          a printed photograph (no text in it) with a caption under it.
=============  ===========================================================================

Ground truth ``gt_text`` is the image's ``info["gt"]``: one line per printed line, table
cell or vertical column, in reading order; the text of seals is not part of it.
``expected_rotation`` is the clockwise quarter turn that uprights the page and
``expected_deskew`` the counter-clockwise angle that straightens it, in the convention of
``pipeline.imaging.prepare_image``'s returned ``(rotation, angle)``.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import scanfactory as sf  # noqa: E402

KINDS = (
    "body_sc", "body_tc", "vertical_sc", "vertical_tc", "form", "sealed",
    "rotated", "skewed", "dpi200", "degraded", "blank", "photo",
)

# Short font name (scanfactory.FONTS) → what it stands for.
BODY_FONTS_SC = ("serif", "kai", "sans", "hei", "ming")  # 宋 楷 黑 黑(WQY) 明
BODY_FONTS_TC = ("ming", "sans", "kai", "serif")
FONT_PT = (12.0, 10.5, 14.0)
SKEWS = (-7.5, 10.0, 3.0, -1.2, -10.0, 5.5)  # ° counter-clockwise, skewed pages in order
TURNS = (90, 180, 270)  # ° clockwise on the glass, rotated pages in order


@dataclass(frozen=True)
class CorpusPage:
    kind: str
    name: str  # e.g. "body_sc-01"; unique in the corpus
    image: Image.Image  # RGB, ``info["dpi"]`` set
    gt_text: str
    dpi: int
    expected_rotation: int  # clockwise quarter turn that uprights it (0/90/180/270)
    expected_deskew: float  # counter-clockwise degrees that straighten it after the turn
    note: str = ""  # font, degradations: what is on the page


def mingbai_card_fields(seed: int) -> dict[str, str]:
    """Fields of a 扶贫明白卡 (the card every supported household keeps): who helps, how."""
    rng = random.Random(f"card-{seed}")
    return {
        "户主姓名": sf.make_name(seed),
        "身份证号": sf.make_id_number(seed + 1),
        "帮扶单位": rng.choice(["县档案局", "县财政局", "县农业农村局", "乡人民政府", "县卫生健康委员会"]),
        "帮扶责任人": sf.make_name(seed + 104729),
        "联系电话": "1" + "".join(str(rng.randint(0, 9)) for _ in range(10)),
        "帮扶措施": rng.choice(["产业扶贫：发展养殖", "就业扶贫：公益岗位", "教育扶贫：助学补助", "健康扶贫：医疗救助"]),
        "年人均纯收入": f"{rng.randint(3200, 9800)}元",
        "脱贫年度": f"{rng.randint(2016, 2020)}年",
    }


def _caption(seed: int) -> str:
    """A photo caption made from a clause of the seed text."""
    para = sf.body_paragraphs(seed, count=1)[0]
    clause = para.split("。")[0].split("，")
    text = "，".join(clause[:2])[:34]
    return f"图{seed % 9 + 1}　{text}。"


def _title(seed: int, traditional: bool) -> str | None:
    pools = sf.seed_text.TRADITIONAL if traditional else sf.seed_text.SIMPLIFIED
    return pools[seed % len(pools)][0] if seed % 2 == 0 else None


def render(kind: str, k: int, dpi: int = 300) -> CorpusPage:
    """Page number ``k`` (0-based) of ``kind``."""
    seed = 7000 + 97 * KINDS.index(kind) + k
    rot, deskew, note = 0, 0.0, ""
    if kind in ("body_sc", "body_tc"):
        tc = kind == "body_tc"
        fonts = BODY_FONTS_TC if tc else BODY_FONTS_SC
        f, pt = fonts[k % len(fonts)], FONT_PT[k % len(FONT_PT)]
        img = sf.render_page(sf.body_paragraphs(seed, traditional=tc), seed=seed, dpi=dpi, font=f, font_pt=pt,
                             traditional=tc, title=_title(seed, tc), noise_sigma=5, jpeg_quality=75)
        note = f"{f} {pt}pt"
    elif kind in ("vertical_sc", "vertical_tc"):
        tc = kind == "vertical_tc"
        f = ("serif", "kai", "ming")[k % 3]
        img = sf.render_page(sf.body_paragraphs(seed, traditional=tc), seed=seed, dpi=dpi, font=f, font_pt=12,
                             traditional=tc, vertical=True, noise_sigma=5, jpeg_quality=75)
        note = f"{f} 12pt"
    elif kind == "form":
        seal = k % 4 in (0, 3)
        deskew = (-0.8, 0.5)[k % 2]
        if k % 2 == 0:
            fields, title = sf.default_form_fields(seed), "建档立卡贫困户信息采集表"
        else:
            fields, title = mingbai_card_fields(seed), "精准扶贫明白卡"
        img = sf.render_form(fields, seed=seed, dpi=dpi, title=title, noise_sigma=6, jpeg_quality=60,
                             skew_deg=-deskew, seal=seal)
        note = title + (" seal" if seal else "")
    elif kind == "sealed":
        deskew = (0.6, -0.4)[k % 2]
        f = ("serif", "ming", "sans")[k % 3]
        img = sf.render_page(sf.body_paragraphs(seed), seed=seed, dpi=dpi, font=f, seal=True, yellow=True,
                             noise_sigma=8, jpeg_quality=45, skew_deg=-deskew, title=_title(seed, False))
        note = f"{f} seal yellow"
    elif kind == "rotated":
        turned = TURNS[k % len(TURNS)]
        tc = k % 4 == 3
        f = ("serif", "ming", "sans", "kai")[k % 4]
        img = sf.render_page(sf.body_paragraphs(seed, traditional=tc), seed=seed, dpi=dpi, rotate=turned, font=f,
                             traditional=tc, noise_sigma=5, jpeg_quality=70)
        rot = (360 - turned) % 360
        note = f"turned {turned}° {f}"
    elif kind == "skewed":
        skew = SKEWS[k % len(SKEWS)]
        f = ("ming", "kai", "serif")[k % 3]
        img = sf.render_page(sf.body_paragraphs(seed), seed=seed, dpi=dpi, skew_deg=skew, font=f, noise_sigma=6,
                             jpeg_quality=60)
        deskew = -skew
        note = f"skew {skew:+.1f}° {f}"
    elif kind == "dpi200":
        dpi = 200
        tc = k % 2 == 1
        f = ("serif", "ming", "sans")[k % 3]
        pt = (12.0, 10.5)[k % 2]
        img = sf.render_page(sf.body_paragraphs(seed, traditional=tc), seed=seed, dpi=dpi, font=f, font_pt=pt,
                             traditional=tc, noise_sigma=5, jpeg_quality=70)
        note = f"200dpi {f} {pt}pt {'TC' if tc else 'SC'}"
    elif kind == "degraded":
        grey = k % 2 == 0
        skew = (1.2, -1.6)[k % 2]
        f = ("serif", "sans", "ming")[k % 3]
        clean = sf.render_page(sf.body_paragraphs(seed), seed=seed, dpi=dpi, font=f, yellow=not grey,
                               title=_title(seed, False))
        if grey:
            clean = sf.age_paper(clean, seed=seed, falloff=0.35)
        img = sf.dark_border(clean, seed=seed, dpi=dpi, skew_deg=skew, noise_sigma=9, jpeg_quality=55)
        deskew = -skew
        note = f"{'grey' if grey else 'yellow'} paper, uneven light, dark border, skew {skew:+.1f}°"
    elif kind == "blank":
        through = 0.06 if k % 2 else 0.0
        img = sf.render_blank_page(seed=seed, dpi=dpi, show_through=through, yellow=k % 2 == 1, noise_sigma=5,
                                   jpeg_quality=70)
        note = f"show-through {through}" if through else "plain"
    elif kind == "photo":
        img = sf.render_photo_page(_caption(seed), seed=seed, dpi=dpi, title=_title(seed + 1, False),
                                   noise_sigma=5, jpeg_quality=70)
        note = "photo + caption"
    else:
        raise ValueError(f"unknown page kind {kind!r}; kinds: {', '.join(KINDS)}")
    return CorpusPage(kind=kind, name=f"{kind}-{k + 1:02d}", image=img, gt_text=img.info["gt"], dpi=dpi,
                      expected_rotation=rot, expected_deskew=float(deskew), note=note)


def pages_of(kind: str, pages_per_kind: int) -> int:
    """How many pages ``kind`` gets: rotated pages cover all three turns."""
    return max(pages_per_kind, len(TURNS)) if kind == "rotated" and pages_per_kind > 0 else pages_per_kind


def corpus(pages_per_kind: int, dpi: int = 300, kinds: tuple[str, ...] = KINDS) -> Iterator[CorpusPage]:
    """The corpus, round-robin over ``kinds`` (so any prefix mixes every kind)."""
    counts = {kind: pages_of(kind, pages_per_kind) for kind in kinds}
    for k in range(max(counts.values(), default=0)):
        for kind in kinds:
            if k < counts[kind]:
                yield render(kind, k, dpi)


if __name__ == "__main__":  # write the corpus out for looking at: python bench/ocr_corpus.py OUTDIR [N] [DPI]
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/out/corpus")
    out.mkdir(parents=True, exist_ok=True)
    for page in corpus(int(sys.argv[2]) if len(sys.argv) > 2 else 1, int(sys.argv[3]) if len(sys.argv) > 3 else 300):
        page.image.save(out / f"{page.name}.jpg", quality=85, dpi=(page.dpi, page.dpi))
        (out / f"{page.name}.gt.txt").write_text(page.gt_text + "\n", encoding="utf-8")
        print(page.name, page.note, len("".join(page.gt_text.split())), "chars")
