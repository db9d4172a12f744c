"""Deterministic renderer of realistic Chinese archive scans for tests and benchmarks.

Pages are drawn with real CJK fonts from the Debian font packages, then put through the
things that happen to paper in a township archive and on a cheap office scanner: an aged
yellow sheet with uneven light, a red official seal (公章) stamped over the text, a page
laid skewed or sideways on the glass, optics blur, sensor noise and JPEG compression.

Everything is driven by ``seed``: the same arguments give the same pixels, so CER numbers
in tests and ``bench/`` are reproducible.

Every rendered image carries its ground truth in ``image.info["gt"]`` (the text actually
drawn, one line per printed line / column, in reading order; seal text excluded, as in
the engine study) and its resolution in ``image.info["dpi"]``.
"""

from __future__ import annotations

import importlib.util
import io
import math
import random
import unicodedata
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

# Debian font paths (fonts-noto-cjk, fonts-arphic-ukai/uming, fonts-wqy-zenhei).
# Values: (path, face index for Simplified, face index for Traditional).
FONTS: dict[str, tuple[str, int, int]] = {
    "sans": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2, 3),
    "serif": ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2, 3),
    "kai": ("/usr/share/fonts/truetype/arphic/ukai.ttc", 0, 2),  # 楷体, stands in for handwriting
    "ming": ("/usr/share/fonts/truetype/arphic/uming.ttc", 0, 2),  # 明体 / 宋体-like
    "hei": ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0, 0),
}

A4_INCHES = (8.27, 11.69)
PAPER_WHITE = (250, 250, 248)
PAPER_YELLOW = (236, 224, 190)  # aged, acidic paper
INK = (28, 28, 32)
SEAL_RED = (205, 30, 35)


def _load_seed_text():
    # Loaded by path: ``tests`` may or may not be an importable package depending on how
    # pytest or the bench put things on sys.path.
    path = Path(__file__).with_name("data") / "seed_text.py"
    spec = importlib.util.spec_from_file_location("_dangan_test_seed_text", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


seed_text = _load_seed_text()


# ───────────────────────────── helpers ─────────────────────────────


def font(name: str = "serif", size_px: int = 25, *, traditional: bool = False) -> ImageFont.FreeTypeFont:
    """A CJK font by short name (see FONTS) or by file path."""
    if name in FONTS:
        path, sc, tc = FONTS[name]
        return ImageFont.truetype(path, size_px, index=tc if traditional else sc)
    return ImageFont.truetype(name, size_px)


def page_pixels(dpi: int, page_size: tuple[int, int] | None) -> tuple[int, int]:
    if page_size is not None:
        return page_size
    return round(A4_INCHES[0] * dpi), round(A4_INCHES[1] * dpi)


def squash(text: str) -> str:
    """NFKC, whitespace removed: what every error figure here compares.

    NFKC folds full-width punctuation (，：（）) to ASCII so that the engines' choice of
    width does not count as an error.
    """
    return "".join(unicodedata.normalize("NFKC", text).split())


def cer(ref: str, hyp: str) -> float:
    """Character error rate: Levenshtein(ref, hyp) / len(ref) after :func:`squash`.

    A ref of length 0 gives 0.0 (or 1.0 if hyp is not empty).
    """
    ref, hyp = squash(ref), squash(hyp)
    if not ref:
        return 0.0 if not hyp else 1.0
    return levenshtein(ref, hyp) / len(ref)


def bag_counts(ref: str, hyp: str) -> tuple[int, int]:
    """(missing, extra) characters of ``hyp`` against ``ref``, order ignored: the error
    measure for tables, whose reading order is ambiguous."""
    rc, hc = Counter(ref), Counter(hyp)
    return sum((rc - hc).values()), sum((hc - rc).values())


def bag_error(ref: str, hyp: str) -> float:
    """Bag-of-characters error rate: (missing + extra) / len(ref) after :func:`squash`."""
    ref, hyp = squash(ref), squash(hyp)
    if not ref:
        return 0.0 if not hyp else 1.0
    return sum(bag_counts(ref, hyp)) / len(ref)


def levenshtein(a: str, b: str) -> int:
    """Edit distance, bit-parallel (Myers 1999 / Hyyrö 2001) on Python integers.

    O(len(b)) big-integer steps instead of a len(a)×len(b) Python loop, so scoring a
    garbage page against 1,500 characters is instant.
    """
    if not a or not b:
        return len(a) + len(b)
    peq: dict[str, int] = {}
    for i, ch in enumerate(a):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    m = len(a)
    mask, high = (1 << m) - 1, 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for ch in b:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
    return score



# ───────────────────────────── ID numbers and names ─────────────────────────────

# Real county-level division codes of places the seed documents talk about.
_AREA_CODES = ("360121", "360122", "410721", "410782", "632121", "330782", "451202", "360124")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a GB 11643 citizen ID number."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


def make_id_number(seed: int) -> str:
    """A valid-looking 18-character Chinese resident ID number (公民身份号码)."""
    rng = random.Random(f"id-{seed}")
    area = rng.choice(_AREA_CODES)
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 70 * 365))
    first17 = f"{area}{born:%Y%m%d}{rng.randrange(0, 1000):03d}"
    return first17 + id_check_digit(first17)


