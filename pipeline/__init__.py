"""dangan: scanner inbox → Chinese OCR → searchable PDF/A → full-text search."""

__version__ = "0.1.0"
