"""OCR benchmark: RapidOCR (default engine) versus the Tesseract baseline on rendered scans.

Renders a deterministic corpus with tests/scanfactory.py (Simplified and Traditional body
text, 建档立卡 forms, sealed pages, pages turned 90/180/270°, skewed pages), runs every
page through the same imaging prepare step (Tesseract OSD + OpenCV deskew), then through
each engine, interleaving the engines page by page (alternating which goes first) so that
background load hits both alike. Prints per-engine CER and pages/min, and each as a ratio
to Tesseract measured in the same run: on a shared machine only the ratios are comparable
between runs.

    .venv/bin/python bench/ocr_bench.py --pages 12 --json bench/out/ocr.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import unicodedata
from pathlib import Path

# Single-threaded workers (research §5.2); set before any engine is imported.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from pipeline.imaging import prepare_image  # noqa: E402
from pipeline.ocr import get_engine  # noqa: E402
from tests import scanfactory as sf  # noqa: E402

KINDS = ("body_sc", "body_tc", "form", "sealed", "rotated", "skewed")
BASELINE = "tesseract"


def render(index: int, dpi: int):
    """Page ``index`` of the corpus: (kind, PIL image, expected clockwise fix, expected deskew)."""
    kind = KINDS[index % len(KINDS)]
    seed = 1000 + index
    k = index // len(KINDS)
    if kind == "body_sc":
        img = sf.render_page(sf.body_paragraphs(seed), seed=seed, dpi=dpi, noise_sigma=5, jpeg_quality=75)
        return kind, img, 0, 0.0
    if kind == "body_tc":
        img = sf.render_page(sf.body_paragraphs(seed, traditional=True), seed=seed, dpi=dpi, traditional=True,
                             noise_sigma=5, jpeg_quality=75)
        return kind, img, 0, 0.0
    if kind == "form":
        img = sf.render_form(sf.default_form_fields(seed), seed=seed, dpi=dpi, noise_sigma=6, jpeg_quality=60,
                             skew_deg=0.8, seal=k % 2 == 1)
        return kind, img, 0, -0.8
    if kind == "sealed":
        img = sf.render_page(sf.body_paragraphs(seed), seed=seed, dpi=dpi, seal=True, yellow=True, noise_sigma=8,
                             jpeg_quality=40, skew_deg=-0.6)
        return kind, img, 0, 0.6
    if kind == "rotated":
        turned = (90, 180, 270)[k % 3]
        img = sf.render_page(sf.body_paragraphs(seed), seed=seed, dpi=dpi, rotate=turned, noise_sigma=5,
                             jpeg_quality=70, font=("serif", "ming", "sans")[k % 3])
        return kind, img, (360 - turned) % 360, 0.0
    skew = (2.5, -3.5, 1.5, -4.0)[k % 4]
    img = sf.render_page(sf.body_paragraphs(seed), seed=seed, dpi=dpi, skew_deg=skew, noise_sigma=6,
                         jpeg_quality=60, font=("ming", "kai")[k % 2])
    return kind, img, 0, -skew


def edits(ref: str, hyp: str) -> tuple[int, int]:
    """(edit distance, reference length) after the same normalisation as sf.cer."""
    length = len("".join(unicodedata.normalize("NFKC", ref).split()))
    return round(sf.cer(ref, hyp) * length), length


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=12, help="corpus size (default 12, cycles over the page kinds)")
    parser.add_argument("--dpi", type=int, default=200, help="scan resolution of the rendered pages (default 200)")
    parser.add_argument("--json", type=Path, help="write per-page results and the summary here")
    parser.add_argument("--engines", default="rapidocr,tesseract")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]

    load_start = os.getloadavg()[0]
    loaded = {}
    for name in engines:
        t = time.perf_counter()
        engine = get_engine(name)
        engine.recognize(np.full((64, 256, 3), 255, np.uint8))  # load models outside the timing
        loaded[name] = round(time.perf_counter() - t, 2)
    print(f"# {platform.node()} {os.cpu_count()} cpus, load {load_start:.2f}; {args.pages} pages at {args.dpi} dpi")
    for name in engines:
        print(f"#   {name}: {get_engine(name).version()} (load+warm-up {loaded[name]} s)")

    records = []
    for i in range(args.pages):
        kind, img, want_rot, want_angle = render(i, args.dpi)
        gt = img.info["gt"]
        bgr = np.ascontiguousarray(np.asarray(img.convert("RGB"))[..., ::-1])
        t = time.perf_counter()
        working, rotation, angle = prepare_image(bgr)
        prep_s = time.perf_counter() - t
        order = engines if i % 2 == 0 else list(reversed(engines))
        row = {"page": i, "kind": kind, "chars": len("".join(gt.split())), "prepare_s": round(prep_s, 3),
               "rotation": rotation, "expected_rotation": want_rot, "deskew": angle, "expected_deskew": want_angle}
        for name in order:
            page = get_engine(name).recognize(working)
            e, n = edits(gt, page.text)
            row[name] = {"edits": e, "cer": round(e / max(1, n), 4), "ocr_s": round(page.seconds, 3),
                         "lines": len(page.lines), "confidence": round(page.confidence, 4)}
        records.append(row)
        print(f"page {i:2d} {kind:8s} rot {rotation:3d}/{want_rot:3d} deskew {angle:+6.2f}/{want_angle:+5.2f} "
              + "  ".join(f"{n} cer {row[n]['cer']:.3f} {row[n]['ocr_s'] + prep_s:5.1f}s" for n in engines), flush=True)

    summary = {}
    for name in engines:
        total_edits = sum(r[name]["edits"] for r in records)
        total_chars = sum(r["chars"] for r in records)
        seconds = sum(r[name]["ocr_s"] + r["prepare_s"] for r in records)
        per_kind = {}
        for kind in KINDS:
            rows = [r for r in records if r["kind"] == kind]
            if rows:
                per_kind[kind] = round(sum(r[name]["edits"] for r in rows) / max(1, sum(r["chars"] for r in rows)), 4)
        summary[name] = {"cer": round(total_edits / max(1, total_chars), 4), "seconds": round(seconds, 1),
                         "pages_per_min": round(60.0 * len(records) / seconds, 2) if seconds else 0.0,
                         "cer_by_kind": per_kind}
    base = summary.get(BASELINE)
    for name, s in summary.items():
        if base:
            s["cer_ratio_to_tesseract"] = round(s["cer"] / base["cer"], 3) if base["cer"] else None
            s["speed_ratio_to_tesseract"] = round(s["pages_per_min"] / base["pages_per_min"], 3) if base["pages_per_min"] else None
    orientation_ok = sum(r["rotation"] == r["expected_rotation"] for r in records)
    deskew_err = [abs(r["deskew"] - r["expected_deskew"]) for r in records]

    print()
    print(f"{'engine':10s} {'CER %':>7s} {'pages/min':>9s} {'CER ×tess':>9s} {'speed ×tess':>11s}  CER % by kind")
    for name, s in summary.items():
        kinds = " ".join(f"{k}={v * 100:.1f}" for k, v in s["cer_by_kind"].items())
        print(f"{name:10s} {s['cer'] * 100:7.2f} {s['pages_per_min']:9.2f} {s.get('cer_ratio_to_tesseract', '-')!s:>9s} "
              f"{s.get('speed_ratio_to_tesseract', '-')!s:>11s}  {kinds}")
    print(f"prepare: orientation right on {orientation_ok}/{len(records)} pages, deskew residual max "
          f"{max(deskew_err):.2f}°, mean prepare {sum(r['prepare_s'] for r in records) / len(records):.2f} s/page "
          f"(included in pages/min); load {load_start:.2f} → {os.getloadavg()[0]:.2f}")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"dpi": args.dpi, "pages": records, "summary": summary,
                                         "engines": {n: get_engine(n).version() for n in engines}},
                                        ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
