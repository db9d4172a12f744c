"""Classification benchmark: the filing classifier on a labelled corpus of rendered archive documents.

    make bench-classify                                   # 6 documents per type, ~15 min the first time
    .venv/bin/python bench/classify_bench.py --per-type 6 --json bench/out/classify_bench.json
    .venv/bin/python bench/classify_bench.py --types JF·C02·SQ,CJ·MZ --per-type 2

What runs
---------
tests/docfactory.py writes ``--per-type`` documents of every type it knows (household file
papers 申请书 … 脱贫确认书, project volume papers, village and township records), each labelled
with its taxonomy leaf (``JF·C02·SQ``), and renders them as 300-dpi scans. Every page goes
through the product's page path, as the ``dangan`` configuration of bench/ocr_bench.py runs it
(prepare_image → ocr_copy → PageReader from the configured OCR settings), one page at a time
in this process. The OCR text of each document is cached in bench/out/classify_cache/ under a
hash of its rendered pixels, so a re-run does no OCR; an index keyed by the factories' source
and the document also skips re-rendering while neither factory changes (``--no-cache``: redo all).

The OCR text of each document (pages joined) is then classified:

``rules``        ``Classifier.from_settings(load_settings().classify)``: the taxonomy's rules alone.
``rules+model``  the rules plus ``LearnedModel`` trained on the other half of the corpus, as if
                 a person had confirmed those items: 2-fold, documents k = 0, 2, 4 … of each type
                 train the model that classifies k = 1, 3, 5 … and the other way round.

Per configuration: accuracy (right class / items), the share sent to review, and the check that
matters for an archive: every wrong class must be sent to review (``needs_review``), so
"wrong & auto-accepted" must be 0. Every wrong item is listed with its top evidence, the
classifier's answer on the document's clean text (right there → the OCR lost it; wrong there
too → a rule gap) and the OCR's order-free character error on it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # as bench/ocr_bench.py: single-threaded engines

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.report import write_report
from tests import docfactory as df
from tests import scanfactory as sf

CACHE = ROOT / "bench" / "out" / "classify_cache"
CONFIGS = ("rules", "rules+model")
RECEIVED = datetime(2024, 1, 1, tzinfo=UTC)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ───────────────────────────── corpus and OCR ─────────────────────────────


def doc_key(doc: df.Document, render_seed: str) -> str:
    """Identity of a rendering: both factories' source, the document, the render seed."""
    h = hashlib.sha256()
    for path in (ROOT / "tests" / "docfactory.py", ROOT / "tests" / "scanfactory.py"):
        h.update(path.read_bytes())
    h.update(repr(doc).encode())
    h.update(render_seed.encode())
    return h.hexdigest()


def pixels_hash(images) -> str:
    h = hashlib.sha256()
    for im in images:
        h.update(f"{im.mode}{im.size}".encode())
        h.update(im.tobytes())
    return h.hexdigest()


class Reader:
    """The ``dangan`` page path of bench/ocr_bench.py, models loaded on first use."""

    def __init__(self) -> None:
        self._run = None
        self.version = ""
        self.tmp = Path(tempfile.mkdtemp(prefix="classify-bench-"))

    def read(self, image) -> dict:
        if self._run is None:
            from bench.ocr_bench import _make_runner

            t = time.perf_counter()
            self._run, self.version, _ = _make_runner("dangan")
            log(f"OCR: {self.version} (load + warm-up {time.perf_counter() - t:.1f} s)")
        path = self.tmp / "page.png"
        image.save(path, "PNG", dpi=(df.DPI, df.DPI), compress_level=1)
        res = self._run(path)
        return {"text": res["text"], "seconds": round(res["seconds"], 3), "confidence": res.get("confidence")}


def bag_error(clean: str, ocr: str) -> float:
    """Order-free character error (tables have no one reading order); colons are left out
    because a form prints 户主姓名 | 张三 in two cells where the text says 户主姓名：张三."""
    return sf.bag_error(*(t.replace("：", "").replace(":", "") for t in (clean, ocr)))


