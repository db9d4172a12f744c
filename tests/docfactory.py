"""Labelled corpus of township and village archive documents (档案文件), rendered as scans.

tests/scanfactory.py draws pages; this module writes what is on them: the papers of a poor
household's file (一户一卷: 申请书, 入户调查表, 民主评议记录, 两公示一公告, 信息采集表 …
脱贫确认书), of a poverty-relief project's volume (批复, 招投标, 施工, 验收), village records
(村民代表会议记录, 土地承包合同, 低保审批表, 计划生育, 会计凭证, 党员大会记录) and township
papers (党委会议纪要, 镇人民政府通知). Each :class:`Document` carries its filing class, a leaf
path of config/taxonomy.yaml such as ``JF·C02·SQ``, so the corpus is a labelled test set for
the classifier. The wording follows how such papers read in practice (the project brief, the
seed reports), not the taxonomy's keyword lists, so it tests those lists rather than echoing
them: titles vary, a few documents carry a generic title or none, a 公示 lists several
households, a 低保 form asks whether the family is 建档立卡, a 告知书 wishes an early 脱贫.

Everything is driven by a ``random.Random``: the same seed gives the same text and pixels.

    from tests import docfactory as df
    docs = df.corpus(n_per_type=6, seed=1)
    images = df.render_document(docs[0], random.Random(0))   # 300-dpi A4 pages
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from PIL import Image, ImageDraw

try:
    from tests import scanfactory as sf
except ImportError:  # pytest with tests/ itself on sys.path
    import scanfactory as sf  # type: ignore[no-redef]

DPI = 300
W, H = sf.page_pixels(DPI, None)
PT = {"text": 12.0, "form": 12.0, "letter": 14.0}  # letters: a larger, handwriting-like 楷 hand
HAND_INK = (30, 40, 110)  # ball-pen entries in forms
RED_INK = (200, 30, 35)  # 红头 of official documents
MARGIN_X, MARGIN_Y = round(0.09 * W), round(0.07 * H)
HEADER_H = round(0.13 * H)  # 红头: 发文机关标志, 文号 and the red rule
TABLE_SCALE = 0.9  # table type relative to form type: rosters hold 6–7 columns
WEAK_TITLE = 0.06  # share of documents printed without a title line


# ───────────────────────────── data model ─────────────────────────────


@dataclass(frozen=True)
class Member:
    """One person of a household (家庭成员)."""

    name: str
    relation: str  # 与户主关系: 户主, 配偶, 长子, 次女, 孙子 …
    sex: str
    born: date
    id_number: str
    education: str
    health: str
    labour: str


@dataclass(frozen=True)
class Household:
    """A registered poor household (建档立卡贫困户) and the people around its file."""

    head: str
    village: str
    township: str
    size: int
    id_number: str
    members: tuple[Member, ...]
    county: str
    province: str
    group: int  # 村民小组
    phone: str
    attribute: str  # 贫困户属性
    cause: str  # 主要致贫原因
    entry_year: int
    exit_year: int
    helper: str  # 帮扶责任人
    helper_unit: str
    helper_post: str
    helper_phone: str


@dataclass(frozen=True)
class Document:
    """One archival item (件): its class, printed title and text, and how it looks."""

    label: str  # taxonomy leaf path, e.g. "JF·C02·SQ"
    title: str | None  # printed title; None when the document has none
    pages: list[list[str]]  # text lines per page; "\t" separates table cells, "label：value" form rows
    kind: str  # "text" | "form" | "letter" (handwritten-style)
    household: Household | None
    project: str | None  # project name (…项目) for project documents
    date: str  # YYYYMMDD of the date printed on it
    doc_number: str | None  # 文号 printed, if any
    seal: bool  # a red seal is stamped on the last page
    issuer: str | None = None  # organisation on the seal and, for 文号 documents, in the 红头

    @property
    def red_header(self) -> bool:
        """A 文号 not quoted in the body is printed in a 红头 (发文机关标志 + 文号) above the title."""
        return bool(self.doc_number and self.issuer) and not any(self.doc_number in line for p in self.pages for line in p)

    @property
    def text(self) -> str:
        """Everything printed, 红头 and title first (cells joined by spaces)."""
        head = [f"{self.issuer}文件", self.doc_number] if self.red_header else []
        lines = head + ([self.title] if self.title else []) + [line for page in self.pages for line in page]
        return "\n".join(line.replace("\t", " ") for line in lines)


# ───────────────────────────── places, people, dates ─────────────────────────────

# province, county, 行政区划代码 (first 6 digits of ID numbers), phone area code, township, villages
_PLACES = (
    ("江西", "南昌县", "360121", "0791", "塔城乡", ("东湖村", "汇仁村", "高田村", "苏圩村")),
    ("江西", "南昌县", "360121", "0791", "泾口乡", ("辕门村", "新联村", "北山村", "南新村")),
    ("江西", "进贤县", "360124", "0791", "三里乡", ("前进村", "山下村", "竹园村", "罗溪村")),
    ("江西", "安义县", "360123", "0791", "石鼻镇", ("果田村", "罗田村", "京台村", "大路村")),
    ("江西", "新建区", "360112", "0791", "金桥乡", ("下湾村", "南岸村", "东山村", "茅岗村")),
    ("河南", "封丘县", "410727", "0373", "黄陵镇", ("小岗村", "大辛庄村", "张庄村", "后赵村")),
    ("河南", "原阳县", "410725", "0373", "师寨镇", ("三官庙村", "大宾村", "杨厂村", "胡庄村")),
    ("河南", "新乡县", "410721", "0373", "翟坡镇", ("小宋佛村", "大宋佛村", "马头王村", "东大阳堤村")),
    ("青海", "湟中县", "630122", "0971", "拦隆口镇", ("卡阳村", "白土庄村", "上寺村", "泥麻隆村")),
    ("青海", "湟中县", "630122", "0971", "鲁沙尔镇", ("阳坡村", "青石坡村", "朱家庄村", "石咀村")),
    ("湖北", "兴山县", "420526", "0717", "古夫镇", ("龙珠村", "平水村", "丰邑村", "深渡河村")),
    ("湖北", "兴山县", "420526", "0717", "榛子乡", ("青华村", "板庙村", "和平村", "马粮村")),
)
_SURNAMES = ("王王王李李李张张张刘刘陈陈杨杨黄黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾"
             "肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方邹熊孟秦邱江尹"
             "薛段雷侯龙史黎贺顾毛郝龚邵万钱覃武戴严莫孔向汤")
_GIVEN = {  # (sex, generation) → given names
    ("男", 0): ("建国", "建华", "国强", "国平", "志明", "德胜", "德明", "永福", "永明", "长林", "金生", "春生",
                "水生", "根生", "来福", "家兴", "新民", "卫东", "红军", "小平", "振华", "有才", "宝山", "福生",
                "正清", "茂林", "细根", "冬生", "火根", "海林", "贵林", "胜利", "跃进", "庆华", "占魁", "满仓"),
    ("男", 1): ("伟", "军", "勇", "磊", "涛", "斌", "强", "刚", "鹏", "辉", "杰", "超", "亮", "伟东", "海涛",
                "建军", "晓东", "志刚", "小龙", "文杰", "俊峰", "国庆", "海波", "志强", "文军", "明亮"),
    ("男", 2): ("子豪", "浩然", "宇轩", "俊杰", "家豪", "梓轩", "一鸣", "佳乐", "天佑", "博文", "子轩", "浩宇"),
    ("女", 0): ("秀英", "桂兰", "玉梅", "淑珍", "春花", "桂芳", "翠兰", "秋菊", "冬梅", "凤英", "玉兰", "桂英",
                "金凤", "爱华", "腊梅", "细妹", "素芳", "招娣", "秀兰", "月娥", "荷花", "改英", "玉珍", "菊香"),
    ("女", 1): ("丽", "芳", "燕", "霞", "敏", "静", "娟", "丽娟", "小红", "红梅", "海燕", "美玲", "雪梅", "晓燕",
                "艳", "琴", "婷", "慧", "玲", "春燕"),
    ("女", 2): ("梓萱", "欣怡", "思雨", "雨涵", "佳怡", "诗琪", "紫涵", "可馨", "梦瑶", "雨欣", "心怡", "若曦"),
}
_PHONE_PREFIXES = ("133", "135", "136", "138", "139", "150", "151", "152", "158", "159", "177", "180", "182",
                   "187", "188", "189")
_UNITS = ("县档案局", "县财政局", "县农业局", "县水利局", "县人社局", "县教育局", "县供电公司", "县农商银行",
          "县卫计委", "县交通运输局", "县住建局", "县林业局")
_POSTS = ("副局长", "科长", "股长", "办公室主任", "科员", "干部", "副主任")
_DISEASES = ("高血压", "糖尿病", "类风湿关节炎", "慢性肾炎", "脑梗塞后遗症", "肺结核", "腰椎间盘突出",
             "尿毒症", "乳腺癌", "风湿性心脏病", "慢性支气管炎")
_CAUSES = ("因病", "因病", "因病", "因残", "因学", "缺劳力", "缺技术", "缺资金", "因灾", "交通条件落后")
_ATTRIBUTES = ("一般贫困户", "一般贫困户", "低保贫困户", "特困供养贫困户")
# 国家农村扶贫标准 (2010 constant prices) in current yuan, per person and year
_POVERTY_LINE = {2013: 2736, 2014: 2800, 2015: 2855, 2016: 3026, 2017: 3335, 2018: 3535, 2019: 3747, 2020: 4000}
_CN = "〇一二三四五六七八九"


def _cn_small(n: int) -> str:
    """1..31 in Chinese numerals as dates write them (十一, 二十, 三十一)."""
    tens, ones = divmod(n, 10)
    return (("" if tens == 1 else _CN[tens]) + "十" if tens else "") + (_CN[ones] if ones else "")


def format_date(d: date, style: str) -> str:
    """A date as printed: ``ymd`` 2016年3月5日, ``cn`` 二〇一六年三月五日, ``dot`` 2016.3.5,
    ``pad`` 2016年03月05日, ``dash`` 2016-03-05."""
    if style == "cn":
        return "".join(_CN[int(ch)] for ch in str(d.year)) + f"年{_cn_small(d.month)}月{_cn_small(d.day)}日"
    return {"ymd": f"{d.year}年{d.month}月{d.day}日", "dot": f"{d.year}.{d.month}.{d.day}",
            "pad": f"{d.year}年{d.month:02d}月{d.day:02d}日", "dash": f"{d:%Y-%m-%d}"}[style]


def daxie(yuan: int) -> str:
    """An amount in capital numerals as on contracts and receipts: 125000 → 壹拾贰万伍仟元整."""
    digits, out, zero, group = "零壹贰叁肆伍陆柒捌玖", "", False, False
    s = str(yuan)
    for i, ch in enumerate(s):
        pos = len(s) - 1 - i
        if ch == "0":
            zero = True
        else:
            out += ("零" if zero and out else "") + digits[int(ch)] + ("", "拾", "佰", "仟")[pos % 4]
            zero, group = False, True
        if pos in (4, 8) and group:
            out += "万" if pos == 4 else "亿"
            group = False
    return (out or "零") + "元整"


def _name(rng: random.Random, sex: str, born: int, surname: str | None = None) -> str:
    generation = 0 if born < 1972 else 1 if born < 2000 else 2
    return (surname or rng.choice(_SURNAMES)) + rng.choice(_GIVEN[sex, generation])


def _phone(rng: random.Random) -> str:
    return rng.choice(_PHONE_PREFIXES) + "".join(str(rng.randint(0, 9)) for _ in range(8))


def _id_number(rng: random.Random, area: str, born: date, sex: str) -> str:
    """A valid 公民身份号码 whose birth date and sex digit match the person."""
    order = rng.randrange(100) * 10 + rng.choice((1, 3, 5, 7, 9) if sex == "男" else (0, 2, 4, 6, 8))
    first17 = f"{area}{born:%Y%m%d}{order:03d}"
    return first17 + sf.id_check_digit(first17)


def _cadres(village: str) -> dict[str, str]:
    """Village officials, the same whenever the village comes up."""
    rng = random.Random(f"cadres-{village}")
    return {"secretary": _name(rng, "男", 1965), "director": _name(rng, rng.choice("男男女"), 1970),
            "accountant": _name(rng, "女", 1978), "first": _name(rng, "男", 1980),
            "first_unit": rng.choice(_UNITS), "clerk": _name(rng, rng.choice("男女"), 1985)}


def make_household(rng: random.Random) -> Household:
    """A household with believable members, ID numbers, cause of poverty and aid contacts."""
    province, county, area, _, township, villages = rng.choice(_PLACES)
    entry = rng.choice((2014, 2014, 2015, 2015, 2016, 2017))
    size = rng.choices((1, 2, 3, 4, 5, 6), weights=(8, 18, 22, 25, 17, 10))[0]
    cause, surname = rng.choice(_CAUSES), rng.choice(_SURNAMES)
    old = size <= 2 or rng.random() < 0.35  # an elderly couple, their grown children and grandchildren
    head_sex = "男" if rng.random() < 0.85 else "女"
    head_age = rng.randint(58, 80) if old else rng.randint(32, 52)
    people: list[tuple[str, str, int]] = [("户主", head_sex, entry - head_age)]
    if size >= 2 and (rng.random() < 0.85 or size > 2):
        people.append(("配偶", "女" if head_sex == "男" else "男", entry - head_age + rng.randint(-4, 3)))
    left = size - len(people)
    grand = rng.randint(0, left - 1) if old and left >= 2 else 0  # an old couple raising grandchildren
    counts = {"男": 0, "女": 0}
    for sex, year in sorted(((rng.choice("男女"), entry - head_age + rng.randint(21, 32)) for _ in range(left - grand)),
                            key=lambda kid: kid[1]):
        counts[sex] += 1
        people.append(("长次三四"[min(counts[sex], 4) - 1] + ("子" if sex == "男" else "女"), sex, year))
    for _ in range(grand):
        sex = rng.choice("男女")
        people.append(("孙子" if sex == "男" else "孙女", sex, entry - rng.randint(3, 15)))
    members, names = [], set()
    for i, (relation, sex, year) in enumerate(people):
        born = date(year, rng.randint(1, 12), rng.randint(1, 28))
        age = entry - year
        name = _name(rng, sex, year, None if relation == "配偶" else surname)
        while name in names:
            name = _name(rng, sex, year, None if relation == "配偶" else surname)
        names.add(name)
        sick = (cause == "因病" and i == (1 if len(people) > 1 and rng.random() < 0.5 else 0))
        disabled = cause == "因残" and i == 0
        health = ("患有大病" if rng.random() < 0.4 else "长期慢性病") if sick else "残疾" if disabled else "健康"
        education = ("学龄前儿童" if age < 6 else ("小学" if age < 13 else "初中" if age < 16 else "高中") + "在校生"
                     if age < 19 else rng.choice(("文盲或半文盲", "小学")) if year < 1960 else rng.choice(("小学", "初中", "初中", "高中")))
        labour = ("无劳动力" if age < 16 or education.endswith("在校生") else "丧失劳动力" if age > 70 or health == "残疾"
                  else "弱劳动力或半劳动力" if health != "健康" or age > 60 else "普通劳动力")
        members.append(Member(name, relation, sex, born, _id_number(rng, area, born, sex), education, health, labour))
    attribute = "特困供养贫困户" if size == 1 and head_age > 65 else rng.choice(_ATTRIBUTES[:3])
    return Household(
        head=members[0].name, village=rng.choice(villages), township=township, size=size,
        id_number=members[0].id_number, members=tuple(members), county=county, province=province,
        group=rng.randint(1, 12), phone=_phone(rng), attribute=attribute, cause=cause, entry_year=entry,
        exit_year=min(2020, entry + rng.randint(1, 4)), helper=_name(rng, rng.choice("男男女"), 1975),
        helper_unit=rng.choice(_UNITS), helper_post=rng.choice(_POSTS), helper_phone=_phone(rng))


@dataclass(frozen=True)
class _Project:
    name: str
    county: str
    township: str
    village: str
    year: int
    content: str  # 建设内容
    budget: int  # yuan
    contractor: str
    supervisor: str
    agency: str


_WORKS = (  # (what, 建设内容 template)
    ("通组道路硬化", "硬化道路{km}公里，路面宽3.5米、厚0.18米，采用C25混凝土"),
    ("安全饮水巩固提升工程", "新建蓄水池{m3}立方米，铺设供水管网{m}米，解决{n}户饮水问题"),
    ("村级光伏扶贫电站", "建设装机容量{kw}千瓦的村级光伏电站一座"),
    ("产业路建设", "新修产业路{km}公里，路基宽4.5米，泥结石路面"),
    ("农田灌溉渠道修复", "修复灌溉渠道{m}米，新建节制闸{n2}座"),
    ("蔬菜大棚建设", "新建钢架蔬菜大棚{n2}个，占地{mu}亩"),
    ("山塘整修", "山塘清淤{m3}立方米，加固坝体{m}米，新建溢洪道一处"),
    ("便民桥建设", "新建钢筋混凝土便民桥一座，桥长{m2}米、宽4米"),
)
_FIRMS = ("宏达", "鑫源", "恒通", "顺达", "建兴", "隆盛", "华宇", "永安", "盛世", "金诚")


def _make_project(rng: random.Random, name: str | None = None) -> _Project:
    _, county, _, _, township, villages = rng.choice(_PLACES)
    village, year = rng.choice(villages), rng.randint(2016, 2020)
    what, content = rng.choice(_WORKS)
    content = content.format(km=rng.choice((1.2, 1.8, 2.3, 2.6, 3.1, 4.5)), m3=rng.choice((50, 100, 200, 1500, 3200)),
                             m=rng.randint(3, 40) * 50, n=rng.randint(40, 260), kw=rng.choice((60, 100, 200, 300)),
                             n2=rng.randint(2, 12), mu=rng.randint(10, 80), m2=rng.randint(12, 45))
    firm = county[:2] + rng.choice(_FIRMS)
    return _Project(
        name=name or f"{township}{village}{year}年{what}项目", county=county, township=township, village=village,
        year=year, content=content, budget=rng.randint(18, 260) * 5000,
        contractor=firm + rng.choice(("建筑工程", "建设工程", "市政工程", "路桥工程")) + "有限公司",
        supervisor=county[:2] + rng.choice(_FIRMS) + "工程监理有限公司",
        agency=county[:2] + rng.choice(_FIRMS) + rng.choice(("工程招标代理", "项目管理咨询")) + "有限公司")


# ───────────────────────────── generators ─────────────────────────────


def _right(text: str) -> str:
    """A 落款 line pushed to the right with ideographic spaces, as typed in an office."""
    return "\u3000" * max(0, 26 - len(text)) + text


class _Ctx:
    """What a generator needs: the rng, the household or project, the place and the date."""

    def __init__(self, label: str, rng: random.Random, hh: Household | None, proj: _Project | None, when: date):
        self.label, self.rng, self.hh, self.proj, self.when = label, rng, hh, proj, when
        township = hh.township if hh else proj.township if proj else rng.choice(_PLACES)[4]
        place = next(p for p in _PLACES if p[4] == township)
        self.province, self.county, self.area, self.tel, self.township, villages = place
        self.village = hh.village if hh else proj.village if proj else rng.choice(villages)
        self.villages = villages
        self.cadres = _cadres(self.village)

    def pick(self, *options):
        return self.rng.choice(options)

    def title(self, *options: str) -> str | None:
        """A printed title, or (a few %) none: the classifier must then work from the body."""
        return None if self.rng.random() < WEAK_TITLE else self.rng.choice(options)

    def date(self, d: date | None = None, styles: tuple[str, ...] = ("ymd",)) -> str:
        return format_date(d or self.when, self.rng.choice(styles))

    def name(self, sex: str | None = None, born: int | None = None) -> str:
        return _name(self.rng, sex or self.rng.choice("男男女"), born or self.rng.randint(1950, 1990))

    def number(self, prefix: str) -> str:
        return f"{prefix}〔{self.when.year}〕{self.rng.randint(1, 96)}号"

    def landline(self) -> str:
        return f"{self.tel}-{self.rng.randint(2, 8)}{self.rng.randint(100000, 999999)}"

    def others(self, n: int, *, villages: bool = False) -> list[tuple[str, str, int, int]]:
        """Other households for lists: (head, village, group, size)."""
        return [(self.name("男", self.rng.randint(1940, 1985)),
                 self.rng.choice(self.villages) if villages else self.village, self.rng.randint(1, 12),
                 self.rng.randint(1, 6)) for _ in range(n)]

    def roster(self, n: int) -> list[tuple[str, str, int, int]]:
        """The household of interest among ``n - 1`` others, at a random place in the list."""
        hh = self.hh
        rows = self.others(n - 1, villages=self.label in ("JF·C02·GS2", "JF·C02·GG", "JF·C02·TGS"))
        rows.insert(self.rng.randrange(n), (hh.head, hh.village, hh.group, hh.size))
        return rows

    def doc(self, title: str | None, lines: list[str], *, kind: str = "text", issuer: str | None = None,
            number: str | None = None) -> Document:
        lines = [line for line in lines if line]
        return Document(label=self.label, title=title, pages=_paginate(kind, title, lines, number, issuer),
                        kind=kind, household=self.hh, project=self.proj.name if self.proj else None,
                        date=f"{self.when:%Y%m%d}", doc_number=number, seal=issuer is not None, issuer=issuer)


_GENERATORS: dict[str, Callable[[_Ctx], Document]] = {}
_SCOPE: dict[str, str] = {}  # label → "household" | "project" | "village"


def _generator(label: str, scope: str = "village"):
    def register(fn):
        _GENERATORS[label], _SCOPE[label] = fn, scope
        return fn
    return register


def _family(hh: Household) -> str:
    """家庭成员 in words: 妻子李秀英、长子王伟和孙女王欣怡."""
    words = {"配偶": "妻子" if hh.members[0].sex == "男" else "丈夫"}
    parts = [f"{words.get(m.relation, m.relation)}{m.name}" for m in hh.members[1:]]
    return "、".join(parts[:-1]) + ("和" if len(parts) > 1 else "") + parts[-1] if parts else ""


def _age(m: Member, year: int) -> int:
    return year - m.born.year


def _hardship(c: _Ctx) -> str:
    hh, rng = c.hh, c.rng
    ill = next((m for m in hh.members if m.health != "健康"), hh.members[0])
    who = "我本人" if ill is hh.members[0] else f"{'妻子' if ill.relation == '配偶' else ill.relation}{ill.name}"
    pupil = next((m for m in hh.members if m.education.endswith("在校生")), None)
    return {
        "因病": f"{who}患有{rng.choice(_DISEASES)}，常年吃药打针，{hh.entry_year - 1}年在县人民医院住院治疗，"
                f"花去医药费{rng.randint(8, 60) * 1000}元，新农合报销后自己还要负担一大半，欠下外债{rng.randint(2, 9)}万余元。",
        "因残": (f"我本人{rng.randint(1995, hh.entry_year - 1)}年在外打工时{rng.choice(('从脚手架上摔下', '被机器轧伤', '遭遇车祸'))}，"
                 if _age(hh.members[0], hh.entry_year) < 55 else "我本人早年上山砍柴摔伤，")
                + f"落下{rng.choice(('左腿', '右腿', '右手', '腰部'))}残疾，办了残疾证，重活干不了。",
        "因学": (f"{pupil.relation}{pupil.name}正在读{pupil.education[:2]}" if pupil else "两个孩子都在读书")
                + f"，一年学费、生活费要{rng.randint(6, 15) * 1000}元左右，全靠借钱供孩子上学。",
        "缺劳力": "家里老的老、小的小，没有一个能外出挣钱的劳动力，",
        "缺技术": f"我没有文化，也没有一技之长，只能在家种{rng.randint(2, 6)}亩责任田，",
        "缺资金": "想养几头猪、搞点种植增加收入，但是苦于没有本钱，",
        "因灾": f"{hh.entry_year - 1}年夏天发大水，冲毁了我家的猪圈和{rng.randint(2, 5)}亩稻田，房子也成了危房，",
        "交通条件落后": "我们组在山上，到现在还不通公路，农产品运不出去，",
    }[hh.cause]


@_generator("JF·C02·SQ", "household")
def _sq(c: _Ctx) -> Document:
    hh, rng = c.hh, c.rng
    head = hh.members[0]
    title = c.title("申请书", "申请书", "贫困户申请书", "建档立卡贫困户申请书", "申　请", "入户申请书")
    to = c.pick(f"{hh.village}村民委员会：", f"{hh.village}党支部、村委会：", "尊敬的村委会领导：",
                f"{hh.township}人民政府、{hh.village}村委会：")
    family = _family(hh)
    intro = (f"我叫{hh.head}，{head.sex}，今年{_age(head, hh.entry_year)}岁，是{hh.township}{hh.village}{hh.group}组村民，"
             f"家中共有{hh.size}口人" + (f"：我、{family}。" if family else "，一人独居。"))
    income = rng.randint(1300, 2500)
    lines = [to, intro, _hardship(c) + f"去年全家总收入只有{income * hh.size}元，人均不到{income}元，日子过得十分艰难" + c.pick(
                 "，家中至今无人享受低保。", "。", "，住的还是七十年代建的土坯房。"),
             c.pick("根据国家精准扶贫政策，特申请纳入建档立卡贫困户，恳请村委会和上级领导给予审核批准。我一定积极配合帮扶，"
                    "勤劳苦干，争取早日摆脱贫困。",
                    "为此，特向村委会提出申请，希望能评为贫困户，享受国家的扶贫政策帮助，望领导批准为盼。",
                    "现本人自愿申请为建档立卡贫困户，以上情况全部属实，如有虚假，愿承担一切责任。"),
             "此致", "敬礼！", _right(f"申请人：{hh.head}"), _right(c.date(styles=("ymd", "ymd", "cn", "dot")))]
    if rng.random() < 0.4:
        lines.insert(-1, _right(f"联系电话：{hh.phone}"))
    return c.doc(title, lines, kind="letter")


@_generator("JF·C02·SF", "household")
def _sf(c: _Ctx) -> Document:
    hh = c.hh
    head = hh.members[0]
    police = f"{hh.county}公安局{hh.township[:-1]}派出所"
    if c.rng.random() < 0.6:
        title = c.title("常住人口登记卡", "居民户口簿", "常住人口登记卡")
        lines = [f"姓名：{hh.head}", "户主或与户主关系：户主", f"性别：{head.sex}", "民族：汉",
                 f"出生日期：{format_date(head.born, 'ymd')}", f"出生地：{hh.province}省{hh.county}",
                 f"公民身份号码：{hh.id_number}", f"住址：{hh.county}{hh.township}{hh.village}{hh.group}组",
                 f"文化程度：{head.education}", f"婚姻状况：{'已婚' if hh.size > 1 else c.pick('丧偶', '未婚')}",
                 "兵役状况：未服兵役", "职业：农民", f"登记日期：{c.date(styles=('dot', 'dash', 'ymd'))}",
                 "承办人签章：", f"户别：农业家庭户　户号：{c.rng.randint(10000000, 99999999)}"]
        return c.doc(title, lines, kind="form", issuer=police if c.rng.random() < 0.5 else None)
    title = c.title("户籍证明", "证　明", "户籍证明")
    lines = [(f"兹证明{hh.head}（公民身份号码：{hh.id_number}），{head.sex}，{format_date(head.born, 'ymd')}出生，汉族，"
             f"系我所辖区{hh.township}{hh.village}{hh.group}组常住人口，户内共有{hh.size}人。"),
             "户内成员：" + "、".join(f"{m.name}（{m.relation}）" for m in hh.members) + "。",
             "特此证明。", "（此证明仅供办理精准扶贫建档立卡手续使用，有效期三个月）",
             _right(police), _right(c.date())]
    return c.doc(title, lines, issuer=police)


@_generator("JF·C02·DC", "household")
def _dc(c: _Ctx) -> Document:
    hh, rng = c.hh, c.rng
    title = c.title("精准识别入户调查表", f"{hh.county}精准扶贫对象入户调查表", "农户家庭基本情况核查表",
                    "贫困户精准识别入户普查表", "入户调查登记表")
    house = c.pick("土坯房", "砖木结构", "砖混结构", "木结构")
    income = rng.randint(1500, 2600) * hh.size
    workers = sum(m.labour in ("普通劳动力", "弱劳动力或半劳动力") for m in hh.members)
    lines = [f"户主姓名：{hh.head}", f"家庭住址：{hh.township}{hh.village}{hh.group}组", f"身份证号码：{hh.id_number}",
             f"家庭人口：{hh.size}人，其中劳动力{workers}人", f"联系电话：{hh.phone}",
             f"住房情况：{house}，{rng.randint(4, 16) * 10}平方米" + ("，C级危房" if house == "土坯房" else ""),
             f"耕地面积：{rng.randint(2, 12) / 2}亩", f"饮水情况：{c.pick('自来水', '井水', '山泉水，季节性缺水')}",
             f"家用电器：{c.pick('电视机一台', '黑白电视机、电风扇', '无')}",
             f"交通工具：{c.pick('无', '摩托车一辆', '电动三轮车一辆')}", f"上年家庭纯收入：{income}元",
             f"人均纯收入：{income // hh.size}元", "家庭成员情况：",
             "姓名\t与户主关系\t年龄\t健康状况\t劳动能力\t在校情况"]
    lines += [f"{m.name}\t{m.relation}\t{_age(m, c.when.year)}\t{m.health}\t{m.labour}\t"
              f"{m.education if m.education.endswith('在校生') else '—'}" for m in hh.members]
    lines += [c.pick("“四看”情况：一看房，住房简陋；二看粮，口粮基本够吃；三看劳动力，家庭劳动力弱；四看读书郎，"
                     "有子女在校读书。", f"调查人意见：经入户核实，该户{hh.cause}致贫，情况属实，建议纳入评议。"),
              f"调查人：{c.name()}、{c.cadres['clerk']}　户主签字：{hh.head}",
              f"调查时间：{c.date(styles=('ymd', 'dot', 'dash'))}"]
    return c.doc(title, lines, kind="form")


@_generator("JF·C02·PY", "household")
def _py(c: _Ctx) -> Document:
    hh, rng, cad = c.hh, c.rng, c.cadres
    year = hh.entry_year
    due = rng.randint(25, 60)
    present = rng.randint(math.ceil(due * 0.7), due)
    rows = c.roster(rng.randint(4, 7))
    head = ["会议时间：" + c.date() + c.pick("上午9时", "下午2时30分", "晚上7时"),
            f"会议地点：{c.village}{c.pick('村委会会议室', '党群服务中心二楼会议室', '村小学教室')}",
            f"主持人：{cad['secretary']}（村党支部书记）", f"记录人：{cad['clerk']}",
            "参会人员：村“两委”成员、驻村工作队员、村民小组长、党员代表和村民代表",
            f"应到{due}人，实到{present}人，" + c.pick("符合规定人数。", f"缺席{due - present}人（外出务工）。")]
    if rng.random() < 0.5:
        title = c.title(f"{c.village}贫困户民主评议会议记录", "民主评议会议记录", "村民代表民主评议会记录",
                        f"{c.village}精准扶贫对象评议会议记录", "会议记录")
        lines = head + [f"会议议题：对{year}年申请纳入建档立卡贫困户的农户进行民主评议。", "会议内容：",
                        (f"一、驻村第一书记{cad['first']}宣读《{c.county}精准扶贫对象识别工作实施方案》，讲解识别标准：家庭"
                        f"年人均纯收入低于{_POVERTY_LINE[year]}元，且吃穿、义务教育、基本医疗、住房安全存在困难。"),
                        "二、各村民小组长逐户介绍申请户的家庭人口、收入、住房、劳动力和致贫原因。",
                        "三、参会代表逐户评议，采取无记名投票方式表决，结果当场公布如下：",
                        "序号\t户主姓名\t组别\t人口\t同意票\t评议结果"]
        for i, (n, _, g, s) in enumerate(rows):
            passed = n == hh.head or rng.random() < 0.8
            votes = rng.randint(present // 2 + 1, present) if passed else rng.randint(3, present // 2)
            lines.append(f"{i + 1}\t{n}\t{g}组\t{s}\t{votes}\t{'通过' if passed else '未通过'}")
        lines += [(f"会议决定：{hh.head}等户得票超过参会人数半数，列为{year}年建档立卡贫困户初选对象，在村务公开栏公示7天"
                  "后报乡政府审核。"), "参会人员签字：" + "、".join(c.name() for _ in range(rng.randint(6, 10))) + "等"]
    else:  # the 四议两公开 register of one decision
        title = c.title("“四议两公开”会议记录", "四议两公开工作记录", f"{c.village}村民代表会议决议记录")
        agreed = present - rng.randint(0, 3)
        lines = head + [f"决议事项：评定{hh.head}等{len(rows)}户为{year}年建档立卡贫困户",
                        f"党支部提议：{c.date(c.when - timedelta(days=6))}，支部委员会提出初选名单",
                        f"两委商议：{c.date(c.when - timedelta(days=4))}，村两委联席会议逐户商议",
                        f"党员大会审议：应到党员{rng.randint(18, 40)}名，到会党员超过三分之二，审议通过",
                        f"村民代表会议决议：同意{agreed}票，反对{present - agreed}票，弃权0票",
                        "评议名单：" + "、".join(f"{n}（{g}组，{s}人）" for n, _, g, s in rows),
                        "决议结果：以上农户经村民代表评议和票决，同意列为建档立卡贫困户，决议公开7天。",
                        f"记录人：{cad['clerk']}　主持人：{cad['secretary']}"]
    return c.doc(title, lines)


def _roster_table(rows, hh: Household, rng: random.Random, with_village: bool) -> list[str]:
    header = "序号\t" + ("村名\t" if with_village else "") + "户主姓名\t组别\t家庭人口\t贫困户属性\t主要致贫原因"
    out = [header]
    for i, (n, v, g, s) in enumerate(rows):
        attr, cause = (hh.attribute, hh.cause) if n == hh.head else (rng.choice(_ATTRIBUTES[:3]), rng.choice(_CAUSES))
        out.append(f"{i + 1}\t" + (f"{v}\t" if with_village else "") + f"{n}\t{g}组\t{s}\t{attr}\t{cause}")
    return out


@_generator("JF·C02·GS1", "household")
def _gs1(c: _Ctx) -> Document:
    hh, rng = c.hh, c.rng
    y, end = hh.entry_year, c.when + timedelta(days=7)
    title = c.title(f"{c.village}{y}年建档立卡贫困户拟评定名单公示", f"{c.village}精准扶贫对象第一次公示",
                    f"关于{c.village}拟纳入贫困户名单的公示", "公　示", "公示")
    rows = c.roster(rng.randint(3, 8))
    issuer = f"{c.village}村民委员会"
    lines = [c.pick(f"根据{c.county}精准扶贫工作安排，经农户申请、村民小组提名、村民代表大会民主评议，现将我村拟纳入{y}年"
                    "建档立卡贫困户的名单予以公示：",
                    f"按照精准识别“一进二看三算四比五议”的要求，经入户调查和村民代表评议，{c.village}拟确定以下{len(rows)}户为"
                    f"{y}年贫困户，现公示如下：")]
    lines += _roster_table(rows, hh, rng, False)
    lines += [f"公示期为7天（{c.date()}至{c.date(end)}）。公示期间，村民如有异议，可向村委会或驻村工作队反映，"
              + c.pick(f"监督电话：{c.landline()}。", f"也可拨打乡人民政府扶贫办电话{c.landline()}。"),
              _right(issuer), _right(c.date())]
    return c.doc(title, lines, issuer=issuer)


@_generator("JF·C02·GS2", "household")
def _gs2(c: _Ctx) -> Document:
    hh, rng = c.hh, c.rng
    y = hh.entry_year
    gov = f"{c.township}人民政府"
    if rng.random() < 0.3:  # the township's review sheet for one household
        title = c.title("乡镇审核意见表", f"{c.township}贫困户审核表", "贫困户识别乡镇审核表")
        lines = [f"户主姓名：{hh.head}", f"所在村组：{hh.village}{hh.group}组", f"家庭人口：{hh.size}人",
                 f"致贫原因：{hh.cause}", "村级评议结果：同意", "村级公示情况：公示7天无异议",
                 "入户核查情况：" + c.pick("家庭情况属实", "收入、住房情况属实"),
                 "审核意见：", (f"经乡扶贫工作站入户核查，{hh.head}户家庭人均纯收入低于{_POVERTY_LINE[y]}元，符合建档立卡"
                 "贫困户识别标准，同意上报县扶贫办复核。"), f"审核人：{c.name()}　分管领导：{c.name()}",
                 _right(gov), _right(c.date())]
        return c.doc(title, lines, kind="form", issuer=gov)
    rows = c.roster(rng.randint(4, 9))
    title = c.title(f"{c.township}{y}年拟纳入建档立卡贫困户名单公示", f"{gov}关于精准扶贫对象审核结果的公示",
                    "第二次公示", f"{c.township}贫困户审核公示", "公　示")
    lines = [(f"根据《{c.county}精准扶贫建档立卡工作实施方案》，经各村民主评议、村级公示无异议，乡精准扶贫工作领导小组"
             f"组织入户核查，现将{len({v for _, v, _, _ in rows})}个村{len(rows)}户{sum(s for *_, s in rows)}人拟纳入"
             "建档立卡贫困户名单予以公示：")]
    lines += _roster_table(rows, hh, rng, True)
    lines += [(f"公示时间：{c.date()}至{c.date(c.when + timedelta(days=7))}。如有异议，请于公示期内向乡扶贫工作站反映。"
              f"举报电话：{c.landline()}"), _right(gov), _right(c.date())]
    return c.doc(title, lines, issuer=gov)


@_generator("JF·C02·GG", "household")
def _gg(c: _Ctx) -> Document:
    hh, rng = c.hh, c.rng
    y = hh.entry_year
    office = c.pick(f"{c.county}扶贫开发领导小组办公室", f"{c.county}人民政府", f"{c.county}扶贫和移民办公室")
    rows = c.roster(rng.randint(3, 7))
    title = c.title(f"{c.county}{y}年度建档立卡贫困户认定结果公告", f"{office}公告", "公　告",
                    f"关于{c.township}{y}年新识别贫困户的公告")
    lines = [c.pick(f"第{rng.randint(1, 12)}号", ""),
             (f"根据国务院扶贫办《扶贫开发建档立卡工作方案》和省、市有关要求，经农户申请、村民代表评议、村级公示、乡镇审核公示，"
             f"县扶贫办复核，县人民政府审批，确定{c.township}{hh.head}等{len(rows)}户为{y}年度建档立卡贫困户（名单附后），"
             "现予以公告。"), "序号\t乡镇\t村名\t户主姓名\t家庭人口"]
    lines += [f"{i + 1}\t{c.township}\t{v}\t{n}\t{s}" for i, (n, v, _, s) in enumerate(rows)]
    lines += ["特此公告。", _right(office), _right(c.date())]
    return c.doc(title, lines, issuer=office)


@_generator("JF·C02·CJ", "household")
def _cj(c: _Ctx) -> Document:
    hh, rng = c.hh, c.rng
    title = c.title("建档立卡贫困户信息采集表", f"扶贫开发建档立卡贫困户信息采集表（{hh.entry_year}年）", "贫困户登记表",
                    "贫困户信息采集表")
    lines = [f"所在地：{hh.county}{hh.township}{hh.village}", f"户主姓名：{hh.head}", f"公民身份号码：{hh.id_number}",
             f"联系电话：{hh.phone}", f"开户银行：{c.pick('农村信用合作社', '邮政储蓄银行', '农村商业银行')}",
             f"银行账号：6{rng.randint(10**17, 10**18 - 1)}", f"贫困户属性：{hh.attribute}",
             f"主要致贫原因：{hh.cause}", f"识别标准：{c.pick('国家标准', '省定标准')}",
             f"耕地面积：{rng.randint(2, 12) / 2}亩", f"是否危房户：{c.pick('是', '否')}",
             f"与主干路距离：{rng.randint(1, 15) / 2}公里", "家庭成员：",
             "姓名\t与户主关系\t性别\t公民身份号码\t文化程度\t健康状况\t劳动技能"]
    lines += [f"{m.name}\t{m.relation}\t{m.sex}\t{m.id_number}\t{m.education}\t{m.health}\t{m.labour}"
              for m in hh.members]
    lines += [f"户主签字：{hh.head}　采集人：{c.name()}　审核人：{c.cadres['director']}",
              f"采集时间：{c.date(styles=('ymd', 'dot', 'pad'))}"]
    return c.doc(title, lines, kind="form")


@_generator("JF·C02·QR", "household")
def _qr(c: _Ctx) -> Document:
    hh = c.hh
    gov = c.pick(f"{c.township}人民政府", f"{c.township}扶贫工作站")
    title = c.title("贫困户确认告知书", "建档立卡贫困户确认告知书", "告知书", "确认通知书")
    lines = [f"{hh.head}同志（{hh.village}{hh.group}组）：",
             (f"根据《{c.county}精准扶贫建档立卡工作实施方案》，经本人申请、村民代表评议、村级公示、乡镇审核公示和县级审批公告，"
             f"你户已被确认为{hh.entry_year}年度建档立卡{hh.attribute}，家庭人口{hh.size}人，主要致贫原因为{hh.cause}。"),
             c.pick("你户将按照有关政策享受产业、教育、医疗、住房等方面的扶持。请积极配合帮扶责任人制定帮扶计划，自力更生，"
                    "早日实现稳定脱贫。",
                    "你户将纳入全国扶贫开发信息系统管理，享受相应扶持政策。请如实提供家庭情况，配合帮扶干部开展工作。"),
             f"如对认定结果有异议，可在收到本告知书之日起15日内向{c.township}人民政府提出。", "特此告知。",
             _right(gov), _right(c.date()),
             c.pick(f"回执：本户已收到确认告知书。户主签字：{hh.head}", f"签收人：{hh.head}　签收日期：{c.date(styles=('dot',))}")]
    return c.doc(title, lines, issuer=gov if c.rng.random() < 0.8 else None)


@_generator("JF·C02·JD", "household")
def _jd(c: _Ctx) -> Document:
    hh = c.hh
    title = c.title("结对帮扶登记表", "精准扶贫结对帮扶登记表", f"{hh.county}干部结对帮扶贫困户登记表", "帮扶联系卡")
    lines = [f"户主姓名：{hh.head}", f"家庭住址：{hh.village}{hh.group}组", f"家庭人口：{hh.size}人",
             f"贫困户属性：{hh.attribute}", f"致贫原因：{hh.cause}", f"帮扶单位：{hh.county}{hh.helper_unit[1:]}",
             f"帮扶责任人：{hh.helper}", f"职务：{hh.helper_post}", f"联系电话：{hh.helper_phone}",
             f"结对时间：{c.date(styles=('ymd', 'dot'))}",
             f"帮扶措施：{c.pick('产业扶持、技能培训', '教育资助、医疗救助', '就业推荐、小额信贷', '危房改造、产业奖补')}",
             "帮扶单位意见：同意结对帮扶（盖章）", f"村委会意见：情况属实。{c.cadres['director']}",
             f"乡镇意见：同意。{c.date()}"]
    unit = f"{hh.county}{hh.helper_unit[1:]}"
    return c.doc(title, lines, kind="form", issuer=c.pick(unit, f"{c.township}人民政府", None))


@_generator("JF·C02·MBK", "household")
def _mbk(c: _Ctx) -> Document:
    hh, cad = c.hh, c.cadres
    kind = c.rng.randrange(3)
    if kind == 2:  # 享受政策明白卡
        title = c.title("享受政策明白卡", "扶贫政策明白卡", "贫困户享受政策明白卡")
        lines = [f"户主姓名：{hh.head}", f"家庭住址：{hh.village}{hh.group}组", f"家庭人口：{hh.size}人",
                 "产业扶贫：" + c.pick("发展养殖每户奖补2000元", "种植油茶每亩补助300元"),
                 "教育扶贫：" + c.pick("义务教育寄宿生补助每年1000元", "雨露计划每生每学期1500元"),
                 "健康扶贫：新农合个人缴费由财政代缴", "住房保障：" + c.pick("危房改造补助2万元", "已享受危房改造"),
                 "金融扶贫：5万元以下免抵押免担保贴息贷款", f"帮扶责任人：{hh.helper}", f"联系电话：{hh.helper_phone}",
                 "监督举报电话：12317", f"发放日期：{c.date(styles=('ymd', 'dot'))}"]
    else:  # who helps the household: 帮扶责任人 or 驻村第一书记
        who = c.pick("帮扶责任人", "驻村第一书记") if kind == 0 else "脱贫责任组组长"
        if who == "帮扶责任人":
            name, post, phone = hh.helper, f"{hh.county}{hh.helper_unit[1:]}{hh.helper_post}", hh.helper_phone
        elif who == "驻村第一书记":
            name, post, phone = cad["first"], f"{hh.county}{cad['first_unit'][1:]}", _phone(c.rng)
        else:
            name, post, phone = c.name(), f"{c.township}党委委员", _phone(c.rng)
        title = c.title(f"{who}明白卡", "精准扶贫明白卡", "扶贫明白卡", f"{c.village}{who}明白卡")
        lines = [f"贫困户户主：{hh.head}", f"家庭住址：{hh.village}{hh.group}组", f"{who}：{name}",
                 f"单位及职务：{post}", f"联系电话：{phone}",
                 f"村党支部书记：{cad['secretary']}", f"村委会主任：{cad['director']}",
                 "您家有困难，请及时与我联系！", "我的职责：宣传扶贫政策，制定帮扶计划，落实帮扶措施，帮助您家早日脱贫。"]
    return c.doc(title, lines, kind="form")


@_generator("JF·C02·JH", "household")
def _jh(c: _Ctx) -> Document:
    hh, rng = c.hh, c.rng
    y = hh.entry_year
    title = c.title(f"{y}—{hh.exit_year}年贫困户帮扶计划", "贫困户脱贫帮扶计划", f"{hh.head}户精准帮扶计划",
                    "一户一策帮扶计划", "帮扶工作计划")
    measures = [
        (f"产业帮扶：{c.pick(f'发放鸡苗{rng.randint(1, 4) * 100}羽', f'扶持种植油茶{rng.randint(3, 10)}亩', f'扶持养猪{rng.randint(2, 6)}头', f'发展中药材{rng.randint(2, 6)}亩')}"
        f"，按政策申请产业奖补资金{rng.randint(1, 4) * 1000}元。"),
        c.pick("就业帮扶：推荐家庭劳动力到县工业园区务工，或安排村级公益性岗位。", "技能培训：参加县里组织的种养技术培训一期。"),
        c.pick("教育帮扶：为在校学生申请教育资助。", "健康帮扶：办理慢性病门诊卡，落实新农合、大病保险和医疗救助“三重保障”。"),
        c.pick("住房保障：对现有住房实施危房改造。", "金融帮扶：协助申请扶贫小额信贷5万元。", "兜底保障：符合条件的纳入低保。"),
    ]
    lines = [f"户主：{hh.head}　住址：{hh.township}{hh.village}{hh.group}组　家庭人口：{hh.size}人",
             f"致贫原因：{hh.cause}。" + f"帮扶目标：{hh.exit_year}年家庭人均纯收入稳定超过当年扶贫标准，实现“两不愁三保障”。"]
    if rng.random() < 0.5:
        lines += ["帮扶措施："] + [f"{i + 1}．{m}" for i, m in enumerate(measures)]
    else:
        lines += ["年度\t帮扶内容\t预期效果\t责任人"]
        lines += [f"{y + i}年\t{m.split('：')[0]}\t{c.pick('增收2000元', '增收1500元', '保障到位', '稳定增收')}\t{hh.helper}"
                  for i, m in enumerate(measures[: max(2, hh.exit_year - y + 1)])]
    lines += [f"帮扶责任人：{hh.helper}（{hh.county}{hh.helper_unit[1:]}）　户主签字：{hh.head}", _right(c.date())]
    return c.doc(title, lines)


@_generator("JF·C02·CS", "household")
def _cs(c: _Ctx) -> Document:
    hh, rng = c.hh, c.rng
    what, item, amount = c.pick(("产业扶贫奖补资金发放签收表", "产业奖补", rng.randint(1, 5) * 500),
                                ("教育扶贫资助资金发放花名册", "教育资助", c.pick(1000, 1500, 2500)),
                                ("危房改造补助资金领取签收表", "危房改造补助", rng.randint(10, 30) * 1000),
                                ("公益性岗位补贴发放表", "护林员补贴", c.pick(4000, 6000, 8000)))
    year = rng.randint(hh.entry_year, hh.exit_year)
    title = c.title(f"{year}年{c.township}{what}", what, f"{c.village}{what}")
    rows = c.roster(rng.randint(4, 9))
    lines = [f"村别：{c.village}　发放单位：{c.township}扶贫工作站", "序号\t姓名\t组别\t项目\t金额（元）\t领取人签名"]
    amounts = [amount if n == hh.head else rng.choice((amount, amount // 2 * 2, amount + 500)) for n, *_ in rows]
    lines += [f"{i + 1}\t{n}\t{g}组\t{item}\t{a}\t{n}" for i, ((n, _, g, _), a) in enumerate(zip(rows, amounts))]
    lines += [f"合计：{sum(amounts)}元（{daxie(sum(amounts))}）", f"经办人：{c.name()}　审核人：{c.name()}",
              _right(f"{c.township}人民政府"), _right(c.date(styles=("ymd", "dot")))]
    return c.doc(title, lines, issuer=f"{c.township}人民政府" if rng.random() < 0.7 else None)


@_generator("JF·C02·SR", "household")
def _sr(c: _Ctx) -> Document:
    hh, rng = c.hh, c.rng
    year = c.when.year
    workers = [m for m in hh.members if m.labour == "普通劳动力"]
    wage = rng.randint(6, 11) * rng.randint(18, 32) * 100 if workers else 0
    farm = rng.randint(2, 8) * rng.randint(500, 900)
    prop = c.pick(0, 1000, 1500, rng.randint(3, 12) * 100)
    transfer = 1200 * sum(_age(m, year) >= 60 for m in hh.members) + rng.randint(2, 20) * 100
    cost = farm * rng.randint(25, 40) // 100
    total = wage + farm + prop + transfer - cost
    title = c.title(f"{year}年度贫困户家庭收入测算表", "建档立卡贫困户年度收入核算表", "家庭收入调查表",
                    "贫困户收入明细表", f"{c.village}贫困户收入测算表")
    lines = [f"户主姓名：{hh.head}", f"所在村组：{hh.village}{hh.group}组", f"家庭人口：{hh.size}人",
             f"测算年度：{year}年", "收入项目\t明细\t金额（元）",
             f"工资性收入\t{(workers[0].relation + '外出务工') if workers else '无'}\t{wage}",
             f"生产经营性收入\t种植{c.pick('水稻', '玉米', '小麦')}、养殖\t{farm}",
             f"财产性收入\t{c.pick('光伏扶贫分红', '土地流转租金', '入股分红') if prop else '无'}\t{prop}",
             f"转移性收入\t{'养老金、' if transfer > 2000 else ''}生态补偿、奖补\t{transfer}",
             f"生产经营性支出\t种子、化肥、饲料\t{cost}", f"家庭纯收入\t总收入减生产经营性支出\t{total}",
             f"人均纯收入\t家庭纯收入÷{hh.size}人\t{total // hh.size}",
             f"户主签字：{hh.head}　帮扶责任人：{hh.helper}", f"村委会审核：{c.cadres['director']}　测算日期："
             + c.date(styles=("ymd", "dot", "dash"))]
    return c.doc(title, lines, kind="form")


@_generator("JF·C02·PG", "household")
def _pg(c: _Ctx) -> Document:
    hh, rng = c.hh, c.rng
    y = hh.exit_year
    income = rng.randint(_POVERTY_LINE[y] + 300, 9500)
    title = c.title("建档立卡贫困户脱贫销号评估表", "贫困户脱贫退出评估表", f"{y}年脱贫户验收评估表", "贫困户退出核查表")
    lines = [f"户主姓名：{hh.head}", f"家庭住址：{hh.township}{hh.village}{hh.group}组", f"家庭人口：{hh.size}人",
             f"识别年度：{hh.entry_year}年", f"{y}年人均纯收入：{income}元", "不愁吃、不愁穿：是",
             "义务教育有保障：" + c.pick("是", "无义务教育阶段学生"), "基本医疗有保障：是，已参加新农合和大病保险",
             "住房安全有保障：" + c.pick("是，砖混结构住房", "是，已完成危房改造"), "饮水安全有保障：是",
             "村级评议意见：", (f"经村民代表评议，{hh.head}户{y}年人均纯收入{income}元，高于{_POVERTY_LINE[y]}元的标准，"
             "“两不愁三保障”均已实现，同意脱贫。"), f"乡镇审核意见：经入户核实，同意退出。{c.date()}",
             f"户主签字：{hh.head}　帮扶责任人：{hh.helper}"]
    return c.doc(title, lines, kind="form", issuer=f"{c.township}人民政府" if rng.random() < 0.7 else None)


@_generator("JF·C02·TGS", "household")
def _tgs(c: _Ctx) -> Document:
    hh, rng = c.hh, c.rng
    y = hh.exit_year
    county_level = rng.random() < 0.25
    issuer = (f"{c.county}扶贫开发领导小组办公室" if county_level else
              c.pick(f"{c.village}村民委员会", f"{c.township}人民政府"))
    title = c.title(f"{c.village}{y}年拟脱贫户名单公示", f"{c.township}{y}年度贫困户脱贫退出公示",
                    f"关于{y}年度脱贫户的公告" if county_level else "拟退出贫困户公示", "公　示")
    rows = c.roster(rng.randint(3, 8))
    lines = [(f"根据贫困户退出标准和程序，经入户核实、村民代表大会民主评议，以下{len(rows)}户{sum(r[3] for r in rows)}人"
             f"{y}年家庭人均纯收入稳定超过{_POVERTY_LINE[y]}元，实现“两不愁三保障”，拟于{y}年退出，现予以公示："),
             "序号\t户主姓名\t村组\t人口\t人均纯收入（元）"]
    lines += [f"{i + 1}\t{n}\t{v}{g}组\t{s}\t{rng.randint(_POVERTY_LINE[y] + 200, 9000)}" for i, (n, v, g, s) in enumerate(rows)]
    lines += [f"公示期7天（{c.date()}至{c.date(c.when + timedelta(days=7))}），如有异议，请向{c.township}扶贫工作站反映。",
              _right(issuer), _right(c.date())]
    return c.doc(title, lines, issuer=issuer)


@_generator("JF·C02·TQR", "household")
def _tqr(c: _Ctx) -> Document:
    hh, rng = c.hh, c.rng
    y = hh.exit_year
    income = rng.randint(_POVERTY_LINE[y] + 300, 9000)
    if rng.random() < 0.6:  # the household signs
        title = c.title("贫困户脱贫确认书", "脱贫户确认书", "确认书", "脱贫确认书")
        lines = [(f"本人{hh.head}，系{hh.township}{hh.village}{hh.group}组村民，家庭人口{hh.size}人，{hh.entry_year}年被识别为"
                 f"建档立卡贫困户。在各级党委、政府和帮扶责任人{hh.helper}的帮助下，{y}年我家人均纯收入达到{income}元，"
                 "吃穿不愁，义务教育、基本医疗、住房安全和饮水安全都有保障。"),
                 "本人对帮扶成效和脱贫结果表示认可，同意脱贫。", _right(f"户主（签字按手印）：{hh.head}"),
                 _right(f"帮扶责任人：{hh.helper}"), _right(c.date(styles=("ymd", "dot", "cn")))]
        return c.doc(title, lines, kind=c.pick("letter", "text"))
    gov = f"{c.township}人民政府"
    title = c.title("贫困户脱贫告知书", "脱贫告知书", "告知书")
    lines = [f"{hh.head}户（{hh.village}{hh.group}组）：",
             (f"经入户核实、村民代表评议、村级公示和乡镇审核，你户{y}年家庭人均纯收入{income}元，达到脱贫标准，"
             f"已于{y}年{c.when.month}月退出建档立卡贫困户。"),
             "脱贫不脱政策，脱贫不脱帮扶。过渡期内你户继续享受现有扶持政策，帮扶责任人不变。", "特此告知。",
             _right(gov), _right(c.date()), f"户主签收：{hh.head}"]
    return c.doc(title, lines, issuer=gov)


# ───── project volume (一个项目一卷) ─────


@_generator("JF·03·XM·SP", "project")
def _sp(c: _Ctx) -> Document:
    p, rng = c.proj, c.rng
    variant = rng.randrange(3)
    if variant == 0:  # 批复
        office, prefix = c.pick((f"{p.county}扶贫开发领导小组办公室", "扶领办字"), (f"{p.county}发展和改革委员会", "发改农经字"),
                                (f"{p.county}人民政府办公室", "府办字"))
        number = c.number(p.county[0] + prefix)
        title = c.title(f"关于{p.name}的批复", f"关于同意实施{p.name}的批复", "批　复")
        req = f"{p.township[0]}府字〔{p.year}〕{rng.randint(3, 40)}号"
        lines = [f"{p.township}人民政府：", f"你乡（镇）《关于申请实施{p.name}的请示》（{req}）收悉。经研究，现批复如下：",
                 f"一、同意实施{p.name}。建设地点：{p.township}{p.village}。建设内容：{p.content}。",
                 f"二、项目总投资{p.budget / 10000:g}万元，其中财政专项扶贫资金{p.budget * 8 // 100000:g}万元，其余由乡村自筹解决。",
                 ("三、项目由你乡（镇）人民政府负责组织实施，严格执行项目法人制、招投标制、工程监理制和公示公告制，"
                 f"确保工程质量，于{p.year}年{rng.randint(9, 12)}月底前完工。"), "此复。", _right(office), _right(c.date())]
        return c.doc(title, lines, issuer=office, number=number)
    if variant == 1:  # 请示 from the township or village
        gov = c.pick(f"{p.township}人民政府", f"{p.village}村民委员会")
        title = c.title(f"关于申请实施{p.name}的请示", f"{p.name}申请报告", "项目申请书")
        lines = [f"{p.county}扶贫开发领导小组办公室：" if gov.endswith("政府") else f"{p.township}人民政府：",
                 f"{p.village}位于{p.township}{c.pick('东部', '西北部', '南部山区')}，辖{rng.randint(6, 14)}个村民小组，"
                 f"{rng.randint(300, 900)}户{rng.randint(1200, 3600)}人，现有建档立卡贫困户{rng.randint(20, 90)}户。"
                 + c.pick("村内道路狭窄坑洼，群众出行和农产品运输十分困难。", "村民生产生活条件较差，群众要求改善的愿望迫切。"),
                 (f"为改善生产生活条件，经村民代表会议讨论通过，拟实施{p.name}，建设内容：{p.content}，"
                 f"估算总投资{p.budget / 10000:g}万元。"), "妥否，请批示。", _right(gov), _right(c.date())]
        return c.doc(title, lines, issuer=gov)
    title = c.title("扶贫项目申报表", f"{p.year}年扶贫项目申报表", "项目申报审批表")
    lines = [f"项目名称：{p.name}", f"建设地点：{p.township}{p.village}", f"总投资：{p.budget / 10000:g}万元",
             "资金来源：财政专项扶贫资金", f"受益贫困户：{rng.randint(15, 80)}户{rng.randint(50, 260)}人",
             f"实施期限：{p.year}年{rng.randint(3, 6)}月至{rng.randint(9, 12)}月", f"项目负责人：{c.name()}",
             "建设内容及规模：", p.content + "。", "村委会意见：经村民代表会议讨论，同意申报。",
             "乡镇意见：同意申报。", f"县扶贫办审核意见：同意列入{p.year}年项目库。", _right(c.date())]
    return c.doc(title, lines, kind="form", issuer=f"{p.township}人民政府")


@_generator("JF·03·XM·ZB", "project")
def _zb(c: _Ctx) -> Document:
    p, rng = c.proj, c.rng
    price = p.budget * rng.randint(88, 97) // 100
    owner = f"{p.township}人民政府"
    if rng.random() < 0.5:
        title = c.title("中标通知书", f"{p.name}中标通知书", "中标通知")
        lines = [f"{p.contractor}：", (f"我方已接受你方于{c.date(c.when - timedelta(days=rng.randint(5, 12)))}所递交的{p.name}施工"
                 "投标文件，确定你方为中标人。"), f"中标价：人民币{price}元（大写：{daxie(price)}）",
                 f"工期：{rng.randint(6, 18) * 10}日历天", "工程质量：合格",
                 f"请你方在接到本通知书后的30日内到{owner}与我方签订施工合同，并按招标文件规定提交履约担保。",
                 _right(f"招标人：{owner}"), _right(f"招标代理机构：{p.agency}"), _right(c.date())]
        return c.doc(title, lines, issuer=owner)
    title = c.title(f"{p.name}施工招标公告", f"{p.name}招标公告", "招标公告", f"{p.name}竞争性比选公告")
    lines = ["1. 招标条件", (f"本招标项目{p.name}已由{p.county}扶贫开发领导小组办公室批准建设，项目业主为{owner}，"
             "建设资金来自财政专项扶贫资金，项目已具备招标条件，现对该项目的施工进行公开招标。"),
             "2. 项目概况与招标范围", (f"建设地点：{p.township}{p.village}；建设内容：{p.content}；"
             f"招标控制价：{p.budget}元。"), "3. 投标人资格要求",
             (f"本次招标要求投标人具备{c.pick('市政公用工程', '公路工程', '水利水电工程')}施工总承包三级及以上资质，并在人员、"
             "设备、资金等方面具有相应的施工能力。本次招标不接受联合体投标。"), "4. 招标文件的获取",
             (f"凡有意参加投标者，请于{c.date()}至{c.date(c.when + timedelta(days=5))}，每日上午8:30至11:30，"
             f"下午2:30至5:00，持单位介绍信到{p.agency}购买招标文件。"), "5. 投标文件的递交",
             f"投标文件递交的截止时间为{c.date(c.when + timedelta(days=21))}上午9时30分，地点为{p.county}公共资源交易中心。",
             f"招标人：{owner}　联系电话：{c.landline()}", f"招标代理机构：{p.agency}　联系电话：{c.landline()}"]
    return c.doc(title, lines)


@_generator("JF·03·XM·SG", "project")
def _sg(c: _Ctx) -> Document:
    p, rng = c.proj, c.rng
    if rng.random() < 0.5:  # 开工报告 on the supervisor's printed form
        start = c.when + timedelta(days=rng.randint(2, 7))
        title = c.title("工程开工报告", "开工报告", f"{p.name}开工报告")
        lines = [f"工程名称：{p.name}", f"建设单位：{p.township}人民政府", f"施工单位：{p.contractor}",
                 f"监理单位：{p.supervisor}", f"合同工期：{rng.randint(6, 18) * 10}日历天",
                 f"计划开工日期：{format_date(start, 'ymd')}", f"合同价：{p.budget * 92 // 100}元",
                 "施工准备情况：", ("施工人员、机械设备已进场，原材料已送检合格，施工放样已复核，安全文明施工措施已落实，"
                 "具备开工条件，特申请开工。"), f"项目经理：{c.name()}", "监理意见：经检查，施工准备工作就绪，同意开工。",
                 f"总监理工程师：{c.name()}", "建设单位意见：同意。", _right(c.date())]
        return c.doc(title, lines, kind="form", issuer=p.supervisor if rng.random() < 0.5 else None)
    title = c.title("施工日志", f"{p.name}施工日志", "工程施工日志")
    weather = c.pick("晴", "多云", "阴", "晴转多云")
    lines = [f"工程名称：{p.name}", (f"日期：{c.date(styles=('ymd', 'dot'))}　天气：{weather}　气温："
             f"{rng.randint(8, 22)}～{rng.randint(23, 34)}℃"), f"施工部位：K{(k := rng.randint(0, 30)) // 10}+{k % 10}00至K{k // 10}+{k % 10}50段",
             "施工内容：" + c.pick(f"浇筑C25混凝土路面{rng.randint(40, 120)}立方米，人工收面、切缝，洒水养护。",
                                    f"开挖基槽{rng.randint(30, 90)}米，铺设管道并做闭水试验。",
                                    "砌筑挡土墙，M7.5水泥砂浆，浆砌片石。"),
             f"人员、机械：施工人员{rng.randint(8, 30)}人，{c.pick('挖掘机1台、搅拌机2台', '装载机1台、振捣器3台', '搅拌机1台、运输车3辆')}。",
             "材料进场：" + c.pick("水泥40吨，已见证取样送检。", "碎石80立方米，经验收合格。", "无。"),
             "质量安全情况：" + c.pick("现场有专人指挥交通，无安全事故。", "监理旁站，混凝土坍落度检测合格。"),
             f"记录人：{c.name()}　技术负责人：{c.name()}"]
    return c.doc(title, lines)


@_generator("JF·03·XM·YS", "project")
def _ys(c: _Ctx) -> Document:
    p, rng = c.proj, c.rng
    variant = rng.randrange(3)
    if variant == 0:
        title = c.title(f"{p.name}竣工验收报告", "竣工验收报告", "工程竣工验收意见书")
        lines = [(f"{c.date()}，{p.township}人民政府组织乡扶贫工作站、财政所、{p.village}村委会、施工单位、监理单位及群众代表，"
                 f"对{p.name}进行了竣工验收。"), (f"该项目建设内容为：{p.content}。"
                 f"项目于{p.year}年{rng.randint(3, 6)}月开工，{rng.randint(7, 11)}月完工，由{p.contractor}承建。"),
                 "验收组查看了工程现场，查阅了施工日志、监理记录、材料检测报告等资料，对工程实体进行了抽检。"
                 + c.pick("抽检路面宽度、厚度均符合设计要求，无明显裂缝和断板。", "工程主体完好，运行正常，达到设计要求。"),
                 "验收结论：工程质量合格，资料基本齐全，同意通过验收，交付使用。",
                 "验收组成员签字：" + "、".join(c.name() for _ in range(rng.randint(4, 7)))]
        return c.doc(title, lines, issuer=f"{p.township}人民政府")
    if variant == 1:
        final = p.budget * rng.randint(85, 99) // 100
        title = c.title("工程结算审核表", f"{p.name}决算表", "扶贫项目工程决算书", "结算审核报告")
        parts = [("土方工程", 12), ("主体工程", 63), ("附属工程", 15), ("其他费用", 10)]
        lines = [f"项目名称：{p.name}", f"施工单位：{p.contractor}", f"合同价：{p.budget * 92 // 100}元",
                 "费用项目\t送审金额（元）\t审定金额（元）\t核减（元）"]
        for what, share in parts:
            sent, ok = p.budget * share // 100, final * share // 100
            lines.append(f"{what}\t{sent}\t{ok}\t{sent - ok}")
        lines += [f"审定工程造价：{final}元（{daxie(final)}）", f"审核单位：{p.county}财政投资评审中心",
                  f"审核人：{c.name()}　复核人：{c.name()}", _right(c.date())]
        return c.doc(title, lines, kind="form", issuer=f"{p.county}财政投资评审中心")
    title = c.title("扶贫项目资产移交书", "项目资产移交表", f"{p.name}移交书")
    lines = [(f"根据扶贫项目资产管理有关规定，{p.name}已竣工验收合格，现由{p.township}人民政府（移交方）将该项目形成的资产"
             f"移交给{p.village}村民委员会（接收方）管理和使用。"), f"资产内容：{p.content}。",
             f"资产价值：{p.budget * 9 // 10}元。", "接收方负责资产的日常管护，确保长期发挥效益，不得擅自处置。",
             _right(f"移交方：{p.township}人民政府"), _right(f"接收方：{p.village}村民委员会"), _right(c.date())]
    return c.doc(title, lines, issuer=f"{p.village}村民委员会")


# ───── village archives (村务档案) ─────


def _meeting_head(c: _Ctx, who: str, due: int) -> list[str]:
    present = c.rng.randint(math.ceil(due * 0.7), due)
    return [f"时间：{c.date()}{c.pick('上午', '下午', '晚上')}", f"地点：{c.village}{c.pick('村委会会议室', '党员活动室', '村部')}",
            f"主持人：{c.cadres['secretary' if '党' in who else 'director']}", f"记录人：{c.cadres['clerk']}",
            f"应到{who}{due}人，实到{present}人。"]


@_generator("CJ·CW")
def _cw(c: _Ctx) -> Document:
    rng = c.rng
    g1, g2 = sorted(rng.sample(range(1, 13), 2))
    topics = (
        ("修订村规民约", f"讨论修订《{c.village}村规民约》，新增禁止向河道倾倒垃圾、红白喜事从简办理、不得乱搭乱建等条款。"),
        ("一事一议筹资修路", f"{g1}组至{g2}组的村道年久失修，按“一事一议”办法，每人筹资{rng.randint(2, 6) * 10}元，不足部分申请上级奖补。"),
        ("推选村务监督委员会成员", "推选村务监督委员会主任一名、委员二名，负责监督村务公开和财务收支。"),
        ("集体鱼塘重新发包", f"村集体{rng.randint(15, 60)}亩鱼塘承包期满，经讨论决定公开竞价发包，底价每年{rng.randint(8, 30) * 1000}元，期限五年。"),
        ("推选村民选举委员会", f"村委会任期届满，按照换届选举工作要求，推选村民选举委员会成员{rng.choice((5, 7))}名。"),
        ("环境卫生整治", "讨论农村人居环境整治方案，每户每年收取垃圾清运费60元，由保洁员负责各组垃圾清运。"),
    )
    topic, text = rng.choice(topics)
    due = rng.randint(25, 55)
    title = c.title(f"{c.village}村民代表会议记录", "村民代表大会会议记录", "村民会议决议", "会议记录",
                    f"{c.village}第{rng.randint(9, 12)}届村民代表会议记录")
    yes = due - rng.randint(3, 9)
    lines = _meeting_head(c, "村民代表", due) + [f"会议议题：{topic}", "会议内容：", text,
                                                "与会代表进行了认真讨论，" + c.pick("大家一致认为很有必要。", "部分代表提出了修改意见，会议逐条作了说明。"),
                                                f"表决结果：同意{yes}人，反对{rng.randint(0, 2)}人，弃权{rng.randint(0, 3)}人，议题获得通过。",
                                                "决议事项会后在村务公开栏公布。",
                                                "参会代表签名：" + "、".join(c.name() for _ in range(rng.randint(6, 12))) + "等"]
    return c.doc(title, lines)


@_generator("CJ·TD")
def _td(c: _Ctx) -> Document:
    rng = c.rng
    group = rng.randint(1, 12)
    farmer, born = c.name("男", rng.randint(1945, 1975)), rng.randint(1945, 1975)
    fid = _id_number(rng, c.area, date(born, rng.randint(1, 12), rng.randint(1, 28)), "男")
    plots = [(n, rng.randint(3, 30) / 10) for n in rng.sample(("门前垅", "大坵", "塘下", "岭背", "长田", "河边地", "坳上"), rng.randint(2, 5))]
    if rng.random() < 0.6:  # 二轮承包: thirty years, signed the winter before
        start = rng.choice((1998, 1999, 2003, 2009))
        c.when = date(start - 1, rng.randint(10, 12), rng.randint(1, 28))
        title = c.title("农村土地承包合同书", "土地承包合同", f"{c.village}耕地承包合同", "农村土地（耕地）承包合同")
        lines = [f"发包方（甲方）：{c.village}{group}组村民小组　负责人：{c.name()}",
                 f"承包方（乙方）：{farmer}　身份证号：{fid}　家庭成员{rng.randint(2, 6)}人",
                 ("为稳定和完善以家庭承包经营为基础、统分结合的双层经营体制，根据《中华人民共和国农村土地承包法》，"
                 "经甲乙双方协商，订立本合同。"),
                 f"第一条　甲方将本组集体所有的耕地{sum(a for _, a in plots):.1f}亩发包给乙方承包经营，地块如下：",
                 "地块名称\t面积（亩）\t东至\t西至\t南至\t北至"]
        lines += [f"{n}\t{a:.1f}\t{c.name()}\t{c.pick('水沟', '机耕路', c.name())}\t{c.pick('山脚', '田埂', c.name())}\t{c.name()}" for n, a in plots]
        lines += [f"第二条　承包期限为三十年，自{start}年1月1日起至{start + 29}年12月31日止。",
                  "第三条　乙方享有承包地使用、收益和土地承包经营权流转的权利，有权自主组织生产经营和处置产品。",
                  "第四条　乙方应维持土地的农业用途，不得用于非农建设，不得给土地造成永久性损害。",
                  "第五条　承包期内，甲方不得收回、调整承包地。本合同一式三份，甲乙双方各执一份，乡镇农经站备案一份。",
                  f"甲方（盖章）：{c.village}{group}组　乙方（签字）：{farmer}", _right(c.date(styles=("ymd", "cn")))]
        return c.doc(title, lines, issuer=f"{c.village}村民委员会")
    coop = f"{c.village}{c.pick('水稻', '蔬菜', '油茶', '葡萄')}种植专业合作社"
    rent = rng.randint(3, 8) * 100
    years = rng.choice((5, 8, 10))
    title = c.title("农村土地经营权流转合同", "土地流转合同", "土地承包经营权流转合同书")
    lines = [f"甲方（流出方）：{farmer}，{c.village}{group}组村民，身份证号：{fid}", f"乙方（流入方）：{coop}",
             f"经双方协商，甲方将其承包的{sum(a for _, a in plots):.1f}亩耕地的经营权流转给乙方，订立本合同。",
             f"一、流转期限{years}年，自{c.when.year}年{c.when.month}月起至{c.when.year + years}年{c.when.month}月止。",
             f"二、流转价格每亩每年{rent}元，乙方于每年12月31日前一次性支付当年租金。",
             "三、乙方不得改变土地的农业用途，合同期满后应将土地恢复原状交还甲方。",
             "四、流转期内如遇国家征收，土地补偿费归甲方，地上附着物补偿费归乙方。",
             "五、本合同经村民委员会鉴证后生效，一式三份。", f"甲方：{farmer}　乙方：{coop}",
             f"鉴证单位：{c.village}村民委员会", _right(c.date())]
    return c.doc(title, lines, issuer=f"{c.village}村民委员会")


@_generator("CJ·MZ")
def _mz(c: _Ctx) -> Document:
    rng = c.rng
    born = rng.randint(1938, 1975)
    sex = c.pick("男", "女")
    person = c.name(sex, born)
    pid = _id_number(rng, c.area, date(born, rng.randint(1, 12), rng.randint(1, 28)), sex)
    size = rng.randint(1, 5)
    reason = c.pick("本人患尿毒症，长期透析", "丈夫去世，独自抚养两个孩子", "年老体弱，无劳动能力", "儿子重度残疾，需人照料")
    variant = rng.randrange(3)
    if variant == 0:
        title = c.title("农村居民最低生活保障申请审批表", "最低生活保障待遇申请表", f"{c.township}农村低保审批表")
        lines = [f"申请人：{person}", f"身份证号：{pid}", f"家庭住址：{c.village}{rng.randint(1, 12)}组",
                 f"家庭人口：{size}人", f"保障人数：{rng.randint(1, size)}人", f"家庭年收入：{rng.randint(20, 90) * 100}元",
                 f"申请理由：{reason}"]
        if rng.random() < 0.5:
            lines.append(f"是否建档立卡：{c.pick('是', '否')}")
        lines += ["村民主评议意见：经村民代表评议，情况属实，同意申请。", f"乡镇审核意见：经入户调查，同意{c.pick('A', 'B', 'C')}类保障。",
                  f"县民政局审批意见：同意，每月{rng.randint(20, 45) * 10}元。", _right(c.date())]
        return c.doc(title, lines, kind="form", issuer=f"{c.county}民政局" if rng.random() < 0.6 else None)
    if variant == 1:
        title = c.title("低保申请书", "申请书", "最低生活保障申请书")
        lines = [f"{c.village}村委会、{c.township}人民政府：",
                 (f"我叫{person}，今年{c.when.year - born}岁，{c.village}村民，家中共有{size}口人。{reason}，"
                 f"家里没有稳定收入，生活十分困难。特申请享受农村最低生活保障，望领导给予批准。"),
                 "此致", "敬礼！", _right(f"申请人：{person}"), _right(c.date(styles=("ymd", "dot")))]
        return c.doc(title, lines, kind="letter")
    rows = [(c.name(), rng.randint(1, 12), rng.randint(1, 4), rng.choice("ABC")) for _ in range(rng.randint(4, 8))]
    title = c.title(f"{c.village}农村低保对象名单公示", f"{c.township}{c.when.year}年第{rng.randint(1, 4)}季度低保审核结果公示", "公　示")
    lines = ["根据《社会救助暂行办法》，经本人申请、村民主评议、乡镇审核，以下家庭拟享受农村最低生活保障，现予公示：",
             "序号\t户主\t组别\t保障人数\t保障类别"]
    lines += [f"{i + 1}\t{n}\t{g}组\t{s}\t{k}类" for i, (n, g, s, k) in enumerate(rows)]
    lines += [f"公示期7天，如有异议，请向{c.township}民政办反映。", _right(f"{c.township}人民政府"), _right(c.date())]
    return c.doc(title, lines, issuer=f"{c.township}人民政府")


@_generator("CJ·JSW")
def _jsw(c: _Ctx) -> Document:
    rng = c.rng
    c.when = c.when.replace(year=rng.randint(1994, 2015))
    father, mother = c.name("男", c.when.year - rng.randint(26, 40)), c.name("女", c.when.year - rng.randint(24, 36))
    variant = rng.randrange(3)
    if variant == 0:  # 社会抚养费征收决定书
        gov = c.pick(f"{c.township}人民政府", f"{c.county}人口和计划生育委员会")
        number = c.number(f"{c.county[0]}计征决字")
        fee = rng.randint(8, 60) * 1000
        title = c.title("社会抚养费征收决定书", "征收社会抚养费决定书")
        born = c.when - timedelta(days=rng.randint(60, 400))
        lines = [number, f"当事人：{father}、{mother}（夫妻）", f"住址：{c.township}{c.village}{rng.randint(1, 12)}组",
                 (f"经查，你们于{format_date(born, 'ymd')}违反《{c.province}省人口与计划生育条例》规定，"
                 f"{c.pick('生育第三个子女', '未经批准再生育一个子女', '非婚生育一个子女')}。"),
                 ("根据《中华人民共和国人口与计划生育法》第四十一条和《社会抚养费征收管理办法》第三条的规定，"
                 f"决定对你们征收社会抚养费人民币{fee}元（大写：{daxie(fee)}）。"),
                 "请你们自收到本决定书之日起30日内，到指定银行缴纳。逾期不缴纳的，自欠缴之日起每月加收千分之二的滞纳金。",
                 (f"如不服本决定，可以在接到本决定书之日起60日内向{c.county}人民政府申请行政复议，或者在六个月内向"
                 f"{c.county}人民法院提起行政诉讼。"), _right(gov), _right(c.date())]
        return c.doc(title, lines, issuer=gov, number=number)
    if variant == 1:
        child = c.name(c.pick("男", "女"), c.when.year - rng.randint(1, 10))
        title = c.title("独生子女证明", "证　明", "独生子女父母光荣证明")
        lines = [(f"兹证明我村村民{father}（身份证号：{_id_number(rng, c.area, date(c.when.year - 33, 5, 8), '男')}）"
                 f"与{mother}系夫妻，婚后只生育一个子女{child}，未再生育，已领取《独生子女父母光荣证》。"),
                 "该户一贯遵守计划生育政策，情况属实。", "特此证明。", _right(f"{c.village}村民委员会"), _right(c.date())]
        return c.doc(title, lines, issuer=f"{c.village}村民委员会")
    title = c.title("生育服务证", "计划生育服务证", "再生育审批表")
    lines = [f"男方姓名：{father}", f"女方姓名：{mother}", f"现居住地：{c.township}{c.village}",
             f"结婚登记日期：{format_date(c.when - timedelta(days=rng.randint(200, 3000)), 'ymd')}",
             f"现有子女数：{c.pick('0', '1')}", "生育类别：" + c.pick("第一个子女", "再生育（农村独女户）"),
             f"计划生育时间：{c.when.year}年", "村（居）委会意见：情况属实。", "乡镇计生办意见：同意。",
             f"发证日期：{c.date()}"]
    return c.doc(title, lines, kind="form", issuer=f"{c.township}人民政府")


@_generator("CJ·KU")
def _ku(c: _Ctx) -> Document:
    rng = c.rng
    c.when = c.when.replace(year=rng.randint(2008, 2022))
    unit = f"{c.village}村民委员会"
    items = [("支付村部维修材料款", "管理费用", "维修费"), ("支付保洁员工资", "管理费用", "工资"),
             ("收到上级转移支付", "补助收入", "转移支付"), ("收取鱼塘承包费", "发包及上交收入", "承包金"),
             ("购买办公用品", "管理费用", "办公费"), ("支付村干部误工补贴", "管理费用", "误工补贴"),
             ("支付路灯电费", "公益支出", "电费")]
    variant = rng.randrange(3)
    if variant == 0:
        kind = c.pick("记账凭证", "付款凭证", "转账凭证")
        title = c.title(kind, f"{unit}{kind}")
        chosen = rng.sample(items, rng.randint(1, 3))
        amounts = [rng.randint(2, 900) * 10 for _ in chosen]
        lines = [f"单位：{unit}　{c.date(styles=('ymd', 'pad'))}　{c.pick('记', '付', '转')}字第{rng.randint(1, 80)}号",
                 "摘要\t总账科目\t明细科目\t借方金额\t贷方金额"]
        for (what, acct, sub), a in zip(chosen, amounts):
            lines.append(f"{what}\t{acct}\t{sub}\t{a:.2f}\t")
        lines += [f"{'银行存款' if rng.random() < 0.5 else '库存现金'}\t\t\t\t{sum(amounts):.2f}",
                  f"合计\t\t\t{sum(amounts):.2f}\t{sum(amounts):.2f}", f"附单据{rng.randint(1, 6)}张",
                  f"会计主管：{c.name()}　记账：{c.cadres['accountant']}　出纳：{c.name()}　审核：{c.name()}"]
        return c.doc(title, lines, kind="form")
    q = (c.when.month - 1) // 3 + 1
    title = c.title(f"{c.village}{c.when.year}年第{q}季度财务收支明细表", "村级财务收支明细", "财务公开", "现金日记账")
    balance = rng.randint(50, 400) * 100
    rows = ["日期\t摘要\t收入（元）\t支出（元）\t余额（元）", f"{(q - 1) * 3 + 1}月1日\t上期结余\t\t\t{balance}"]
    for month, day, what in sorted(((q - 1) * 3 + rng.randint(1, 3), rng.randint(2, 28), rng.choice(items)[0])
                                   for _ in range(rng.randint(5, 10))):
        a, income = rng.randint(5, 800) * 10, what.startswith("收")
        balance += a if income else -a
        rows.append(f"{month}月{day}日\t{what}\t{a if income else ''}\t{'' if income else a}\t{balance}")
    lines = [f"编制单位：{unit}"] + rows + [f"村务监督委员会审核意见：{c.pick('收支真实，同意公开。', '经审核无误。')}",
                                           f"制表人：{c.cadres['accountant']}　审核人：{c.name()}", _right(c.date())]
    return c.doc(title, lines, kind=c.pick("form", "text"), issuer=unit if variant == 1 else None)


@_generator("CJ·DQ")
def _cj_dq(c: _Ctx) -> Document:
    rng = c.rng
    due = rng.randint(15, 45)
    topics = (
        ("讨论接收预备党员", (f"支部书记介绍了入党积极分子{c.name(born=rng.randint(1980, 1996))}的培养考察情况，入党介绍人介绍其现实表现，"
                             "与会党员逐一发表意见后进行无记名投票。")),
        ("学习党的十九大精神", "支部书记领学党的十九大报告，党员结合本村实际交流学习体会。"),
        ("民主评议党员", "党员逐一进行自评和互评，支委会根据评议情况提出等次建议，经党员大会表决确定。"),
        ("选举支部委员会", "按照差额选举办法，选举产生新一届村党支部委员会委员，并报乡党委审批。"),
        ("收缴党费", "通报上半年党费收缴情况，部分外出务工党员通过微信补交党费。"),
    )
    topic, text = rng.choice(topics)
    meeting = c.pick("党员大会", "支委会", "主题党日活动")
    title = c.title(f"{c.village}党支部{meeting}会议记录", f"中共{c.village}支部委员会{meeting}记录", f"{meeting}记录",
                    "会议记录")
    yes = due - rng.randint(2, 8)
    lines = _meeting_head(c, "党员", due) + [f"会议议题：{topic}", text,
                                            c.pick(f"表决结果：应到有表决权的正式党员{due}名，同意{yes}票，不同意0票，弃权{rng.randint(0, 2)}票。",
                                                   "会议要求全体党员发挥先锋模范作用，带头落实村里的各项工作。"),
                                            "参会党员签名：" + "、".join(c.name() for _ in range(rng.randint(6, 12)))]
    return c.doc(title, lines)


# ───── township (乡镇档案) ─────


@_generator("XZ·DQ")
def _xz_dq(c: _Ctx) -> Document:
    rng = c.rng
    c.when = c.when.replace(year=rng.randint(2010, 2022))
    party = f"中共{c.township}委员会"
    season = ("春耕生产", "森林防火", "防汛抗旱", "秸秆禁烧")[(c.when.month - 1) // 3]
    items = [f"研究部署{c.when.year}年{season}工作，明确各班子成员包片责任。",
             f"研究干部调整事项：同意{c.name()}同志任{c.pick('党政办公室主任', '经济发展办公室主任', '综治办副主任')}，{c.name()}同志不再担任该职务。",
             "研究发展党员工作，同意各村党支部上报的入党积极分子名单。",
             f"传达学习县委{c.pick('全会', '工作会议', '常委会议')}精神，要求各村、各单位抓好贯彻落实。",
             "研究机关作风建设，严格落实请销假和值班制度。"]
    chosen = rng.sample(items, rng.randint(2, 4))
    title = c.title(f"{c.township}党委会议纪要", "党委会议纪要", f"中共{c.township}委员会会议纪要", "会议纪要")
    lines = [f"第{rng.randint(1, 30)}期", f"{c.date()}，{c.township[-1]}党委书记{c.name()}主持召开党委会议。会议研究了以下事项："]
    lines += [f"{'一二三四'[i]}、{t}" for i, t in enumerate(chosen)]
    lines += [f"出席：{'、'.join(c.name() for _ in range(rng.randint(5, 8)))}", f"列席：{c.name()}、{c.name()}",
              f"记录：{c.name()}", f"发：各党委委员　{c.pick('存档', '各支部')}"]
    return c.doc(title, lines, issuer=party, number=c.number(f"{c.township[0]}党纪") if rng.random() < 0.5 else None)


@_generator("XZ·XZ")
def _xz_xz(c: _Ctx) -> Document:
    rng = c.rng
    c.when = c.when.replace(year=rng.randint(2010, 2022))
    gov = f"{c.township}人民政府"
    subjects = (
        ("做好春季森林防火工作", "春季是森林火灾高发期", ["严格野外用火管理，清明期间各村设立劝导点。",
                                                        "各村组建扑火队伍，落实24小时值班制度。", "发生火情立即报告镇防火办。"]),
        ("开展农村人居环境整治", "为改善农村人居环境", ["各村开展垃圾清理，做到日产日清。",
                                                       "整治乱堆乱放、乱搭乱建，每月检查评比一次。", "评比结果纳入村干部年度考核。"]),
        ("做好秋冬季征兵工作", "根据县征兵工作会议部署", ["各村摸清适龄青年底数，做好宣传动员。",
                                                         "组织应征青年按时参加体检和政治考核。", "严禁弄虚作假、徇私舞弊。"]),
        ("做好防汛工作", "当前已进入主汛期", ["各村落实防汛责任人，加强水库山塘巡查。",
                                              "汛期实行24小时值班和领导带班制度。", "发现险情及时转移群众并报告。"]),
        ("开展安全生产大检查", "为有效防范各类安全事故", ["各单位对辖区企业、学校、集市开展全面排查。",
                                                         "对排查出的隐患建立台账，限期整改。", "检查情况于月底前报镇安监站。"]),
    )
    what, why, points = rng.choice(subjects)
    number = c.number(c.township[0] + c.pick("府发", "府字", "府办发"))
    title = c.title(f"{gov}关于{what}的通知", f"关于{what}的通知", "通　知")
    lines = [f"各村（居）委会、{c.township[-1]}直各单位：",
             f"{why}，为切实抓好{what.removeprefix('做好').removeprefix('开展')}，现将有关事项通知如下："]
    lines += [f"{'一二三四'[i]}、{p}" for i, p in enumerate(points)]
    lines += [f"联系人：{c.name()}，电话：{c.landline()}", _right(gov), _right(c.date()),
              f"抄送：{c.county}人民政府办公室"]
    return c.doc(title, lines, issuer=gov, number=number)


LABELS: tuple[str, ...] = tuple(_GENERATORS)
HOUSEHOLD_LABELS: tuple[str, ...] = tuple(label for label in LABELS if _SCOPE[label] == "household")


# ───────────────────────────── API ─────────────────────────────


def _timeline(hh: Household, rng: random.Random) -> dict[str, date]:
    """Dates of a household file from entry to exit, each step after the one before."""
    d = date(hh.entry_year, rng.randint(7, 9), rng.randint(1, 28))
    out = {}
    for label in HOUSEHOLD_LABELS:
        step = label.rsplit("·", 1)[1]
        if step == "CS":
            out[label] = date(rng.randint(hh.entry_year + 1, max(hh.entry_year + 1, hh.exit_year)), rng.randint(3, 6), rng.randint(1, 28))
            continue
        if step == "SR":
            d = max(d, date(hh.exit_year, 10, rng.randint(1, 25)))
        d += timedelta(days={"SQ": 0, "SF": 0, "GS1": 1, "GS2": 12, "GG": 14, "TGS": 4, "TQR": 10}.get(step, rng.randint(3, 12)))
        out[label] = d
    return out


def _default_date(label: str, rng: random.Random, hh: Household | None, proj: _Project | None) -> date:
    if hh is not None:
        return _timeline(hh, rng)[label]
    if proj is not None:
        offset = {"SP": 0, "ZB": 40, "SG": 70, "YS": 200}[label.rsplit("·", 1)[1]]
        return date(proj.year, rng.randint(3, 4), rng.randint(1, 28)) + timedelta(days=offset + rng.randint(0, 20))
    return date(rng.randint(2005, 2022), rng.randint(1, 12), rng.randint(1, 28))


def make_document(label: str, rng: random.Random, *, household: Household | None = None,
                  project: str | None = None) -> Document:
    """One document of class ``label`` (a key of :data:`LABELS`).

    Household documents get ``household`` or a new one; project documents the project
    named ``project`` or a new one (its place and figures are drawn from ``rng``).
    """
    if label not in _GENERATORS:
        raise ValueError(f"no generator for {label!r}; labels: {', '.join(LABELS)}")
    scope = _SCOPE[label]
    hh = (household or make_household(rng)) if scope == "household" else None
    proj = _make_project(rng, project) if scope == "project" else None
    return _GENERATORS[label](_Ctx(label, rng, hh, proj, _default_date(label, rng, hh, proj)))


def household_file(household: Household, rng: random.Random) -> list[Document]:
    """The household's volume (一户一卷): one document of each type, entry → exit, in taxonomy order."""
    when = _timeline(household, rng)
    return [_GENERATORS[label](_Ctx(label, rng, household, None, when[label])) for label in HOUSEHOLD_LABELS]


