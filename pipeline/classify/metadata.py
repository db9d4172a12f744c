"""Descriptive metadata (著录) from the OCR text of one item (件).

The text is unsegmented Chinese OCR output, so nothing here tokenises: every field is a
regular expression anchored on what surrounds it in Chinese documents (labels such as
户主姓名, the 〔〕 of a 文号, the 年/月/日 of a date) with digit lookarounds such as
``(?<!\\d)`` instead of word boundaries.

Before matching, full-width ASCII (１２３，：（）) and the ideographic space are folded to
ASCII one character for one, so every offset still points into the original text and the
``raw`` of a date is the text exactly as read. Numbers are found in a fixed order, each
step skipping what an earlier one claimed: ID numbers (身份证号码) first, then phones,
then dates, so ``20181117`` inside an ID number or a phone number is never a date.

Nothing is repaired silently: an ID number with a wrong check digit is kept as read and
flagged, a two-digit year is completed but marked ``inferred``, an impossible date
(2018年2月30日) is not a date.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from pipeline.domain import ExtractedDate, IdNumber, ItemMetadata
from pipeline.text import HAN as _HAN
from pipeline.text import id_check_digit, join_han_spaces, mask_id_numbers

__all__ = ["extract_metadata", "find_doc_numbers", "find_id_numbers", "find_names", "find_phones",
           "parse_dates", "sensitive_tags"]

_S = "[ \t]*"  # spaces OCR puts between the parts of a field; never a line break
_A = re.ASCII  # \d is [0-9]: full-width digits are folded first, other scripts are not digits

# Full-width ASCII (U+FF01–FF5E) and the ideographic space → ASCII, one char for one.
_FOLD = {0xFF01 + i: 0x21 + i for i in range(94)} | {0x3000: 0x20}
_CN_DIGIT = {c: i for i, c in enumerate("零一二三四五六七八九")} | {
    "〇": 0, "○": 0, "◯": 0, "O": 0, "o": 0, "0": 0, "两": 2, "元": 1}  # O/0: OCR's reading of 〇

FIRST_YEAR = 1949  # the archives start with the People's Republic


def _fold(text: str) -> str:
    return text.translate(_FOLD)


def _free(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return all(span[1] <= a or span[0] >= b for a, b in taken)


def _small_number(s: str) -> int:
    """1–99 written in Arabic digits (possibly spaced) or Chinese numerals (十七, 二十一, 三)."""
    s = s.replace(" ", "")
    if s.isdigit():
        return int(s)
    tens, ten, ones = s.partition("十")
    if not ten:
        return _CN_DIGIT[s]
    return (_CN_DIGIT[tens] if tens else 1) * 10 + (_CN_DIGIT[ones] if ones else 0)


def _valid_day(y: int, m: int, d: int) -> bool:
    try:
        date(y, m, d)
    except ValueError:
        return False
    return True


# ───────────────────────────── ID numbers ─────────────────────────────

# A run of digits (and X) in which single spaces may separate boxed digits or groups.
_DIGIT_RUN = re.compile(r"(?<!\d)\d(?: ?[\dXx])*", _A)
_ID_SHAPE = re.compile(r"\d{17}[\dX]|\d{15}", _A)
# An 18-character ID number written in groups: 360122-19720808-4563 (also . / _ or spaces).
_GROUPED_ID = re.compile(r"(?<!\d)\d(?:[-./_ ]?\d){16}[-./_ ]?[\dXx](?!\d)", _A)
_GROUP_SEPARATOR = re.compile(r"[-./_ ]")


def _id_number(value: str, position: int) -> IdNumber | None:
    if len(value) == 15:  # legacy 15-digit number: 6 region, YYMMDD, 3 sequence, no check digit
        born = _valid_day(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]))
        # Old 营业执照 registration numbers are 15 digits too; without a birth date it is not an ID.
        return IdNumber(value, True, None, position) if born else None
    y, m, d = int(value[6:10]), int(value[10:12]), int(value[12:14])
    if value[0] not in "12345678":
        problem = "region"
    elif not (_valid_day(y, m, d) and date(1900, 1, 1) <= date(y, m, d) <= date.today()):
        problem = "birth date"
    elif id_check_digit(value[:17]) != value[17]:
        problem = "check digit"
    else:
        problem = None
    return IdNumber(value, problem is None, problem, position)


def _id_hits(s: str) -> list[tuple[tuple[int, int], IdNumber]]:
    hits = []
    for run in _DIGIT_RUN.finditer(s):
        words = [(m.group(), m.span()) for m in re.finditer(r"\S+", run.group())]
        if all(len(w) <= 8 for w, _ in words):  # boxed digits or 6-8-4 groups: one number
            words = [(run.group().replace(" ", ""), (0, len(run.group())))]
        for word, (start, end) in words:  # otherwise numbers side by side (a phone, then an ID)
            value = word.upper()
            if _ID_SHAPE.fullmatch(value) and (found := _id_number(value, run.start() + start)):
                hits.append(((run.start() + start, run.start() + end), found))
    # Groups joined by hyphens, dots, slashes or underscores. A row of dates joins into 18
    # digits too, so a grouped number counts only where its region and birth date are plausible.
    for m in _GROUPED_ID.finditer(s):
        if not _free(m.span(), [span for span, _ in hits]):
            continue
        found = _id_number(_GROUP_SEPARATOR.sub("", m.group()).upper(), m.start())
        if found is not None and found.problem in (None, "check digit"):
            hits.append((m.span(), found))
    return sorted(hits, key=lambda hit: hit[0])


def find_id_numbers(text: str) -> list[IdNumber]:
    """居民身份证号码 in text order, valid or flagged (``problem``: region/birth date/check digit)."""
    return [found for _, found in _id_hits(_fold(text))]


# ───────────────────────────── phones ─────────────────────────────

_PHONE = re.compile(
    r"(?<!\d)(?P<mobile>1[3-9]\d(?P<sep>[ -]?)\d{4}(?P=sep)\d{4})(?!\d)"
    # Landline: area codes 01x/02x have 3 digits, the others 4; local numbers start with 2–8.
    r"|(?<!\d)\(?(?P<area>0[12]\d|0[3-9]\d\d)\)?[ -]?(?P<local>[2-8]\d{6,7})(?!\d)",
    _A,
)


def _phone_hits(s: str, taken: list[tuple[int, int]]) -> list[tuple[tuple[int, int], str]]:
    hits = []
    for m in _PHONE.finditer(s):
        if _free(m.span(), taken):
            number = re.sub(r"[ -]", "", m["mobile"]) if m["mobile"] else f"{m['area']}-{m['local']}"
            hits.append((m.span(), number))
    return hits


def find_phones(text: str) -> list[str]:
    """Mobile (``13812345678``) and landline (``0791-88123456``) numbers, normalised and unique.

    Digits that belong to an ID number are never a phone number.
    """
    s = _fold(text)
    return list(dict.fromkeys(number for _, number in _phone_hits(s, [span for span, _ in _id_hits(s)])))


# ───────────────────────────── dates ─────────────────────────────

_NUM2 = r"\d(?: ?\d)?"
_CN_YEAR = "〇○◯零Oo0一二三四五六七八九"
_CN_MONTH = "十[一二]?|[一二三四五六七八九元]"
_CN_DAY = "[二三]?十[一二三四五六七八九]?|[一二三四五六七八九]"
_YMD = re.compile(
    rf"(?:(?<!\d)(?P<y4>\d(?: ?\d){{3}})"
    rf"|(?<!\d)(?P<y2>\d\d)(?={_S}年{_S}(?:{_NUM2}|{_CN_MONTH}){_S}月)"  # 18年3月: only with a month
    rf"|(?<![{_CN_YEAR}])(?P<ycn>[{_CN_YEAR}]{{4}}))"
    rf"{_S}年(?:{_S}(?P<m>{_NUM2}|{_CN_MONTH}){_S}月(?:{_S}(?P<d>{_NUM2}|{_CN_DAY}){_S}[日曰号])?|度)?",
    _A,  # 曰: OCR's usual misreading of 日
)
_DOTTED = re.compile(
    r"(?<![\d./-])(?P<y4>\d{4}) ?(?P<sep>[./-]) ?(?P<m>\d{1,2}) ?(?P=sep) ?(?P<d>\d{1,2})(?!\d|[./-]\d)", _A)
_COMPACT = re.compile(r"(?<!\d)(?P<y4>(?:19|20)\d\d)(?P<m>0[1-9]|1[0-2])(?P<d>[0-3]\d)(?!\d)", _A)


def _date(m: re.Match[str], raw: str) -> ExtractedDate | None:
    parts = m.groupdict()
    month = _small_number(parts["m"]) if parts.get("m") else 0
    day = _small_number(parts["d"]) if parts.get("d") else 0
    if parts.get("y2"):
        year = 2000 + int(parts["y2"])
        year -= 100 if year > date.today().year else 0  # the latest century not in the future
    elif parts.get("ycn"):
        year = int("".join(str(_CN_DIGIT[c]) for c in parts["ycn"]))
    else:
        year = int(parts["y4"].replace(" ", ""))
    if not FIRST_YEAR <= year <= 2099 or (parts.get("m") and not 1 <= month <= 12) \
            or (parts.get("d") and not _valid_day(year, month, day)):
        return None
    precision = "day" if day else "month" if month else "year"
    return ExtractedDate(f"{year:04d}{month:02d}{day:02d}", raw, precision, bool(parts.get("y2")), m.start())


def _date_hits(text: str, s: str, taken: list[tuple[int, int]]) -> list[ExtractedDate]:
    taken = list(taken)
    found = []
    matches = sorted((m for p in (_YMD, _DOTTED, _COMPACT) for m in p.finditer(s)), key=lambda m: m.start())
    for m in matches:
        if _free(m.span(), taken) and (extracted := _date(m, text[m.start():m.end()])):
            found.append(extracted)
            taken.append(m.span())
    return found


def parse_dates(text: str) -> list[ExtractedDate]:
    """Every date in text order, as ``YYYYMMDD`` with ``00`` for what the text does not say.

    A month and day without a year (十一月十七日) is skipped: the year would be a guess.
    """
    s = _fold(text)
    taken = [span for span, _ in _id_hits(s)]
    taken += [span for span, _ in _phone_hits(s, taken)]
    return _date_hits(text, s, taken)


# ───────────────────────────── 文号 ─────────────────────────────

# Issuer (机关代字, up to 10 Han characters), year in any bracket OCR makes of 〔〕, number, 号.
_DOC_NUMBER = re.compile(
    rf"(?P<issuer>(?:[{_HAN}] ?){{1,10}}){_S}[〔\[(【]{_S}(?P<year>\d(?: ?\d){{3}}){_S}[〕\])】]"
    rf"{_S}第?{_S}(?P<n>\d(?: ?\d){{0,3}}){_S}号",
    _A,
)
_DOC_LEAD = re.compile(r"^(?:发文字号|文号|字号|根据|依据|按照|转发|印发|关于|见|按|依|据)+")


def find_doc_numbers(text: str) -> list[str]:
    """文号 as GB/T 9704 writes them: 〔〕 around the year, no 第, no leading zeros (南府办发〔2018〕12号)."""
    found = []
    for m in _DOC_NUMBER.finditer(_fold(text)):
        issuer = _DOC_LEAD.sub("", m["issuer"].replace(" ", ""))
        year = m["year"].replace(" ", "")
        if issuer and FIRST_YEAR <= int(year) <= 2099:
            number = f"{issuer}〔{year}〕{int(m['n'].replace(' ', ''))}号"
            if number not in found:
                found.append(number)
    return found


# ───────────────────────────── names ─────────────────────────────

_NAME_LABELS = ("户主姓名", "户主", "姓名", "申请人", "帮扶责任人", "联系人", "填表人", "审核人", "经办人",
                "村支书", "第一书记", "组长", "村主任", "负责人", "记录人")
_LABELLED = re.compile(
    rf"(?P<label>{'|'.join(sorted(_NAME_LABELS, key=len, reverse=True))})"
    # the run may hold the next label
    rf"(?:姓名|签字|签名|\(签[字名章]\))?{_S}:?{_S}(?=(?P<run>[{_HAN}](?: ?[{_HAN}]){{0,11}}))"
)
# 兹有石门村村民王秀英… / 兹有王秀英同志… / 兹证明王秀英系我村村民
_ATTESTED = re.compile(rf"兹(?:有|证明)(?:[^\n,。:]{{0,15}}?(?:村民|居民|农户))?(?P<run>[{_HAN}]{{1,12}})")
_SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
    "向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕"
    "单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳穆农司卓古吉缪简车项连芦麦褚娄"
    "窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂佟应臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查麻苑"
    "迟邝官封谈匡鞠惠荆乐冀郁胥班储栗燕楚鄢劳谌奚皮粟冼蔺楼满闻厉伊仝区郜阚权帅屠朴练廉禹井祖漆巴丰卿狄"
    "索晋相初门容敬扈晁芮浦戈伏鹿薄邸雍辜羊母裘亓修邰赫杭况宿鲜逯隆茹诸慕危亢嵇湛宾戎勾茅揭冶斯束檀衣"
)
_COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文",
                      "司徒", "夏侯", "令狐", "钟离", "独孤", "南宫", "西门", "端木", "呼延")
# What follows a name on forms and in sentences; a name never starts with these words, and
# they end it from its third character on (性 of 性别 is not part of 王秀英).
_FIELD_WORDS = ("性别", "民族", "身份", "公民", "家庭", "联系", "电话", "手机", "年龄", "出生", "住址", "地址",
                "与户主", "户主", "关系", "户籍", "文化", "学历", "政治", "职务", "职业", "单位", "健康", "劳动",
                "人口", "签字", "签名", "盖章", "日期", "同志", "村民", "书记", "主任", "组长", "家中", "全家",
                "现住", "家住", "婚姻", "务工", "身体", "申请", "因病", *_NAME_LABELS)
_NAME_ENDERS = set("男女因系是现在的等及与已无住户签向自今之于")


def _person(run: str) -> str | None:
    """The name at the start of a Han run that follows a label, or None if it is not one."""
    # A spaced-out form cell (王 秀 英 性别) starts with a lone character: join it and let the
    # field words below end the name; otherwise the first word is the value (王英 石门村).
    run = run.replace(" ", "") if len(run.split(" ")[0]) == 1 else run.split(" ")[0]
    if run.startswith(_FIELD_WORDS):
        return None
    if run[:2] in _COMPOUND_SURNAMES:
        shortest, longest = 3, 4
    elif run[0] in _SURNAMES:
        # Without a following field word a single-surname name is taken as 3 characters, the
        # most common length, rather than swallowing the next word (王秀英石门村).
        shortest, longest = 2, 3
    else:
        return None
    end = min(longest, len(run))
    for i in range(shortest, end):
        if run[i] in _NAME_ENDERS or run.startswith(_FIELD_WORDS, i):
            end = i
            break
    return run[:end] if end >= shortest else None


def _labelled_names(text: str) -> list[tuple[str, str]]:
    """(label, name) pairs in text order; ``兹有`` attestations get the label ``兹有``."""
    s = _fold(text)
    hits = [(m.start(), m["label"], _person(m["run"])) for m in _LABELLED.finditer(s)]
    hits += [(m.start(), "兹有", _person(m["run"])) for m in _ATTESTED.finditer(s)]
    return [(label, name) for _, label, name in sorted(hits) if name]


def find_names(text: str) -> list[str]:
    """Person names next to a label (户主姓名, 申请人, 联系人 …) or in 兹有… attestations; unique, in order."""
    return list(dict.fromkeys(name for _, name in _labelled_names(text)))


# ───────────────────────────── village, household ─────────────────────────────

# A village name is the Han run before 村, cut after the last of these: admin units (石门镇|上新庄村),
# words that put a village after them (关于|石门村, 兹有|石门村, 驻|村), and 村 itself (石门村|村民).
_VILLAGE_CUT = re.compile("^.*(?:关于|对于|位于|属于|根据|来自|其中"
                          "|[省市县区乡镇村有我系是住在的到驻进入对向将经与及])")
# What precedes 村 in words that are not village names (农村, 贫困村, 行政村 …).
_NOT_VILLAGE = ("农", "贫困", "行政", "自然", "示范", "重点", "出列", "美丽", "中心", "城中", "边远", "各", "全",
                "本", "该", "此")
_MEASURE_WORDS = set("人口户元亩岁年月日号组个名间")
_SIZE = re.compile(
    rf"家庭人[口数]数?{_S}:?{_S}(?P<a>\d{{1,2}})(?!\d)"
    rf"|(?:全家|全户|家中|家里|家有|家庭成员|户内)[^\n,;:。\d]{{0,4}}?"
    rf"(?P<b>\d{{1,2}}|[一二两三四五六七八九十]{{1,3}}){_S}(?:口人|[人口])",
    _A,
)


def _village(text: str) -> str | None:
    # A space usually ends a word (户主王秀英 石门村); only letter-spaced OCR (石 门 村) needs
    # the spaces between Han characters removed, so that is the second try.
    folded = _fold(text)
    return _village_in(folded) or _village_in(join_han_spaces(folded))


def _village_in(s: str) -> str | None:
    anchored: list[str] = []
    others: list[str] = []
    for m in re.finditer("村", s):
        before = s[max(0, m.start() - 12):m.start()]
        tail = re.search(rf"[{_HAN}]*$", before)
        assert tail is not None  # "*$" always matches, if only the empty string
        run = tail.group()
        if len(run) < len(before) and before[-len(run) - 1].isdigit() and run[:1] in _MEASURE_WORDS:
            run = run[1:]  # 家庭人口4人石门村: 人 counts the 4, it is not part of the name
        cut = _VILLAGE_CUT.match(run)
        name = run[cut.end() if cut else 0:][-4:]
        if len(name) >= 2 and not name.endswith(_NOT_VILLAGE):
            # Prefer a village named after its township (石门镇上新庄村): the strongest evidence.
            (anchored if cut and cut.group()[-1] in "乡镇" else others).append(name + "村")
    found = anchored or others
    return found[0] if found else None


# 王秀英户: a household named by its head, as minutes and notices do (评议王秀英户是否纳入…).
_NAMED_HOUSEHOLD = re.compile(f"([{_HAN}]{{2,4}})户(?!主)")


def _household_by_name(text: str) -> str | None:
    for m in _NAMED_HOUSEHOLD.finditer(join_han_spaces(_fold(text))):
        for length in (3, 2, 4):
            candidate = m.group(1)[-length:]
            if len(candidate) == length and _person(candidate) == candidate:
                return candidate
    return None


def _household_size(text: str) -> int | None:
    for m in _SIZE.finditer(_fold(text)):
        n = _small_number(m["a"] or m["b"])
        if 1 <= n <= 30:
            return n
    return None


# ───────────────────────────── sensitive data ─────────────────────────────

_SENSITIVE = {
    "health": re.compile("病(?!虫)|患|医疗|医院|住院|治疗|手术"),  # 病虫害 is about crops
    "disability": re.compile("残(?![留膜渣])"),  # 残疾, 残疾证, 伤残; not 农药残留, 残膜
    "dibao": re.compile("低保|最低生活保障"),
    # 人均纯收入, 工资性收入, 转移性收入 …, and amounts per period (3200元/年).
    "income": re.compile(rf"收入|(?<![\d,.])\d[\d,.]*{_S}元{_S}/{_S}[年月人]", _A),  # (?<!: linear time
}


def sensitive_tags(text: str, id_numbers: Sequence[IdNumber], phones: Sequence[str]) -> tuple[str, ...]:
    """Privacy tags for an item: what the text holds that access rules must consider."""
    s = join_han_spaces(_fold(text))
    tags = {tag for tag, pattern in _SENSITIVE.items() if pattern.search(s)}
    if id_numbers:  # an invalid ID number is still somebody's number
        tags.add("id_number")
    if phones:
        tags.add("phone")
    return tuple(sorted(tags))


# ───────────────────────────── title, 责任者, date ─────────────────────────────

_HEADING_END = re.compile(
    "(?:申请书|承诺书|协议书|责任书|保证书|倡议书|告知书|通知书|委托书|证明书|确认书|决定书|意见书|任务书|"
    "手册|日志|凭证|合同|协议|通知|通报|公示|公告|"
    "会议记录|会议纪要|纪要|记录|批复|请示|报告|(?<!代)表|卡|计划|规划|决定|决议|意见|方案|总结|办法|细则|"
    "制度|章程|公约|证明|名单|花名册|清单|台账|说明|函)(?:[(（][^)）]*[)）])?$"
)
_ORG_END = re.compile("(?:委员会|村委会|人民政府|政府|办公室|党支部|党总支|党委|领导小组|工作组|工作队|"
                      "办事处|合作社|公司|局|镇|乡|站|所|中心)$")
_NOISE = " \t\u3000·.,，。、:：;；-—_|*'\"`~!！?？"
_SENTENCE = re.compile("[,，;；。]")  # a heading or a 落款 is not a sentence
TAIL_LINES = 6  # the 落款 (issuer and date) sits in the last lines


def _clean(line: str) -> str:
    """A line without OCR noise at its ends and without the spaces of a letter-spaced heading."""
    return join_han_spaces(line).strip(_NOISE)


def _title(lines: list[str], fallback: str) -> tuple[str, bool]:
    cleaned = [c for c in map(_clean, lines) if c][:5]
    for line in cleaned:
        if len(line) <= 40 and not _SENTENCE.search(line) and _HEADING_END.search(line):
            return line, False
    # DA/T 22: a title the cataloguer supplies goes in square brackets.
    supplied = fallback.strip() or next((c[:40] for c in cleaned if len(re.findall(f"[{_HAN}]", c)) >= 4), "无题名")
    return f"[{supplied}]", True


def _tail(text: str) -> tuple[int, list[str]]:
    """Offset where the last TAIL_LINES non-empty lines start, and those lines."""
    lines, offset = [], 0
    for line in text.split("\n"):
        if line.strip():
            lines.append((offset, line))
        offset += len(line) + 1
    lines = lines[-TAIL_LINES:]
    return (lines[0][0] if lines else len(text)), [line for _, line in lines]


def _issuer(tail: list[str], title: str) -> str | None:
    """The issuing body from the 落款: the first tail line that names an organisation."""
    for line in map(_fold, tail):
        if line.rstrip().endswith(":"):  # 石门镇人民政府： is the addressee (主送机关)
            continue
        for d in parse_dates(line):
            line = line.replace(d.raw, " ")
        line = re.sub(r"\((?:盖章|公章|章|签章)\)", "", line)
        line = _clean(line.rsplit(":", 1)[-1])  # 落款单位：石门村村民委员会
        if 3 <= len(line) <= 30 and line != title and not _SENTENCE.search(line) and _ORG_END.search(line):
            return line
    return None


def _document_date(dates: list[ExtractedDate], tail_start: int) -> ExtractedDate | None:
    """The 落款 date (last full date in the tail), else the first full date, else the first date."""
    days = [d for d in dates if d.precision == "day"]
    signed = [d for d in days if d.position >= tail_start]
    for choice in (signed[-1:], days[:1], dates[:1]):
        if choice:
            return choice[0]
    return None


def extract_metadata(text: str, *, first_lines: list[str] | None = None, fallback_title: str = "") -> ItemMetadata:
    """All of the item's 著录 fields that its text shows; see the module doc for the rules."""
    s = _fold(text)
    id_hits = _id_hits(s)
    taken = [span for span, _ in id_hits]
    phone_hits = _phone_hits(s, taken)
    dates = _date_hits(text, s, taken + [span for span, _ in phone_hits])
    ids = tuple(found for _, found in id_hits)
    phones = tuple(dict.fromkeys(number for _, number in phone_hits))

    title, supplied = _title(first_lines if first_lines is not None else text.splitlines(), fallback_title)
    # A heading or a file name may hold an ID number: the title shows it masked, and the
    # item counts as holding one (the file name is the scan's, so it is the person's number).
    label_ids = tuple(found for _, found in _id_hits(_fold(fallback_title)))
    title = mask_id_numbers(title)
    labelled = _labelled_names(text)
    tail_start, tail = _tail(text)
    applicant = next((name for label, name in labelled if label == "申请人"), None)
    # The author of an application is the applicant; the 落款 of its approval sections is not.
    responsible = applicant if "申请" in title and applicant else _issuer(tail, title) or applicant
    return ItemMetadata(
        title=title,
        title_supplied=supplied,
        date=_document_date(dates, tail_start),
        dates=tuple(dates),
        doc_numbers=tuple(find_doc_numbers(text)),
        responsible=responsible,
        names=tuple(dict.fromkeys(name for _, name in labelled)),
        # 户主 label, else a household named by its head (王秀英户), else the applicant of an
        # application (the head applies for the household).
        household_head=next((name for label, name in labelled if label.startswith("户主")), None)
        or _household_by_name(text) or (applicant if "申请" in title else None),
        village=_village(text),
        household_size=_household_size(text),
        id_numbers=ids,
        phones=phones,
        sensitive=sensitive_tags(f"{text}\n{fallback_title}", ids + label_ids, phones),
    )
