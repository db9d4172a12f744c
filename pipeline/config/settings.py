"""Validated settings (pydantic). A bad value fails at start with the key's name."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO_ROOT / "config" / "dangan.toml"
ENV_PREFIX = "DANGAN_"


class ConfigError(ValueError):
    """Raised when the configuration cannot be loaded; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IngestSettings(_Section):
    inbox: Path = Path("inbox")
    station: str = "default"  # scanning station / contractor that feeds this inbox
    quiet_seconds: float = Field(default=2.0, ge=0)  # a file must be untouched this long
    parse_timeout_seconds: float = Field(default=120.0, gt=0)  # unparseable this long → quarantine
    rescan_seconds: float = Field(default=60.0, gt=0)  # full rescan so nothing is stranded
    polling: Literal["auto", "always", "never"] = "auto"  # polling for network shares
    poll_interval_seconds: float = Field(default=2.0, gt=0)
    max_pixels: int = Field(default=200_000_000, gt=0)  # larger images are refused (decompression bombs)
    max_file_bytes: int = Field(default=2 * 1024**3, gt=0)
    pdf_dpi: int = Field(default=300, ge=72, le=1200)  # rasterisation of scanned PDF pages
    extensions: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".pdf")


class ImagingSettings(_Section):
    deskew: bool = True
    detect_orientation: bool = True
    default_dpi: int = Field(default=300, ge=72, le=1200)  # assumed when the file states none


class OcrSettings(_Section):
    engine: Literal["rapidocr", "tesseract"] = "rapidocr"
    languages: str = "chi_sim+chi_tra"
    threads: int = Field(default=1, ge=1, le=64)  # per worker; parallelism comes from workers
    # Same model files, two runtimes: OpenVINO measured 1.9x faster; ONNX Runtime is the fallback.
    runtime: Literal["openvino", "onnxruntime"] = "openvino"
    fallback: Literal["tesseract", "none"] = "tesseract"  # reads a page the engine failed on
    review_below: float = Field(default=0.85, ge=0.0, le=1.0)  # mean confidence below this: page flagged


class ClassifySettings(_Section):
    """Filing: the scheme file, the fonds, and when a person must look (review queue)."""

    fonds: str = "Z001"  # 全宗号 of the record-creating unit this installation files for
    org: str = "BGS"  # 机构(问题)代码 for classes that set none
    year: int | None = None  # None: year of the document's date, else year received (flagged)
    # The filing scheme and retention table; relative paths are relative to the config file.
    taxonomy: Path = Path("taxonomy.yaml")
    # Less confident than this: review queue. 0.55 sent no wrong class through on five
    # bench corpora (make bench-classify), at the cost of ~20 % of items reviewed.
    review_below: float = Field(default=0.55, ge=0.0, le=1.0)
    min_training_items: int = Field(default=10, ge=2)  # person-confirmed items before the model joins in


class ArchiveSettings(_Section):
    # DA/T 22-2015 item-level 档号: 全宗号-门类·年度-保管期限-机构(问题)-件号
    code_template: str = "{fonds}-{category}·{year}-{retention}-{org}-{item:04d}"
    # Volumes (案卷): 案卷号 counts per class (Jiangxi JF form: 全宗号 + 分类号 + 案卷号;
    # add ·{village_code} where the county numbers per 行政村); items inside by 件号.
    volume_template: str = "{fonds}-{class}-{volume:03d}"
    volume_item_template: str = "{volume_code}-{item:03d}"
    page_number_position: Literal["top-right", "bottom-right"] = "top-right"  # 页号 stamp in volumes
    pdfa: bool = True

    @field_validator("code_template")
    @classmethod
    def _template_has_item(cls, value: str) -> str:
        from pipeline.scheme.archival_code import ArchivalCodeTemplate

        ArchivalCodeTemplate(value)  # raises ValueError with a readable message
        return value

    @field_validator("volume_template")
    @classmethod
    def _template_has_volume(cls, value: str) -> str:
        from pipeline.scheme.archival_code import ArchivalCodeTemplate

        ArchivalCodeTemplate(value, counter="volume")
        return value

    @field_validator("volume_item_template")
    @classmethod
    def _template_in_volume(cls, value: str) -> str:
        from pipeline.scheme.archival_code import ArchivalCodeTemplate

        ArchivalCodeTemplate(value)
        return value


