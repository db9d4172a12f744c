"""Scanner and operating-system litter that is never an archive page."""

from __future__ import annotations

JUNK_NAMES = {".ds_store", "thumbs.db", "desktop.ini", ".directory", "ehthumbs.db"}
JUNK_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".swp", "~")


def is_junk(name: str) -> bool:
    lower = name.lower()
    return (
        lower in JUNK_NAMES
        or name.startswith("._")  # macOS resource forks
        or name.startswith("~$")  # Office lock files
        or name.startswith(".~")
        or (name.startswith(".") and lower.endswith((".tmp", ".part")))
        or lower.endswith(JUNK_SUFFIXES)
    )
