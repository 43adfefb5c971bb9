"""One PDF page's geometry: its words become lines in reading order, with what later steps use
of them (text, font size, bold, position) and the tables on the page.

- Words on one height form a line; a gap of about a font size or more divides a line into
  segments (the cells of a table row, or a left and a right column).
- Two columns: when many segments of running text start at one point in the middle of the
  page and the text left of it fills its column, that point is a gutter. Lines that do not
  cross it are read column by column: the left column down, then the right one; lines that
  cross it (a title, a footnote across the page) stay where they stand.
- Tables: pdfplumber finds the ruled ones (cells drawn with lines); lines of two or more
  segments whose segments stand in the same columns, with figures in them, are an unruled one.
  A caption ("Tabel 2.1 …") right above belongs to the table.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

from .tables import CAPTION, holds_values, row_line

_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)
# A list mark or section number before a wide gap: the line is still running text.
_MARKER = re.compile(r"^(?:[•▪◦●○■□–—\-*·>]|\(?\d{1,3}[.)]|\(?[a-z][.)]|\d+(?:\.\d+)+\.?|\d{1,2}|[ivx]{1,4}[.)])$")
SEGMENT_GAP = 1.0  # a gap this many font sizes wide divides a line into segments
MARK_GAP = 4.0  # a list mark stands at most this many font sizes before its text
MAX_ROW_GAP = 2.5  # line heights between two rows of one table, at most
EDGE_LINES = 2  # lines at the top and at the bottom of a page that may stand apart from its columns
MAX_SPANNED_LINES = 2  # lines of one segment (a wrapped label) a table may hold between rows


@dataclass(slots=True)
class _Word:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool


@dataclass(slots=True)
class _Segment:
    words: list[_Word]

    @property
    def x0(self) -> float:
        return self.words[0].x0

    @property
    def x1(self) -> float:
        return self.words[-1].x1

    @property
    def text(self) -> str:
        return " ".join(word.text for word in self.words)


@dataclass(slots=True)
class _RawLine:
    words: list[_Word]
    top: float
    bottom: float
    segments: list[_Segment] = field(default_factory=list)
    ruled: tuple[int, int] | None = None  # (table, row) for a row of a ruled table
    cells: list[str | None] | None = None  # that row's cells

    @property
    def x0(self) -> float:
        return min(word.x0 for word in self.words)

    @property
    def x1(self) -> float:
        return max(word.x1 for word in self.words)

    @property
    def is_row(self) -> bool:
        """Two or more segments that are not a list mark and its text."""
        if self.ruled is not None or len(self.segments) < 2:
            return False
        return not self.is_marked

    @property
    def is_marked(self) -> bool:
        """A list mark or a number, then its text after a gap of a few font sizes at most."""
        if len(self.segments) != 2 or not _MARKER.match(self.segments[0].text):
            return False
        mark, rest = self.segments
        return rest.x0 - mark.x1 <= MARK_GAP * max(mark.words[-1].size, 4.0)


@dataclass(slots=True)
class PdfLine:
    """A line of a page as later steps need it; `table` is the index of the page's table it is a
    row or the caption of, `flow` the column region it is read in (a change is a column break)."""

    text: str
    size: float
    bold: bool
    top: float
    bottom: float
    flow: int
    table: int | None = None

    @property
    def style(self) -> tuple[float, bool]:
        return (self.size, self.bold)


@dataclass(slots=True)
class PageTable:
    """A table on a page: the lines of its caption, and its rows as cells with their lines."""

    caption: tuple[int, ...]
    rows: list[tuple[list[str | None], tuple[int, ...]]]
    columns: int


@dataclass(slots=True)
class PageLayout:
    number: int  # the 1-based page of the file
    label: str | None  # its /PageLabels label
    height: float
    lines: list[PdfLine]  # in reading order
    tables: list[PageTable]


def read_page(page) -> PageLayout:
    """The layout of a pdfplumber page; the caller closes the page afterwards."""
    words = [
        _Word(w["text"], w["x0"], w["x1"], w["top"], w["bottom"], round(w["size"] * 2) / 2,
              bool(_BOLD_FONT.search(w.get("fontname", ""))))
        for w in page.extract_words(extra_attrs=["size", "fontname"])
        if w.get("upright", True) and w["text"].strip()
    ]
    ruled_lines, words = _ruled_tables(page, words)
    lines = _lines(words) + ruled_lines
    lines.sort(key=lambda line: (line.top, line.x0))
    flows = _reading_order(lines, page.width)
    return _layout(page.page_number, page.page_obj.label, page.height, flows)


# --- words into lines ------------------------------------------------------------------------


def _lines(words: list[_Word]) -> list[_RawLine]:
    """Words that overlap in height by half of the smaller one form a line, left to right."""
    lines: list[_RawLine] = []
    for word in sorted(words, key=lambda w: (w.top, w.x0)):
        height = word.bottom - word.top
        for line in reversed(lines[-4:]):
            overlap = min(line.bottom, word.bottom) - max(line.top, word.top)
            if overlap >= 0.5 * min(height, line.bottom - line.top):
                line.words.append(word)
                line.top, line.bottom = min(line.top, word.top), max(line.bottom, word.bottom)
                break
        else:
            lines.append(_RawLine([word], word.top, word.bottom))
    for line in lines:
        line.words.sort(key=lambda w: w.x0)
        line.segments = _segments(line.words)
    return lines


def _segments(words: list[_Word]) -> list[_Segment]:
    segments = [_Segment([words[0]])]
    for word in words[1:]:
        previous = segments[-1].words[-1]
        if word.x0 - previous.x1 >= SEGMENT_GAP * max(previous.size, word.size, 4.0):
            segments.append(_Segment([word]))
        else:
            segments[-1].words.append(word)
    return segments


# --- ruled tables ------------------------------------------------------------------------------


def _ruled_tables(page, words: list[_Word]) -> tuple[list[_RawLine], list[_Word]]:
    """Tables drawn with lines, as pdfplumber finds them (two rows and two columns at least),
    each row a line of its own; and the words that are not in them."""
    if len(page.edges) < 4:
        return [], words
    lines: list[_RawLine] = []
    boxes = []
    for table in page.find_tables():
        grid = table.extract()
        width = max((len(row) for row in grid), default=0)
        if len(grid) < 2 or width < 2:
            continue
        index = len(boxes)
        boxes.append(table.bbox)
        for row_index, (cells, row) in enumerate(zip(grid, table.rows)):
            x0, top, x1, bottom = row.bbox
            texts = [None if cell is None else " ".join(cell.split()) for cell in cells]
            if not any(texts):
                continue
            marker = _Word("", x0, x1, top, bottom, 0.0, False)
            lines.append(_RawLine([marker], top, bottom, [_Segment([marker])], (index, row_index), texts))

    def outside(word: _Word) -> bool:
        x, y = (word.x0 + word.x1) / 2, (word.top + word.bottom) / 2
        return not any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes)

    return lines, [word for word in words if outside(word)] if boxes else words


# --- columns -----------------------------------------------------------------------------------


def _is_prose(segment: _Segment) -> bool:
    text = segment.text
    return len(segment.words) >= 3 and sum(c.isalpha() for c in text) >= 0.6 * len(text)


def _gutter(lines: list[_RawLine], width: float) -> float | None:
    """Where a right-hand column starts, if the page has two: many segments of running text
    start at one point in the middle, and the text to its left fills its column. Rows that give
    figures are a table's, whose label columns would otherwise look like two columns of text."""
    text_lines = [line for line in lines if line.ruled is None and not holds_values([s.text for s in line.segments])]
    starts = [s.x0 for line in text_lines for s in line.segments
              if 0.25 * width <= s.x0 <= 0.75 * width and _is_prose(s)]
    if len(starts) < 3:
        return None
    bucket, count = Counter(round(x / 3) for x in starts).most_common(1)[0]
    if count < 3:
        return None
    gutter = min(x for x in starts if round(x / 3) == bucket)
    margin = min(line.x0 for line in lines)
    left = [s.x1 - s.x0 for line in lines if line.ruled is None for s in line.segments
            if s.x1 < gutter and _is_prose(s)]
    if len(left) < 3 or statistics.median(left) < 0.6 * (gutter - margin - 12):
        return None
    return gutter


