"""Markdown: `#` and underlined headings give the sections, the first top heading the title;
pipe tables are read row by row with their column names."""

from __future__ import annotations

import re
from pathlib import Path

from .model import Block, Document, DocumentError, Heading, Line, Paragraph, title_from_name
from .tables import CAPTION, table_from_grid
from .text import decode

_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# The line under a pipe table's header: a dash run per column, colons for alignment.
_DELIMITER_ROW = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_CELL_BORDER = re.compile(r"(?<!\\)\|")


def read_markdown(path: Path, name: str) -> Document:
    """Markdown: `#` headings give the sections, the first top heading the title; a pipe table
    (a header row, a row of dashes, the rows) is a table, its caption a "Tabel 1 …" line just above."""
    raw = decode(path.read_bytes(), name).replace("\r\n", "\n").replace("\r", "\n")
    lines = [Line(i + 1, None, t.rstrip()) for i, t in enumerate(raw.removesuffix("\n").split("\n"))]
    if not any(line.text.strip() for line in lines):
        raise DocumentError(f"{name} holds no text.")
    blocks: list[Block] = []
    current: list[Line] = []
    in_fence = False
    title = ""

    def flush():
        if current:
            blocks.append(Paragraph(tuple(current)))
            current.clear()

    table_end = 0
    for i, line in enumerate(lines):
        if i < table_end:
            continue
        text = line.text
        if not in_fence and (table_end := _table_end(lines, i)):
            flush()
            above = blocks[-1] if blocks else None  # a one-line "Tabel 1 …" paragraph just above
            caption = ""
            if isinstance(above, Paragraph) and len(above.lines) == 1 and CAPTION.match(above.lines[0].text.strip()):
                caption = blocks.pop().lines[0].text.strip()
            width = len(_cells(text))  # as in GitHub's Markdown, a row's cells past the header's are left out
            rows = [(_cells(row.text)[:width], (row,)) for k, row in enumerate(lines[i:table_end]) if k != 1]
            blocks.append(table_from_grid(caption, rows, header_rows=1))
            continue
        if text.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            current.append(line)
            continue
        heading = None if in_fence else _ATX.match(text)
        underline = lines[i + 1].text.strip() if i + 1 < len(lines) else ""
        if heading:
            level, heading_text = len(heading.group(1)), heading.group(2)
        elif not in_fence and not current and text.strip() and underline and set(underline) in ({"="}, {"-"}):
            level, heading_text = (1 if underline[0] == "=" else 2), text.strip()
        elif not in_fence and text.strip() and set(text.strip()) in ({"="}, {"-"}) and blocks and isinstance(blocks[-1], Heading) and blocks[-1].line.number == line.number - 1:
            continue  # the underline of a setext heading
        else:
            if text.strip():
                current.append(line)
            elif not in_fence:
                flush()
            continue
        flush()
        if not title and level == 1 and not blocks:
            title = heading_text
            continue
        blocks.append(Heading(heading_text, level, line))
    flush()
    return Document(name, title or title_from_name(name), blocks, lines)


def _table_end(lines: list[Line], i: int) -> int:
    """Where the pipe table that starts at line `i` ends (its header row, the delimiter row
    under it, and the rows up to a line without a pipe), or 0 if none starts there. A table
    without rows stays text, and so does one indented as code."""
    if "|" not in lines[i].text or i + 1 >= len(lines) or lines[i].text.startswith(("    ", "\t")):
        return 0
    delimiter = lines[i + 1].text  # with a pipe: a lone "---" under a line is a heading's underline
    if "|" not in delimiter or not _DELIMITER_ROW.match(delimiter) or len(_cells(delimiter)) != len(_cells(lines[i].text)):
        return 0
    end = i + 2
    while end < len(lines) and "|" in lines[end].text and lines[end].text.strip():
        end += 1
    return end if end > i + 2 else 0


def _cells(row: str) -> list[str]:
    """A pipe table row's cells: the text between its pipes (an escaped pipe, \\|, is text)."""
    text = row.strip()
    text = text[1:] if text.startswith("|") else text
    text = text[:-1] if text.endswith("|") and not text.endswith("\\|") else text
    return [cell.strip().replace("\\|", "|") for cell in _CELL_BORDER.split(text)]
