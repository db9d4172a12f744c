"""Search-quality benchmark at archive scale (issue 5 targets), tantivy backend.

    python bench/search_bench.py --pages 1000000 --json out.json --markdown out.md

Generates N synthetic OCR'd township/village pages (deterministic per seed):
households with Chinese names (Zipf surnames, 1950s-style and modern given
names), ID numbers with valid ISO 7064 check characters (5 % with an OCR
letter for a digit), mobile numbers, villages, fonds, years 1985–2022 with a
document date, filing classes from the leaves of config/taxonomy.yaml, ~10 %
of pages in Traditional script, OCR noise in the running text (look-alike
characters from pipeline/index/confusion.py, dropped characters, spaces
between characters) and, on 8 % of name mentions, exactly one character of the
name replaced by a look-alike (the cases approximate search is for).

It builds a tantivy index in batches (progress on stderr), then runs query
sets — 3- and 2-character names, surnames, IDs (as written, with a lower-case
x, last 6, masked 330102********1234), name + village + year range, phrases,
names typed right but printed with one look-alike (also filtered) — through
``pipeline.index.search``, the function the web UI calls, with facets. It
reports p50/p95 latency per query kind, recall@10 for exact names, IDs and
OCR-confused names against the generator's truth, index size and build rate. Targets from issue 5 are printed beside the figures, not
asserted. --index-dir reuses an index built earlier with the same --pages and
--seed (the corpus is regenerated in memory, not re-indexed, for the truth).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from index_bench import (  # noqa: E402
    EDUCATION, GIVEN_CHARS, HEALTH, OLD_GIVEN, REASONS, REGIONS, RELATIONS, SURNAME_WEIGHTS, SURNAMES,
    TOWNSHIPS, VILLAGE_ROOTS, dir_size, pct,
)
from seed_sentences import SEED_SENTENCES  # noqa: E402

from bench.report import write_report  # noqa: E402

from pipeline.domain import PageDocument  # noqa: E402
from pipeline.index import needs_rebuild, open_index, search  # noqa: E402
from pipeline.index.confusion import lookalikes  # noqa: E402
from pipeline.scheme.taxonomy import load_taxonomy  # noqa: E402
from pipeline.text import id_check_digit, mask  # noqa: E402

FONDS = ("J117", "J118", "J119", "J120")
ID_LETTERS = {"0": "O", "1": "l", "5": "S", "8": "B", "2": "Z"}
NAME_DAMAGE = 0.08  # share of name mentions with one look-alike character
TARGETS = {  # issue 5 (reported, not asserted)
    "p95_ms": {"name3": 50, "name2": 50, "surname": 50, "id": 50, "id_x": 50, "id6": 50, "id_masked": 50, "filtered": 50,
               "confused": 50, "confused_f": 50, "phrase": 200},
    "recall10": {"name3": 0.99, "id": 0.99, "id_x": 0.99, "confused": 0.95, "confused_f": 0.95},
}


class Corpus:
    """One seeded RNG consumed sequentially; ``truth`` records, per page, what
    the generator wrote: names as printed, names damaged by one look-alike,
    IDs (clean value)."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.classes = load_taxonomy(ROOT / "config" / "taxonomy.yaml").leaves
        self.villages = [(t, r + "村") for i, t in enumerate(TOWNSHIPS) for r in VILLAGE_ROOTS[i % 5 : i % 5 + 10]]
        self.households: list[tuple] = []
        self.written: dict[str, set[int]] = defaultdict(set)  # name as printed → pages
        self.damaged: dict[str, set[int]] = defaultdict(set)  # true name → pages where printed damaged
        self.ids: dict[str, set[int]] = defaultdict(set)
        self.meta: dict[int, tuple[str, int]] = {}  # page → (village, year), for filtered queries
        self._s2t = None

    def name(self, surname: str | None = None) -> str:
        rng = self.rng
        surname = surname or rng.choices(SURNAMES, SURNAME_WEIGHTS)[0]
        r = rng.random()
        if r < 0.28:
            return surname + rng.choice(GIVEN_CHARS)
        if r < 0.40:
            return surname + rng.choice(OLD_GIVEN)
        return surname + rng.choice(GIVEN_CHARS) + rng.choice(GIVEN_CHARS)

    def id_number(self) -> str:
        rng = self.rng
        first17 = f"{rng.choice(REGIONS)}{rng.randint(1930, 2015)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
        return first17 + id_check_digit(first17)

    def household(self) -> tuple:
        rng = self.rng
        if self.households and rng.random() < 0.6:  # villagers reappear on several pages
            return rng.choice(self.households[-5000:])
        head = (self.name(), self.id_number())
        members = [((self.name(head[0][0] if rng.random() < 0.85 else None), self.id_number()), rng.choice(RELATIONS))
                   for _ in range(rng.randint(0, 4))]
        phone = f"1{rng.choice('3578')}{rng.randint(0, 999_999_999):09d}"
        hh = (head, members, *rng.choice(self.villages), phone)
        self.households.append(hh)
        return hh

    def put_name(self, name: str, page_id: int) -> str:
        """The name as OCR printed it; records the truth."""
        spots = [i for i, c in enumerate(name) if lookalikes(c)]
        if spots and self.rng.random() < NAME_DAMAGE:
            i = self.rng.choice(spots)
            printed = name[:i] + self.rng.choice(lookalikes(name[i])) + name[i + 1 :]
            self.damaged[name].add(page_id)
        else:
            printed = name
        self.written[printed].add(page_id)
        return printed

    def put_id(self, id_number: str, page_id: int) -> str:
        self.ids[id_number].add(page_id)
        spots = [i for i, d in enumerate(id_number) if d in ID_LETTERS]
        if spots and self.rng.random() < 0.05:
            i = self.rng.choice(spots)
            return id_number[:i] + ID_LETTERS[id_number[i]] + id_number[i + 1 :]
        return id_number

    def body(self, lo: int, hi: int) -> str:
        """Running text with OCR noise: look-alikes, dropped characters, stray spaces."""
        rng = self.rng
        out = []
        for c in "".join(rng.choice(SEED_SENTENCES) for _ in range(rng.randint(lo, hi))):
            r = rng.random()
            if r < 0.005:
                continue
            if r < 0.03 and lookalikes(c):
                c = rng.choice(lookalikes(c))
            out.append(c + " " if rng.random() < 0.01 else c)
        return "".join(out)

    def s2t(self, text: str) -> str:
        if self._s2t is None:
            import opencc

            self._s2t = opencc.OpenCC("s2t")
        return self._s2t.convert(text)

    def pages(self, n: int) -> Iterator[PageDocument]:
        rng = self.rng
        page_id = item_id = 0
        while page_id < n:
            item_id += 1
            (head, members, township, village, phone) = self.household()
            cls = rng.choice(self.classes)
            year = rng.randint(1985, 2022)
            month, day = rng.randint(1, 12), rng.randint(1, 28)
            fonds = rng.choice(FONDS)
            traditional = rng.random() < 0.10
            for page_no in range(1, rng.randint(1, 3) + 1):
                if page_id >= n:
                    break
                page_id += 1
                self.meta[page_id] = (village, year)
                # The title is derived from the OCR text too, so it carries the same misreading.
                head_name = self.put_name(head[0], page_id)
                rows = "\n".join(
                    f"{self.put_name(p[0], page_id)} {rel} {self.put_id(p[1], page_id)} {rng.choice(EDUCATION)} {rng.choice(HEALTH)}"
                    for p, rel in members
                )
                text = (
                    f"{cls.name}\n乡镇：{township} 村：{village}\n户主姓名：{head_name} "
                    f"身份证号：{self.put_id(head[1], page_id)} 联系电话：{phone}\n致贫原因：{rng.choice(REASONS)}\n"
                    f"家庭成员：\n{rows}\n日期：{year}年{month}月{day}日\n" + self.body(4, 14)
                )
                yield PageDocument(
                    page_id=page_id,
                    item_id=item_id,
                    archival_code=f"{fonds}-{cls.category}·{year}-{cls.retention}-{item_id:07d}",
                    title=f"{village}{head_name}户{cls.name}",
                    page_no=page_no,
                    text=self.s2t(text) if traditional else text,
                    year=year,
                    village=village,
                    category=cls.category,
                    fonds=fonds,
                    retention=cls.retention,
                    class_code=cls.code,
                    class_name=cls.name,
                    doc_date=f"{year}{month:02d}{day:02d}",
                    image_path=f"/work/{item_id}/{page_no:04d}.png",
                    sensitive=" ".join(cls.sensitive) or None,
                )


