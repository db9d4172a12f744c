"""著录 extraction from unsegmented OCR text: one table of real-world formats, then whole documents."""

import pytest

from pipeline.classify.metadata import (
    extract_metadata,
    find_doc_numbers,
    find_id_numbers,
    find_names,
    find_phones,
    id_check_digit,
    parse_dates,
    sensitive_tags,
)


def make_id(first17: str) -> str:
    return first17 + id_check_digit(first17)


# Checked by hand (GB 11643-1999, weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, map "10X98765432"):
# 3·7+6·9+0·10+1·5+2·8+2·4+1·2+9·1+4·6+4·3+0·7+5·9+2·10+2·5+8·8+9·4+9·2 = 344, 344 mod 11 = 3 → "9"
ID_A = "360122194405228999"
# The standard's own example: 1·7+1·9+0+1·5+0+5·4+1·2+9·1+4·6+9·3+1·7+2·9+3·10+1·5+0+0+2·2 = 167,
# 167 mod 11 = 2 → "X"
ID_B = "11010519491231002X"
ID_C = make_id("36012220181117001")  # born 2018-11-17: "20181117" inside it is no date


def _dates(text):
    return [d.value + ("" if d.precision == "day" else f" {d.precision}") + (" inferred" if d.inferred else "")
            for d in parse_dates(text)]


EXTRACT = {
    "date": _dates,
    "id": lambda text: [(i.value, i.valid, i.problem) for i in find_id_numbers(text)],
    "phone": find_phones,
    "doc": find_doc_numbers,
    "name": find_names,
    "village": lambda text: extract_metadata(text).village,
    "size": lambda text: extract_metadata(text).household_size,
}