def ocr_corpus(docs: list[df.Document], seed: int, use_cache: bool) -> tuple[list[dict], dict]:
    """OCR text of every document, from the cache where the pixels are the same."""
    CACHE.mkdir(parents=True, exist_ok=True)
    index_path = CACHE / "index.json"
    index = json.loads(index_path.read_text()) if use_cache and index_path.exists() else {}
    reader, stats, seen, items = Reader(), Counter(), Counter(), []
    for i, doc in enumerate(docs):
        k = seen[doc.label]
        seen[doc.label] += 1
        render_seed = f"render-{seed}-{doc.label}-{k}"
        key, images = doc_key(doc, render_seed), None
        if key not in index:
            images = df.render_document(doc, random.Random(render_seed))
            index[key] = pixels_hash(images)
        entry_path = CACHE / f"{index[key]}.json"
        if use_cache and entry_path.exists():
            entry, how = json.loads(entry_path.read_text(encoding="utf-8")), "cached"
        else:
            images = images or df.render_document(doc, random.Random(render_seed))
            entry, how = {"label": doc.label, "title": doc.title, "pages": [reader.read(im) for im in images]}, "read"
            entry_path.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
        index_path.write_text(json.dumps(index))  # after every document: an interrupted run keeps its work
        stats[how] += 1
        text = "\n".join(p["text"] for p in entry["pages"])
        item = {"id": f"{doc.label}#{k}", "label": doc.label, "k": k, "kind": doc.kind, "title": doc.title,
                "pages": len(entry["pages"]), "ocr_s": round(sum(p["seconds"] for p in entry["pages"]), 2),
                "bag_error": round(bag_error(doc.text, text), 4), "text": text, "clean": doc.text}
        items.append(item)
        log(f"[{i + 1}/{len(docs)}] {item['id']} {doc.kind} {item['pages']}p {how}: OCR {item['ocr_s']:.1f} s, "
            f"bag error {100 * item['bag_error']:.1f} %")
    return items, {"read": stats["read"], "cached": stats["cached"], "engine": reader.version}


# ───────────────────────────── classification ─────────────────────────────


def evidence_text(evidence, n: int = 3) -> str:
    """The ``n`` weightiest pieces of evidence as ``source[terms]×weight``."""
    ranked = sorted(evidence or (), key=lambda e: -float(getattr(e, "weight", 0) or 0))
    parts = [f"{getattr(e, 'source', e)}[{'、'.join(getattr(e, 'terms', ()) or (getattr(e, 'detail', ''),))}]"
             f"×{float(getattr(e, 'weight', 0) or 0):g}" for e in ranked[:n]]
    return "; ".join(parts)[:300]


def classify(clf, text: str) -> dict:
    t = time.perf_counter()
    c = clf.classify_text(text, received_at=RECEIVED, label="bench")
    return {"pred": c.class_code, "confidence": round(float(c.confidence), 3), "review": bool(c.needs_review),
            "evidence": evidence_text(c.evidence), "ms": 1000 * (time.perf_counter() - t)}


def run_classifiers(items: list[dict]) -> dict:
    """Every item through ``rules`` and, 2-fold, ``rules+model``; also the rules on the clean text."""
    from pipeline.classify import Classifier
    from pipeline.classify.model import LearnedModel
    from pipeline.config import load_settings

    settings = load_settings().classify
    rules = Classifier.from_settings(settings)
    meta = {"train_s": 0.0}
    for item in items:
        item["rules"] = classify(rules, item["text"])
        item["rules_clean"] = classify(rules, item["clean"])["pred"]
    for fold in (0, 1):
        train = [(it["text"], it["label"]) for it in items if it["k"] % 2 != fold]
        test = [it for it in items if it["k"] % 2 == fold]
        if not train or not test:
            continue
        t = time.perf_counter()
        model = LearnedModel.train(train)
        meta["train_s"] += time.perf_counter() - t
        both = Classifier.from_settings(settings, model=model)
        for item in test:
            item["rules+model"] = classify(both, item["text"])
    return meta


def summarise(items: list[dict], labels: list[str]) -> dict:
    out = {}
    for config in CONFIGS:
        rows = [it for it in items if config in it]
        if not rows:
            continue
        res = [it[config] for it in rows]
        wrong = [it for it in rows if it[config]["pred"] != it["label"]]
        auto = [it for it in rows if not it[config]["review"]]
        out[config] = {
            "items": len(rows), "correct": len(rows) - len(wrong), "accuracy": 1 - len(wrong) / len(rows),
            "review_share": 1 - len(auto) / len(rows),
            "wrong_auto_accepted": sum(not it[config]["review"] for it in wrong),
            "auto_accuracy": (sum(it[config]["pred"] == it["label"] for it in auto) / len(auto)) if auto else None,
            "ms_per_item": sum(r["ms"] for r in res) / len(res),
            "by_type": {label: {"n": sum(it["label"] == label for it in rows),
                                "correct": sum(it["label"] == label and it[config]["pred"] == label for it in rows),
                                "review": sum(it["label"] == label and it[config]["review"] for it in rows)}
                        for label in labels},
            "wrong": [it["id"] for it in wrong],
        }
    return out


