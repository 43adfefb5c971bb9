"""From lines to blocks, for every format: what reads as a heading, the depth of headings the
text does not number, paragraphs that a page break cut in two, and the block writer that the
HTML and Word readers feed."""

from __future__ import annotations

import re
from typing import Iterable

from .model import Block, Document, DocumentError, Heading, Line, Paragraph, title_from_name
from .pages import is_contents_entry
from .tables import row_line, table_from_grid

SENTENCE_END = ".!?:;"
_SECTION_NUMBER = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+\S")
_LONE_NUMBER = re.compile(r"^[-–—]?\s*\d{1,4}\s*[-–—]?$")
_COLUMN_GAP = re.compile(r"\S(?: {3,}|\t)\S")  # words set apart in columns: a table's header, not a heading


def section_number(text: str) -> str | None:
    """The number a heading gives its section ("3.1" of "3.1 Missies"), None if it has none."""
    numbered = _SECTION_NUMBER.match(text.strip())
    return numbered.group(1) if numbered else None


def opens_numbered_sections(heading: str, later: Iterable[str]) -> bool:
    """Whether a heading is a chapter's whose numbered sections follow ("3 Operaties" above "3.1
    Missies"): at the top of a file, a chapter cut from a report, not the file's title."""
    number = section_number(heading)
    return number is not None and "." not in number and any(section_number(text) == f"{number}.1" for text in later)


def section_depth(text: str) -> int | None:
    """How deep a heading's number puts its section (1 for "3", 2 for "3.1"), None without one."""
    number = section_number(text)
    return None if number is None else number.count(".") + 1


def is_heading_text(text: str, width: int) -> bool:
    """Whether a line reads like a heading: short, no sentence end, starting with a capital or a
    section number, words not set apart in columns. `width` is the usual length of a line of the
    document."""
    text = text.strip()
    if not text or text[-1] in SENTENCE_END + ",-–—" or len(text) > max(40, 0.7 * width) or _COLUMN_GAP.search(text):
        return False
    if is_contents_entry(text):
        return False
    if len(text.split()) > 12 or _LONE_NUMBER.match(text):
        return False
    first = text[0]
    return first.isupper() or first.isdigit()


def assign_levels(blocks: list[Block]) -> list[Block]:
    """Give headings a depth where the text does not state one (plain text).

    Numbered headings ("2.1 Veiligheid") take the depth of their number. Otherwise a heading
    that is directly followed by another heading introduces a group (level 1), and the headings
    after the first such group sit one level below it.
    """
    result: list[Block] = []
    seen_group = False
    for i, block in enumerate(blocks):
        if not isinstance(block, Heading):
            result.append(block)
            continue
        depth = section_depth(block.text)
        is_group = i + 1 < len(blocks) and isinstance(blocks[i + 1], Heading)
        if depth is not None:
            level = depth
        elif is_group:
            level, seen_group = 1, True
        else:
            level = 2 if seen_group else 1
        result.append(Heading(block.text, level, block.line))
    return result


def on_another_page(before: Line, after: Line) -> bool:
    return before.page != after.page or before.pdf_page != after.pdf_page


def merge_continuations(blocks: list[Block], broken=on_another_page) -> list[Block]:
    """Join a paragraph that a page (or column) break cut in two: it ends without a sentence
    end and the next paragraph, after the break, starts in lower case. `broken(a, b)` says
    whether a break lies between two lines."""
    merged: list[Block] = []
    for block in blocks:
        previous = merged[-1] if merged else None
        if (
            isinstance(block, Paragraph)
            and isinstance(previous, Paragraph)
            and broken(previous.lines[-1], block.lines[0])
            and previous.lines[-1].text.rstrip()[-1:] not in SENTENCE_END
            and block.lines[0].text.strip()[:1].islower()
        ):
            merged[-1] = Paragraph(previous.lines + block.lines)
        else:
            merged.append(block)
    return merged


class BlockWriter:
    """Builds a document from a stream of text, line ends, block ends, headings and tables: one
    line per paragraph (or per explicit line break, or per table row), numbered through the
    whole document. The HTML and Word readers write through it."""

    def __init__(self):
        self.lines: list[Line] = []
        self.blocks: list[Block] = []
        self.title = ""
        self._pieces: list[str] = []
        self._paragraph: list[Line] = []

    def _new_line(self, text: str) -> Line:
        line = Line(len(self.lines) + 1, None, text)
        self.lines.append(line)
        return line

    def text(self, piece: str) -> None:
        self._pieces.append(piece)

    def end_line(self) -> None:
        text = " ".join("".join(self._pieces).split())
        self._pieces.clear()
        if text:
            self._paragraph.append(self._new_line(text))

    def end_block(self) -> None:
        self.end_line()
        if self._paragraph:
            self.blocks.append(Paragraph(tuple(self._paragraph)))
            self._paragraph = []

    def heading(self, text: str, level: int) -> None:
        """A heading; the first top-level one (level 0 or 1) before any text is the title."""
        self.end_block()
        text = " ".join(text.split())
        if not text:
            return
        line = self._new_line(text)
        if not self.title and level <= 1 and not self.blocks:
            self.title = text
        else:
            self.blocks.append(Heading(text, max(level, 1), line))

    def table(self, caption: str, rows: list[list[str | None]], header_rows: int | None = None) -> None:
        """A table: its caption (a line of its own) and its rows of cell texts, one line each,
        None in the further columns a merged cell spans. `header_rows` says how many leading
        rows are the header, where the source marks them; None lets the rows' contents decide."""
        self.end_block()
        caption = " ".join(caption.split())
        rows = [[None if cell is None else " ".join(cell.split()) for cell in row] for row in rows]
        rows = [row for row in rows if any(row)]
        if not rows:
            if caption:
                self.text(caption)
                self.end_block()
            return
        if caption:
            self._new_line(caption)
        lines = [self._new_line(row_line(row)) for row in rows]
        table = table_from_grid(caption, [(row, (line,)) for row, line in zip(rows, lines)], header_rows)
        if table.rows:
            self.blocks.append(table)
        else:  # a header without a body: nothing to answer from but its words, kept as text
            self.blocks.append(Paragraph(tuple(lines)))

    def document(self, name: str, fallback_title: str = "") -> Document:
        self.end_block()
        if not self.lines:
            raise DocumentError(f"{name} holds no text.")
        return Document(name, self.title or fallback_title or title_from_name(name), self.blocks, self.lines)