def _set_apart(lines: list[_RawLine]) -> set[int]:
    """The first and last lines of a page that stand apart from the rest (a header or a footer,
    with a gap of one and a half line heights at least): not part of any column."""
    apart: set[int] = set()
    for order in (lines, lines[::-1]):
        for line, neighbour in list(zip(order, order[1:]))[:EDGE_LINES]:
            height = line.bottom - line.top
            if max(neighbour.top - line.bottom, line.top - neighbour.bottom) < max(1.5 * height, 6.0):
                break
            apart.add(id(line))
    return apart


def _reading_order(lines: list[_RawLine], width: float) -> list[list[_RawLine]]:
    """The page's lines in reading order, as flows: runs of lines read one after the other
    without a column break."""
    gutter = _gutter(lines, width)
    if gutter is None:
        return [lines]
    flows: list[tuple[bool, list[_RawLine]]] = []  # (across the page, lines)

    def add(across: bool, flow: list[_RawLine]) -> None:
        if across and flows and flows[-1][0]:
            flows[-1][1].extend(flow)  # lines across the page go on from the ones before
        else:
            flows.append((across, flow))

    def split(region: list[_RawLine]) -> None:
        """Lines that do not cross the gutter: two columns if both sides have lines."""
        if not region:
            return
        sides = []
        for right in (False, True):
            words = [w for line in region if line.ruled is None for w in line.words
                     if (w.x0 >= gutter - 2) == right]
            ruled = [line for line in region if line.ruled is not None and (line.x0 >= gutter - 2) == right]
            sides.append(sorted(_lines(words) + ruled, key=lambda line: line.top))
        if all(len(side) >= 2 for side in sides):
            add(False, sides[0])
            add(False, sides[1])
        else:
            add(True, region)

    apart = _set_apart(lines)
    region: list[_RawLine] = []
    for line in lines:
        if id(line) in apart or any(s.x0 < gutter - 2 and s.x1 > gutter + 2 for s in line.segments):
            split(region)
            region = []
            add(True, [line])
        else:
            region.append(line)
    split(region)
    return [flow for _, flow in flows]