FORMATS = [
    # dates: YYYYMMDD, 00 for what the text does not say, never guessed
    ("date", "落款：2018年11月17日", ["20181117"]),
    ("date", "2018 年 11 月 17 日", ["20181117"]),
    ("date", "2018年1月7日", ["20180107"]),
    ("date", "二〇一八年十一月十七日", ["20181117"]),
    ("date", "二○一八年十一月十七日", ["20181117"]),  # ○ U+25CB
    ("date", "二零一八年十一月十七日", ["20181117"]),
    ("date", "二O一八年十二月三十一日", ["20181231"]),  # Latin O read for 〇
    ("date", "二〇〇九年元月八日", ["20090108"]),
    ("date", "二〇一八年十一月二十日", ["20181120"]),
    ("date", "一九九八年三月", ["19980300 month"]),
    ("date", "2018年11月", ["20181100 month"]),
    ("date", "2018年度低保名单", ["20180000 year"]),
    ("date", "2018.11.17", ["20181117"]),
    ("date", "2018.1.7", ["20180107"]),
    ("date", "2019. 3. 8", ["20190308"]),
    ("date", "2018-11-17", ["20181117"]),
    ("date", "2018/11/17", ["20181117"]),
    ("date", "日期20181117", ["20181117"]),
    ("date", "２０１８年１１月１７日", ["20181117"]),
    ("date", "2018年11月17号", ["20181117"]),
    ("date", "2018年11月17曰", ["20181117"]),  # 曰: OCR's 日
    ("date", "2 0 1 8 年 3 月 1 5 日", ["20180315"]),  # boxed digits
    ("date", "公示时间：2018年11月20日至2018年11月27日", ["20181120", "20181127"]),
    ("date", "18年3月5日", ["20180305 inferred"]),
    ("date", "98年3月5日", ["19980305 inferred"]),
    ("date", "十一月十七日", []),  # no year: skipped, not guessed
    ("date", "2018年2月30日", []),  # impossible
    ("date", "2018.13.01", []),
    ("date", "1948年3月", []),  # before the archives begin
    ("date", "编号2018111700", []),  # part of a longer number
    ("date", "流水号120181117", []),
    ("date", f"身份证号{ID_C}", []),
    ("date", f"身份证号 {ID_C[:6]} {ID_C[6:14]} {ID_C[14:]}", []),  # grouped ID: 20181117 stands alone
    ("date", "电话0791-20181117", []),
    # 居民身份证号码: kept as read, flagged, never corrected
    ("id", f"身份证号：{ID_A}", [(ID_A, True, None)]),
    ("id", f"公民身份号码{ID_B}", [(ID_B, True, None)]),
    ("id", "身份证号码11010519491231002x", [(ID_B, True, None)]),  # lower-case x accepted, upper-cased
    ("id", "公民身份号码 3 6 0 1 2 2 1 9 4 4 0 5 2 2 8 9 9 9", [(ID_A, True, None)]),  # boxed digits
    ("id", "身份证：360122 19440522 8999", [(ID_A, True, None)]),
    ("id", "身份证：３６０１２２１９４４０５２２８９９９", [(ID_A, True, None)]),
    ("id", f"13812345678 {ID_A}", [(ID_A, True, None)]),  # a phone beside it is not part of it
    ("id", "360122194405228998", [("360122194405228998", False, "check digit")]),
    ("id", "11010519491231002１", [("110105194912310021", False, "check digit")]),
    ("id", make_id("36012219441322001"), [(make_id("36012219441322001"), False, "birth date")]),  # month 13
    ("id", make_id("36012220990101001"), [(make_id("36012220990101001"), False, "birth date")]),  # future
    ("id", make_id("96012219440522001"), [(make_id("96012219440522001"), False, "region")]),
    ("id", "旧身份证360122440522899", [("360122440522899", True, None)]),  # 15-digit legacy
    ("id", "注册号360122000012345", []),  # 15 digits without a birth date: not an ID
    ("id", "账号3601221944052289990", []),  # 19 digits
    # phones
    ("phone", "联系电话：13812345678", ["13812345678"]),
    ("phone", "手机 138 1234 5678", ["13812345678"]),
    ("phone", "手机138-1234-5678", ["13812345678"]),
    ("phone", "电话：１３９１２３４５６７８", ["13912345678"]),
    ("phone", "电话：0791-88123456", ["0791-88123456"]),
    ("phone", "电话(010)62345678", ["010-62345678"]),
    ("phone", "电话079188123456", ["0791-88123456"]),
    ("phone", f"身份证{make_id('51013919800101123')}", []),  # 13919800101 inside an ID number
    ("phone", "编号138123456789", []),
    # 文号
    ("doc", "南府办发〔2018〕12号", ["南府办发〔2018〕12号"]),
    ("doc", "国办发[2016]13号", ["国办发〔2016〕13号"]),
    ("doc", "档发［2016］13号", ["档发〔2016〕13号"]),
    ("doc", "档办发(2020)3号", ["档办发〔2020〕3号"]),
    ("doc", "青档（2019）5号", ["青档〔2019〕5号"]),
    ("doc", "赣府字【2018】第12号", ["赣府字〔2018〕12号"]),
    ("doc", "文号：国办发〔2016〕13号", ["国办发〔2016〕13号"]),
    ("doc", "根据南府办发 〔 2018 〕 0 12 号文件精神", ["南府办发〔2018〕12号"]),
    ("doc", "南 府 办 发〔2018〕12号", ["南府办发〔2018〕12号"]),
    ("doc", "（2018）12号", []),
    # names next to labels
    ("name", "户主姓名王秀英性别女", ["王秀英"]),
    ("name", "户主：王秀英 与户主关系：本人", ["王秀英"]),
    ("name", "户主姓名 王 秀 英 性别 女", ["王秀英"]),
    ("name", "户主欧阳秀英家庭人口4人", ["欧阳秀英"]),
    ("name", "申请人：王秀英", ["王秀英"]),
    ("name", "申请人王秀英因病致贫", ["王秀英"]),
    ("name", "帮扶责任人 陈志强 联系电话 13912345678", ["陈志强"]),
    ("name", "填表人：李四 审核人：张建国", ["李四", "张建国"]),
    ("name", "户主王秀英联系人李四", ["王秀英", "李四"]),
    ("name", "姓名王英男", ["王英"]),
    ("name", "村民小组长李建军", ["李建军"]),
    ("name", "兹有石门村村民王秀英，因病致贫", ["王秀英"]),
    ("name", "兹有王秀英同志前来办理", ["王秀英"]),
    ("name", "与户主关系：妻", []),
    ("name", "组长会议", []),
    # village
    ("village", "石门镇上新庄村二组", "上新庄村"),
    ("village", "兹有石门村村民王秀英", "石门村"),
    ("village", "石门村村民委员会", "石门村"),
    ("village", "南昌县石门镇东风村委会", "东风村"),
    ("village", "关于石门村2018年度低保评议结果的公示", "石门村"),
    ("village", "石门村支书到石门镇上新庄村走访", "上新庄村"),  # named after its township: preferred
    ("village", "驻村工作队深入农村开展乡村振兴", None),
    ("village", "本村为贫困村", None),
    # household size
    ("size", "家庭人口4人", 4),
    ("size", "家庭人口：4", 4),
    ("size", "家庭人数 5 人", 5),
    ("size", "全家3口人", 3),
    ("size", "全家三口人", 3),
    ("size", "家庭成员共4人", 4),
    ("size", "应到会15人，实到共12人", None),  # a head count, not a household
]


@pytest.mark.parametrize("field, text, expected", FORMATS, ids=[f"{f}:{t}" for f, t, _ in FORMATS])
def test_formats(field, text, expected):
    assert EXTRACT[field](text) == expected


