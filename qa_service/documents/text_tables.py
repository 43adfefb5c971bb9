"""Tables that plain text lays out in fixed-width columns, as pdftotext -layout writes them.

The body of such a table is a stretch of lines with at least two rows that give figures, whose
columns line up: a column is a stretch of character positions with text in some row, and two
columns are parted by two or more positions that are blank in every row (a "whitespace river").
The lines just above the body whose words stand over its figure columns are the header (joined
per column: "Realisatie 2022"); a line with words in the label column only is a group label
("Uitgaven") and stays a row without figures; a caption ("Tabel 37.1 …") may stand above, a
blank line between. Across a page break (running headers and page numbers are not text here)
the table goes on when the rows of the next page keep its columns; a repeated header is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import Line, Table
from .tables import CAPTION, MAX_HEADER_ROWS, holds_values, is_value, is_year, table_from_grid

# Words parted by single spaces: the groups of a line, and in the positions that hold text in any
# row of a table (b"x" where one does), its columns, parted by two or more blank positions.
_SEGMENT = re.compile(r"\S+(?: \S+)*")
_COLUMN = re.compile(rb"\S+(?: \S+)*")
MAX_WIDTH = 400  # characters: a longer line is no table row (and keeps the work per row small)
_NUMBERING = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3})*\.?|[a-z][.)])$")  # "1", "2.1", "a)": an article's number

Span = tuple[int, int]
Row = tuple[list[str], tuple[Line, ...]]


@dataclass(frozen=True)
class FoundTable:
    top: int  # the first of the lines it takes: its caption, header or first row
    end: int  # one past its last row
    table: Table


def segments(text: str) -> list[tuple[int, int, str]]:
    """The words of a line in groups parted by two or more spaces, with where each group stands."""
    return [(m.start(), m.end(), m.group()) for m in _SEGMENT.finditer(text)]


def gives_figures(text: str) -> bool:
    """Whether a line reads as a table row with figures: groups of words parted by gaps, a figure
    after the first group."""
    if "  " not in text.strip() or len(text) > MAX_WIDTH:
        return False
    parts = [words for _, _, words in segments(text)]
    return len(parts) > 1 and holds_values(parts)


def cells_of(text: str, spans: list[Span]) -> list[str]:
    return [" ".join(text[start:end].split()) for start, end in spans]


def _figures(cells: list[str]) -> int:
    return sum(1 for cell in cells[1:] if is_value(cell) and not is_year(cell))


class _Body:
    """The rows of a table's body so far: the positions that hold text in any of them (b"x"),
    the columns those give, and how many figures the rows hold in those columns."""

    def __init__(self):
        self.texts: list[str] = []
        self.filled = b""
        self.spans: list[Span] = []
        self.figures = 0

    def add(self, text: str) -> bool:
        """Take one more line, unless it would run columns of figures together (or leave fewer
        than two columns)."""
        if len(text) > MAX_WIDTH:
            return False
        filled = bytearray(self.filled.ljust(len(text)))
        for start, end, _ in segments(text):
            filled[start:end] = b"x" * (end - start)
        spans = [(m.start(), m.end()) for m in _COLUMN.finditer(filled)]
        if len(spans) < 2:
            return False
        figures = _figures(cells_of(text, spans))
        if not _merged(self.spans, spans):
            figures += self.figures
        else:
            figures += sum(_figures(cells_of(t, spans)) for t in self.texts)
            if figures < self.figures + _figures([words for _, _, words in segments(text)]):
                return False
        self.texts.append(text)
        self.filled, self.spans, self.figures = bytes(filled), spans, figures
        return True


def _merged(before: list[Span], after: list[Span]) -> bool:
    """Whether a line ran two of the columns together (each column before lies within one after)."""
    holder, holders = 0, []
    for _, end in before:
        while after[holder][1] < end:
            holder += 1
        holders.append(holder)
    return len(set(holders)) < len(holders)


def find_tables(lines: list[Line]) -> list[FoundTable]:
    """The fixed-width tables among a document's lines (its text, without page furniture), in order."""
    texts = [line.text.expandtabs() for line in lines]
    found: list[FoundTable] = []
    index = floor = 0
    while index < len(lines):
        table = _table_at(lines, texts, index, floor) if gives_figures(texts[index]) else None
        if table is None:
            index += 1
        else:
            found.append(table)
            index = floor = table.end
    return found


def _grow(texts: list[str], body: _Body, start: int) -> tuple[list[int], int]:
    """The lines from `start` on that the body takes, up to a blank line or one that does not
    fit, less those without figures at the end (the body keeps them); and where it stopped."""
    added, index = [], start
    while index < len(texts) and texts[index].strip() and body.add(texts[index]):
        added.append(index)
        index += 1
    while added and not gives_figures(texts[added[-1]]):
        added.pop()
    return added, index