def make_queries(c: Corpus, per_kind: int, rng: random.Random) -> list[tuple[str, str, dict, set[int] | None]]:
    """(kind, query, filters, relevant pages or None)."""
    q: list[tuple[str, str, dict, set[int] | None]] = []
    names3 = sorted(n for n in c.written if len(n) == 3)
    names2 = sorted(n for n in c.written if len(n) == 2)
    id_list = sorted(c.ids)
    id_x = [i for i in id_list if i.endswith("X")]
    confused = sorted(n for n in c.damaged if len(n) >= 2)
    for name in rng.sample(names3, min(per_kind, len(names3))):
        q.append(("name3", name, {}, c.written[name]))
    for name in rng.sample(names2, min(per_kind, len(names2))):
        q.append(("name2", name, {}, c.written[name]))
    for _ in range(per_kind):
        q.append(("surname", rng.choices(SURNAMES, SURNAME_WEIGHTS)[0], {}, None))
    for i in rng.sample(id_list, min(per_kind, len(id_list))):
        q.append(("id", i, {}, c.ids[i]))
    for i in rng.sample(id_x, min(per_kind, len(id_x))):
        q.append(("id_x", i.lower(), {}, c.ids[i]))
    for i in rng.sample(id_list, min(per_kind, len(id_list))):
        q.append(("id6", i[-6:], {}, c.ids[i]))
    for i in rng.sample(id_list, min(per_kind, len(id_list))):  # copied from a list this product masked
        q.append(("id_masked", mask(i), {}, c.ids[i]))
    for name in rng.sample(names3, min(per_kind, len(names3))):
        page = rng.choice(sorted(c.written[name]))
        village, year = c.meta[page]
        flt = {"village": village, "year_from": year - 3, "year_to": year + 3}
        rel = {p for p in c.written[name] if c.meta[p][0] == village and year - 3 <= c.meta[p][1] <= year + 3}
        q.append(("filtered", name, flt, rel))
    for name in rng.sample(confused, min(per_kind, len(confused))):
        q.append(("confused", name, {}, c.damaged[name]))
    # The same, narrowed as a clerk would: the villager's village and a ±3-year window.
    for name in rng.sample(confused, min(per_kind, len(confused))):
        village, year = c.meta[rng.choice(sorted(c.damaged[name]))]
        flt = {"village": village, "year_from": year - 3, "year_to": year + 3}
        rel = {p for p in c.damaged[name] if c.meta[p][0] == village and year - 3 <= c.meta[p][1] <= year + 3}
        q.append(("confused_f", name, flt, rel))
    for _ in range(per_kind):
        sentence = "".join(ch for ch in rng.choice(SEED_SENTENCES) if "\u4e00" <= ch <= "\u9fff")
        k = rng.randint(4, 8)
        start = rng.randint(0, max(len(sentence) - k, 0))
        q.append(("phrase", sentence[start : start + k], {}, None))
    rng.shuffle(q)  # kinds interleaved
    return q


