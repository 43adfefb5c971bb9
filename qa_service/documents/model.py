"""What reading a file gives: a Document of numbered lines (with their pages) and the blocks
that passages are made from (headings, paragraphs, tables)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal, NamedTuple, Union


class DocumentError(ValueError):
    """A file that cannot be read as a document; the message says why, in a user's words."""


# A page as printed: its number, or its label where that is not a number (roman "iv", "A-3").
Page = Union[int, str]

# Where a document's page numbers come from: the numbers printed on its pages, the PDF's
# /PageLabels, or the pages' order in the file. None for formats without pages.
PageNumbering = Literal["printed", "labels", "ordinal"]


class Line(NamedTuple):
    """A line of the source: its 1-based number through the document, its page as printed (None
    where the format has no pages), and, for PDFs, the 1-based page of the file it is on. (A
    named tuple: documents of a million lines make a million of them, and tuples come cheap.)"""

    number: int
    page: Page | None
    text: str
    pdf_page: int | None = None
    # A running header or footer, or a page number: shown with the page, never part of the text.
    furniture: bool = False
    # The level of the heading the line holds (1 outermost), 0 for other lines: what the viewer
    # marks as headings. Readers leave it 0; Document.shown_lines() fills it in from the blocks.
    heading: int = 0


@dataclass(frozen=True)
class Heading:
    text: str
    level: int  # 1 is outermost
    line: Line


@dataclass(frozen=True)
class Paragraph:
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class TableRow:
    cells: tuple[str, ...]  # one per column, "" where the row has nothing in it
    lines: tuple[Line, ...]  # the source lines the row stands on (a wrapped label takes two)


@dataclass(frozen=True)
class Table:
    """A table read row by row: its caption ("Tabel 2.1 …", "" without one), the name of each
    column (header rows joined: "Realisatie 2022"; "" where a column has none) and its rows."""

    caption: str
    header: tuple[str, ...]
    rows: tuple[TableRow, ...]


Block = Union[Heading, Paragraph, Table]


@dataclass
class Document:
    name: str  # path relative to the corpus directory, with forward slashes
    title: str
    blocks: list[Block]
    lines: list[Line] = field(repr=False)  # every source line, for showing the document
    page_numbering: PageNumbering | None = None
    pages: int | None = None  # how many pages the file has; None for formats without pages

    @property
    def paged(self) -> bool:
        return self.page_numbering is not None

    def shown_lines(self) -> list[Line]:
        """The lines as the viewer shows them: each heading's line with its level."""
        levels = {block.line.number: block.level for block in self.blocks if isinstance(block, Heading)}
        return [line._replace(heading=levels[line.number]) if line.number in levels else line for line in self.lines]

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        """The document's words, lower-cased: tells a broken word from a hyphenated one."""
        return frozenset(w.lower() for line in self.lines for w in re.findall(r"\w+", line.text))


def title_from_name(name: str) -> str:
    """A readable title from a file name, for documents that do not state one."""
    stem = Path(name).stem.replace("_", " ").replace("-", " ").strip()
    return stem[:1].upper() + stem[1:] if stem else name