# --- unruled tables and the page's lines -----------------------------------------------------


def _layout(number: int, label: str | None, height: float, flows: list[list[_RawLine]]) -> PageLayout:
    lines: list[PdfLine] = []
    tables: list[PageTable] = []
    ruled_index: dict[int, int] = {}  # ruled table -> its index in `tables`
    for flow_number, flow in enumerate(flows):
        offset = len(lines)  # positions in the flow + offset = indices into the page's lines
        table_of: dict[int, int] = {}  # position in the flow -> index in `tables`
        for caption, members, grid in _unruled_tables(flow):
            for position in [*caption, *(p for row in members for p in row)]:
                table_of[position] = len(tables)
            rows = [(cells, tuple(offset + p for p in row)) for cells, row in zip(grid, members)]
            tables.append(PageTable(tuple(offset + p for p in caption), rows, len(grid[0])))
        for position, line in enumerate(flow):
            if line.ruled is None:
                continue
            index = ruled_index.get(line.ruled[0])
            if index is None:
                index = ruled_index[line.ruled[0]] = len(tables)
                caption = _caption_before(flow, position)
                for p in caption:
                    table_of[p] = index
                tables.append(PageTable(tuple(offset + p for p in caption), [], len(line.cells or ())))
            table_of[position] = index
            tables[index].rows.append((line.cells or [], (offset + position,)))
        for position, line in enumerate(flow):
            lines.append(_pdf_line(line, flow_number, table_of.get(position)))
    return PageLayout(number, label, height, lines, tables)


def _pdf_line(line: _RawLine, flow: int, table: int | None) -> PdfLine:
    if line.ruled is not None:
        return PdfLine(row_line(line.cells or []), 0.0, False, line.top, line.bottom, flow, table)
    sizes: Counter = Counter()
    for word in line.words:
        sizes[word.size] += len(word.text)
    if table is not None and line.is_row:
        text = " | ".join(segment.text for segment in line.segments)
    elif len(line.segments) > 1 and not line.is_marked:
        text = "   ".join(segment.text for segment in line.segments)  # a wide gap stays visible
    else:
        text = " ".join(word.text for word in line.words)
    bold = all(word.bold for word in line.words)
    return PdfLine(text, sizes.most_common(1)[0][0], bold, line.top, line.bottom, flow, table)


