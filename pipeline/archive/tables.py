"""The deliverable's catalogue tables (目录) written as XLSX, CSV (UTF-8 with BOM) and XML."""

from __future__ import annotations

import csv
import re
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # also refused by openpyxl


@dataclass
class Table:
    """One catalogue table: a sheet of the XLSX, a CSV file, an element of the XML."""

    name: str
    columns: tuple[str, ...]
    rows: list[list]


def cell_text(value: object) -> str:
    return "" if value is None else _XML_ILLEGAL.sub("", str(value))


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def write_csv(path: Path, table: Table) -> None:
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(table.columns)
        writer.writerows([cell_text(v) for v in row] for row in table.rows)


def write_xml(path: Path, root_tag: str, fonds: str, tables: list[Table]) -> None:
    root = ET.Element(root_tag, {"全宗号": fonds})
    for table in tables:
        parent = ET.SubElement(root, table.name)
        for row in table.rows:
            entry = ET.SubElement(parent, "条目")
            for column, value in zip(table.columns, row):
                ET.SubElement(entry, column).text = cell_text(value)
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def write_xlsx(path: Path, tables: list[Table]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for table in tables:
        sheet = book.create_sheet(table.name)
        sheet.append(table.columns)
        for row in table.rows:  # numbers stay numbers; 档号 and 日期 stay text (leading zeros)
            sheet.append([v if isinstance(v, int) else cell_text(v) for v in row])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for i, column in enumerate(table.columns):
            widest = max(_width(cell_text(v)) for v in (column, *(r[i] for r in table.rows)))
            sheet.column_dimensions[get_column_letter(i + 1)].width = min(widest + 2, 60)
    book.save(path)
