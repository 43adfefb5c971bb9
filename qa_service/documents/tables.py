"""Tables as the PDF, Word and HTML readers find them: a grid of cell texts becomes a Table
with a name for each column (the header rows joined per column), its caption and its rows."""

from __future__ import annotations

import re
from typing import Sequence

from .model import Line, Table, TableRow

MAX_HEADER_ROWS = 3

# A cell that holds a figure rather than words: 123.456, -1,5, € 12 mln, (3.400), 12%, and the
# dashes and n.v.t. that stand for "nothing" in Dutch budget tables.
_VALUE = re.compile(
    r"^[-−–+]?\s*\(?\s*[€$£]?\s*[-−–+]?\d[\d.,  ]*\)?\s*(?:%|‰|mln|mld|mrd|mln\.|mld\.)?\*?$"
    r"|^[-–—x*]$|^n\.?\s?v\.?\s?t\.?$|^n\.?\s?b\.?$",
    re.IGNORECASE,
)
_YEAR = re.compile(r"^(?:19|20)\d\d(?:\s*[-–/]\s*(?:19|20)?\d\d)?$")  # 2022, 2022-2023, 2022/23
CAPTION = re.compile(r"^(?:tabel|table|tab\.)\s*[\dIVX]+(?:[.-]\d+)*\b", re.IGNORECASE)


def is_value(cell: str) -> bool:
    return bool(_VALUE.match(cell.strip()))


def is_year(cell: str) -> bool:
    return bool(_YEAR.match(cell.strip()))


def row_line(cells: Sequence[str | None]) -> str:
    """A table row as its line shows it: the cells with text, in order, between " | ". A merged
    cell comes once, since the readers give None in the further columns it spans; equal values
    in cells of their own all stay (a row "Primair onderwijs | 150 | 150" keeps both figures)."""
    return " | ".join(cell for cell in cells if cell)


def holds_values(cells: Sequence[str]) -> bool:
    """Whether a row gives figures: a value in a column after the first, a year not counting
    (years head the columns of budget tables)."""
    return any(is_value(c) and not is_year(c) for c in cells[1:] if c)


def header_row_count(rows: Sequence[Sequence[str]]) -> int:
    """How many leading rows name the columns: those before the first row that gives figures;
    in a table without figures, the first row (when there are others)."""
    for i, row in enumerate(rows[: MAX_HEADER_ROWS + 1]):
        if holds_values(row):
            return min(i, MAX_HEADER_ROWS)
    if any(holds_values(row) for row in rows):
        return 0  # figures only further down: the top rows are body rows without figures
    return 1 if len(rows) > 1 else 0


def column_names(header: Sequence[Sequence[str | None]], width: int) -> tuple[str, ...]:
    """Each column's name: its header cells from top to bottom. A cell that spans columns
    (None in the columns it covers) names each of them."""
    names: list[list[str]] = [[] for _ in range(width)]
    for row in header:
        carried = ""
        for column in range(width):
            cell = row[column] if column < len(row) else ""
            if cell is None:
                cell = carried
            carried = cell
            if cell and (not names[column] or names[column][-1] != cell):
                names[column].append(cell)
    return tuple(" ".join(parts) for parts in names)


def table_from_grid(
    caption: str,
    rows: Sequence[tuple[Sequence[str | None], tuple[Line, ...]]],
    header_rows: int | None = None,
) -> Table:
    """A Table from rows of cells (None where a merged cell spans into the column) and the
    lines each row stands on. Columns empty in every row are dropped; `header_rows` says how
    many leading rows are the header where the source marks it, else the contents decide."""
    width = max((len(cells) for cells, _ in rows), default=0)
    grid = [[(cells[c] if c < len(cells) else "") for c in range(width)] for cells, _ in rows]
    used = [c for c in range(width) if any(row[c] for row in grid)]
    grid = [[row[c] for c in used] for row in grid]
    texts = [[cell or "" for cell in row] for row in grid]
    count = header_row_count(texts) if header_rows is None else header_rows
    header = column_names(grid[:count], len(used))
    header_texts = [tuple(row) for row in texts[:count]]
    body = [
        TableRow(tuple(cells), lines)
        for cells, (_, lines) in zip(texts[count:], rows[count:])
        if tuple(cells) not in header_texts  # a header repeated further down (a new page)
    ]
    return Table(caption, header, tuple(body))