_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
_GIVEN = "秀英桂兰玉梅建国志强春生金凤海燕德明淑珍永福国华小红建华丽娟文军桂芳长林红梅家兴"


def make_name(seed: int) -> str:
    """A three-character Chinese personal name."""
    rng = random.Random(f"name-{seed}")
    return rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(_GIVEN)


def default_form_fields(seed: int) -> dict[str, str]:
    """Fields of a 建档立卡 household sheet with a name and an ID number."""
    rng = random.Random(f"form-{seed}")
    return {
        "户主姓名": make_name(seed),
        "公民身份号码": make_id_number(seed),
        "家庭住址": rng.choice(["南昌县塔城乡东湖村", "新建区金桥乡下湾村", "新乡县翟坡镇小宋佛村", "义乌市大陈镇红旗村"])
        + f"{rng.randint(1, 12)}组",
        "家庭人口": f"{rng.randint(1, 7)}人",
        "贫困户属性": rng.choice(["一般贫困户", "低保贫困户", "特困供养户"]),
        "主要致贫原因": rng.choice(["因病", "因残", "因学", "缺技术", "缺劳力"]),
        "帮扶责任人": make_name(seed + 7919),
        "联系电话": "1" + "".join(str(rng.randint(0, 9)) for _ in range(10)),
        "识别时间": f"{rng.randint(2014, 2016)}年{rng.randint(1, 12)}月",
    }


# ───────────────────────────── seal ─────────────────────────────


