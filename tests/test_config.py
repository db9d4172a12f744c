from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_settings


def test_defaults_from_repo_config():
    s = load_settings(environ={})
    assert s.ocr.engine == "rapidocr"
    assert s.index.backend == "tantivy"
    assert s.home.is_absolute() and s.home.name == "data"
    assert s.archive.code_template == "{fonds}-{category}·{year}-{retention}-{org}-{item:04d}"


def test_env_overrides_nested_keys(tmp_path):
    s = load_settings(environ={"DANGAN_HOME": str(tmp_path), "DANGAN_OCR__ENGINE": "tesseract",
                               "DANGAN_INGEST__QUIET_SECONDS": "7.5"})
    assert s.home == tmp_path
    assert s.ocr.engine == "tesseract"
    assert s.ingest.quiet_seconds == 7.5
    assert s.db_url == f"sqlite:///{tmp_path / 'catalog.sqlite3'}"


def test_bad_value_names_the_key():
    with pytest.raises(ConfigError, match=r"ocr\.engine"):
        load_settings(environ={"DANGAN_OCR__ENGINE": "paddle"})
    with pytest.raises(ConfigError, match=r"ingest\.quiet_seconds"):
        load_settings(environ={"DANGAN_INGEST__QUIET_SECONDS": "-1"})


def test_unknown_key_in_file_is_named(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[ocr]\nengin = "rapidocr"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"ocr\.engin"):
        load_settings(bad, environ={})


def test_bad_archival_code_template_is_refused():
    with pytest.raises(ConfigError, match=r"archive\.code_template.*\{item\}"):
        load_settings(environ={"DANGAN_ARCHIVE__CODE_TEMPLATE": "{fonds}-{year}"})
    with pytest.raises(ConfigError, match="unknown field"):
        load_settings(environ={"DANGAN_ARCHIVE__CODE_TEMPLATE": "{fonds}-{box}-{item:04d}"})


def test_invalid_toml_is_reported(tmp_path: Path):
    bad = tmp_path / "x.toml"
    bad.write_text("home = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad, environ={})
