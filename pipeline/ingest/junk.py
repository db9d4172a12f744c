"""Scanner and operating-system litter that is never an archive page."""

from __future__ import annotations

JUNK_NAMES = {"thumbs.db", "desktop.ini", "ehthumbs.db"}
# Ignored without a word in the status: nobody meant these to be archived.
BENIGN_NAMES = JUNK_NAMES | {".gitkeep", ".ds_store", ".directory", ".localized"}
JUNK_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".swp", "~")


def is_junk(name: str) -> bool:
    lower = name.lower()
    return (
        name.startswith(".")  # hidden: .DS_Store, ._resource forks, .gitkeep, copy tools' temp names
        or lower in JUNK_NAMES
        or name.startswith("~$")  # Office lock files
        or lower.endswith(JUNK_SUFFIXES)
    )