def build(ix, corpus: Corpus, pages: int, batch: int) -> dict:
    done, started, engine_s = 0, time.perf_counter(), 0.0
    stream = corpus.pages(pages)
    ix.clear()
    while True:
        docs = [d for _, d in zip(range(batch), stream)]
        if not docs:
            break
        t0 = time.perf_counter()
        ix.add(docs)  # includes analysis (normalise + tokenise), as in production
        ix.commit()
        engine_s += time.perf_counter() - t0
        done += len(docs)
        wall = time.perf_counter() - started
        eta = wall / done * (pages - done)
        print(f"  indexed {done:,}/{pages:,}  {done / wall:.0f} pages/s overall, "
              f"{done / engine_s:.0f} pages/s indexing  ETA {eta / 60:.1f} min", file=sys.stderr, flush=True)
    ix.mark_rebuilt()
    wall = time.perf_counter() - started
    return {"build_s": round(wall, 1), "pages_per_s": round(done / wall, 1),
            "index_pages_per_s": round(done / engine_s, 1)}


def run(args) -> dict:
    tmp = None
    if args.index_dir:
        path = Path(args.index_dir)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="dangan-search-bench-"))
        path = tmp / "ix"
    corpus = Corpus(args.seed)
    try:
        reuse = path.exists() and not needs_rebuild("tantivy", path)
        ix = open_index("tantivy", path)
        if reuse and ix.count() == args.pages:
            print(f"reusing {path} ({args.pages:,} pages); regenerating the corpus for its truth", file=sys.stderr)
            for _ in corpus.pages(args.pages):
                pass
            stats = {"build_s": None, "pages_per_s": None, "index_pages_per_s": None, "reused": True}
        else:
            stats = build(ix, corpus, args.pages, args.batch)
        ix.close()  # waits for background merges: queries see the settled index
        stats["index_bytes"] = dir_size(path)

        ix = open_index("tantivy", path)
        queries = make_queries(corpus, args.queries, random.Random(args.seed + 1))
        lat: dict[str, list[float]] = defaultdict(list)
        rec: dict[str, list[float]] = defaultdict(list)
        # Exact hits come first by design, so a damaged page of a name printed intact on
        # ≥10 other pages cannot be in the top 10 of the one list; the first screen shows
        # the best 10 approximate hits in their own list (result.approximate_hits), and
        # recall@10 counts a page found in either. in_list: the one list alone.
        in_list: list[float] = []
        for kind, query, flt, relevant in queries[: min(20, len(queries))]:
            search(ix, query, filters=flt)  # warm-up: first-touch page cache
        for kind, query, flt, relevant in queries:
            t0 = time.perf_counter()
            result = search(ix, query, filters=flt, limit=10)
            lat[kind].append((time.perf_counter() - t0) * 1000)
            if relevant:
                top = [h.page_id for h in result.hits]
                shown = top + [h.page_id for h in result.approximate_hits]
                rec[kind].append(len(relevant.intersection(shown)) / min(10, len(relevant)))
                if kind == "confused":
                    in_list.append(len(relevant.intersection(top)) / min(10, len(relevant)))
        ix.close()
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    kinds = sorted(lat, key=lambda k: list(TARGETS["p95_ms"]).index(k))
    return {
        "pages": args.pages,
        "seed": args.seed,
        "queries_per_kind": args.queries,
        **stats,
        "bytes_per_page": round(stats["index_bytes"] / args.pages),
        "kinds": {
            k: {
                "n": len(lat[k]),
                "p50_ms": round(statistics.median(lat[k]), 2),
                "p95_ms": round(pct(lat[k], 0.95), 2),
                "p95_target_ms": TARGETS["p95_ms"].get(k),
                "recall10": round(statistics.mean(rec[k]), 4) if rec[k] else None,
                "recall10_target": TARGETS["recall10"].get(k),
            }
            for k in kinds
        },
        "confused_recall10_one_list": round(statistics.mean(in_list), 4) if in_list else None,
    }


