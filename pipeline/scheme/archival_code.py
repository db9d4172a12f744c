"""档号 (archival reference code) templates.

DA/T 22-2015 writes the item-level code as
``全宗号-档案门类代码·年度-保管期限代码-机构(问题)代码-件号`` (e.g. ``Z109-WS·2011-Y-BGS-0001``);
DA/T 13-2022 and local systems vary the separators, so the template is configuration,
never code. A template holds exactly one *counter* field: ``{item}`` (件号) or ``{volume}``
(案卷号). The number restarts at 1 for every distinct value of the rest of the template:
that string, with the counter left out, is the counter's *scope* — (fonds, category, year,
retention, org) for the DA/T 22 item form, the class for a volume form.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.domain import Classification

FIELDS = ("fonds", "category", "year", "retention", "org", "class", "village", "village_code",
          "volume_code", "item", "volume")
COUNTERS = ("item", "volume")
_COUNTER = object()  # stands for the number when rendering a counter scope


class _ScopeFormatter(string.Formatter):
    def format_field(self, value: object, format_spec: str) -> str:
        return "#" if value is _COUNTER else super().format_field(value, format_spec)


def classification_values(c: Classification) -> dict[str, object]:
    return {
        "fonds": c.fonds, "category": c.category, "year": c.year, "retention": c.retention,
        "org": c.org, "class": c.class_code or "", "village": c.village or "",
        "village_code": c.village_code,
    }


@dataclass(frozen=True)
class ArchivalCodeTemplate:
    """A parsed, validated 档号 template such as ``{fonds}-{category}·{year}-{item:04d}``."""

    template: str
    counter: str = "item"  # the numbered field: item (件号) or volume (案卷号)

    def __post_init__(self) -> None:
        if self.counter not in COUNTERS:
            raise ValueError(f"counter must be one of {COUNTERS}")
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
        if names.count(self.counter) != 1:
            raise ValueError(
                f"archival code template {self.template!r} must contain {{{self.counter}}} exactly once")
        other = [c for c in COUNTERS if c != self.counter and c in names]
        if other:
            raise ValueError(f"archival code template {self.template!r}: {{{other[0]}}} cannot be numbered here")

    def _values(self, values: Classification | Mapping[str, object]) -> dict[str, object]:
        return classification_values(values) if isinstance(values, Classification) else dict(values)

    def scope(self, values: Classification | Mapping[str, object]) -> str:
        """The counter scope: the code with the number left out."""
        return _ScopeFormatter().format(self.template, **{**self._values(values), self.counter: _COUNTER})

    def render(self, values: Classification | Mapping[str, object], number: int) -> str:
        if number < 1:
            raise ValueError(f"{'件号' if self.counter == 'item' else '案卷号'} starts at 1")
        return self.template.format(**{**self._values(values), self.counter: number})
