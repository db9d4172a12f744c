"""OCR benchmark: accuracy and speed of every engine configuration, as ratios to OCRmyPDF.

    make bench-ocr                                   # the whole thing (~20-25 min on 2 cores)
    .venv/bin/python bench/ocr_bench.py --pages-per-kind 1 --configs ocrmypdf,dangan --no-e2e
    .venv/bin/python bench/ocr_bench.py --kinds body_sc,form --json bench/out/ocr.json

What runs
---------
The corpus is bench/ocr_corpus.py: deterministic rendered scans of real Chinese text
(Simplified and Traditional body text in several fonts, vertical 竖排 text, 建档立卡 forms and
明白卡, red seals, pages turned 90/180/270°, pages skewed up to ±10°, 200-dpi scans, grey or
yellowed paper with uneven light and a dark scanner border, blank separator sheets, a page
with a photograph). Every page goes through every configuration:

``ocrmypdf``       the baseline: ``ocrmypdf -l chi_sim --output-type pdf -j 1`` (the CLI with its
                   default settings, as a user would run it, OMP_THREAD_LIMIT=1) on the page saved
                   as PNG with its dpi; text read back with ``pdftotext``. No orientation fix and no
                   deskew: OCRmyPDF does neither unless asked.
``tesseract+pre``  pipeline.imaging.prepare_image (Tesseract OSD + OpenCV deskew), then
                   ``get_engine("tesseract")`` (chi_sim+chi_tra).
``rapidocr+pre``   prepare_image, then ``get_engine("rapidocr", threads=1)``: the raw engine.
``dangan``         the product's page path, ``pipeline.ocr.read_page`` with the configured imaging
                   and OCR settings: prepare → seal-free copy (``pipeline.imaging.ocr_copy``) →
                   ``pipeline.ocr.PageReader.read``, as the worker and ``dangan ocr`` run it.

Each configuration lives in its own worker process (spawned, models loaded and warmed up once,
not timed) so its memory can be measured on its own. Pages are handed out one at a time and
only one worker computes at any moment; the order of the configurations rotates from page to
page, so background load on this shared machine hits all of them alike.

Per page and configuration: the text, CER (Levenshtein / reference length after NFKC and
removing whitespace, as tests/scanfactory.cer), the bag-of-characters error ((missing + extra)
/ reference length, a multiset difference that ignores reading order: read this one for forms,
whose reading order is ambiguous), seconds, and for the prepare-based configurations the
quarter turn and deskew angle applied versus the ones expected.

How to read it
--------------
*Only the ratios compare between runs* (this machine is shared and its load varies); every
ratio is against ``ocrmypdf`` measured in the same run on the same pages. For CER a ratio
below 1 is better; for pages/min above 1 is better.

* Per-page seconds: the three in-process configurations are timed around prepare + OCR with
  the models already loaded; ``ocrmypdf`` is timed around the whole CLI run (interpreter start,
  Tesseract, PDF writing), which is what its user waits for. The fair like-for-like speed
  figure is the end-to-end section.
* Peak RSS: the most the configuration's process tree held at once — the worker process (which
  holds the models) plus the processes it starts (Tesseract for OSD and OCR; for ``ocrmypdf``
  its Python process, Tesseract, Ghostscript) — VmRSS summed over the tree every 50 ms while a
  page runs; in brackets the worker process alone (its exact VmHWM). ``getrusage`` cannot do
  this: a child started by fork/vfork reports its parent's RSS at exec as its own maximum.
* Blank pages have no reference text: their column is the number of characters read (0 = right).
* Orientation: pages of the ``rotated`` kind turned upright / all of them, plus wrong turns on
  all other pages. Deskew residual: |applied − expected| in degrees, the max over skewed pages
  and over all pages with text.

End to end (``--e2e``, on by default): N 300-dpi A4 pages (mixed kinds, JPEG as a scanner
writes them) through the product — a fresh DANGAN_HOME, ``dangan ingest FILES… --wait`` with 2
workers: intake, imaging, OCR, PDF/A, catalog and index, timed from process start until every
item is searchable — versus ``ocrmypdf -l chi_sim -j 1`` (default output: PDF/A) run as two
processes in parallel over the same files. Both tools get one file per page and two
single-threaded workers on this 2-core machine, so each pays its own start-up and per-file
costs; that is fairer than one multi-page ``ocrmypdf -j 2`` run, which would put every page in
one document while dangan files each page as its own item. Peak RSS there is the most each
tool's whole process tree held at once (both workers together), and its largest single process.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Single-threaded everything (research §5.2: OpenMP oversubscription on 2 shared cores).
# Set before any engine is imported; the workers and every subprocess inherit it.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ocr_corpus import KINDS, CorpusPage, corpus  # noqa: E402
from bench.report import write_report  # noqa: E402
from tests import scanfactory as sf  # noqa: E402

CONFIGS = ("ocrmypdf", "tesseract+pre", "rapidocr+pre", "dangan")
BASELINE = "ocrmypdf"
PREPARED = ("tesseract+pre", "rapidocr+pre", "dangan")  # configs that orient + deskew

# Targets from the issue. (kind, metric, limit in %); metric "cer" or "bag".
TARGETS = (
    ("body_sc", "cer", 1.0), ("body_tc", "cer", 1.0), ("rotated", "cer", 1.0),
    ("vertical_sc", "cer", 3.0), ("vertical_tc", "cer", 3.0), ("sealed", "cer", 3.0), ("dpi200", "cer", 3.0),
    ("form", "bag", 5.0),
)
TARGET_PPM = 30.0
TARGET_RSS_MB = 1536
TARGET_DESKEW = 0.3


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ───────────────────────────── scoring ─────────────────────────────


def score(ref: str, hyp: str) -> dict:
    """Edit and bag-of-characters errors of ``hyp`` against ``ref`` (counts, not rates)."""
    r, h = sf.squash(ref), sf.squash(hyp)
    missing, extra = sf.bag_counts(r, h)
    return {"ref_chars": len(r), "out_chars": len(h), "edits": sf.levenshtein(r, h), "missing": missing,
            "extra": extra, "bag": missing + extra}


# ───────────────────────────── workers (one process per config) ─────────────────────────────


def _status_kb(pid: int | str, field: str) -> int:
    """A ``/proc/PID/status`` field in kB (VmRSS, VmHWM); 0 if the process is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as fh:
                kids.extend(int(x) for x in fh.read().split())
    except (OSError, ValueError):
        pass
    return kids