def markdown(r: dict) -> str:
    rate = "reused index" if r.get("reused") else f"{r['pages_per_s']:.0f} pages/s overall ({r['index_pages_per_s']:.0f} indexing incl. analysis), {r['build_s'] / 60:.1f} min"
    lines = [
        f"### search bench: {r['pages']:,} pages, seed {r['seed']}, {r['queries_per_kind']} queries per kind",
        "",
        f"index {r['index_bytes'] / 1e6:,.0f} MB ({r['bytes_per_page']:,} bytes/page); build {rate}",
        "",
        "| kind | n | p50 ms | p95 ms (target) | recall@10 (target) |",
        "|---|---|---|---|---|",
    ]
    for k, v in r["kinds"].items():
        target = f" (≤{v['p95_target_ms']})" if v["p95_target_ms"] else ""
        recall = "–" if v["recall10"] is None else f"{v['recall10']:.3f}"
        if v["recall10_target"]:
            recall += f" (≥{v['recall10_target']})"
        lines.append(f"| {k} | {v['n']} | {v['p50_ms']:.1f} | {v['p95_ms']:.1f}{target} | {recall} |")
    lines += ["", "Latency: pipeline.index.search (exact + approximate query, snippets, facets), top 10, one process.",
              "confused: the clerk types the right name, the target pages print it with one look-alike character;",
              "exact hits of the name (other pages) come first; the best 10 approximate hits are listed apart on the",
              "first screen (approximate_hits) and recall@10 counts either list. confused_f: same, village + ±3 years.",
              "id_masked: as this product's lists print an ID (3301**********0017); many IDs share that mask.",
              f"confused, recall@10 of the exact-then-approximate list alone: {r['confused_recall10_one_list']}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200, help="queries per kind")
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--batch", type=int, default=20_000, help="pages per commit")
    ap.add_argument("--index-dir", help="keep the index here; reuse it when it holds --pages pages")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--markdown", help="write the table here")
    args = ap.parse_args()
    r = run(args)
    text = markdown(r)
    print(text)
    write_report(text, r, markdown=args.markdown, json_path=args.json)


if __name__ == "__main__":
    main()