def red_seal(
    diameter: int = 300,
    *,
    text: str = "东湖村村民委员会",
    bottom: str = "",
    seed: int = 0,
    opacity: float = 0.8,
) -> Image.Image:
    """A round red official seal (公章): ring, five-pointed star, text on the upper arc.

    Returned as RGBA; ink coverage is deliberately uneven (stamp pressure), like real seals.
    """
    rng = random.Random(f"seal-{seed}")
    scale = 2  # draw at 2× and downsample for smooth edges
    size = diameter * scale
    layer = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(layer)
    c = size / 2
    ring = max(3, size // 28)
    draw.ellipse((ring, ring, size - ring, size - ring), outline=255, width=ring)
    # Star.
    r_out, r_in = size * 0.17, size * 0.065
    pts = []
    for k in range(10):
        a = -math.pi / 2 + k * math.pi / 5
        r = r_out if k % 2 == 0 else r_in
        pts.append((c + r * math.cos(a), c + r * math.sin(a)))
    draw.polygon(pts, fill=255)
    # Text on the upper arc, each glyph rotated to face outward.
    fsize = int(size * 0.14)
    f = font("hei", fsize)
    n = len(text)
    span = math.radians(min(250, 22 * n + 20))
    radius = c - ring * 2 - fsize * 0.62
    for i, ch in enumerate(text):
        a = -math.pi / 2 - span / 2 + span * (i + 0.5) / n
        glyph = Image.new("L", (fsize * 2, fsize * 2), 0)
        ImageDraw.Draw(glyph).text((fsize, fsize), ch, font=f, fill=255, anchor="mm")
        glyph = glyph.rotate(-math.degrees(a + math.pi / 2), resample=Image.Resampling.BICUBIC)
        x = c + radius * math.cos(a) - fsize
        y = c + radius * math.sin(a) - fsize
        layer.paste(255, (int(x), int(y)), glyph)
    if bottom:
        fb = font("hei", int(size * 0.09))
        draw.text((c, c + size * 0.28), bottom, font=fb, fill=255, anchor="mm")
    layer = layer.resize((diameter, diameter), Image.Resampling.LANCZOS)
    # Uneven ink: a smooth random field multiplies the coverage.
    field = np.asarray(
        Image.fromarray(
            (np.random.default_rng(rng.randrange(2**32)).random((8, 8)) * 255).astype(np.uint8)
        ).resize((diameter, diameter), Image.Resampling.BICUBIC),
        dtype=np.float32,
    ) / 255.0
    alpha = np.asarray(layer, dtype=np.float32) * (0.55 + 0.45 * field) * opacity
    rgba = np.zeros((diameter, diameter, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = SEAL_RED
    rgba[..., 3] = np.clip(alpha, 0, 255).astype(np.uint8)
    return Image.fromarray(rgba, "RGBA")


def _stamp(page: Image.Image, seal: Image.Image, center: tuple[int, int]) -> None:
    """Multiply-blend the seal: black text under red ink stays black, paper turns red."""
    x0, y0 = center[0] - seal.width // 2, center[1] - seal.height // 2
    box = (x0, y0, x0 + seal.width, y0 + seal.height)
    region = np.asarray(page.crop(box), dtype=np.float32)
    s = np.asarray(seal, dtype=np.float32)
    a = s[..., 3:4] / 255.0
    blended = region * (1 - a) + region * (s[..., :3] / 255.0) * a
    page.paste(Image.fromarray(blended.clip(0, 255).astype(np.uint8), "RGB"), box[:2])


# ───────────────────────────── paper and scanner ─────────────────────────────


def _degrade(
    page: Image.Image,
    *,
    rng: random.Random,
    dpi: int,
    skew_deg: float,
    rotate: int,
    noise_sigma: float,
    jpeg_quality: int | None,
    yellow: bool,
) -> Image.Image:
    w, h = page.size
    if yellow:
        # Uneven illumination / discolouration: a smooth low-frequency field.
        field = np.asarray(
            Image.fromarray(
                (np.random.default_rng(rng.randrange(2**32)).random((6, 4)) * 255).astype(np.uint8)
            ).resize((w, h), Image.Resampling.BICUBIC),
            dtype=np.float32,
        )[..., None] / 255.0
        arr = np.asarray(page, dtype=np.float32) * (0.86 + 0.14 * field)
        page = Image.fromarray(arr.clip(0, 255).astype(np.uint8), "RGB")
    if skew_deg:
        # The sheet lies at an angle on the glass; the scan area stays the same (white lid).
        page = page.rotate(skew_deg, resample=Image.Resampling.BICUBIC, fillcolor=(255, 255, 255))
    rotate %= 360
    if rotate:
        # ``rotate`` = how far the sheet is turned clockwise on the glass.
        page = page.transpose(
            {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}[rotate]
        )
    if noise_sigma > 0:
        page = page.filter(ImageFilter.GaussianBlur(radius=0.35 * dpi / 150))  # optics
        arr = np.asarray(page, dtype=np.float32)
        noise = np.random.default_rng(rng.randrange(2**32)).normal(0.0, noise_sigma, arr.shape[:2])[..., None]
        page = Image.fromarray((arr + noise).clip(0, 255).astype(np.uint8), "RGB")
    if jpeg_quality is not None:
        buf = io.BytesIO()
        page.save(buf, "JPEG", quality=jpeg_quality)
        buf.seek(0)
        page = Image.open(buf).convert("RGB")
    return page


def _finish(page: Image.Image, gt: list[str], dpi: int) -> Image.Image:
    page.info["gt"] = "\n".join(gt)
    page.info["dpi"] = (dpi, dpi)
    return page


def _wrap(text: str, f: ImageFont.FreeTypeFont, width: float, indent: float) -> list[str]:
    lines, current, used = [], "", indent
    for ch in text:
        adv = f.getlength(ch)
        if current and used + adv > width:
            lines.append(current)
            current, used = "", 0.0
        current += ch
        used += adv
    if current:
        lines.append(current)
    return lines


# ───────────────────────────── pages ─────────────────────────────


def render_page(
    lines: list[str],
    *,
    seed: int,
    dpi: int = 200,
    page_size: tuple[int, int] | None = None,
    font: str = "serif",
    font_pt: float = 12.0,
    skew_deg: float = 0.0,
    noise_sigma: float = 0.0,
    jpeg_quality: int | None = None,
    seal: bool = False,
    rotate: int = 0,
    traditional: bool = False,
    yellow: bool = False,
    vertical: bool = False,
    title: str | None = None,
) -> Image.Image:
    """Render paragraphs of body text as a scanned page (RGB PIL image).

    ``lines`` are paragraphs; they are wrapped to the text block and each starts with a
    two-character indent (not part of the ground truth). Text that does not fit is dropped
    from the page *and* from ``info["gt"]``. ``vertical`` sets the text in top-to-bottom
    columns read right to left (竖排). ``skew_deg`` turns the sheet counter-clockwise,
    ``rotate`` turns it clockwise by 0/90/180/270 (the page then needs ``-rotate`` to be read).
    Default size is A4 at ``dpi``; ``page_size`` (w, h) in pixels overrides it.
    """
    rng = random.Random(f"page-{seed}")
    w, h = page_pixels(dpi, page_size)
    paper = PAPER_YELLOW if yellow else PAPER_WHITE
    page = Image.new("RGB", (w, h), paper)
    draw = ImageDraw.Draw(page)
    size = max(8, round(font_pt / 72 * dpi))
    body = _font(font, size, traditional)
    margin_x, margin_y = round(0.09 * w), round(0.07 * h)
    gt: list[str] = []
    ink = tuple(max(0, c + rng.randint(-10, 10)) for c in INK)
    last_xy = (w // 2, h // 2)

    if not vertical:
        y = margin_y
        if title:
            tf = _font(font, round(size * 1.5), traditional)
            draw.text((w / 2, y), title, font=tf, fill=ink, anchor="mt")
            gt.append(title)
            y += round(size * 1.5 * 2.0)
        pitch = round(size * 1.65)
        width = w - 2 * margin_x
        for para in lines:
            wrapped = _wrap(para, body, width, 2 * size)
            for i, text in enumerate(wrapped):
                if y + size > h - margin_y:
                    break
                x = margin_x + (2 * size if i == 0 else 0)
                draw.text((x, y), text, font=body, fill=ink)
                gt.append(text)
                last_xy = (int(x + body.getlength(text)), y + size // 2)
                y += pitch
            else:
                continue
            break
    else:
        # 竖排: columns from the right edge to the left, characters top to bottom.
        col_pitch = round(size * 1.7)
        x = w - margin_x - size
        rows = (h - 2 * margin_y) // size
        for para in lines:
            chars = list(para)
            first = True
            while chars:
                if x < margin_x:
                    break
                take = rows - (2 if first else 0)
                column, chars = chars[:take], chars[take:]
                y = margin_y + (2 * size if first else 0)
                for ch in column:
                    draw.text((x + size / 2, y + size / 2), ch, font=body, fill=ink, anchor="mm")
                    y += size
                gt.append("".join(column))
                last_xy = (x + size // 2, y)
                first = False
                x -= col_pitch
            if x < margin_x:
                break

    if seal:
        d = round(4.0 / 2.54 * dpi)  # a 4 cm 公章
        cx = min(max(last_xy[0] - d // 3, d // 2 + 5), w - d // 2 - 5)
        cy = min(max(last_xy[1] - d // 4, d // 2 + 5), h - d // 2 - 5)
        _stamp(page, red_seal(d, seed=seed), (cx, cy))

    page = _degrade(
        page, rng=rng, dpi=dpi, skew_deg=skew_deg, rotate=rotate, noise_sigma=noise_sigma,
        jpeg_quality=jpeg_quality, yellow=yellow,
    )
    return _finish(page, gt, dpi)


def _font(name: str, size: int, traditional: bool) -> ImageFont.FreeTypeFont:
    return font(name, size, traditional=traditional)


def render_form(
    fields: dict[str, str],
    *,
    seed: int,
    dpi: int = 200,
    page_size: tuple[int, int] | None = None,
    title: str = "建档立卡贫困户信息采集表",
    font: str = "serif",
    value_font: str = "kai",
    skew_deg: float = 0.0,
    noise_sigma: float = 0.0,
    jpeg_quality: int | None = None,
    seal: bool = False,
    rotate: int = 0,
    yellow: bool = False,
) -> Image.Image:
    """A 建档立卡-style household sheet: ruled table, label | value rows.

    A value of 17 digits + check character (a 公民身份号码) is written one character per
    box in an 18-cell grid, as on the real forms. Values use ``value_font`` (楷体) with a
    little jitter, standing in for hand-filled entries. Ground truth: title, then
    ``label`` and ``value`` per row.
    """
    rng = random.Random(f"form-page-{seed}")
    w, h = page_pixels(dpi, page_size)
    page = Image.new("RGB", (w, h), PAPER_YELLOW if yellow else PAPER_WHITE)
    draw = ImageDraw.Draw(page)
    size = max(8, round(12 / 72 * dpi))
    lf = _font(font, size, False)
    vf = _font(value_font, round(size * 1.1), False)
    tf = _font(font, round(size * 1.6), False)
    ink = INK
    blue = (30, 40, 110)  # ball-pen ink for entries
    gt: list[str] = []

    margin_x = round(0.08 * w)
    y = round(0.07 * h)
    draw.text((w / 2, y), title, font=tf, fill=ink, anchor="mt")
    gt.append(title)
    y += round(size * 3.2)
    x0, x1 = margin_x, w - margin_x
    label_w = round((x1 - x0) * 0.26)
    row_h = round(size * 2.4)
    line_w = max(1, dpi // 100)
    top = y
    seal_xy = (x1 - (x1 - x0) // 4, y)
    for label, value in fields.items():
        draw.text((x0 + size * 0.5, y + row_h / 2), label, font=lf, fill=ink, anchor="lm")
        is_id = len(value) == 18 and value[:17].isdigit()
        vx = x0 + label_w
        if is_id:
            cell = min(round(size * 1.45), (x1 - vx - size) // 18)
            gx = vx + size // 2
            for i, ch in enumerate(value):
                cx = gx + i * cell
                draw.rectangle((cx, y + (row_h - cell) // 2, cx + cell, y + (row_h + cell) // 2), outline=ink, width=line_w)
                draw.text((cx + cell / 2 + rng.uniform(-1, 1), y + row_h / 2 + rng.uniform(-1, 1)), ch, font=vf, fill=blue, anchor="mm")
        else:
            cx = vx + size * 0.6
            for ch in value:
                # Per-character jitter: a hand does not keep a baseline.
                draw.text((cx, y + row_h / 2 + rng.uniform(-2, 2) * dpi / 200), ch, font=vf, fill=blue, anchor="lm")
                cx += vf.getlength(ch) + rng.uniform(0, 2) * dpi / 200
        gt.append(label)
        gt.append(value)
        draw.line((x0, y, x1, y), fill=ink, width=line_w)
        y += row_h
        seal_xy = (x1 - (x1 - x0) // 4, y)
    draw.line((x0, y, x1, y), fill=ink, width=line_w)
    for x in (x0, x0 + label_w, x1):
        draw.line((x, top, x, y), fill=ink, width=line_w)

    if seal:
        d = round(3.5 / 2.54 * dpi)
        _stamp(page, red_seal(d, text="塔城乡人民政府", seed=seed), (seal_xy[0], min(seal_xy[1], h - d // 2 - 5)))

    page = _degrade(
        page, rng=rng, dpi=dpi, skew_deg=skew_deg, rotate=rotate, noise_sigma=noise_sigma,
        jpeg_quality=jpeg_quality, yellow=yellow,
    )
    return _finish(page, gt, dpi)


def body_paragraphs(seed: int, *, traditional: bool = False, count: int = 6) -> list[str]:
    """``count`` consecutive paragraphs of real seed text (Simplified or Traditional)."""
    pools = seed_text.TRADITIONAL if traditional else seed_text.SIMPLIFIED
    paras = [p for pool in pools for p in pool[1:]]
    start = seed % len(paras)
    return [paras[(start + i) % len(paras)] for i in range(count)]


# ─────────────────── more sheets and scanner faults (bench/ocr_corpus.py) ───────────────────
# Appended for the OCR benchmark corpus; the functions above are unchanged.

PAPER_GREY = (214, 211, 203)  # grey recycled office paper
SCANNER_DARK = (38, 38, 40)  # an open lid / black scanner background


def age_paper(page: Image.Image, *, seed: int, tint: tuple[int, int, int] = PAPER_GREY, falloff: float = 0.3) -> Image.Image:
    """Grey paper under uneven light, applied to a clean render (before noise and JPEG).

    Paper white becomes ``tint`` (ink stays dark: a multiply), then the light falls off by
    up to ``falloff`` towards one randomly chosen edge (a lamp or a book-spine shadow) and
    varies smoothly over the sheet. ``info`` (ground truth, dpi) is kept.
    """
    rng = random.Random(f"age-{seed}")
    w, h = page.size
    arr = np.asarray(page.convert("RGB"), dtype=np.float32) * (np.asarray(tint, np.float32) / 255.0)
    field = np.asarray(
        Image.fromarray((np.random.default_rng(rng.randrange(2**32)).random((5, 4)) * 255).astype(np.uint8))
        .resize((w, h), Image.Resampling.BICUBIC),
        dtype=np.float32,
    ) / 255.0
    edge = rng.choice(("left", "right", "top", "bottom"))
    ramp = np.linspace(1.0, 0.0, w if edge in ("left", "right") else h, dtype=np.float32) ** 2
    if edge in ("right", "bottom"):
        ramp = ramp[::-1]
    ramp = ramp[None, :] if edge in ("left", "right") else ramp[:, None]
    light = (1.0 - falloff * ramp) * (0.93 + 0.07 * field)
    out = Image.fromarray((arr * light[..., None]).clip(0, 255).astype(np.uint8), "RGB")
    out.info.update(page.info)
    return out


def dark_border(
    page: Image.Image,
    *,
    seed: int,
    dpi: int = 200,
    border_mm: tuple[float, float] = (4.0, 12.0),
    skew_deg: float = 0.0,
    noise_sigma: float = 0.0,
    jpeg_quality: int | None = None,
) -> Image.Image:
    """Scan a rendered sheet on a dark background: a dark frame of uneven width around it.

    The scan area is larger than the sheet by ``border_mm`` (min, max) on each side;
    ``skew_deg`` lays the sheet counter-clockwise on the glass, the uncovered corners stay
    dark. Then the usual optics blur, sensor noise and JPEG. Pass a page rendered without
    noise/JPEG; its ground truth and dpi are carried over.
    """
    rng = random.Random(f"border-{seed}")
    gt = page.info.get("gt", "")
    px = [round(rng.uniform(*border_mm) / 25.4 * dpi) for _ in range(4)]  # left, top, right, bottom
    w, h = page.size
    level = tuple(max(0, c + rng.randint(-8, 8)) for c in SCANNER_DARK)
    scan = Image.new("RGB", (w + px[0] + px[2], h + px[1] + px[3]), level)
    scan.paste(page.convert("RGB"), (px[0], px[1]))
    if skew_deg:
        scan = scan.rotate(skew_deg, resample=Image.Resampling.BICUBIC, fillcolor=level)
    scan = _degrade(scan, rng=rng, dpi=dpi, skew_deg=0.0, rotate=0, noise_sigma=noise_sigma,
                    jpeg_quality=jpeg_quality, yellow=False)
    return _finish(scan, gt.split("\n") if gt else [], dpi)


def _synthetic_photo(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A photograph-like picture: sky, hills, houses, trees, film grain (no text in it)."""
    w, h = size
    nrng = np.random.default_rng(rng.randrange(2**32))
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    sky = np.array([150, 185, 220], np.float32) * (1 - y) + np.array([225, 230, 235], np.float32) * y
    arr = np.broadcast_to(sky, (h, w, 3)).copy()
    xs = np.arange(w, dtype=np.float32)
    for depth, colour in ((0.45, (95, 125, 95)), (0.62, (70, 110, 60)), (0.8, (120, 105, 70))):
        phase, freq = rng.uniform(0, 6.28), rng.uniform(1.5, 4.0)
        horizon = (depth + 0.06 * np.sin(xs / w * freq * 6.28 + phase)) * h
        below = np.arange(h, dtype=np.float32)[:, None] >= horizon[None, :]
        arr[below] = np.asarray(colour, np.float32)
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(3, 6)):  # houses: wall + roof
        bw, bh = rng.uniform(0.08, 0.16) * w, rng.uniform(0.1, 0.18) * h
        bx, by = rng.uniform(0.02, 0.85) * w, rng.uniform(0.55, 0.75) * h
        wall = tuple(rng.randint(170, 235) for _ in range(3))
        draw.rectangle((bx, by, bx + bw, by + bh), fill=wall)
        draw.polygon([(bx - bw * 0.1, by), (bx + bw / 2, by - bh * 0.5), (bx + bw * 1.1, by)],
                     fill=tuple(rng.randint(40, 90) for _ in range(3)))
        draw.rectangle((bx + bw * 0.4, by + bh * 0.45, bx + bw * 0.6, by + bh), fill=(60, 45, 35))
    for _ in range(rng.randint(6, 12)):  # trees and people: dark blobs
        cx, cy = rng.uniform(0, w), rng.uniform(0.5, 0.95) * h
        r = rng.uniform(0.015, 0.05) * w
        draw.ellipse((cx - r, cy - 1.4 * r, cx + r, cy + r), fill=(rng.randint(20, 60), rng.randint(50, 90), rng.randint(20, 50)))
    img = img.filter(ImageFilter.GaussianBlur(radius=max(1.0, w / 600)))
    grain = nrng.normal(0.0, 9.0, (h, w, 1))
    shade = np.asarray(
        Image.fromarray((nrng.random((4, 6)) * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC),
        dtype=np.float32,
    )[..., None] / 255.0
    arr = np.asarray(img, dtype=np.float32) * (0.8 + 0.2 * shade) + grain
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8), "RGB")


def render_photo_page(
    caption: str,
    *,
    seed: int,
    dpi: int = 200,
    page_size: tuple[int, int] | None = None,
    title: str | None = None,
    font: str = "serif",
    font_pt: float = 12.0,
    noise_sigma: float = 0.0,
    jpeg_quality: int | None = None,
    yellow: bool = False,
) -> Image.Image:
    """A page holding a printed photograph (照片档案 / 宣传材料) and a caption under it.

    Ground truth: ``title`` (if any) and the caption lines; the photograph contains no text,
    so anything read inside it counts as an insertion.
    """
    rng = random.Random(f"photo-{seed}")
    w, h = page_pixels(dpi, page_size)
    page = Image.new("RGB", (w, h), PAPER_YELLOW if yellow else PAPER_WHITE)
    draw = ImageDraw.Draw(page)
    size = max(8, round(font_pt / 72 * dpi))
    gt: list[str] = []
    y = round(0.07 * h)
    if title:
        draw.text((w / 2, y), title, font=_font(font, round(size * 1.5), False), fill=INK, anchor="mt")
        gt.append(title)
        y += round(size * 3)
    pw, ph = round(w * rng.uniform(0.7, 0.82)), round(h * rng.uniform(0.32, 0.42))
    px = (w - pw) // 2
    page.paste(_synthetic_photo((pw, ph), rng), (px, y))
    y += ph + round(size * 1.2)
    cf = _font(font, size, False)
    for text in _wrap(caption, cf, pw, 0):
        draw.text((w / 2, y), text, font=cf, fill=INK, anchor="mt")
        gt.append(text)
        y += round(size * 1.6)
    page = _degrade(page, rng=rng, dpi=dpi, skew_deg=0.0, rotate=0, noise_sigma=noise_sigma,
                    jpeg_quality=jpeg_quality, yellow=yellow)
    return _finish(page, gt, dpi)


def render_blank_page(
    *,
    seed: int,
    dpi: int = 200,
    page_size: tuple[int, int] | None = None,
    show_through: float = 0.0,
    yellow: bool = False,
    noise_sigma: float = 0.0,
    jpeg_quality: int | None = None,
) -> Image.Image:
    """A blank separator sheet (ground truth empty). ``show_through`` > 0 lets the mirrored
    text of the page behind shine through at that contrast (0.04–0.08 is typical of thin paper)."""
    rng = random.Random(f"blank-{seed}")
    w, h = page_pixels(dpi, page_size)
    paper = PAPER_YELLOW if yellow else PAPER_WHITE
    page = Image.new("RGB", (w, h), paper)
    if show_through > 0:
        behind = render_page(body_paragraphs(seed), seed=seed, dpi=dpi, page_size=(w, h)).convert("L")
        ink = 1.0 - np.asarray(behind.transpose(Image.Transpose.FLIP_LEFT_RIGHT), dtype=np.float32) / 255.0
        ink = np.asarray(Image.fromarray((ink * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(dpi / 150)),
                         dtype=np.float32) / 255.0
        arr = np.asarray(page, dtype=np.float32) * (1.0 - show_through * ink[..., None])
        page = Image.fromarray(arr.clip(0, 255).astype(np.uint8), "RGB")
    page = _degrade(page, rng=rng, dpi=dpi, skew_deg=0.0, rotate=0, noise_sigma=noise_sigma,
                    jpeg_quality=jpeg_quality, yellow=yellow)
    return _finish(page, [], dpi)