class TreeSampler:
    """Peak memory of process trees, sampled every ``interval`` seconds in a thread.

    ``roots()`` gives the root pids to follow now; every sample sums VmRSS over them and all
    their descendants. ``peak_mb`` is the largest such sum (what the tree held at once),
    ``largest_mb`` the largest single process seen. Sampling can miss a spike shorter than
    the interval; the exact high-water mark of a long-lived process is its VmHWM.
    (``getrusage(RUSAGE_CHILDREN)`` is no use here: a child started by fork/vfork reports
    its parent's RSS at exec as its own maximum, so every Tesseract child of a 1 GB worker
    would "peak" at 1 GB.)
    """

    def __init__(self, roots, interval: float = 0.05) -> None:
        import threading

        self.roots, self.interval = roots, interval
        self.peak_kb = self.largest_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        total, seen, todo = 0, set(), list(self.roots())
        while todo:
            pid = todo.pop()
            if pid in seen:
                continue
            seen.add(pid)
            rss = _status_kb(pid, "VmRSS")
            total += rss
            self.largest_kb = max(self.largest_kb, rss)
            todo.extend(_children(pid))
        self.peak_kb = max(self.peak_kb, total)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    @property
    def peak_mb(self) -> int:
        return round(self.peak_kb / 1024)

    @property
    def largest_mb(self) -> int:
        return round(self.largest_kb / 1024)