def _table_at(lines: list[Line], texts: list[str], first: int, floor: int) -> FoundTable | None:
    body = _Body()
    body.add(texts[first])
    added, stop = _grow(texts, body, first + 1)
    rows = [first, *added]
    if sum(1 for i in rows if gives_figures(texts[i])) < 2:
        return None
    # A page break right after the last row: the rows on the next page go on in the same columns;
    # the lines above the first row (its header), repeated at the top of that page, are dropped.
    repeated = {" ".join(texts[i].split()) for i in range(max(floor, first - MAX_HEADER_ROWS), first)}
    while stop == rows[-1] + 1 and stop < len(texts) and not texts[stop].strip():
        following = next((i for i in range(stop, len(texts)) if texts[i].strip()), len(texts))
        if following == len(texts) or lines[following].page in (None, lines[rows[-1]].page):
            break
        while following < len(texts) and " ".join(texts[following].split()) in repeated:
            following += 1
        added, stop = _grow(texts, body, following)
        if not added:
            break
        rows.extend(added)
    spans = _columns(texts, rows)
    header, groups, caption = _above(texts, first, floor, spans)
    grid: list[tuple[list[str | None], tuple[Line, ...]]] = [(cells, (lines[i],)) for i, cells in header]
    labels = [([" ".join(texts[i].split())] + [""] * (len(spans) - 1), (lines[i],)) for i in groups]
    grid.extend(_wrapped_labels(labels + [(cells_of(texts[i], spans), (lines[i],)) for i in rows]))
    table = table_from_grid(" ".join(texts[caption].split()) if caption is not None else "", grid, len(header))
    top = min([first, *(i for i, _ in header), *groups, *([caption] if caption is not None else [])])
    return FoundTable(top, rows[-1] + 1, table)


def _columns(texts: list[str], rows: list[int]) -> list[Span]:
    """The columns of a body's rows. A first column that only numbers the rows ("1", "2.1") goes
    with the labels after it: "1 Inzet"."""
    body = _Body()
    for i in rows:
        body.add(texts[i])
    spans = body.spans
    if len(spans) >= 3:
        cells = [cells_of(texts[i], spans) for i in rows]
        if (all(not row[0] or _NUMBERING.match(row[0]) for row in cells)
                and not any(is_value(row[1]) for row in cells if row[1])):
            spans = [(spans[0][0], spans[1][1]), *spans[2:]]
    return spans


def _above(texts: list[str], first: int, floor: int, spans: list[Span]
           ) -> tuple[list[tuple[int, list[str | None]]], list[int], int | None]:
    """The lines above a body's first row that belong to it: header lines (at most
    MAX_HEADER_ROWS, each with its cells), group labels between the header and the first row, and
    a caption; one blank line may stand between any two of them. Group labels without a header
    or caption above them are not the table's (a heading, most likely). Each header line widens
    the columns its words stand over, so that a name above them ("Realisatie" over "2021 2022")
    can be seen to span several."""
    header: list[tuple[int, list[str | None]]] = []
    groups: list[int] = []
    caption = None
    index = first - 1
    while index >= floor:
        text = texts[index]
        if not text.strip():
            if index - 1 < floor or not texts[index - 1].strip():
                break
            index -= 1
            continue
        if CAPTION.match(text.strip()):
            caption = index
            break
        placed = _header_cells(text, spans)
        if placed is None:
            break
        cells, spans = placed
        if any(cells[1:]) or None in cells:
            if len(header) == MAX_HEADER_ROWS:
                break
            header.insert(0, (index, cells))
        elif header:
            break
        else:
            groups.insert(0, index)
        index -= 1
    if not header and caption is None:
        groups = []
    return header, groups, caption


def _header_cells(text: str, spans: list[Span]) -> tuple[list[str | None], list[Span]] | None:
    """A line above the body as cells of its columns: each group of words in the columns it
    stands over (None in the further columns: a group that reaches over the gap between two
    columns, or stands midway in it, names both), or in the nearest column; and the
    columns widened by the groups that stand over one. None where the line is no header: words
    that run from the label column across others."""
    cells: list[str | None] = [""] * len(spans)
    widened = list(spans)
    for start, end, words in segments(text):
        over = [column for column, (left, right) in enumerate(spans) if min(end, right) > max(start, left)]
        if not over:  # in a gap: the nearest column, or the two beside it where it stands midway
            distance = [max(left - end, start - right) for left, right in spans]
            over = [column for column, d in enumerate(distance) if d <= min(distance) + 1]
        if 0 in over and len(over) > 1:
            return None
        cells[over[0]] = f"{cells[over[0]] or ''} {words}".strip()
        for column in over[1:]:
            cells[column] = None
        if len(over) == 1:
            left, right = widened[over[0]]
            widened[over[0]] = (min(left, start), max(right, end))
    return cells, widened


def _wrapped_labels(rows: list[Row]) -> list[Row]:
    """Rows whose label runs on over two lines joined: a line with a label only, then one whose
    label goes on in lower case with the figures; or figures, then the rest of the label."""
    joined: list[Row] = []
    for cells, lines in rows:
        previous = joined[-1] if joined else None
        label_only = not any(cells[1:])
        if previous and cells[0][:1].islower() and (label_only or not any(previous[0][1:])):
            label = f"{previous[0][0]} {cells[0]}"
            figures = previous[0][1:] if label_only else cells[1:]
            joined[-1] = ([label, *figures], previous[1] + lines)
        else:
            joined.append((cells, lines))
    return joined
