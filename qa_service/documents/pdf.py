"""PDF: read page by page into lines in reading order, then the document's printed page
numbers, running headers and footers, footnotes, tables, headings and paragraphs.

Each page is parsed, reduced to its lines (text, font size, bold, position) and tables, and
closed before the next one, so memory stays that of one page whatever the length of the file
(page_layout.py does the geometry). What needs every page (the sequence of printed page numbers,
headers and footers that repeat, the body text's font size) is decided on those small records.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from .model import Block, Document, DocumentError, Heading, Line, Page, PageNumbering, Paragraph, Table, title_from_name
from .page_layout import PageLayout, PdfLine, read_page
from .pages import EDGE_LINES, PrintedNumber, is_lone_number, numbers_in, page_numbers, running_lines
from .structure import is_heading_text, merge_continuations, opens_numbered_sections, section_depth
from .tables import table_from_grid

HEADING_SIZE_RATIO = 1.15  # a line this much larger than the body text is a heading
FOOTNOTE_SIZE_RATIO = 0.92  # footnotes are set smaller than the body text
EDGE_ZONE = 0.15  # the share of a page's height at its top and bottom where headers and footers stand
_LETTER = re.compile(r"[^\W\d_]")
_FOOTNOTE_MARK = re.compile(r"^(?:\d{1,3}|[*†‡§¹²³⁴⁵⁶⁷⁸⁹⁰]+)\)?\s*\S")


def page_label(label: str | None, ordinal: int) -> Page:
    """The page as the PDF's /PageLabels name it, as a number where it is one; the page's
    position in the file where the PDF has no labels."""
    label = (label or "").strip()
    if not label:
        return ordinal
    return int(label) if label.isdigit() else label


def read_pdf(path: Path, name: str) -> Document:
    """PDF: pages cited by the numbers printed on them; headings from font sizes and bold.

    A line is a heading when its font is clearly larger than the body text, or when it is in
    bold at body size and reads like a heading (short, no sentence end); a section number gives
    its level, else its font does, larger fonts outer (heading_levels). Running headers and
    footers and page numbers are kept as lines but are not text.
    Footnotes become paragraphs of their own after their page's text; a paragraph that runs on
    over a page or column break is joined. A vertical gap wider than the usual line spacing
    ends a paragraph.
    """
    import pdfplumber

    layouts: list[PageLayout] = []
    try:
        with pdfplumber.open(path) as pdf:
            for page in pdf.pages:
                try:
                    layouts.append(read_page(page))
                finally:
                    page.close()  # its characters and objects go; only the layout stays
    except MemoryError:
        raise  # past the reader's memory limit (reader_process.py), not a damaged file
    except Exception as exc:  # pdfminer raises many kinds; every one means the PDF cannot be read
        raise DocumentError(
            f"{name} cannot be read as a PDF ({exc or exc.__class__.__name__}); "
            "check that it is a complete PDF without a password."
        ) from None
    if not any(layout.lines for layout in layouts):
        raise DocumentError(
            f"{name}: no text found — needs OCR. The PDF holds images of its pages without a text "
            "layer; run OCR on it (for example with ocrmypdf) and add the result."
        )
    return _Assembly(name, layouts).document()


@dataclass
class _Placed:
    """A line of the document: where it stands, and the layout line it came from."""

    line: Line
    source: PdfLine
    flow: tuple[int, int]  # (page, column region): a change is a page or column break


class _Assembly:
    """Turns the pages' layouts into a Document: decides what needs all pages, then numbers the
    lines page after page and groups them into blocks."""

    def __init__(self, name: str, layouts: list[PageLayout]):
        self.name = name
        self.layouts = layouts

    def document(self) -> Document:
        printed, numbering, furniture = self._pages_and_furniture()
        body_size = self._body_size(furniture)
        placed: list[list[_Placed]] = []
        lines: list[Line] = []
        for index, layout in enumerate(self.layouts):
            on_page = []
            for position, source in enumerate(layout.lines):
                line = Line(len(lines) + 1, printed[index], source.text, layout.number, (index, position) in furniture)
                lines.append(line)
                on_page.append(_Placed(line, source, (index, source.flow)))
            placed.append(on_page)
        footnotes = [self._footnote_start(page, body_size) for page in placed]
        blocks, title = self._blocks(placed, footnotes, body_size)
        return Document(self.name, title, blocks, lines, numbering, len(self.layouts))

    # --- what needs every page -------------------------------------------------------------

    def _edges(self, layout: PageLayout, besides: Collection[int] = ()) -> tuple[list[int], list[int]]:
        """The page's first and last few lines by height, outermost first, where they stand in its
        top or bottom zone: the lines that may be headers, footers or page numbers. The lines
        `besides` (the page's printed number) neither count among them nor stand in them."""
        order = sorted((i for i in range(len(layout.lines)) if i not in besides), key=lambda i: layout.lines[i].top)
        top = [i for i in order[:EDGE_LINES] if layout.lines[i].bottom <= layout.height * EDGE_ZONE]
        bottom = [i for i in order[::-1][:EDGE_LINES] if layout.lines[i].top >= layout.height * (1 - EDGE_ZONE)]
        return top, bottom

    def _pages_and_furniture(self) -> tuple[list[Page | None], PageNumbering, set[tuple[int, int]]]:
        edges = [self._edges(layout) for layout in self.layouts]
        candidates: list[list[PrintedNumber]] = []
        for layout, (top, bottom) in zip(self.layouts, edges):
            candidates.append([n for i in top + bottom for n in numbers_in(layout.lines[i].text)])
        numbers = page_numbers(candidates, lone_page_ok=True)
        labels = [layout.label for layout in self.layouts]
        if numbers.found:
            numbering: PageNumbering = "printed"
            # A page outside the printed sequence (a cover before page 1): its label, if any.
            printed = [n if n is not None else (page_label(label, 0) if label else None)
                       for n, label in zip(numbers.pages, labels)]
        elif any(labels):
            numbering, printed = "labels", [page_label(label, i + 1) for i, label in enumerate(labels)]
        else:
            numbering, printed = "ordinal", list(range(1, len(self.layouts) + 1))

        furniture: set[tuple[int, int]] = set()
        printed_alone: list[set[int]] = []  # each page's lines that are its printed number and nothing else
        for index, (layout, (top, bottom), number) in enumerate(zip(self.layouts, edges, numbers.confirmed)):
            holding = {i for i in top + bottom if number is not None and number in numbers_in(layout.lines[i].text)}
            furniture |= {(index, i) for i in holding}
            printed_alone.append({i for i in holding if is_lone_number(layout.lines[i].text)})
        # Running headers and footers are sought, as in text, among the edge lines less the page
        # numbers: a number printed above the header (or below the footer) leaves the header the
        # page's outermost line, and takes none of the EDGE_LINES.
        running_edges = [self._edges(layout, alone) for layout, alone in zip(self.layouts, printed_alone)]
        texts = [([layout.lines[i].text for i in top], [layout.lines[i].text for i in bottom])
                 for layout, (top, bottom) in zip(self.layouts, running_edges)]
        found = running_lines(texts)
        for index, ((top, bottom), (top_found, bottom_found)) in enumerate(zip(running_edges, found)):
            furniture |= {(index, top[p]) for p in top_found} | {(index, bottom[p]) for p in bottom_found}
        return printed, numbering, furniture

    def _body_size(self, furniture: set[tuple[int, int]]) -> float:
        sizes: Counter = Counter()
        for index, layout in enumerate(self.layouts):
            for position, line in enumerate(layout.lines):
                if (index, position) not in furniture and line.table is None:
                    sizes[line.size] += len(line.text)
        return sizes.most_common(1)[0][0] if sizes else 0.0

    @staticmethod
    def _footnote_start(page: list[_Placed], body_size: float) -> int:
        """Where the page's footnotes start (len(page) if it has none): the last lines of its
        text, set smaller than the body, the first of them starting with a footnote mark."""
        start = len(page)
        for position in range(len(page) - 1, -1, -1):
            item = page[position]
            if item.line.furniture:
                continue
            if item.source.table is not None or item.source.size > body_size * FOOTNOTE_SIZE_RATIO:
                break
            if _FOOTNOTE_MARK.match(item.line.text.strip()):
                start = position
        return start

    # --- blocks ----------------------------------------------------------------------------

    def _blocks(self, placed: list[list[_Placed]], footnotes: list[int], body_size: float) -> tuple[list[Block], str]:
        content: list[_Placed] = []  # the text of every page, in reading order
        notes: list[list[Paragraph]] = []  # each page's footnotes
        tables: list[tuple[int, Table]] = []  # (position in content it stands before, table)
        open_table: _OpenTable | None = None  # the last table seen, while the next page may continue it

        def close() -> None:
            nonlocal open_table
            if open_table is not None:
                tables.append((len(content), open_table.table()))
                open_table = None

        for index, page in enumerate(placed):
            layout = self.layouts[index]
            body = [item for item in page[: footnotes[index]] if not item.line.furniture]
            notes.append(_footnote_paragraphs([item for item in page[footnotes[index]:] if not item.line.furniture]))
            seen: set[int] = set()
            for position, item in enumerate(body):
                number = item.source.table
                if number is None:
                    close()
                    content.append(item)
                    continue
                if number in seen:
                    continue
                seen.add(number)
                table = layout.tables[number]
                rows = [(cells, tuple(page[i].line for i in lines)) for cells, lines in table.rows]
                if (open_table is not None and position == 0 and not table.caption
                        and table.columns == open_table.columns):
                    open_table.rows.extend(rows)  # the table of the page before goes on here
                else:
                    close()
                    open_table = _OpenTable(tuple(page[i].line for i in table.caption), rows, table.columns)
                if any(other.source.table != number for other in body[position:]):
                    close()  # text follows it on this page: the next page cannot continue it
        close()

        blocks, title = self._text_blocks(content, body_size)
        blocks = self._with_tables(blocks, content, tables)
        return self._with_footnotes(blocks, notes), title

    def _text_blocks(self, content: list[_Placed], body_size: float) -> tuple[list[Block], str]:
        if not content:
            return [], title_from_name(self.name)
        width = int(statistics.median(len(item.line.text) for item in content))

        def is_heading(item: _Placed) -> bool:
            text = item.line.text.strip()
            if not _LETTER.search(text) or len(text.split()) > 20:
                return False
            return item.source.size >= body_size * HEADING_SIZE_RATIO or (item.source.bold and is_heading_text(text, width))

        # The usual space between a line and the next one below it in the same column.
        gaps = [b.source.top - a.source.bottom for a, b in zip(content, content[1:])
                if a.flow == b.flow and b.source.top > a.source.bottom]
        usual_gap = statistics.median(gaps) if gaps else 0.0

        def follows_closely(last: _Placed, item: _Placed) -> bool:
            a, b = last.source, item.source
            return last.flow == item.flow and a.top < b.top <= a.bottom + usual_gap + 0.5 * (a.bottom - a.top)

        # Group the lines: runs of heading lines in one style are one (wrapped) heading.
        groups: list[tuple[bool, list[_Placed]]] = []
        for item in content:
            heading = is_heading(item)
            previous = groups[-1] if groups else None
            if previous and previous[0] == heading and follows_closely(previous[1][-1], item):
                if not heading or previous[1][-1].source.style == item.source.style:
                    previous[1].append(item)
                    continue
            groups.append((heading, [item]))

        def joined(group: list[_Placed]) -> str:
            return " ".join(item.line.text.strip() for item in group)

        # The title: a first heading in a style that no other heading has, unless it is a numbered
        # chapter's whose sections follow (a chapter cut from a report).
        title = title_from_name(self.name)
        heading_styles = [group[0].source.style for heading, group in groups if heading]
        if groups and groups[0][0] and heading_styles.count(heading_styles[0]) == 1 and not opens_numbered_sections(
                joined(groups[0][1]), (joined(group) for heading, group in groups[1:] if heading)):
            title = joined(groups[0][1])
            groups = groups[1:]
        levels = iter(heading_levels([(joined(group), group[0].source.style) for heading, group in groups if heading]))
        blocks: list[Block] = [
            Heading(joined(group), next(levels), group[0].line) if heading
            else Paragraph(tuple(item.line for item in group))
            for heading, group in groups
        ]
        flow_of = {item.line.number: item.flow for item in content}
        return merge_continuations(blocks, lambda a, b: flow_of[a.number] != flow_of[b.number]), title

    @staticmethod
    def _with_tables(blocks: list[Block], content: list[_Placed], tables: list[tuple[int, Table]]) -> list[Block]:
        """Put each table where it stands: before the block of the first line that follows it."""
        if not tables:
            return blocks
        first_line_after = {position: content[position].line.number if position < len(content) else None
                            for position, _ in tables}
        result: list[Block] = []
        queue = list(tables)
        for block in blocks:
            number = _first_line(block).number
            while queue and first_line_after[queue[0][0]] is not None and first_line_after[queue[0][0]] <= number:
                result.append(queue.pop(0)[1])
            result.append(block)
        result.extend(table for _, table in queue)
        return result

    @staticmethod
    def _with_footnotes(blocks: list[Block], notes: list[list[Paragraph]]) -> list[Block]:
        """Each page's footnotes after the last block that starts on or before that page."""
        if not any(notes):
            return blocks
        result: list[Block] = []
        waiting = [(paragraph.lines[0].pdf_page, paragraph) for page in notes for paragraph in page]
        for i, block in enumerate(blocks):
            result.append(block)
            following = blocks[i + 1] if i + 1 < len(blocks) else None
            next_page = _first_line(following).pdf_page if following is not None else None
            while waiting and (next_page is None or waiting[0][0] < next_page):
                result.append(waiting.pop(0)[1])
        result.extend(paragraph for _, paragraph in waiting)
        return result


def heading_levels(headings: list[tuple[str, tuple[float, bool]]]) -> list[int]:
    """The level of each heading, given as its text and font style (size, bold); 1 is outermost.

    A numbered heading ("2.1 Veiligheid", "2.1.") takes the depth of its number, as in plain
    text, whatever its style: reports set "1.1" and "1.1.1" alike. An unnumbered heading takes
    the level of its style, larger styles outer: in a style that numbered headings share, the
    level of its shallowest numbers; in a style of its own, one below the style above it (below
    the deepest number of a numbered style). Unnumbered styles larger than every numbered one
    ("Beleidsthema 2", "Deel A") stand above the numbers: the first number's depth goes on from
    them ("2.1" under "Beleidsthema 2") or, where it cannot, all numbers move down to make room.
    """
    depths = [section_depth(text) for text, _ in headings]
    numbered: dict[tuple[float, bool], list[int]] = {}
    for (_, style), depth in zip(headings, depths):
        if depth is not None:
            numbered.setdefault(style, []).append(depth)
    styles = sorted({style for _, style in headings}, reverse=True)
    offset = 0
    if numbered:
        above = next(i for i, style in enumerate(styles) if style in numbered)  # unnumbered styles on top
        offset = max(0, above - (min(min(found) for found in numbered.values()) - 1))
    level_of: dict[tuple[float, bool], int] = {}
    level = 0  # the level of the style just above, for an unnumbered style below it
    for style in styles:
        if style in numbered:
            level_of[style] = min(numbered[style]) + offset
            level = max(numbered[style]) + offset
        else:
            level += 1
            level_of[style] = level
    return [level_of[style] if depth is None else depth + offset for (_, style), depth in zip(headings, depths)]


@dataclass
class _OpenTable:
    caption: tuple[Line, ...]
    rows: list[tuple[list[str | None], tuple[Line, ...]]]
    columns: int

    def table(self) -> Table:
        return table_from_grid(" ".join(line.text.strip() for line in self.caption), self.rows)


def _first_line(block: Block) -> Line:
    if isinstance(block, Heading):
        return block.line
    if isinstance(block, Table):
        return block.rows[0].lines[0] if block.rows else Line(0, None, "")
    return block.lines[0]


def _footnote_paragraphs(items: list[_Placed]) -> list[Paragraph]:
    """Footnotes, one paragraph each: a new one at each line that starts with a mark."""
    paragraphs: list[list[Line]] = []
    for item in items:
        if not paragraphs or _FOOTNOTE_MARK.match(item.line.text.strip()):
            paragraphs.append([])
        paragraphs[-1].append(item.line)
    return [Paragraph(tuple(lines)) for lines in paragraphs]