def corpus(n_per_type: int, seed: int) -> list[Document]:
    """``n_per_type`` documents of every type, type by type; deterministic in ``seed``."""
    return [make_document(label, random.Random(f"doc-{seed}-{label}-{k}"))
            for label in LABELS for k in range(n_per_type)]


# ───────────────────────────── layout ─────────────────────────────


def _size(kind: str) -> int:
    return round(PT[kind] / 72 * DPI)


def _field(line: str) -> tuple[str, str] | None:
    """``label：value`` when the line fits one row of a ruled form."""
    label, sep, value = line.partition("：")
    if sep and "\t" not in line and 2 <= len(label) <= 10 and value and len(value) <= 24:
        return label, value
    return None


def _split_fields(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """The leading form rows (drawn by scanfactory.render_form) and what follows them."""
    fields: dict[str, str] = {}
    for i, line in enumerate(lines):
        row = _field(line)
        if row is None or row[0] in fields:
            return fields, lines[i:]
        fields[row[0]] = row[1]
    return fields, []


def _paginate(kind: str, title: str | None, lines: list[str], number: str | None, issuer: str | None) -> list[list[str]]:
    """Split lines into pages by the height they will take (with a safety margin)."""
    size, width = _size(kind), W - 2 * MARGIN_X
    pitch, row, trow = round(size * 1.65), round(_size("form") * 2.4), round(_size("form") * TABLE_SCALE * 1.9)
    budget = (H - 2 * MARGIN_Y) * 0.92
    used = HEADER_H if number and issuer and not any(number in line for line in lines) else 0
    fields, rest = _split_fields(lines) if kind == "form" else ({}, lines)
    used += (round(_size("form") * 3.2) + len(fields) * row + size) if fields else (round(size * 3) if title else 0)
    pages, page, in_table = [], list(lines[: len(lines) - len(rest)]), False
    for line in rest:
        table = "\t" in line
        if table:
            cost = trow + (size if not in_table else 0)
        else:
            chars = sum(1.0 if ord(ch) >= 0x2E80 else 0.62 for ch in line) * size + 2 * size
            cost = math.ceil(chars / width) * pitch + (size if in_table else 0)
        in_table = table
        if used + cost > budget and page:
            pages.append(page)
            page, used = [], 0
        page.append(line)
        used += cost
    return pages + [page] if page else pages


# ───────────────────────────── rendering ─────────────────────────────


@dataclass(frozen=True)
class _Look:
    face: str
    skew: float
    noise: float
    jpeg: int
    tint: tuple[int, int, int] | None  # aged paper under uneven light


def _look(doc: Document, rng: random.Random) -> _Look:
    face = "kai" if doc.kind == "letter" else rng.choice(("serif", "serif", "ming", "sans", "hei"))
    tint = rng.choices((None, sf.PAPER_YELLOW, sf.PAPER_GREY), weights=(65, 20, 15))[0]
    return _Look(face=face, skew=rng.choice((0.0, 0.0, rng.uniform(-1.5, 1.5))), noise=rng.uniform(3, 7),
                 jpeg=rng.randint(65, 90), tint=tint)


def _dark(page: Image.Image) -> np.ndarray:
    return np.asarray(page.convert("L")) < 140


def _ink_bottom(page: Image.Image) -> int:
    rows = np.flatnonzero(_dark(page).any(axis=1))
    return int(rows[-1]) if rows.size else MARGIN_Y


def _draw_table(draw: ImageDraw.ImageDraw, rows: list[list[str]], y: int, face: str, hand: bool) -> tuple[int, list[str]]:
    """A ruled table, header row printed, other rows printed or hand-filled; cells → ground truth."""
    n, ts, width = max(map(len, rows)), round(_size("form") * TABLE_SCALE), W - 2 * MARGIN_X
    for _ in range(3):  # shrink the type until the natural column widths fit the text block
        hf, vf = sf.font(face, ts), sf.font("kai" if hand else face, ts)
        natural = [max((hf if r == 0 else vf).getlength(row[j]) if j < len(row) else 0 for r, row in enumerate(rows)) + ts
                   for j in range(n)]
        if sum(natural) <= width:
            break
        ts = max(18, int(ts * width / sum(natural)))
    extra = (width - sum(natural)) / n
    widths, rh, line_w = [w + extra for w in natural], round(ts * 1.9), max(1, DPI // 100)
    gt, top = [], y
    for r, row in enumerate(rows):
        if y + rh > H - MARGIN_Y:
            break
        x = MARGIN_X
        for j in range(n):
            cell = row[j] if j < len(row) else ""
            if cell:
                draw.text((x + widths[j] / 2, y + rh / 2), cell, font=hf if r == 0 else vf,
                          fill=HAND_INK if hand and r else sf.INK, anchor="mm")
                gt.append(cell)
            x += widths[j]
        draw.line((MARGIN_X, y, MARGIN_X + width, y), fill=sf.INK, width=line_w)
        y += rh
    draw.line((MARGIN_X, y, MARGIN_X + width, y), fill=sf.INK, width=line_w)
    x = MARGIN_X
    for w in [0.0] + widths:
        x += w
        draw.line((round(x), top, round(x), y), fill=sf.INK, width=line_w)
    return y, gt


def _draw_rest(page: Image.Image, lines: list[str], kind: str, face: str) -> list[str]:
    """Paragraphs and tables below what scanfactory drew, in the same type."""
    draw, size = ImageDraw.Draw(page), _size(kind)
    body, pitch, width = sf.font(face, size), round(size * 1.65), W - 2 * MARGIN_X
    y, gt, k = _ink_bottom(page) + size, [], 0
    while k < len(lines):
        if "\t" in lines[k]:
            end = next((j for j in range(k, len(lines)) if "\t" not in lines[j]), len(lines))
            y, cells = _draw_table(draw, [row.split("\t") for row in lines[k:end]], y, face, kind == "form")
            gt += cells
            y, k = y + size, end
            continue
        for i, text in enumerate(sf._wrap(lines[k], body, width, 2 * size)):
            if y + size > H - MARGIN_Y:
                return gt
            draw.text((MARGIN_X + (2 * size if i == 0 else 0), y), text, font=body, fill=sf.INK)
            gt.append(text)
            y += pitch
        k += 1
    return gt


def _red_header(page: Image.Image, issuer: str, number: str, face: str) -> list[str]:
    """红头: 发文机关标志 in red, the 文号, a red rule (GB/T 9704 layout, roughly)."""
    draw, size, width = ImageDraw.Draw(page), _size("text"), W - 2 * MARGIN_X
    mark = issuer + "文件"
    hs = min(round(size * 2.2), int(width / len(mark)))
    y = round(0.05 * H)
    draw.text((W / 2, y), mark, font=sf.font("serif", hs), fill=RED_INK, anchor="mt")
    y += hs + round(size * 0.8)
    draw.text((W / 2, y), number, font=sf.font(face, size), fill=sf.INK, anchor="mt")
    y += round(size * 1.6)
    draw.line((MARGIN_X, y, W - MARGIN_X, y), fill=RED_INK, width=max(2, DPI // 60))
    return [mark, number]


def _stamp_seal(page: Image.Image, issuer: str, seed: int) -> None:
    """A 4 cm 公章 over the 落款 and date: the end of the lowest line of ink."""
    dark = _dark(page)
    d = round(4.0 / 2.54 * DPI)
    y = int(np.flatnonzero(dark.any(axis=1))[-1])
    cols = np.flatnonzero(dark[max(0, y - d // 4): y + 1].any(axis=0))
    x = int(cols[-1]) if cols.size else W - MARGIN_X
    cx = min(max(x - int(d * 0.3), d // 2 + 10), W - d // 2 - 10)
    cy = min(max(y - int(d * 0.3), d // 2 + 10), H - d // 2 - 10)
    sf._stamp(page, sf.red_seal(d, text=issuer, seed=seed), (cx, cy))  # private helper reused, not copied


def render_document(doc: Document, rng: random.Random) -> list[Image.Image]:
    """300-dpi A4 page images of ``doc``; ``info["gt"]`` holds the text drawn on each.

    Forms open with scanfactory.render_form rows, other pages with scanfactory.render_page;
    tables and text after them are drawn below in the same type. A 文号 document not
    quoting its number in the body gets a 红头; a sealed one a red 公章 on its last page.
    Some documents are on yellowed or grey paper under uneven light; all get a slight
    scanner treatment (skew on some, noise, JPEG).
    """
    look = _look(doc, rng)
    images = []
    for i, lines in enumerate(doc.pages):
        seed = rng.randrange(2**31)
        title = (doc.title or "") if i == 0 else ""
        red = i == 0 and doc.red_header
        top = HEADER_H if red else 0
        fields, rest = _split_fields(lines) if doc.kind == "form" and i == 0 else ({}, list(lines))
        if fields:
            body = sf.render_form(fields, seed=seed, dpi=DPI, page_size=(W, H - top), title=title, font=look.face)
        else:
            n = next((k for k, line in enumerate(rest) if "\t" in line), len(rest))
            body = sf.render_page(rest[:n], seed=seed, dpi=DPI, page_size=(W, H - top), font=look.face,
                                  font_pt=PT[doc.kind], title=title or None)
            rest = rest[n:]
        page = Image.new("RGB", (W, H), sf.PAPER_WHITE)
        page.paste(body, (0, top))
        gt = [line for line in body.info["gt"].split("\n") if line.strip()]
        gt += _draw_rest(page, rest, doc.kind, look.face)
        # render_form's ground truth has label and value, without the "：" between them
        expected = sf.squash(title + "".join(k + v for k, v in fields.items()) + "".join(lines[len(fields):]).replace("\t", ""))
        if len(sf.squash("".join(gt))) < len(expected):
            raise ValueError(f"{doc.label} {doc.title!r}: page {i + 1} overflows; paginate more conservatively")
        if red:
            gt = _red_header(page, doc.issuer, doc.doc_number, look.face) + gt
        if doc.seal and i == len(doc.pages) - 1:
            _stamp_seal(page, doc.issuer, seed)
        if look.tint is not None:
            page = sf.age_paper(page, seed=seed, tint=look.tint, falloff=0.2)
        page = sf._degrade(page, rng=random.Random(seed), dpi=DPI, skew_deg=look.skew, rotate=0,
                           noise_sigma=look.noise, jpeg_quality=look.jpeg, yellow=False)
        images.append(sf._finish(page, gt, DPI))
    return images