# ───────────────────────────── report ─────────────────────────────


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def markdown(summary: dict, items: list[dict], meta: dict) -> str:
    ocr = meta["ocr"]
    out = [(f"## Classification benchmark — {meta['documents']} documents, {len(meta['types'])} types "
           f"({meta['per_type']} per type), seed {meta['seed']}, {meta['host']} {meta['cpus']} CPUs"), "",
           (f"OCR ({ocr['engine'] or 'all cached'}): {meta['pages']} pages, {meta['ocr_s']:.0f} s of OCR "
           f"({meta['ocr_s'] / max(1, meta['pages']):.1f} s/page; {ocr['read']} documents read now, {ocr['cached']} "
           f"from the cache), order-free character error {100 * meta['bag_error']:.1f} % over all documents."), ""]
    if not summary:
        out.append(f"> classifier not run: {meta.get('classifier_error')}")
        return "\n".join(out)
    out += [("| configuration | items | correct | accuracy | sent to review | wrong & auto-accepted | accuracy of auto-accepted "
            "| classify ms/item |"), "|---|---|---|---|---|---|---|---|"]
    for config, s in summary.items():
        out.append(f"| {config} | {s['items']} | {s['correct']} | {_pct(s['accuracy'])} | {_pct(s['review_share'])} | "
                   f"{s['wrong_auto_accepted']} | {_pct(s['auto_accuracy'])} | {s['ms_per_item']:.2f} |")
    if "rules+model" in summary:
        out.append(f"\nModel training: {meta['train_s']:.2f} s for both folds. Both halves come from the same "
                   "generators, so the model has seen every wording it is tested on: read rules+model as the figure "
                   "for kinds of paper the archive has already confirmed, not for a new template.")
    by_id = {it["id"]: it for it in items}
    out += ["", "### Check: every wrong class is sent to review (needs_review=True)", ""]
    for config, s in summary.items():
        ok = s["wrong_auto_accepted"] == 0
        ocr_lost = sum(by_id[i]["rules_clean"] == by_id[i]["label"] for i in s["wrong"])
        out.append(f"- {config}: {len(s['wrong'])} wrong, {s['wrong_auto_accepted']} of them auto-accepted "
                   f"{'✓' if ok else '✗'}; the rules get {ocr_lost} of them right on the clean text (OCR lost it), "
                   f"{len(s['wrong']) - ocr_lost} wrong there too (rule gap)")
    configs = list(summary)
    out += ["", "### Per type (correct / n; in brackets: sent to review)", "",
            "| type | title example | " + " | ".join(configs) + " |", "|---|---|" + "---|" * len(configs)]
    for label in meta["types"]:
        example = next((it["title"] for it in items if it["label"] == label and it["title"]), "")
        cells = []
        for config in configs:
            b = summary[config]["by_type"][label]
            cells.append(f"{b['correct']}/{b['n']} ({b['review']})")
        out.append(f"| {label} | {example} | " + " | ".join(cells) + " |")
    for config in configs:
        wrong = summary[config]["wrong"]
        out += ["", f"### Wrong items: {config} ({len(wrong)})", ""]
        if not wrong:
            out.append("none")
            continue
        out += ["| item | title | predicted | confidence | review | rules on clean text | OCR bag err | top evidence |",
                "|---|---|---|---|---|---|---|---|"]
        for i in wrong:
            it = by_id[i]
            r = it[config]
            clean = it["rules_clean"] or "—"
            verdict = "✓ (OCR)" if clean == it["label"] else "✗ (rules)"
            out.append(f"| {i} | {it['title'] or '(none)'} | {r['pred'] or '—'} | {r['confidence']:.2f} | "
                       f"{'yes' if r['review'] else '**no**'} | {clean} {verdict} | {100 * it['bag_error']:.1f} % | "
                       f"{r['evidence'].replace('|', '/')} |")
    return "\n".join(out)


# ───────────────────────────── main ─────────────────────────────


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-type", type=int, default=6, help="documents of each type (default 6)")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    parser.add_argument("--types", default="", help="comma list of labels (default: all types)")
    parser.add_argument("--no-cache", action="store_true", help="render and OCR everything again")
    parser.add_argument("--json", type=Path, help="write per-item results and the summary here")
    parser.add_argument("--markdown", type=Path, help="also write the tables here")
    args = parser.parse_args(argv)
    types = [t.strip() for t in args.types.split(",") if t.strip()] or list(df.LABELS)
    for t in types:
        if t not in df.LABELS:
            parser.error(f"unknown type {t!r}; types: {', '.join(df.LABELS)}")

    docs = [d for d in df.corpus(args.per_type, args.seed) if d.label in types]
    log(f"{len(docs)} documents, {len(types)} types")
    items, ocr = ocr_corpus(docs, args.seed, not args.no_cache)
    meta = {"host": platform.node(), "cpus": os.cpu_count(), "seed": args.seed, "per_type": args.per_type,
            "types": types, "documents": len(items), "pages": sum(it["pages"] for it in items),
            "ocr_s": sum(it["ocr_s"] for it in items), "ocr": ocr,
            "bag_error": sum(it["bag_error"] for it in items) / max(1, len(items))}
    meta.update(run_classifiers(items))
    summary = summarise(items, types)
    table = markdown(summary, items, meta)
    print(table)
    write_report(table, {"meta": meta, "summary": summary, "items": items}, markdown=args.markdown, json_path=args.json)
    return 0 if summary else 1


if __name__ == "__main__":
    raise SystemExit(main())
