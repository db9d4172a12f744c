"""Chinese text shared by every stage: Han ranges, normalisation, ID numbers and their masks.

One module so that a page, a query, a title and a log line agree on what a Han character
is, what an ID number is and how it is hidden:

* **Han ranges** (:data:`HAN`): BMP ideographs, Extension A, compatibility ideographs,
  Extensions B–G (rare characters occur in names) and 〇 (二〇一六年).
* **Normalisation** for matching (:func:`normalize`, :func:`normalize_with_map`), in order:
  NFKC per character; whitespace OCR put inside a Han word or a number removed, and the
  separators of an ID number written in groups (``360122-19720808-4563``); Traditional →
  Simplified character by character (OpenCC t2s: query and page are converted
  independently, and a phrase table could convert the same name differently in the two);
  letter → digit repair inside 18-character ID-like runs (O→0, l/I→1, S→5, B→8, Z→2);
  ASCII lower-casing. The map keeps every normalised character's index in the original,
  so snippets highlight and mask the text as read.
* **ID numbers** (居民身份证号码, GB 11643-1999): the check digit, the form a register keeps,
  and the masks every display uses (first 6 and last 4 kept; phones 3 + 4; labelled birth
  dates' digits).
* **Terminal-safe text** (:func:`printable`): control characters of a file name or OCR line
  written as escapes before they reach a terminal or a log.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Han ideographs (BMP + extension planes) and 〇, used in dates (二〇一六年).
HAN = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN_RE = re.compile(f"[{HAN}]")
HL_OPEN, HL_CLOSE = "【", "】"  # highlight brackets of a snippet: ours, not the page's


def is_han(char: str) -> bool:
    """True for one Han ideograph (see :data:`HAN`)."""
    return bool(_HAN_RE.match(char))


def is_cjk_char(ch: str) -> bool:
    """Han, kana, Hangul, CJK punctuation or a full-width form: a character set without
    spaces between words. The ranges are OCRmyPDF's fpdf2 renderer ``_is_cjk_only`` (v17.13),
    so our text layer splits words exactly where its renderer expects."""
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2EBEF
        or 0x30000 <= cp <= 0x3134F
        or 0x3040 <= cp <= 0x30FF
        or 0x31F0 <= cp <= 0x31FF
        or 0xAC00 <= cp <= 0xD7AF
        or 0x1100 <= cp <= 0x11FF
        or 0x3130 <= cp <= 0x318F
        or 0xA960 <= cp <= 0xA97F
        or 0xD7B0 <= cp <= 0xD7FF
        or 0x3000 <= cp <= 0x303F
        or 0xFF00 <= cp <= 0xFFEF
    )


def join_han_spaces(text: str, spaces: str = " \t\u3000") -> str:
    """Drop the spaces OCR puts between Han characters (letter-spaced headings, form cells)."""
    return re.sub(rf"(?<=[{HAN}])[{spaces}]+(?=[{HAN}])", "", text)


_HAN_SPACE = re.compile(f"(?<=[{HAN}])[^\\S\\n]+(?=[{HAN}])")


def han_space_runs(text: str) -> int:
    """Number of whitespace runs (not line breaks) between two Han characters (a PDF text
    layer that splits words there fails a search for them)."""
    return len(_HAN_SPACE.findall(text))


def printable(text: str, keep: str = "") -> str:
    """``text`` safe for a terminal or a log line: control and formatting characters (ESC,
    new lines, right-to-left overrides, zero-width characters) written as escapes, except
    those in ``keep``."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch in keep else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# ───────────────────────────── normalisation ─────────────────────────────

# Whitespace that OCR put inside a Han word or a number.
_SPLIT_WS_RE = re.compile(
    f"(?<=[{HAN}])\\s+(?=[{HAN}])"
    r"|(?<=[0-9])\s+(?=[0-9])"
    r"|(?<=[0-9])\s+(?=[Xx](?![0-9A-Za-z]))"  # ID check character on the next line
)
# An ID number written in groups: 18 characters once the separators between them are
# dropped (6-8-4 with hyphens, dots, slashes or underscores). Exactly 18, so a date range
# (2016.05.12-2017.06.30) or a phone number keeps its separators.
_GROUPED_ID_RE = re.compile(r"(?<![0-9])[0-9](?:[-./_]?[0-9]){16}[-./_]?[0-9Xx](?![0-9])")
_ID_SEPARATOR_RE = re.compile(r"[-./_]")
# An 18-char run that could be an ID number with OCR letter-for-digit errors.
_ID_LIKE_RE = re.compile(r"(?<![0-9A-Za-z])[0-9OoIlSBZ]{17}[0-9OoIlSBZXx](?![0-9A-Za-z])")
_ID_REPAIR = str.maketrans("OoIlSBZ", "0011582")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class _NfkcTable(dict):
    """str.translate table that computes NFKC per character on first sight."""

    def __missing__(self, code: int) -> str:
        value = unicodedata.normalize("NFKC", chr(code))
        self[code] = value
        return value