def _ocrmypdf_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("ocrmypdf")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "ocrmypdf"]


def _make_runner(config: str):
    """(run(path) -> result dict, version string, notes) for ``config``; loads models."""
    notes: list[str] = []
    if config == "ocrmypdf":
        version = subprocess.run(_ocrmypdf_cmd() + ["--version"], capture_output=True, text=True, check=False).stdout.strip()
        tess = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, check=False).stdout.split("\n")[0]
        scratch = Path(tempfile.mkdtemp(prefix="ocrbench-ocrmypdf-"))

        def run(path: Path) -> dict:
            out = scratch / "out.pdf"
            out.unlink(missing_ok=True)
            t = time.perf_counter()
            proc = subprocess.run(_ocrmypdf_cmd() + ["-l", "chi_sim", "--output-type", "pdf", "-j", "1",
                                                     str(path), str(out)], capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - t
            if proc.returncode != 0 or not out.exists():
                return {"text": "", "seconds": seconds,
                        "error": f"ocrmypdf exit {proc.returncode}: {proc.stderr.strip()[-300:]}"}
            text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=False).stdout
            return {"text": text, "seconds": seconds}

        return run, f"ocrmypdf {version}, {tess}", notes

    import numpy as np

    from pipeline.imaging import load_image, prepare_image
    from pipeline.ocr import get_engine

    if config in ("tesseract+pre", "rapidocr+pre"):
        engine = get_engine("tesseract") if config == "tesseract+pre" else get_engine("rapidocr", threads=1)
        version = engine.version()

        def run_on(image: np.ndarray):
            working, rotation, angle = prepare_image(image)  # the raw engine, after the same preparation
            return engine.recognize(working), rotation, angle
    elif config == "dangan":
        from pipeline.config import load_settings
        from pipeline.ocr import PageReader, read_page

        settings = load_settings()
        reader = PageReader.from_settings(settings.ocr)
        version = f"PageReader over {reader.engine.version()}"

        def run_on(image: np.ndarray):
            reading = read_page(image, reader, settings.imaging)  # the product's one page path
            return reading.ocr, reading.rotation, reading.deskew_angle
    else:
        raise ValueError(f"unknown config {config!r}; configs: {', '.join(CONFIGS)}")

    def run(path: Path) -> dict:
        image = load_image(path)  # decoding the file is not timed
        t = time.perf_counter()
        page, rotation, angle = run_on(image)
        seconds = time.perf_counter() - t
        return {"text": page.text, "seconds": seconds, "rotation": rotation, "angle": angle,
                "confidence": round(float(page.confidence), 4), "lines": len(page.lines)}

    # Warm-up outside the timing: a small page of text loads every model and code path.
    from PIL import Image, ImageDraw

    from tests import scanfactory as sf

    warm = Image.new("RGB", (900, 300), "white")
    ImageDraw.Draw(warm).text((20, 100), "档案数字化文字识别预热", font=sf.font("serif", 60), fill="black")
    run_on(np.ascontiguousarray(np.asarray(warm)[..., ::-1]))
    return run, version, notes


def worker_main(config: str, conn) -> None:
    """Serve pages for one config over ``conn`` until it sends None."""
    try:
        t = time.perf_counter()
        run, version, notes = _make_runner(config)
        conn.send({"ready": True, "version": version, "notes": notes, "load_s": round(time.perf_counter() - t, 2)})
    except Exception as exc:  # reported to the parent, which drops this config
        conn.send({"ready": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()})
        return
    me, peak_mb = os.getpid(), 0
    while True:
        msg = conn.recv()
        if msg is None:
            worker_hwm = round(_status_kb("self", "VmHWM") / 1024)
            # The tree peak cannot be below the worker's own exact high-water mark.
            conn.send({"rss_mb": max(peak_mb, worker_hwm), "worker_rss_mb": worker_hwm})
            return
        with TreeSampler(lambda: [me]) as sampler:  # sampled only while a page is processed
            try:
                result = run(Path(msg))
            except Exception as exc:  # one failing page must not end the run
                result = {"text": "", "seconds": 0.0, "error": f"{type(exc).__name__}: {exc}"}
        peak_mb = max(peak_mb, sampler.peak_mb)
        result["tree_rss_mb"] = sampler.peak_mb
        conn.send(result)


