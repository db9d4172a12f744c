"""档号 (archival reference code) templates.

DA/T 22-2015 writes the item-level code as
``全宗号-档案门类代码·年度-保管期限代码-机构(问题)代码-件号`` (e.g. ``Z109-WS·2011-Y-BGS-0001``);
DA/T 13-2022 and local systems vary the separators, so the template is configuration,
never code. 件号 restarts at 1 in every lowest class, i.e. for every distinct value of
the template with the item number left out: that string is the counter's *scope*.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from pipeline.domain import Classification

FIELDS = ("fonds", "category", "year", "retention", "org", "village", "item")
_ITEM = object()  # stands for 件号 when rendering a counter scope


class _ScopeFormatter(string.Formatter):
    def format_field(self, value: object, format_spec: str) -> str:
        return "#" if value is _ITEM else super().format_field(value, format_spec)


@dataclass(frozen=True)
class ArchivalCodeTemplate:
    """A parsed, validated 档号 template such as ``{fonds}-{category}·{year}-{item:04d}``."""

    template: str

    def __post_init__(self) -> None:
        names = []
        try:
            parsed = list(string.Formatter().parse(self.template))
        except ValueError as exc:
            raise ValueError(f"archival code template {self.template!r} is malformed: {exc}") from exc
        for _literal, name, _spec, _conv in parsed:
            if name is None:
                continue
            if name not in FIELDS:
                raise ValueError(
                    f"archival code template {self.template!r}: unknown field {{{name}}}; "
                    f"allowed: {', '.join(FIELDS)}"
                )
            names.append(name)
        if names.count("item") != 1:
            raise ValueError(f"archival code template {self.template!r} must contain {{item}} exactly once")

    def _values(self, c: Classification) -> dict[str, object]:
        return {
            "fonds": c.fonds,
            "category": c.category,
            "year": c.year,
            "retention": c.retention,
            "org": c.org,
            "village": c.village or "",
        }

    def scope(self, c: Classification) -> str:
        """The counter scope: the code with the item number left out."""
        return _ScopeFormatter().format(self.template, item=_ITEM, **self._values(c))

    def render(self, c: Classification, item_number: int) -> str:
        if item_number < 1:
            raise ValueError("件号 starts at 1")
        return self.template.format(item=item_number, **self._values(c))