class _T2sTable(dict):
    """str.translate table: Traditional → Simplified for one Han character."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        value = char
        if _HAN_RE.match(char):
            converted = _opencc().convert(char)
            if len(converted) == 1:  # keep the 1:1 offset map intact
                value = converted
        self[code] = value
        return value


_NFKC = _NfkcTable()
_T2S = _T2sTable()


@lru_cache(maxsize=1)
def _opencc():
    import opencc  # local import: keeps module import cheap for CLI start-up

    return opencc.OpenCC("t2s")


def _repair_id(match: re.Match[str]) -> str:
    run = match.group(0)
    # Only touch runs that are mostly digits already: a real word never is.
    if sum(c.isdigit() for c in run) < 14:
        return run
    return run.translate(_ID_REPAIR)  # the check character X is not in the table


def normalize_with_map(text: str) -> tuple[str, list[int]]:
    """Normalised text plus, for each of its characters, the index in ``text``."""
    s = text.translate(_NFKC)
    if len(s) == len(text):  # NFKC never maps a character to "": 1:1, fast path
        offsets = list(range(len(text)))
    else:
        offsets = []
        for i, char in enumerate(text):
            offsets.extend([i] * len(_NFKC[ord(char)]))
    s, offsets = _drop_spans(s, offsets, [m.span() for m in _SPLIT_WS_RE.finditer(s)])
    s, offsets = _drop_spans(s, offsets, _id_separator_spans(s))
    return _char_level_steps(s), offsets


def normalize(text: str) -> str:
    """Normalise OCR text or a query for indexing/matching (see module doc)."""
    s = text.translate(_NFKC)
    s = _SPLIT_WS_RE.sub("", s)
    s = _GROUPED_ID_RE.sub(lambda m: _ID_SEPARATOR_RE.sub("", m.group(0)), s)
    return _char_level_steps(s)


def _id_separator_spans(s: str) -> list[tuple[int, int]]:
    """Where the separators of grouped ID numbers are (see _GROUPED_ID_RE)."""
    return [(m.start() + k.start(), m.start() + k.end())
            for m in _GROUPED_ID_RE.finditer(s) for k in _ID_SEPARATOR_RE.finditer(m.group(0))]


def _drop_spans(s: str, offsets: list[int], spans: list[tuple[int, int]]) -> tuple[str, list[int]]:
    """``s`` without ``spans`` (sorted, disjoint), with the offset map kept in step."""
    if not spans:
        return s, offsets
    out_s: list[str] = []
    out_o: list[int] = []
    pos = 0
    for start, end in spans:
        out_s.append(s[pos:start])
        out_o.extend(offsets[pos:start])
        pos = end
    out_s.append(s[pos:])
    out_o.extend(offsets[pos:])
    return "".join(out_s), out_o


def _char_level_steps(s: str) -> str:
    """Length-preserving steps (the offset map stays valid through them)."""
    s = s.translate(_T2S)
    s = _ID_LIKE_RE.sub(_repair_id, s)
    return s.translate(_ASCII_LOWER)



def normalize_chars(text: str) -> str:
    """:func:`normalize` without re-joining split words: one character for one, where the
    spaces between cells still matter (a name standing alone on a form)."""
    return _char_level_steps(text.translate(_NFKC))


# ───────────────────────────── ID numbers ─────────────────────────────

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_check_digit(first17: str) -> str:
    """Check character of an 18-digit 居民身份证号码 (GB 11643-1999, ISO 7064 MOD 11-2)."""
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError(f"need 17 ASCII digits, got {first17!r}")
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS)) % 11]


def is_valid_id_number(number: str) -> bool:
    """An 18-character number with a valid check digit, or a legacy 15-digit one (no check digit)."""
    if re.fullmatch(r"\d{15}", number, re.ASCII):
        return True
    return bool(re.fullmatch(r"\d{17}[\dX]", number, re.ASCII)) and id_check_digit(number[:17]) == number[17]


def normalise_id_number(value: str) -> str:
    """Spaces and hyphens dropped, check letter upper-cased: ``x`` and ``X`` are the same ID."""
    return re.sub(r"[\s-]", "", value).upper()


def mask(value: str, keep_start: int = 4, keep_end: int = 4) -> str:
    """``330102198001010017`` → ``3301**********0017``; too short to mask → all stars."""
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[-keep_end:]


# ID numbers (15–18 characters, also typed in groups) and phone numbers in a search query.
# Spaces do not join groups here: "2016 2017 2018" is three years, not a number.
_PRIVATE_NUMBER = re.compile(r"(?<![0-9])[0-9](?:[-./_]?[0-9]){9,16}(?:[-./_]?[0-9Xx])(?![0-9])")


def _number(m: re.Match[str]) -> str:
    """A number found by _PRIVATE_NUMBER without its group separators (normalise_id_number)."""
    return normalise_id_number(re.sub(r"[./_]", "", m.group()))


def private_numbers(query: str) -> list[str]:
    """The ID and phone numbers in a query, as normalise_id_number gives them."""
    return [_number(m) for m in _PRIVATE_NUMBER.finditer(unicodedata.normalize("NFKC", query))]


def mask_query(query: str) -> str:
    """A query as the audit log keeps it: ID numbers ``3601**********8999``, phones ``138****5678``."""
    def hide(m: re.Match[str]) -> str:
        number = _number(m)
        return mask(number, 4, 4) if len(number) > 11 else mask(number, 3, 4)

    return _PRIVATE_NUMBER.sub(hide, unicodedata.normalize("NFKC", query))


# ───────────────────────────── masks in shown text ─────────────────────────────

# Keep the first 6 (region) and last 4 characters of an 18-char ID.
_KEEP_HEAD, _KEEP_TAIL = 6, 4
SENSITIVE_NUMBER_RE = re.compile(r"(?<![0-9])[0-9]{14,18}[0-9x](?![0-9])")
# Mainland mobile numbers (138 1234 5678 is re-joined by normalisation): keep 3 + 4.
MOBILE_RE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
# Landlines with an area code and a hyphen (0571-87654321): keep the area code and 4.
LANDLINE_RE = re.compile(r"(?<![0-9])0[0-9]{2,3}-[0-9]{7,8}(?![0-9])")
_PHONE_KEEP_TAIL = 4
# A birth date printed beside its label or followed by 出生 (forms print it next to the ID
# number, whose mask hides exactly the birth date). Its digits are masked; 年/月/日 stay.
_CN_NUM = "〇零一二三四五六七八九十"
_DATE = (rf"(?:(?:19|20)[0-9]{{2}}\s*(?:年|[-./])\s*(?:[0-9]{{1,2}}\s*(?:月|[-./])?\s*(?:[0-9]{{1,2}}\s*日?)?)?"
         rf"|(?:19|20)[0-9]{{6}}(?![0-9])"
         rf"|[{_CN_NUM}]{{4}}年(?:[{_CN_NUM}]{{1,3}}月(?:[{_CN_NUM}]{{1,3}}日)?)?)")
BIRTH_DATE_RE = re.compile(
    rf"(?:出生(?:日期|年月日|年月|时间|年份)?|生日|生于)[\s:|()为是于在]{{0,4}}(?P<after>{_DATE})"
    rf"|(?<![0-9])(?P<before>{_DATE})\s*(?:出生|生人|生(?![产活效态日病长])|出世)"
)
_DATE_DIGIT = re.compile(f"[0-9{_CN_NUM}]")


def masked_positions(norm: str, offsets: list[int], private: bool = True) -> set[int]:
    """Original-text indices of ID characters that must not be shown, and with ``private``
    those of phone numbers and labelled birth dates too."""
    hidden: set[int] = set()
    for m in SENSITIVE_NUMBER_RE.finditer(norm):
        for k in range(m.start() + _KEEP_HEAD, m.end() - _KEEP_TAIL):
            hidden.add(offsets[k])
    if not private:
        return hidden
    for m in MOBILE_RE.finditer(norm):
        for k in range(m.start() + 3, m.end() - _PHONE_KEEP_TAIL):
            hidden.add(offsets[k])
    for m in LANDLINE_RE.finditer(norm):
        for k in range(norm.index("-", m.start()) + 1, m.end() - _PHONE_KEEP_TAIL):
            hidden.add(offsets[k])
    for m in BIRTH_DATE_RE.finditer(norm):
        group = "after" if m.group("after") is not None else "before"
        start = m.start(group)
        hidden.update(offsets[start + d.start()] for d in _DATE_DIGIT.finditer(m.group(group)))
    return hidden




def mask_id_numbers(text: str) -> str:
    """Mask 18-character ID numbers, keeping the first 6 and the last 4:
    ``610102********123X``. IDs split by spaces/line breaks, with OCR letters
    for digits, in full-width digits or with 【】 inside are masked too."""
    return _mask(text, phones=False)


def mask_private_numbers(text: str) -> str:
    """mask_id_numbers, and phone numbers and labelled birth dates too: ``138****5678``,
    ``0571-****4321``, ``出生日期：****年*月**日`` (what snippets, titles, file names and list
    views show before a 查档登记)."""
    return _mask(text, phones=True)


# Nothing to mask without a digit (any script: NFKC folds them) or the 生 of a birth date:
# the common case of titles, names and labels skips normalisation altogether.
_MAYBE_PRIVATE = re.compile(r"\d|生")


def _mask(text: str, phones: bool) -> str:
    if not text or not _MAYBE_PRIVATE.search(text):
        return text
    # Look through highlight brackets: they are ours, not part of the page.
    visible = [i for i, c in enumerate(text) if c not in (HL_OPEN, HL_CLOSE)]
    view = "".join(text[i] for i in visible)
    norm, offsets = normalize_with_map(view)
    hidden = masked_positions(norm, offsets, private=phones)
    if not hidden:
        return text
    chars = list(text)
    for k in hidden:
        chars[visible[k]] = "*"
    return "".join(chars)