class Worker:
    def __init__(self, ctx, config: str) -> None:
        self.config = config
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=worker_main, args=(config, child), name=f"ocrbench-{config}", daemon=True)
        self.proc.start()
        child.close()

    def ask(self, msg):
        try:
            self.conn.send(msg)
            return self.conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError) as exc:  # the worker died (OOM, crash)
            return {"text": "", "seconds": 0.0, "error": f"worker process gone: {type(exc).__name__}"}

    def close(self) -> dict:
        try:
            final = self.ask(None)
        except (EOFError, BrokenPipeError, OSError):
            final = {}
        self.proc.join(10)
        return final


# ───────────────────────────── summary ─────────────────────────────


def _pct(num: int, den: int) -> float | None:
    return 100.0 * num / den if den else None


def summarise(records: list[dict], configs: list[str], kinds: list[str], finals: dict) -> dict:
    summary = {}
    for c in configs:
        rows = [r for r in records if c in r["results"]]
        by_kind = {}
        for kind in kinds:
            kr = [r["results"][c] for r in rows if r["kind"] == kind]
            if not kr:
                continue
            ref = sum(x["ref_chars"] for x in kr)
            by_kind[kind] = {"pages": len(kr), "ref_chars": ref, "out_chars": sum(x["out_chars"] for x in kr),
                             "cer": _pct(sum(x["edits"] for x in kr), ref), "bag": _pct(sum(x["bag"] for x in kr), ref),
                             "seconds": sum(x["seconds"] for x in kr)}
        text_rows = [r["results"][c] for r in rows if r["kind"] != "blank"]
        ref = sum(x["ref_chars"] for x in text_rows)
        seconds = sum(r["results"][c]["seconds"] for r in rows)
        s = {"pages": len(rows), "seconds": round(seconds, 1), "pages_per_min": 60.0 * len(rows) / seconds if seconds else None,
             "cer": _pct(sum(x["edits"] for x in text_rows), ref), "bag": _pct(sum(x["bag"] for x in text_rows), ref),
             "by_kind": by_kind, "errors": sum(1 for r in rows if r["results"][c].get("error")), **finals.get(c, {})}
        if c in PREPARED:
            rot = [r for r in rows if r["kind"] == "rotated"]
            s["orientation_ok"] = sum(r["results"][c].get("rotation") == r["expected_rotation"] for r in rot)
            s["orientation_n"] = len(rot)
            s["wrong_turns_elsewhere"] = sum(r["results"][c].get("rotation") != r["expected_rotation"]
                                             for r in rows if r["kind"] not in ("rotated", "blank"))
            # The skew is estimated before the quarter turn, so a wrong turn does not excuse it.
            res = [(r["kind"], abs(r["results"][c]["angle"] - r["expected_deskew"])) for r in rows
                   if r["kind"] != "blank" and r["results"][c].get("angle") is not None]
            s["deskew_residual_skewed"] = max((d for k, d in res if k == "skewed"), default=None)
            s["deskew_residual_all"] = max((d for _, d in res), default=None)
            s["deskew_over_target"] = sum(1 for _, d in res if d > TARGET_DESKEW)
            s["deskew_pages"] = len(res)
        summary[c] = s
    base = summary.get(BASELINE)
    if base:
        for s in summary.values():
            s["speed_ratio"] = s["pages_per_min"] / base["pages_per_min"] if base["pages_per_min"] and s["pages_per_min"] else None
            s["cer_ratio"] = s["cer"] / base["cer"] if base["cer"] and s["cer"] is not None else None
    return summary


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return ""
    return f" ({value / base:.2f}×)"