def test_check_digit_rejects_malformed_input():
    assert id_check_digit("36012219440522899") == "9"
    with pytest.raises(ValueError):
        id_check_digit("3601221944052289")
    with pytest.raises(ValueError):
        id_check_digit("３６０１２２１９４４０５２２８９９")  # full-width: normalise before calling


def test_date_keeps_raw_text_and_position():
    [d] = parse_dates("落款日期：２０１８年 11 月１７日。")
    assert (d.value, d.raw, d.position, d.year) == ("20181117", "２０１８年 11 月１７日", 5, 2018)


def test_sensitive_tags():
    text = "因病致贫，持残疾证，享受最低生活保障，家庭人均纯收入2400元。"
    assert sensitive_tags(text, [], []) == ("dibao", "disability", "health", "income")
    assert sensitive_tags("月补助300元/月", [], ["13812345678"]) == ("income", "phone")
    assert sensitive_tags("开展病虫害防治，减少农药残留", [], []) == ()


APPLICATION = f"""低 保 申 请 书
石门镇人民政府：
    我叫王秀英，是石门镇上新庄村二组村民，身份证号码{ID_A}，家庭人口4人。丈夫2017年患慢性病住院，
家庭人均纯收入2400元/年，生活十分困难，特申请享受农村最低生活保障。
    特此申请。
村委会意见：情况属实，同意上报。
上新庄村村民委员会（盖章）
申请人：王秀英
联系电话：138 1234 5678
二〇一八年十一月十七日"""


def test_application():
    m = extract_metadata(APPLICATION, fallback_title="scan-001")
    assert (m.title, m.title_supplied) == ("低保申请书", False)
    assert (m.date.value, m.date.raw) == ("20181117", "二〇一八年十一月十七日")
    assert [d.value for d in m.dates] == ["20170000", "20181117"]
    assert m.responsible == "王秀英"  # the applicant, not the committee that endorsed it
    assert (m.names, m.household_head) == (("王秀英",), "王秀英")  # the applicant heads the household
    assert (m.village, m.household_size) == ("上新庄村", 4)
    assert m.id_numbers[0].value == ID_A and m.id_numbers[0].valid
    assert m.phones == ("13812345678",)
    assert m.sensitive == ("dibao", "health", "id_number", "income", "phone")


NOTICE = """关于石门村2018年度低保评议结果的公示
各村民小组：
    根据南府办发〔2018〕12号文件精神，经村民代表大会评议，拟将以下3户纳入低保：
王秀英、李建国、张小红。
公示时间：2018年11月20日至2018年11月27日。
联系人：刘德明  电话：0791-85123456
中共石门村党支部
石门村村民委员会（盖章）
2018年11月20日"""


def test_notice():
    m = extract_metadata(NOTICE)
    assert (m.title, m.title_supplied) == ("关于石门村2018年度低保评议结果的公示", False)
    assert m.date.value == "20181120" and m.date.position == NOTICE.rindex("2018年11月20日")
    assert m.doc_numbers == ("南府办发〔2018〕12号",)
    assert m.responsible == "中共石门村党支部"  # joint 落款: the first issuer
    assert (m.names, m.household_head, m.village) == (("刘德明",), None, "石门村")
    assert (m.id_numbers, m.phones, m.sensitive) == ((), ("0791-85123456",), ("dibao", "phone"))


FORM = f"""建档立卡贫困户信息采集表
县（市、区）：南昌县  乡（镇）：石门镇  行政村：上新庄村
户主姓名 王 秀 英 性别 女 民族 汉
公民身份号码 {' '.join(ID_B)}
家庭人口 4 人  联系电话 13912345678
成员：李小明 身份证号 {ID_A[:-1]}8
致贫原因：因残
帮扶责任人：陈志强
填表日期：2018.3.15"""


def test_information_form():
    m = extract_metadata(FORM, first_lines=FORM.splitlines()[:3])
    assert (m.title, m.title_supplied) == ("建档立卡贫困户信息采集表", False)
    assert m.date.value == "20180315" and m.responsible is None
    assert (m.household_head, m.names) == ("王秀英", ("王秀英", "陈志强"))
    assert (m.village, m.household_size) == ("上新庄村", 4)
    assert [(i.value, i.valid, i.problem) for i in m.id_numbers] == [
        (ID_B, True, None), (ID_A[:-1] + "8", False, "check digit")]
    assert m.phones == ("13912345678",)
    assert m.sensitive == ("disability", "id_number", "phone")


def test_supplied_title_is_bracketed():
    m = extract_metadata("王秀英同志：\n你户已纳入帮扶对象。", fallback_title="石门村帮扶对象告知")
    assert (m.title, m.title_supplied) == ("[石门村帮扶对象告知]", True)
    assert (m.date, m.responsible) == (None, None)
    assert extract_metadata("你户已纳入帮扶对象，请知悉。").title == "[你户已纳入帮扶对象，请知悉]"
