"""Where every benchmark writes its figures: the printed table as Markdown, the data as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def write_report(table: str, data: dict, *, markdown: str | Path | None, json_path: str | Path | None) -> None:
    for path, text in ((markdown, table), (json_path, json.dumps(data, ensure_ascii=False, indent=1))):
        if path:
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
            print(f"wrote {path}", file=sys.stderr)
