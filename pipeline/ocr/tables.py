"""Ruled tables and forms (表格): one text line per table row, cells left to right.

On a 入户普查表 or 信息采集表 the engines return every cell as its own line, so the text
reads ``户主姓名`` and, somewhere else, ``王秀英``. Search snippets, the PDF text layer and the
metadata extractor all need the label next to its value. The ruling itself says which
cells belong together: the horizontal rules cut the table into rows; every recognised line
whose centre lies in one row band is joined into one line, cells left to right.

Rules are found by morphology on a downscaled, binarised copy: a horizontal rule is a run of
ink at least ``_MIN_RULE`` of the page width long and only a few pixels thick; a table needs
two rules and a vertical rule crossing them, so ruled-off headers and signature lines on a
letter are not mistaken for a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.domain import OcrLine, quad_bounds
from pipeline.imaging.deskew import shrink, to_gray

_WORK_SIDE = 1600  # rules are long: a coarse copy finds them and keeps this cheap
_MIN_RULE = 0.25  # a horizontal rule spans at least this share of the page width
_MIN_VRULE = 0.04  # a vertical rule spans at least this share of the page height


@dataclass(frozen=True)
class Table:
    """A ruled region: its left/right edges and the y of every horizontal rule (page pixels)."""

    left: float
    right: float
    rules: tuple[float, ...]  # ascending

    @property
    def top(self) -> float:
        return self.rules[0]

    @property
    def bottom(self) -> float:
        return self.rules[-1]

    def row_of(self, x: float, y: float) -> int | None:
        """Index of the row band that contains the point, or None outside the table."""
        if not (self.left <= x <= self.right and self.top <= y <= self.bottom):
            return None
        for i in range(len(self.rules) - 1):
            if self.rules[i] <= y <= self.rules[i + 1]:
                return i
        return None


def find_tables(image: np.ndarray) -> list[Table]:
    """Ruled tables on a page image (grey or BGR), in page pixel coordinates."""
    grey = to_gray(image)
    h, w = grey.shape
    scale = min(1.0, _WORK_SIDE / max(h, w))
    grey = shrink(grey, scale)
    sh, sw = grey.shape
    ink = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 15)
    horizontal = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(8, sw // 12), 1)))
    vertical = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(8, sh // 40))))

    rules: list[tuple[float, float, float]] = []  # (y, x0, x1)
    n, _, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(horizontal, np.ones((3, 3), np.uint8)), connectivity=8)
    edge = max(3, round(0.01 * sh))
    for i in range(1, n):
        x, y, bw, bh = stats[i, :4]
        if y < edge or y + bh > sh - edge:
            continue  # the paper's own edge or a scanner shadow, not a rule
        if bw >= _MIN_RULE * sw and bh <= max(6, sh // 150):
            rules.append((y + bh / 2.0, float(x), float(x + bw)))
    if len(rules) < 2:
        return []
    columns = cv2.dilate(vertical, np.ones((3, 3), np.uint8))
    rules.sort()

    # Group rules that share their horizontal extent into tables.
    tables: list[list[tuple[float, float, float]]] = []
    for rule in rules:
        for group in tables:
            gx0 = min(r[1] for r in group)
            gx1 = max(r[2] for r in group)
            overlap = min(gx1, rule[2]) - max(gx0, rule[1])
            if overlap >= 0.6 * min(gx1 - gx0, rule[2] - rule[1]):
                group.append(rule)
                break
        else:
            tables.append([rule])

    found: list[Table] = []
    for group in tables:
        if len(group) < 2:
            continue
        ys = sorted(r[0] for r in group)
        x0, x1 = min(r[1] for r in group), max(r[2] for r in group)
        band = columns[int(ys[0]) : int(ys[-1]) + 1, int(x0) : int(x1) + 1]
        # A real table has a vertical rule running down much of its height.
        if band.size == 0 or (band > 0).sum(axis=0).max() < max(_MIN_VRULE * sh, 0.5 * (ys[-1] - ys[0])):
            continue
        found.append(Table(left=x0 / scale, right=x1 / scale, rules=tuple(y / scale for y in ys)))
    return found


def merge_rows(lines: Sequence[OcrLine], tables: Sequence[Table]) -> list[OcrLine]:
    """Join the lines that share a table row into one line (cells left to right).

    Lines outside every table are returned unchanged; each merged row takes the place of
    its first line in the input order, so the caller's reading order still applies.
    """
    if not tables:
        return list(lines)
    rows: dict[tuple[int, int], list[int]] = {}
    for i, line in enumerate(lines):
        if line.vertical:
            continue
        left, top, right, bottom = quad_bounds(line.box)
        cx, cy = (left + right) / 2.0, (top + bottom) / 2.0
        for t, table in enumerate(tables):
            row = table.row_of(cx, cy)
            if row is not None:
                rows.setdefault((t, row), []).append(i)
                break
    first_of: dict[int, list[int]] = {}
    members: set[int] = set()
    for indices in rows.values():
        if len(indices) > 1 and _one_visual_row([lines[i] for i in indices]):
            first_of[min(indices)] = indices
            members.update(indices)
    out: list[OcrLine] = []
    for i, line in enumerate(lines):
        if i in first_of:
            out.append(_join([lines[j] for j in first_of[i]]))
        elif i not in members:
            out.append(line)
    return out


def _one_visual_row(cells: list[OcrLine]) -> bool:
    """True when the cells sit side by side; a band holding a paragraph (a 备注 cell, or
    rules misread on a page that is no table) is left as separate lines."""
    bounds = [quad_bounds(c.box) for c in cells]
    heights = sorted(b[3] - b[1] for b in bounds)
    centres = [(b[1] + b[3]) / 2.0 for b in bounds]
    return max(centres) - min(centres) <= heights[len(heights) // 2]


def _join(cells: list[OcrLine]) -> OcrLine:
    cells = sorted(cells, key=lambda c: quad_bounds(c.box)[0])
    bounds = [quad_bounds(c.box) for c in cells]
    left, top = min(b[0] for b in bounds), min(b[1] for b in bounds)
    right, bottom = max(b[2] for b in bounds), max(b[3] for b in bounds)
    chars = sum(len(c.text) for c in cells) or 1
    return OcrLine(
        text=" ".join(c.text for c in cells),
        confidence=sum(c.confidence * len(c.text) for c in cells) / chars,
        box=((left, top), (right, top), (right, bottom), (left, bottom)),
        words=tuple(w for c in cells for w in c.words),
        vertical=False,
    )
