"""Configuration: one TOML file in ``config/`` plus ``DANGAN_…`` environment overrides.

Precedence (highest first): environment variables, the TOML file, defaults.
Nested keys use a double underscore: ``DANGAN_OCR__ENGINE=tesseract``.
``DANGAN_HOME`` sets the data home, ``DANGAN_CONFIG`` the TOML file.
"""

from pipeline.config.settings import (
    ArchiveSettings,
    ConfigError,
    IndexSettings,
    IngestSettings,
    OcrSettings,
    Settings,
    load_settings,
)

__all__ = [
    "ArchiveSettings",
    "ConfigError",
    "IndexSettings",
    "IngestSettings",
    "OcrSettings",
    "Settings",
    "load_settings",
]