def _cell(summary: dict, c: str, kind: str, metric: str, with_ratio: bool = True) -> str:
    k = summary[c]["by_kind"].get(kind)
    if not k:
        return "–"
    if kind == "blank":
        return f"{k['out_chars']} ch"
    base = summary.get(BASELINE, {}).get("by_kind", {}).get(kind, {}).get(metric)
    ratio = _ratio(k[metric], base) if with_ratio and c != BASELINE else ""
    return f"{k[metric]:.2f}{ratio}"


def markdown(summary: dict, configs: list[str], kinds: list[str], meta: dict, e2e: dict | None) -> str:
    out = [(f"## OCR benchmark — {meta['pages']} pages ({meta['pages_per_kind']} per kind), {meta['dpi']} dpi, "
            f"{meta['host']} {meta['cpus']} CPUs, load {meta['load_start']:.1f} → {meta['load_end']:.1f}"), ""]
    targets = {k: (m, lim) for k, m, lim in TARGETS}
    for metric, title in (("cer", "CER % (edit distance)"), ("bag", "Bag-of-characters error % (order-free)")):
        out.append(f"### {title}; in brackets × ocrmypdf, same pages, same run (lower is better)")
        out.append("")
        out.append("| config | " + " | ".join(kinds) + " | all text |")
        out.append("|---|" + "---|" * (len(kinds) + 1))
        for c in configs:
            total = summary[c][metric]
            base_total = summary.get(BASELINE, {}).get(metric)
            all_text = "–" if total is None else f"{total:.2f}{_ratio(total, base_total) if c != BASELINE else ''}"
            out.append(f"| {c} | " + " | ".join(_cell(summary, c, k, metric) for k in kinds) + f" | {all_text} |")
        out.append("| target | " + " | ".join(
            (f"≤{targets[k][1]:g}" if targets.get(k, ("", 0))[0] == metric else ("0 ch" if k == "blank" else ""))
            for k in kinds) + " | |")
        out.append("")
    out.append("### Speed, memory, orientation (per-page path; see the e2e section for the product end to end)")
    out.append("")
    out.append("| config | s/page | pages/min | × ocrmypdf | peak RSS MB: process tree (worker alone) | rotated pages turned upright "
               "| wrong turns, other pages | max deskew residual ° skewed / all | errors |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for c in configs:
        s = summary[c]
        spp = s["seconds"] / s["pages"] if s["pages"] else 0
        ratio = f"{s['speed_ratio']:.2f}×" if s.get("speed_ratio") else "–"
        rss = f"{s.get('rss_mb', '?')} ({s.get('worker_rss_mb', '?')})"
        if c in PREPARED:
            orient = f"{s['orientation_ok']}/{s['orientation_n']}"
            wrong = str(s["wrong_turns_elsewhere"])
            fmt = (lambda v: "–" if v is None else f"{v:.2f}")
            desk = (f"{fmt(s['deskew_residual_skewed'])} / {fmt(s['deskew_residual_all'])} "
                    f"({s['deskew_over_target']}/{s['deskew_pages']} pages > {TARGET_DESKEW}°)")
        else:
            orient, wrong, desk = "not attempted", "–", "not attempted"
        ppm = f"{s['pages_per_min']:.2f}" if s["pages_per_min"] else "–"
        out.append(f"| {c} | {spp:.2f} | {ppm} | {ratio} | {rss} | {orient} | {wrong} | {desk} | {s['errors']} |")
    out.append("")
    if e2e:
        out.append(f"### End to end: {e2e['pages']} pages of 300-dpi A4 (JPEG), 2 workers on {meta['cpus']} CPUs")
        out.append("")
        out.append("| tool | wall s | pages/min | × ocrmypdf | peak RSS MB: all processes (largest one) | result |")
        out.append("|---|---|---|---|---|---|")
        base = e2e.get("ocrmypdf", {}).get("pages_per_min")
        for name in ("ocrmypdf", "dangan"):
            r = e2e.get(name)
            if not r:
                continue
            ratio = f"{r['pages_per_min'] / base:.2f}×" if base and r.get("pages_per_min") else "–"
            ppm = f"{r['pages_per_min']:.2f}" if r.get("pages_per_min") else "–"
            out.append(f"| {r['label']} | {r['wall_s']:.1f} | {ppm} | {ratio} | {r['peak_rss_mb']} ({r['largest_rss_mb']}) "
                       f"| {r['result']} |")
        out.append("")
    if "dangan" in summary or (e2e and "dangan" in e2e):
        out.append("### Targets (config `dangan`)")
        out.append("")
        d = summary.get("dangan", {"by_kind": {}})
        for kind, metric, lim in TARGETS:
            k = d["by_kind"].get(kind)
            if k and k[metric] is not None:
                out.append(f"- {kind} {metric.upper()} {k[metric]:.2f} % ≤ {lim:g} %: {'✓' if k[metric] <= lim else '✗'}")
        if "rotated" in d["by_kind"]:
            ok = d["orientation_ok"] == d["orientation_n"]
            out.append(f"- orientation {d['orientation_ok']}/{d['orientation_n']} rotated pages: {'✓' if ok else '✗'}")
        if d.get("deskew_residual_all") is not None:
            v = d["deskew_residual_all"]
            out.append(f"- deskew residual max {v:.2f}° ≤ {TARGET_DESKEW}° ({d['deskew_over_target']}/{d['deskew_pages']} "
                       f"pages over): {'✓' if v <= TARGET_DESKEW else '✗'}")
        if d.get("rss_mb"):
            out.append(f"- peak RSS per worker {d['rss_mb']} MB (worker + its Tesseract children) ≤ {TARGET_RSS_MB} MB: "
                       f"{'✓' if d['rss_mb'] <= TARGET_RSS_MB else '✗'}")
        if e2e and e2e.get("dangan", {}).get("pages_per_min"):
            v = e2e["dangan"]["pages_per_min"]
            out.append(f"- end to end {v:.1f} pages/min ≥ {TARGET_PPM:g}: {'✓' if v >= TARGET_PPM else '✗'}")
            if e2e.get("ocrmypdf", {}).get("pages_per_min"):
                r = v / e2e["ocrmypdf"]["pages_per_min"]
                out.append(f"- never slower than ocrmypdf end to end: {r:.2f}× {'✓' if r >= 1 else '✗'}")
        out.append("")
    for c, notes in meta.get("notes", {}).items():
        for n in notes:
            out.append(f"> note ({c}): {n}")
    return "\n".join(out)


# ───────────────────────────── end to end ─────────────────────────────


def e2e_ocrmypdf(files: list[Path], out_dir: Path, workers: int) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    running: set[int] = set()

    def one(path: Path) -> int:
        proc = subprocess.Popen(_ocrmypdf_cmd() + ["-l", "chi_sim", "-j", "1", str(path), str(out_dir / f"{path.stem}.pdf")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        running.add(proc.pid)
        try:
            return proc.wait()
        finally:
            running.discard(proc.pid)

    t = time.perf_counter()
    with TreeSampler(lambda: list(running)) as mem, ThreadPoolExecutor(workers) as pool:
        codes = list(pool.map(one, files))
    wall = time.perf_counter() - t
    ok = sum(1 for rc in codes if rc == 0)
    return {"label": f"ocrmypdf -l chi_sim -j 1, {workers} in parallel", "wall_s": wall, "pages": len(files),
            "pages_per_min": 60.0 * ok / wall if ok else None, "peak_rss_mb": mem.peak_mb,
            "largest_rss_mb": mem.largest_mb, "result": f"{ok}/{len(files)} PDF/A written"}


def e2e_dangan(files: list[Path], home: Path, workers: int) -> dict:
    dangan = Path(sys.executable).with_name("dangan")
    cmd = [str(dangan)] if dangan.exists() else [sys.executable, "-m", "pipeline.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DANGAN_")}
    env.update({"DANGAN_HOME": str(home / "data"), "DANGAN_INGEST__INBOX": str(home / "inbox"),
                "DANGAN_WORKERS": str(workers), "OMP_THREAD_LIMIT": "1"})
    log_path = home / "ingest.log"
    t = time.perf_counter()
    with open(log_path, "wb") as fh:
        proc = subprocess.Popen(cmd + ["ingest", *map(str, files), "--wait"], env=env, stdout=fh,
                                stderr=subprocess.STDOUT, cwd=home)
        with TreeSampler(lambda: [proc.pid]) as mem:
            rc = proc.wait()
    wall = time.perf_counter() - t
    status = subprocess.run(cmd + ["status", "--json"], env=env, capture_output=True, text=True, cwd=home, check=False)
    try:
        st = json.loads(status.stdout)
        done, failed = int(st.get("pages_searchable", 0)), int(st.get("failed", 0))
        result = f"{done}/{len(files)} pages searchable, {failed} items failed, {st.get('quarantined', 0)} quarantined"
    except (ValueError, TypeError, AttributeError):
        done, result = (len(files) if rc == 0 else 0), f"exit {rc}"
    if rc != 0:
        log(f"dangan ingest exit {rc}; log tail:\n{log_path.read_text(errors='replace')[-2000:]}")
    return {"label": f"dangan ingest --wait, {workers} workers", "wall_s": wall, "pages": len(files),
            "pages_per_min": 60.0 * done / wall if done else None, "peak_rss_mb": mem.peak_mb,
            "largest_rss_mb": mem.largest_mb, "result": result}


def run_e2e(pages: list[CorpusPage], scratch: Path, workers: int) -> dict:
    src = scratch / "e2e-pages"
    src.mkdir()
    files = []
    for p in pages:
        path = src / f"{p.name}.jpg"
        p.image.save(path, "JPEG", quality=90, dpi=(p.dpi, p.dpi))
        files.append(path)
    log(f"e2e: {len(files)} pages; ocrmypdf ×{workers} …")
    res = {"pages": len(files), "kinds": [p.kind for p in pages]}
    res["ocrmypdf"] = e2e_ocrmypdf(files, scratch / "e2e-ocrmypdf", workers)
    log(f"e2e: ocrmypdf {res['ocrmypdf']['wall_s']:.1f} s; dangan ingest with {workers} workers …")
    home = scratch / "e2e-dangan"
    home.mkdir()
    res["dangan"] = e2e_dangan(files, home, workers)
    log(f"e2e: dangan {res['dangan']['wall_s']:.1f} s ({res['dangan']['result']})")
    return res


# ───────────────────────────── main ─────────────────────────────


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages-per-kind", type=int, default=2, help="pages of each kind (default 2; rotated gets ≥3)")
    parser.add_argument("--dpi", type=int, default=300, help="scan resolution (default 300; dpi200 pages are 200)")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma list (default {','.join(CONFIGS)})")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma list of page kinds (default: all)")
    parser.add_argument("--json", type=Path, help="write per-page results and the summary here")
    parser.add_argument("--markdown", type=Path, help="also write the tables here")
    parser.add_argument("--e2e", action=argparse.BooleanOptionalAction, default=True,
                        help="end-to-end throughput section (default on)")
    parser.add_argument("--e2e-pages", type=int, default=12, help="pages for the end-to-end section (default 12)")
    parser.add_argument("--workers", type=int, default=2, help="workers / parallel ocrmypdf runs in e2e (default 2)")
    args = parser.parse_args(argv)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    for c in configs:
        if c not in CONFIGS:
            parser.error(f"unknown config {c!r}; configs: {', '.join(CONFIGS)}")
    for k in kinds:
        if k not in KINDS:
            parser.error(f"unknown kind {k!r}; kinds: {', '.join(KINDS)}")
    if BASELINE in configs:  # baseline first in the tables
        configs.remove(BASELINE)
        configs.insert(0, BASELINE)

    meta = {"host": platform.node(), "cpus": os.cpu_count(), "load_start": os.getloadavg()[0], "dpi": args.dpi,
            "pages_per_kind": args.pages_per_kind, "notes": {}, "versions": {}}
    ctx = multiprocessing.get_context("spawn")
    log(f"starting {len(configs)} workers: {', '.join(configs)}")
    workers = {c: Worker(ctx, c) for c in configs}
    for c in list(configs):
        hello = workers[c].conn.recv()
        if not hello.get("ready"):
            log(f"config {c} failed to start: {hello.get('error')}\n{hello.get('trace', '')}")
            workers.pop(c).proc.join(5)
            configs.remove(c)
            continue
        meta["versions"][c] = hello["version"]
        meta["notes"][c] = hello["notes"]
        log(f"  {c}: {hello['version']} (load + warm-up {hello['load_s']} s)")
        for n in hello["notes"]:
            log(f"  NOTE {c}: {n}")

    records: list[dict] = []
    e2e_pages: list[CorpusPage] = []
    with tempfile.TemporaryDirectory(prefix="ocrbench-") as tmp:
        scratch = Path(tmp)
        try:
            for i, page in enumerate(corpus(args.pages_per_kind, args.dpi, tuple(kinds))):
                path = scratch / f"{page.name}.png"
                page.image.save(path, "PNG", dpi=(page.dpi, page.dpi), compress_level=1)
                if args.e2e and page.dpi == 300 and len(e2e_pages) < args.e2e_pages:
                    e2e_pages.append(page)
                order = configs[i % len(configs):] + configs[:i % len(configs)]
                row = {"page": i, "name": page.name, "kind": page.kind, "note": page.note, "dpi": page.dpi,
                       "expected_rotation": page.expected_rotation, "expected_deskew": page.expected_deskew,
                       "gt": page.gt_text, "results": {}}
                for c in order:
                    res = workers[c].ask(str(path))
                    res.update(score(page.gt_text, res["text"]))
                    row["results"][c] = res
                    if res.get("error"):
                        log(f"  {page.name} {c}: ERROR {res['error']}")
                records.append(row)
                path.unlink()
                parts = []
                for c in configs:
                    r = row["results"][c]
                    err = (f"{r['out_chars']}ch" if page.kind == "blank" else
                           f"cer {100 * r['edits'] / max(1, r['ref_chars']):.1f} bag {100 * r['bag'] / max(1, r['ref_chars']):.1f}")
                    parts.append(f"{c} {err} {r['seconds']:.1f}s")
                prep = next((row["results"][c] for c in configs if c in PREPARED), None)
                if prep is not None and "rotation" in prep:
                    parts.append(f"turn {prep['rotation']}/{page.expected_rotation} "
                                 f"deskew {prep['angle']:+.2f}/{page.expected_deskew:+.2f}")
                log(f"[{i + 1}] {page.name} ({page.note}): " + " | ".join(parts))
            # Top up the e2e set if the corpus had too few 300-dpi pages (small dev runs, --dpi 200).
            if args.e2e and len(e2e_pages) < args.e2e_pages:
                for page in corpus(args.e2e_pages, 300):
                    if len(e2e_pages) >= args.e2e_pages:
                        break
                    if page.dpi == 300 and page.name not in {p.name for p in e2e_pages}:
                        e2e_pages.append(page)
        finally:
            finals = {c: w.close() for c, w in workers.items()}
        meta["pages"] = len(records)
        summary = summarise(records, configs, kinds, finals)
        e2e = run_e2e(e2e_pages, scratch, args.workers) if args.e2e and e2e_pages else None
    meta["load_end"] = os.getloadavg()[0]

    table = markdown(summary, configs, kinds, meta, e2e)
    print(table)
    write_report(table, {"meta": meta, "summary": summary, "e2e": e2e, "pages": records},
                 markdown=args.markdown, json_path=args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