class IndexSettings(_Section):
    backend: Literal["tantivy", "whoosh"] = "tantivy"


class WebSettings(_Section):
    # Addresses of reverse proxies whose X-Forwarded-For is believed (the sign-in throttle
    # counts per client address). Empty: the connecting address is the client, always.
    trusted_proxies: tuple[str, ...] = ()

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return tuple(v.strip() for v in value.split(",") if v.strip()) if isinstance(value, str) else value


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    home: Path = Path("data")
    database_url: str | None = None  # default: SQLite file in home
    workers: int = Field(default=0, ge=0, le=64)  # 0 = one per CPU core
    # Below this much free space on the data home, intake and workers pause (and resume by
    # themselves): a full disk must not burn retries or leave half-written files.
    min_free_mb: int = Field(default=256, ge=0)
    ingest: IngestSettings = IngestSettings()
    imaging: ImagingSettings = ImagingSettings()
    ocr: OcrSettings = OcrSettings()
    classify: ClassifySettings = ClassifySettings()
    archive: ArchiveSettings = ArchiveSettings()
    index: IndexSettings = IndexSettings()
    web: WebSettings = WebSettings()

    @model_validator(mode="after")
    def _absolute_paths(self) -> Settings:
        # Relative paths are relative to the repository (where `make run` runs).
        home = self.home if self.home.is_absolute() else (Path.cwd() / self.home)
        inbox = self.ingest.inbox if self.ingest.inbox.is_absolute() else (Path.cwd() / self.ingest.inbox)
        object.__setattr__(self, "home", home.resolve())
        object.__setattr__(self, "ingest", self.ingest.model_copy(update={"inbox": inbox.resolve()}))
        return self

    # Layout of the data home.
    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'catalog.sqlite3'}"

    @property
    def originals_dir(self) -> Path:
        return self.home / "originals"  # content-addressed, write-once

    @property
    def pages_dir(self) -> Path:
        return self.home / "pages"  # page masters (extracted frames) + working copies

    @property
    def pdf_dir(self) -> Path:
        return self.home / "pdfa"

    @property
    def quarantine_dir(self) -> Path:
        return self.home / "quarantine"

    @property
    def index_dir(self) -> Path:
        return self.home / "index" / self.index.backend

    @property
    def staging_dir(self) -> Path:
        return self.home / "staging"

    def space_problem(self) -> str | None:
        """Why intake and workers must wait for disk space now (None: there is room)."""
        from pipeline.fileio import space_problem

        return space_problem(self.home, self.min_free_mb * 2**20)

    @property
    def worker_count(self) -> int:
        return self.workers or max(1, os.cpu_count() or 1)


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == "DANGAN_CONFIG":
            continue
        path = name[len(ENV_PREFIX):].lower().split("__")
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment variable {name}: {'.'.join(path)} is not a section")
        node[path[-1]] = value
    return tree


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(config_file: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Load the TOML file and environment overrides; raise ConfigError naming the bad key."""
    environ = dict(os.environ if environ is None else environ)
    path = config_file or Path(environ.get("DANGAN_CONFIG", DEFAULT_CONFIG))
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    elif config_file is not None or "DANGAN_CONFIG" in environ:
        raise ConfigError(f"config file not found: {path}")
    data = _merge(data, _env_overrides(environ))
    # The filing scheme sits next to the config file that names it.
    classify = data.get("classify")
    taxonomy = Path(classify.get("taxonomy", "taxonomy.yaml")) if isinstance(classify, dict) else Path("taxonomy.yaml")
    if not taxonomy.is_absolute():
        data["classify"] = {**(classify if isinstance(classify, dict) else {}),
                            "taxonomy": str(path.resolve().parent / taxonomy)}
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            problems.append(f"{key}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError(f"invalid configuration in {path}:\n  " + "\n  ".join(problems)) from exc