def _caption_before(flow: list[_RawLine], position: int) -> list[int]:
    """The lines right above `position` from a "Tabel …" line down, if there is one within three."""
    for start in range(position - 1, max(-1, position - 4), -1):
        line = flow[start]
        if line.ruled is not None or line.is_row:
            return []
        if CAPTION.match(" ".join(w.text for w in line.words)):
            return list(range(start, position))
    return []


def _unruled_tables(flow: list[_RawLine]) -> list[tuple[list[int], list[list[int]], list[list[str | None]]]]:
    """Tables without rules in a flow: (caption positions, rows as positions, cells per row)."""
    found = []
    i = 0
    while i < len(flow):
        if not flow[i].is_row:
            i += 1
            continue
        members = [i]
        j = i + 1
        while j < len(flow):
            line, last = flow[j], flow[members[-1]]
            close = line.top - last.bottom <= MAX_ROW_GAP * max(last.bottom - last.top, 1.0)
            if line.is_row and close:
                members.append(j)
                j += 1
                continue
            # A label that wraps, or a group label: one segment, followed by a row soon.
            k = j
            while k < len(flow) and k - j < MAX_SPANNED_LINES and not flow[k].is_row and flow[k].ruled is None:
                k += 1
            if k > j and k < len(flow) and flow[k].is_row and close and (
                    flow[k].top - flow[k - 1].bottom <= MAX_ROW_GAP * max(flow[k - 1].bottom - flow[k - 1].top, 1.0)):
                members.extend(range(j, k + 1))
                j = k + 1
                continue
            break
        rows = [flow[p] for p in members if flow[p].is_row]
        valued = sum(1 for line in rows if holds_values([s.text for s in line.segments]))
        grid = _grid([flow[p] for p in members]) if len(rows) >= 3 or valued >= 2 else None
        if grid is not None:
            cells, row_members = grid
            row_positions = [[members[k] for k in group] for group in row_members]
            found.append((_caption_before(flow, i), row_positions, cells))
        i = j
    return found


def _columns(lines: list[_RawLine]) -> list[tuple[float, float]]:
    """The columns of a table: the stretches that its rows' segments cover, overlapping ones
    joined. Rows that give figures decide where there are enough of them (a header cell may
    span two columns)."""
    rows = [line for line in lines if line.is_row]
    valued = [line for line in rows if holds_values([s.text for s in line.segments])]
    spans = sorted((s.x0, s.x1) for line in (valued if len(valued) >= 2 else rows) for s in line.segments)
    columns: list[list[float]] = []
    for x0, x1 in spans:
        if columns and x0 <= columns[-1][1] + 1:
            columns[-1][1] = max(columns[-1][1], x1)
        else:
            columns.append([x0, x1])
    return [(a, b) for a, b in columns]


def _grid(lines: list[_RawLine]) -> tuple[list[list[str | None]], list[list[int]]] | None:
    """The cells of a table's lines in its columns, and which lines make each row; None if the
    lines do not stand in two columns or more."""
    columns = _columns(lines)
    if len(columns) < 2:
        return None
    cells: list[list[str | None]] = []
    groups: list[list[int]] = []
    for k, line in enumerate(lines):
        if not line.is_row:
            text = " ".join(w.text for w in line.words)
            column = _nearest(columns, line.x0, line.x1)
            if cells and text[:1].islower():  # a wrapped label goes on with the row above
                row = cells[-1]
                row[column] = f"{row[column] or ''} {text}".strip()
                groups[-1].append(k)
                continue
            row: list[str | None] = [""] * len(columns)
            row[column] = text
            cells.append(row)
            groups.append([k])
            continue
        row = [""] * len(columns)
        for segment in line.segments:
            covered = [c for c, (a, b) in enumerate(columns) if min(b, segment.x1) - max(a, segment.x0) > 0]
            first = covered[0] if covered else _nearest(columns, segment.x0, segment.x1)
            row[first] = f"{row[first] or ''} {segment.text}".strip()
            for c in covered[1:]:
                if not row[c]:
                    row[c] = None  # spanned by the cell to its left
        cells.append(row)
        groups.append([k])
    return cells, groups


def _nearest(columns: list[tuple[float, float]], x0: float, x1: float) -> int:
    middle = (x0 + x1) / 2
    return min(range(len(columns)), key=lambda c: abs((columns[c][0] + columns[c][1]) / 2 - middle))
