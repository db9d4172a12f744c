"""What the templates print and the search form they carry from page to page.

Personal numbers: every string a template prints passes :func:`shown` (the Jinja ``finalize``
hook), which masks ID and phone numbers and labelled birth dates; only markup the app released
on purpose (:func:`released`, :func:`highlight`) and the links it built (:class:`Link`) pass whole.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from urllib.parse import urlencode

from markupsafe import Markup, escape

from pipeline.access import ID_TYPES, PROOFS, RELATIONS, USES
from pipeline.text import mask_private_numbers
from pipeline.web.security import QueryCodec


def highlight(snippet: str) -> Markup:
    """Escape OCR text, then turn the index's 【】 marks into <mark>."""
    return Markup(str(escape(mask_private_numbers(snippet))).replace("【", "<mark>").replace("】", "</mark>"))


class Link(str):
    """A URL or query string the app built (ids and sealed queries): printed as it is."""


def shown(value):
    """What a template prints: strings masked (ID and phone numbers, labelled birth dates),
    except markup the app released on purpose and the links it built."""
    if isinstance(value, str) and not isinstance(value, (Markup, Link)) and not value.startswith("/"):
        return mask_private_numbers(value)
    return value


def released(text: str) -> Markup:
    """Text shown whole (after a 查档登记): escaped here, so ``shown`` leaves it alone."""
    return Markup(escape(text))


ROLE_NAMES = {"operator": "录入", "clerk": "查档接待", "reviewer": "审核", "admin": "管理"}
PER_PAGE = 20  # search results per page
MAX_QUERY = 200  # characters: a name, an ID number, a phrase or a few
MAX_OFFSET = 10_000  # deepest result a list or the viewer's hit navigation may ask for
# Filters offered as facets, in the order shown (class_code = document type, 类目).
FACETS = (("village", "村"), ("year", "年度"), ("class_code", "类目"), ("fonds", "全宗"), ("category", "门类"),
          ("retention", "保管期限"))
TEXT_FILTERS = ("village", "fonds", "category", "retention", "class_code")


@dataclass(frozen=True)
class SearchForm:
    """The query, filters and sort: what travels from the result list to the viewer and back,
    so that 上一处/下一处命中 can run the same search again."""

    q: str = ""
    qt: str = ""  # q sealed for links (QueryCodec)
    year_from: str = ""
    year_to: str = ""
    village: str = ""
    fonds: str = ""
    category: str = ""
    retention: str = ""
    class_code: str = ""
    sort: str = "relevance"

    @classmethod
    def of(cls, params: Mapping[str, str], codec: QueryCodec, username: str) -> SearchForm:
        """The form from a link (``qt``) or a typed query (``q``), with the query sealed."""
        values = {f.name: (params.get(f.name) or "").strip()[:MAX_QUERY] for f in fields(cls) if f.name != "qt"}
        values["sort"] = "date" if values["sort"] == "date" else "relevance"
        token = (params.get("qt") or "").strip()
        if token:
            values["q"] = codec.unseal(token, username) or ""  # a stale or foreign token: no query
        form = cls(**values)
        if form.q:
            form = replace(form, qt=token if token and values["q"] else codec.seal(form.q, username))
        return form

    def filters(self) -> dict:
        """For pipeline.index.search; empty fields and non-numeric years are no filter, not an error."""
        found = {"year_from": _int(self.year_from), "year_to": _int(self.year_to),
                 **{k: getattr(self, k) for k in TEXT_FILTERS}}
        return {k: v for k, v in found.items() if v not in (None, "")}

    def chosen(self, reg: str, names: Mapping[str, str]) -> list[tuple[str, str, Link]]:
        """(label, value, query without it) of each filter set, for the 筛选 line's remove links."""
        out = []
        if self.year_from or self.year_to:
            out.append(("年度", f"{self.year_from or '…'}–{self.year_to or '…'}",
                        self.query(year_from="", year_to="", reg=reg)))
        for name, label in FACETS:
            if name in TEXT_FILTERS and getattr(self, name):
                value = getattr(self, name)
                out.append((label, names.get(value, value) if name == "class_code" else value,
                            self.query(**{name: "", "reg": reg})))
        return out

    def query(self, **extra) -> Link:
        """This form as a URL query string (empty fields left out, the query sealed), with
        ``extra`` fields."""
        pairs = {**asdict(self), **extra}
        del pairs["q"]  # never in a URL: qt carries it
        if pairs.get("sort") == "relevance":
            del pairs["sort"]  # the default: shorter links
        return Link(urlencode({k: v for k, v in pairs.items() if v not in (None, "")}))


REGISTER_LISTS = {"id_types": ID_TYPES, "relations": RELATIONS, "proofs": PROOFS, "uses": USES}


def _int(text: str) -> int | None:
    """A year typed in a filter field; anything else (², ١٩, a 20-digit number) is no filter."""
    return int(text) if re.fullmatch(r"[0-9]{1,4}", text.strip()) else None
