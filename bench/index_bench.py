"""Search-backend benchmark: tantivy vs Whoosh behind the SearchIndex interface.

    python bench/index_bench.py --pages 100000 --backends tantivy,whoosh --json out.json

A deterministic synthetic corpus of township/village archive pages (in the
spirit of research/search-engines.md §1) is indexed into every backend,
interleaved per batch (same pages, same moment, same machine load), then
name / 2-char name / surname / ID / phrase queries are run interleaved per
query. Prints indexing pages/s, index size, query p50/p95 per type, R@10 for
names and IDs against the generator's truth, and every figure as a ratio to
the baseline backend (Whoosh when present) measured in the same run.

Timings are of the public API (query parsing, search, snippets included).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from seed_sentences import SEED_SENTENCES  # noqa: E402

from pipeline.domain import PageDocument  # noqa: E402
from pipeline.index import BACKENDS, open_index, search  # noqa: E402
from pipeline.text import id_check_digit  # noqa: E402

# ───────────────────────────── vocabulary ─────────────────────────────

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
)
SURNAME_WEIGHTS = [1 / (rank + 1) ** 0.8 for rank in range(len(SURNAMES))]  # Zipf-like
GIVEN_CHARS = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉力海云鹏飞志斌彬晨凤琴梅兵林成春燕德福宝山水生荣"
OLD_GIVEN = ("建国", "秀英", "桂兰", "秀兰", "建华", "玉兰", "国华", "桂英", "德明", "志强", "淑珍", "凤英", "建军", "国强", "秀珍")
REGIONS = ("610102", "320105", "440306", "510104", "410702", "430521", "452701", "522121", "360121", "621102")
TOWNSHIPS = ("城关镇", "河口乡", "大坪镇", "白马乡", "清水镇", "新民乡", "石桥镇", "柳树乡", "东风镇", "向阳乡")
VILLAGE_ROOTS = ("三河", "李家庄", "王家湾", "石桥", "清水", "新民", "红星", "东风", "向阳", "柳树", "大坪", "白马", "黄土", "桃园", "上庄")
REASONS = ("因病", "因残", "因学", "缺技术", "缺劳力", "缺资金", "自身发展动力不足", "交通条件落后")
RELATIONS = ("配偶", "长子", "次子", "长女", "次女", "孙子", "孙女", "母亲", "父亲")
EDUCATION = ("文盲", "小学", "初中", "高中", "中专", "大专")
HEALTH = ("健康", "长期慢性病", "残疾", "大病")
CATEGORIES = {"form": "FP", "cert": "WS", "minutes": "WS", "land": "TD", "policy": "WS"}
TITLES = {"form": "建档立卡贫困户登记表", "cert": "户籍证明", "minutes": "村民代表大会会议记录", "land": "土地承包经营权登记", "policy": "扶贫政策文件"}
KINDS = ("form", "cert", "minutes", "land", "policy")
KIND_WEIGHTS = (40, 15, 15, 10, 20)
# OCR look-alikes (both directions); names are rich in these (research §1).
CONFUSABLE_PAIRS = (
    "己已", "未末", "王玉", "陈阵", "杨扬", "土士", "日曰", "人入", "大太", "天夫", "刀力", "干千", "白自", "田由",
    "贝见", "间问", "候侯", "戊戌", "乌鸟", "徐徒", "李季", "张弦", "刘浏", "林材", "明朋", "秀季", "英央", "华毕",
    "兰半", "军车", "国固", "建健", "文丈", "平手", "海梅", "云去", "村材", "户尸", "证正", "明眀",
)
CONFUSABLE = {}
for _a, _b in CONFUSABLE_PAIRS:
    CONFUSABLE.setdefault(_a, _b)
    CONFUSABLE.setdefault(_b, _a)
ID_LETTERS = {"0": "O", "1": "l", "5": "S", "8": "B", "2": "Z"}


# ───────────────────────────── generator ─────────────────────────────


@dataclass
class Person:
    name: str
    id_number: str


@dataclass
class Household:
    head: Person
    members: list[tuple[Person, str]]
    township: str
    village: str


@dataclass
class Truth:
    """Which pages the generator wrote each name / ID on (clean text)."""

    names: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    ids: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))


class Corpus:
    """Deterministic page stream: one seeded RNG consumed sequentially, so a
    larger corpus starts with the same pages as a smaller one."""

    def __init__(self, seed: int = 20261121):
        self.rng = random.Random(seed)
        self.truth = Truth()
        self.households: list[Household] = []
        self.villages = [
            (t, root + "村") for i, t in enumerate(TOWNSHIPS) for root in VILLAGE_ROOTS[i % 5 : i % 5 + 10]
        ]
        self.item_id = 0
        self._t2s = self._s2t = None

    # people
    def surname(self) -> str:
        return self.rng.choices(SURNAMES, SURNAME_WEIGHTS)[0]

    def name(self, surname: str | None = None) -> str:
        surname = surname or self.surname()
        r = self.rng.random()
        if r < 0.28:
            return surname + self.rng.choice(GIVEN_CHARS)
        if r < 0.40:
            return surname + self.rng.choice(OLD_GIVEN)
        return surname + self.rng.choice(GIVEN_CHARS) + self.rng.choice(GIVEN_CHARS)

    def id_number(self) -> str:
        rng = self.rng
        first17 = (
            rng.choice(REGIONS)
            + f"{rng.randint(1930, 2015)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            + f"{rng.randint(0, 999):03d}"
        )
        return first17 + id_check_digit(first17)

    def person(self, surname: str | None = None) -> Person:
        return Person(self.name(surname), self.id_number())

    def household(self) -> Household:
        if self.households and self.rng.random() < 0.6:  # villagers reappear on several pages
            return self.rng.choice(self.households[-5000:])
        head = self.person()
        surname = head.name[0]
        members = [
            (self.person(surname if self.rng.random() < 0.85 else None), self.rng.choice(RELATIONS))
            for _ in range(self.rng.randint(0, 4))
        ]
        township, village = self.rng.choice(self.villages)
        hh = Household(head, members, township, village)
        self.households.append(hh)
        return hh

    def date(self, year: int) -> str:
        m, d = self.rng.randint(1, 12), self.rng.randint(1, 28)
        return self.rng.choice((f"{year}年{m}月{d}日", f"{year}-{m:02d}-{d:02d}", f"{year}.{m}.{d}", f"{year}/{m:02d}/{d:02d}"))

    def sentences(self, lo: int, hi: int) -> str:
        return "".join(self.rng.choice(SEED_SENTENCES) for _ in range(self.rng.randint(lo, hi)))

    # pages
    def _clean_page(self, kind: str, hh: Household, year: int) -> tuple[str, list[Person]]:
        rng = self.rng
        head = hh.head
        written: list[Person] = []
        if kind == "form":
            rows = "\n".join(
                f"{p.name} {rel} {p.id_number} {rng.choice(EDUCATION)} {rng.choice(HEALTH)}" for p, rel in hh.members
            )
            cadre = self.person()
            text = (
                f"建档立卡贫困户登记表\n乡镇：{hh.township} 村：{hh.village}\n"
                f"户主姓名：{head.name} 性别：{rng.choice('男女')} 身份证号：{head.id_number}\n"
                f"家庭人口：{len(hh.members) + 1}人 致贫原因：{rng.choice(REASONS)}\n"
                f"家庭成员：\n{rows}\n帮扶责任人：{cadre.name}\n填表日期：{self.date(year)}\n" + self.sentences(8, 22)
            )
            written = [head, *(p for p, _ in hh.members)]
            return text, written + [Person(cadre.name, "")]
        if kind == "cert":
            text = (
                f"户籍证明\n兹证明{head.name}（身份证号：{head.id_number}）系我村{hh.village}村民，"
                f"户籍登记属实。特此证明。\n{hh.village}村民委员会\n{self.date(year)}\n" + self.sentences(6, 18)
            )
            return text, [head]
        if kind == "minutes":
            attendees = [self.person() for _ in range(rng.randint(3, 8))]
            text = (
                f"村民代表大会会议记录\n时间：{self.date(year)} 地点：{hh.village}村委会\n"
                f"出席：{'、'.join(p.name for p in attendees)}\n" + self.sentences(10, 28)
            )
            return text, [Person(p.name, "") for p in attendees]
        if kind == "land":
            text = (
                f"土地承包经营权登记\n承包方代表：{head.name} 身份证号：{head.id_number}\n"
                f"地块：{rng.randint(1, 9)}块 面积：{rng.randint(1, 30)}.{rng.randint(0, 9)}亩 {hh.village}\n" + self.sentences(8, 22)
            )
            return text, [head]
        return self.sentences(12, 32), []

    def _noisy(self, text: str, traditional: bool, spaced: bool) -> str:
        rng = self.rng
        chars = list(text)
        rate = rng.uniform(0.02, 0.05)
        for i, c in enumerate(chars):
            if c in CONFUSABLE and rng.random() < rate:
                chars[i] = CONFUSABLE[c]
        text = "".join(chars)
        if traditional:
            text = self.s2t(text)
        if spaced:
            text = "".join(c + " " if rng.random() < 0.15 and c not in "\n " else c for c in text)
        lines = []
        for line in text.split("\n"):
            while len(line) > 42:  # hard wraps, also inside names and IDs
                cut = rng.randint(28, 42)
                lines.append(line[:cut])
                line = line[cut:]
            lines.append(line)
        return "\n".join(lines)

    def _damage_id(self, id_number: str) -> str:
        if self.rng.random() >= 0.05:
            return id_number
        spots = [i for i, d in enumerate(id_number) if d in ID_LETTERS]
        if not spots:
            return id_number
        i = self.rng.choice(spots)
        return id_number[:i] + ID_LETTERS[id_number[i]] + id_number[i + 1 :]

    def s2t(self, text: str) -> str:
        if self._s2t is None:
            import opencc

            self._s2t = opencc.OpenCC("s2t")
        return self._s2t.convert(text)

    def pages(self, n: int) -> Iterator[PageDocument]:
        page_id = 0
        while page_id < n:
            self.item_id += 1
            kind = self.rng.choices(KINDS, KIND_WEIGHTS)[0]
            hh = self.household()
            year = self.rng.randint(2014, 2021)
            traditional = self.rng.random() < 0.08
            spaced = self.rng.random() < 0.30
            for page_no in range(1, self.rng.randint(1, 3) + 1):
                if page_id >= n:
                    break
                page_id += 1
                clean, people = self._clean_page(kind, hh, year)
                for p in people:
                    self.truth.names[p.name].add(page_id)
                    if p.id_number:
                        self.truth.ids[p.id_number].add(page_id)
                        clean = clean.replace(p.id_number, self._damage_id(p.id_number))
                yield PageDocument(
                    page_id=page_id,
                    item_id=self.item_id,
                    archival_code=f"J117-{CATEGORIES[kind]}·{year}-Y-{self.item_id:05d}",
                    title=f"{hh.village}{hh.head.name}户{TITLES[kind]}" if kind != "policy" else TITLES[kind],
                    page_no=page_no,
                    text=self._noisy(clean, traditional, spaced),
                    year=year,
                    village=hh.village,
                    category=CATEGORIES[kind],
                )


def make_queries(corpus: Corpus, per_type: int, rng: random.Random) -> list[tuple[str, str, set[int] | None]]:
    """(type, query, relevant pages or None) — relevance judged on clean text."""
    names3 = sorted(n for n in corpus.truth.names if len(n) == 3)
    names2 = sorted(n for n in corpus.truth.names if len(n) == 2)
    id_list = sorted(corpus.truth.ids)
    queries: list[tuple[str, str, set[int] | None]] = []
    for name in rng.sample(names3, min(per_type, len(names3))):
        queries.append(("name3", name, corpus.truth.names[name]))
    for name in rng.sample(names2, min(per_type, len(names2))):
        queries.append(("name2", name, corpus.truth.names[name]))
    for id_number in rng.sample(id_list, min(per_type, len(id_list))):
        queries.append(("id", id_number, corpus.truth.ids[id_number]))
    for _ in range(per_type):
        queries.append(("surname", rng.choices(SURNAMES, SURNAME_WEIGHTS)[0], None))
    for _ in range(per_type):
        sentence = "".join(c for c in rng.choice(SEED_SENTENCES) if "\u4e00" <= c <= "\u9fff")
        k = rng.randint(4, 8)
        start = rng.randint(0, max(len(sentence) - k, 0))
        queries.append(("phrase", sentence[start : start + k], None))
    rng.shuffle(queries)  # types interleaved too
    return queries


# ───────────────────────────── measuring ─────────────────────────────


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(int(round(q * (len(values) - 1))), len(values) - 1)]


def ratio(value: float, base: float) -> str:
    if not base or value != value or base != base:
        return "–"
    return f"{value / base:.2f}×"


def run(args) -> dict:
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        if b not in BACKENDS:
            raise SystemExit(f"unknown backend {b!r}; valid: {', '.join(BACKENDS)}")
    baseline = "whoosh" if "whoosh" in backends else backends[0]
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="dangan-index-bench-"))
    indexes = {b: open_index(b, workdir / b) for b in backends}
    for ix in indexes.values():
        ix.clear()

    corpus = Corpus(args.seed)
    seconds = dict.fromkeys(backends, 0.0)
    gen_seconds = 0.0
    batch: list[PageDocument] = []
    done = 0
    n_batches = 0
    stream = corpus.pages(args.pages)
    while True:
        t0 = time.perf_counter()
        batch = [doc for _, doc in zip(range(args.batch), stream)]
        gen_seconds += time.perf_counter() - t0
        if not batch:
            break
        # Alternate which engine goes first so neither always gets the warm cache.
        order = backends if n_batches % 2 == 0 else backends[::-1]
        for b in order:
            t0 = time.perf_counter()
            indexes[b].add(batch)
            indexes[b].commit()
            seconds[b] += time.perf_counter() - t0
        done += len(batch)
        n_batches += 1
        print(
            f"  indexed {done}/{args.pages}  "
            + "  ".join(f"{b} {done / seconds[b]:.0f} p/s" for b in backends),
            file=sys.stderr,
            flush=True,
        )

    queries = make_queries(corpus, args.queries, random.Random(args.seed + 1))
    lat: dict[str, dict[str, list[float]]] = {b: defaultdict(list) for b in backends}
    recall: dict[str, dict[str, list[float]]] = {b: defaultdict(list) for b in backends}
    for i, (qtype, query, relevant) in enumerate(queries):
        order = backends if i % 2 == 0 else backends[::-1]
        for b in order:
            t0 = time.perf_counter()
            result = search(indexes[b], query, limit=10, approximate=False, facets=False)
            lat[b][qtype].append((time.perf_counter() - t0) * 1000)
            if relevant:
                found = {h.page_id for h in result.hits}
                recall[b][qtype].append(len(found & relevant) / min(10, len(relevant)))

    report = {
        "pages": args.pages,
        "batch": args.batch,
        "queries_per_type": args.queries,
        "baseline": baseline,
        "generator_seconds": round(gen_seconds, 2),
        "workdir": str(workdir),
        "indexing": {},
        "queries": {},
    }
    for b in backends:
        size = dir_size(workdir / b)
        report["indexing"][b] = {
            "seconds": round(seconds[b], 2),
            "pages_per_s": round(args.pages / seconds[b], 1) if seconds[b] else None,
            "index_bytes": size,
            "bytes_per_page": round(size / max(args.pages, 1)),
            "count": indexes[b].count(),
        }
        report["queries"][b] = {
            qtype: {
                "n": len(v),
                "p50_ms": round(pct(v, 0.5), 3),
                "p95_ms": round(pct(v, 0.95), 3),
                "mean_ms": round(statistics.fmean(v), 3),
                "recall_at_10": round(statistics.fmean(recall[b][qtype]), 3) if recall[b][qtype] else None,
            }
            for qtype, v in sorted(lat[b].items())
        }
    for ix in indexes.values():
        ix.close()
    if not args.keep and not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def print_report(r: dict) -> None:
    base = r["baseline"]
    ix = r["indexing"]
    print(f"\nindex benchmark: {r['pages']} pages, batches of {r['batch']}, baseline = {base} (ratios: figure / baseline figure, same run)")
    print(f"corpus generation {r['generator_seconds']} s (not in any figure)\n")
    print(f"{'backend':<9} {'pages/s':>9} {'×base':>8} {'index MB':>9} {'×base':>8} {'B/page':>8} {'count':>8}")
    for b, v in ix.items():
        print(
            f"{b:<9} {v['pages_per_s']:>9.1f} {ratio(v['pages_per_s'], ix[base]['pages_per_s']):>8} "
            f"{v['index_bytes'] / 1e6:>9.1f} {ratio(v['index_bytes'], ix[base]['index_bytes']):>8} "
            f"{v['bytes_per_page']:>8} {v['count']:>8}"
        )
    print("\nqueries (top 10, exact matches, via pipeline.index.search; snippets included), ms")
    print(f"{'type':<8} {'backend':<9} {'n':>4} {'p50':>9} {'×base':>8} {'p95':>9} {'×base':>8} {'R@10':>6} {'×base':>7}")
    q = r["queries"]
    for qtype in sorted(q[base]):
        for b in q:
            v, bv = q[b][qtype], q[base][qtype]
            rec = "" if v["recall_at_10"] is None else f"{v['recall_at_10']:.3f}"
            rec_ratio = "" if v["recall_at_10"] is None else ratio(v["recall_at_10"], bv["recall_at_10"])
            print(
                f"{qtype:<8} {b:<9} {v['n']:>4} {v['p50_ms']:>9.2f} {ratio(v['p50_ms'], bv['p50_ms']):>8} "
                f"{v['p95_ms']:>9.2f} {ratio(v['p95_ms'], bv['p95_ms']):>8} {rec:>6} {rec_ratio:>7}"
            )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=100_000)
    ap.add_argument("--backends", default="tantivy,whoosh")
    ap.add_argument("--queries", type=int, default=50, help="queries per type")
    ap.add_argument("--batch", type=int, default=5000, help="pages per add+commit")
    ap.add_argument("--json", type=Path, help="write the figures here as JSON")
    ap.add_argument("--seed", type=int, default=20261121)
    ap.add_argument("--workdir", help="keep the indexes in this directory (default: temporary, removed)")
    ap.add_argument("--keep", action="store_true", help="do not remove the temporary index directory")
    args = ap.parse_args(argv)
    report = run(args)
    print_report(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), "utf-8")


if __name__ == "__main__":
    main()
