"""OCR look-alike characters (形近字) for approximate name search.

A clerk types the right name; OCR may have read one of its characters as a
visually similar one (未→末, 己→已, 王→玉). ``variants`` gives every spelling
of a word with exactly one character swapped for a look-alike, so the index
can be asked for those spellings too (research/search-engines.md §2.3:
"expand", R@10 on OCR-damaged names 0.00 → 0.88 at unchanged precision).

Where the groups come from: they were compiled by hand from the classic
形近字 lists used in Chinese primary-school teaching and OCR error analyses
(己/已/巳, 未/末, 戊/戌/戍, 候/侯, 茶/荼, 析/柝, 刺/剌, 崇/祟, 微/徽, 汩/汨,
采/釆 …), plus the look-alike pairs the research corpus used for its OCR
noise, weighted towards characters common in names, place names and form
labels. They are NOT measured confusion statistics of our OCR engines; once
enough proof-read pages exist, this table should be replaced by the engine's
own confusion counts (research §2.3). All entries are Simplified: queries and
pages are folded to Simplified before matching (analysis.py).
"""

from __future__ import annotations

from functools import lru_cache

# Each group: characters any of which OCR may read as any other.
GROUPS = (
    # classic 形近字
    "己已巳", "未末", "土士", "人入八", "日曰", "戊戌戍戎", "候侯", "茶荼", "析柝", "刺剌", "崇祟",
    "微徽", "汩汨", "采釆", "大太犬", "天夭", "木术本", "干千于", "午牛", "刀力", "贝见", "免兔",
    "鸟乌", "冶治", "拔拨", "辨辩辫", "睛晴", "清请情", "间问", "白自百", "田由甲申", "史吏",
    "秦泰奏", "宋宗", "余佘", "沈沉", "方万", "石右", "李季", "陈阵", "杨扬", "徐徒", "林材",
    "明朋", "英央", "华毕", "兰半", "军车", "国固", "文丈", "平乎", "云去", "户尸", "证正",
    # frequent in given names (names are rich in look-alikes, research §1)
    "王玉主壬", "凤风", "萍苹", "梅海", "春舂", "金全", "永水", "志忠", "祥详样", "娟涓绢",
    "玲铃伶", "珍诊", "贵责", "桂柱", "梁粱", "刚冈", "秀季", "建健", "兴关",
    "红江", "淑椒", "辉挥",
)


@lru_cache(maxsize=1)
def _table() -> dict[str, str]:
    """Character → its look-alikes (symmetric; a character in several groups gets all)."""
    table: dict[str, set[str]] = {}
    for group in GROUPS:
        for char in group:
            table.setdefault(char, set()).update(c for c in group if c != char)
    return {char: "".join(sorted(others)) for char, others in table.items()}


def lookalikes(char: str) -> str:
    """Characters OCR may print instead of ``char`` ("" if none known)."""
    return _table().get(char, "")


def variants(word: str, limit: int = 32) -> list[str]:
    """Spellings of ``word`` with exactly one character replaced by a
    look-alike, in position order; at most ``limit`` (long words with many
    confusable characters would otherwise blow up the query)."""
    out: list[str] = []
    for i, char in enumerate(word):
        for alt in lookalikes(char):
            out.append(word[:i] + alt + word[i + 1 :])
            if len(out) >= limit:
                return out
    return out
