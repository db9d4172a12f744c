"""The filing scheme (分类方案) and retention table (保管期限表), loaded from configuration.

A county must be able to load its own scheme without code changes, so everything the
classifier knows about classes lives in a YAML file (``config/taxonomy.yaml``). It is
validated at load: an error names the class path and the key, e.g.
``classes[0].children[3] (JF·04): retention 'D20' is not a retention code (Y, D30, D10, C, D)``.

The tree is flattened into :class:`FilingClass` rows with their inherited fields resolved;
items are only ever given *leaf* classes, and a class with ``unit: volume`` collects the
leaves below it into volumes (案卷), in the leaves' written order (e.g. 纳入 → 退出).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SEPARATOR = "·"  # joins class codes into a path, as DA/T 13-2022 joins class levels
SENSITIVE_TAGS = ("id_number", "phone", "health", "disability", "dibao", "income")


class TaxonomyError(ValueError):
    """The filing scheme file is missing or invalid; the message names the key."""


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetentionRule(_Node):
    title: list[str] = Field(min_length=1)  # any of these in the title → this retention
    retention: str


class ClassNode(_Node):
    code: str = Field(min_length=1, max_length=8, pattern=r"^[A-Za-z0-9]+$")
    name: str = Field(min_length=1)
    category: str | None = None  # 门类 code
    org: str | None = None  # 机构(问题)代码 in item 档号
    retention: str | None = None
    unit: Literal["item", "volume"] | None = None
    volume_key: Literal["household", "project", "village"] | None = None
    required: bool = False  # a volume is incomplete without one (checked when finalising)
    sensitive: list[Literal["id_number", "phone", "health", "disability", "dibao", "income"]] = []
    keywords: list[str] = []
    title_patterns: list[str] = []
    exclude: list[str] = []
    requires: list[str] = []  # one of these must be in the text (inherited)
    retention_rules: list[RetentionRule] = []
    children: list[ClassNode] = []

    @field_validator("title_patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"title pattern {pattern!r} is not a valid regular expression: {exc}") from exc
        return patterns

    @field_validator("keywords", "exclude", "requires")
    @classmethod
    def _no_blank(cls, words: list[str]) -> list[str]:
        if any(not w.strip() for w in words):
            raise ValueError("keywords must not be empty strings")
        return words


class RetentionCode(_Node):
    name: str
    years: int | None = None


class SchemeFile(_Node):
    name: str
    status: str = "local"
    retention_codes: dict[str, RetentionCode] = Field(min_length=1)
    legacy_retention: dict[str, str] = {}
    categories: dict[str, str] = Field(min_length=1)
    fonds: dict[str, str] = {}
    villages: dict[str, str] = {}
    classes: list[ClassNode] = Field(min_length=1)


@dataclass(frozen=True)
class FilingClass:
    """One class of the scheme with inherited fields resolved."""

    code: str  # full path, e.g. JF·C02·SQ
    name: str
    path_names: tuple[str, ...]  # names from the top, e.g. (精准扶贫档案, 贫困户文件（一户一卷）, 贫困户申请书)
    category: str
    org: str
    retention: str
    unit: str  # item | volume: how items of this class are numbered
    volume_class: str | None  # code of the ancestor-or-self class that forms volumes
    volume_key: str | None
    order: int  # position among the leaves of its volume class (entry → exit)
    leaf: bool
    required: bool
    sensitive: tuple[str, ...]
    keywords: tuple[str, ...]
    inherited_keywords: tuple[str, ...]  # ancestors' keywords: weaker evidence
    title_patterns: tuple[re.Pattern, ...]
    exclude: tuple[str, ...]
    requires: tuple[str, ...]
    retention_rules: tuple[RetentionRule, ...]

    @property
    def full_name(self) -> str:
        return " / ".join(self.path_names)


@dataclass(frozen=True)
class Taxonomy:
    name: str
    status: str
    retention_codes: dict[str, RetentionCode]
    legacy_retention: dict[str, str]
    categories: dict[str, str]
    fonds: dict[str, str]
    villages: dict[str, str]
    classes: dict[str, FilingClass]  # by path code, in file order
    source: Path | None = None

    @property
    def leaves(self) -> list[FilingClass]:
        return [c for c in self.classes.values() if c.leaf]

    def get(self, code: str) -> FilingClass:
        try:
            return self.classes[code]
        except KeyError:
            close = [c for c in self.classes if c.endswith(code) or code in c][:5]
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"no class {code!r} in the filing scheme{hint}") from None

    def resolve(self, code: str) -> FilingClass:
        """A class given by a person: the full path, or a leaf code that is unique (e.g. ``SQ``)."""
        if code in self.classes:
            return self.classes[code]
        matches = [c for c in self.leaves if c.code.split(SEPARATOR)[-1] == code]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise KeyError(f"class {code!r} is ambiguous: {', '.join(c.code for c in matches)}")
        return self.get(code)

    def retention_name(self, code: str) -> str:
        if code in self.retention_codes:
            return self.retention_codes[code].name
        return self.legacy_retention.get(code, code)

    def retention_for(self, cls: FilingClass, title: str) -> str:
        """The class default, unless a retention rule matches the title."""
        for rule in cls.retention_rules:
            if any(word in title for word in rule.title):
                return rule.retention
        return cls.retention

    def volume_leaves(self, volume_class: str) -> list[FilingClass]:
        return sorted((c for c in self.leaves if c.volume_class == volume_class), key=lambda c: c.order)


def _flatten(scheme: SchemeFile) -> dict[str, FilingClass]:
    out: dict[str, FilingClass] = {}
    problems: list[str] = []
    retention_ok = set(scheme.retention_codes) | set(scheme.legacy_retention)
    leaf_counter: dict[str | None, int] = {}

    def walk(node: ClassNode, where: str, parent: FilingClass | None) -> None:
        code = f"{parent.code}{SEPARATOR}{node.code}" if parent else node.code
        label = f"{where} ({code})"
        category = node.category or (parent.category if parent else None)
        retention = node.retention or (parent.retention if parent else None)
        unit = node.unit or (parent.unit if parent else "item")
        if node.unit == "volume" and not node.volume_key:
            problems.append(f"{label}: unit 'volume' needs a volume_key (household, project or village)")
        if category is None:
            problems.append(f"{label}: no category (门类) here or on a parent")
        elif category not in scheme.categories:
            problems.append(f"{label}: category {category!r} is not in categories ({', '.join(scheme.categories)})")
        if retention is None:
            problems.append(f"{label}: no retention here or on a parent")
        elif retention not in retention_ok:
            codes = ", ".join(sorted(retention_ok))
            problems.append(f"{label}: retention {retention!r} is not a retention code ({codes})")
        for n, rule in enumerate(node.retention_rules):
            if rule.retention not in retention_ok:
                problems.append(f"{label}.retention_rules[{n}]: retention {rule.retention!r} is not a retention code")
        if code in out:
            problems.append(f"{label}: duplicate class code {code}")
        volume_class = code if node.unit == "volume" else (parent.volume_class if parent else None)
        leaf = not node.children
        order = 0
        if leaf:
            order = leaf_counter.get(volume_class, 0)
            leaf_counter[volume_class] = order + 1
        cls = FilingClass(
            code=code, name=node.name,
            path_names=(parent.path_names if parent else ()) + (node.name,),
            category=category or "", org=node.org or (parent.org if parent else "") or "",
            retention=retention or "", unit=unit, volume_class=volume_class,
            volume_key=node.volume_key or (parent.volume_key if parent else None),
            order=order, leaf=leaf, required=node.required,
            sensitive=tuple(dict.fromkeys((parent.sensitive if parent else ()) + tuple(node.sensitive))),
            keywords=tuple(node.keywords),
            inherited_keywords=(parent.inherited_keywords + parent.keywords) if parent else (),
            title_patterns=tuple(re.compile(p) for p in node.title_patterns),
            exclude=tuple(node.exclude) + (parent.exclude if parent else ()),
            requires=tuple(node.requires) or (parent.requires if parent else ()),
            retention_rules=tuple(node.retention_rules) + (parent.retention_rules if parent else ()),
        )
        out[code] = cls
        for n, child in enumerate(node.children):
            walk(child, f"{where}.children[{n}]", cls)

    for n, node in enumerate(scheme.classes):
        walk(node, f"classes[{n}]", None)
    if problems:
        raise TaxonomyError("invalid filing scheme:\n  " + "\n  ".join(problems))
    return out


def parse_taxonomy(text: str, source: Path | None = None) -> Taxonomy:
    where = str(source) if source else "filing scheme"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"{where}: not valid YAML: {exc}") from exc
    try:
        scheme = SchemeFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in err["loc"]).replace(".[", "[")
            problems.append(f"{key or '(top level)'}: {err['msg']}")
        raise TaxonomyError(f"{where}: invalid filing scheme:\n  " + "\n  ".join(problems)) from exc
    try:
        classes = _flatten(scheme)
    except TaxonomyError as exc:
        raise TaxonomyError(f"{where}: {exc}") from exc
    return Taxonomy(
        name=scheme.name, status=scheme.status, retention_codes=dict(scheme.retention_codes),
        legacy_retention=dict(scheme.legacy_retention), categories=dict(scheme.categories),
        fonds=dict(scheme.fonds), villages=dict(scheme.villages), classes=classes, source=source,
    )


@lru_cache(maxsize=8)
def _load_cached(path: Path, mtime_ns: int) -> Taxonomy:
    return parse_taxonomy(path.read_text(encoding="utf-8"), path)


def load_taxonomy(path: Path) -> Taxonomy:
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise TaxonomyError(f"filing scheme not found: {path} ({exc.strerror})") from exc
    return _load_cached(path.resolve(), mtime)
