"""Word (.docx): headings from the 'Title' and 'Heading N' styles, the styles based on them
and outline levels; tables row by row with their column names and caption; the text of text
boxes ("Kader" boxes) after the paragraph they are anchored in."""

from __future__ import annotations

import re
from pathlib import Path

from .model import Document, DocumentError
from .structure import BlockWriter
from .tables import CAPTION

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_TEXT_BOX, _PARAGRAPH = _W + "txbxContent", _W + "p"
_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_HEADING = re.compile(r"heading ([1-9])", re.IGNORECASE)  # a file stores "heading 1" whatever Word shows ("Kop 1")
_BODY_TEXT = 9  # the outline level Word gives to body text; 0 to 8 are heading levels 1 to 9


def read_docx(path: Path, name: str) -> Document:
    """Word: a paragraph in the 'Caption' style, or one that starts "Tabel 2.1", right above a
    table is the table's caption."""
    import docx
    from docx.table import Table

    try:
        word = docx.Document(str(path))
    except MemoryError:
        raise  # past the reader's memory limit (reader_process.py), not a damaged file
    except Exception as exc:  # zip, XML and package errors alike mean an unreadable file
        raise DocumentError(
            f"{name} cannot be read as a Word document ({exc or exc.__class__.__name__}); "
            "save it again as .docx and add it once more."
        ) from None
    writer = BlockWriter()
    heading_level = _heading_levels(word)
    items = list(word.iter_inner_content())
    for i, item in enumerate(items):
        if isinstance(item, Table):
            previous = items[i - 1] if i else None
            caption = previous.text if previous is not None and not isinstance(previous, Table) and _is_caption(previous) else ""
            rows, header_rows = _table(item)
            writer.table(caption, rows, header_rows)
            continue
        if i + 1 < len(items) and isinstance(items[i + 1], Table) and _is_caption(item):
            continue  # written with its table
        level = heading_level(item)
        if level is not None:
            writer.heading(item.text, level)
        else:
            _body_text(writer, item.text)
        for paragraph in _box_paragraphs(item._p):
            _body_text(writer, paragraph.text)
    return writer.document(name)


def _body_text(writer: BlockWriter, text: str) -> None:
    """A paragraph of body text: a block with a line per line break."""
    for part in text.split("\n"):
        writer.text(part)
        writer.end_line()
    writer.end_block()


def _box_paragraphs(paragraph):
    """The paragraphs of the text boxes anchored in a paragraph, in reading order: each box's
    paragraphs, each one followed by those of a box anchored in it. They are body text whatever
    their style, so a box's title cannot start a section that would swallow the text after the
    box. Each element is visited once, however deep boxes nest."""
    pending = _outermost(paragraph, _TEXT_BOX)[::-1]
    while pending:
        element = pending.pop()
        if element.tag == _TEXT_BOX:
            pending.extend(_outermost(element, _PARAGRAPH)[::-1])
        else:
            yield element
            pending.extend(_outermost(element, _TEXT_BOX)[::-1])


def _outermost(element, tag: str) -> list:
    """The elements with a tag inside an element, in document order, leaving out those inside
    one found or inside a text box, and Word's second copy of a shape: it writes a text box
    twice, as DrawingML in mc:Choice and as VML in mc:Fallback."""
    found, pending = [], list(element)[::-1]
    while pending:
        node = pending.pop()
        if node.tag == tag:
            found.append(node)
        elif node.tag not in (_FALLBACK, _TEXT_BOX):
            pending.extend(list(node)[::-1])
    return found


def _heading_levels(word):
    """A paragraph's heading level (0 for the title), None for body text. An outline level set
    on the paragraph decides; else its style and the styles that one is based on, nearest first:
    'Title' or 'Heading N' by name, or an outline level the style sets. So a template's own
    heading style ("Hoofdstuktitel", based on Heading 1) heads a section as Heading 1 does.
    Each style is judged once per document (python-docx finds a paragraph's style by reading
    every style)."""
    from docx.enum.style import WD_STYLE_TYPE

    by_id = {style.style_id: style for style in word.styles if style.type == WD_STYLE_TYPE.PARAGRAPH}
    default = word.styles.default(WD_STYLE_TYPE.PARAGRAPH)
    judged: dict[str | None, int | None] = {}

    def level(paragraph) -> int | None:
        outline = _outline_level(paragraph._p)
        if outline is not None:
            return _outline_heading(outline)
        style_id = paragraph._p.style
        if style_id not in judged:
            judged[style_id] = _style_level(by_id.get(style_id, default) if style_id else default)
        return judged[style_id]

    return level


def _style_level(style) -> int | None:
    """The heading level a paragraph style gives, through the styles it is based on."""
    seen = set()
    while style is not None and style.element not in seen:  # base styles may loop
        seen.add(style.element)
        name = style.name or ""
        heading = _HEADING.fullmatch(name)
        if heading:
            return int(heading.group(1))
        if name.lower() == "title":
            return 0
        outline = _outline_level(style.element)
        if outline is not None:
            return _outline_heading(outline)
        style = style.base_style
    return None


def _outline_level(element) -> int | None:
    """The outline level (w:outlineLvl) in the paragraph properties of a paragraph or a style."""
    values = element.xpath("./w:pPr/w:outlineLvl/@w:val")
    return int(values[0]) if values and values[0].isdigit() else None


def _outline_heading(outline: int) -> int | None:
    """The heading level an outline level gives; None for body text."""
    return outline + 1 if outline < _BODY_TEXT else None


def _is_caption(paragraph) -> bool:
    style = paragraph.style.name if paragraph.style is not None else ""
    return style == "Caption" or bool(CAPTION.match(paragraph.text.strip()))


def _table(table) -> tuple[list[list[str | None]], int | None]:
    """The rows of cell texts (None in the columns a merged cell spans into), and how many
    leading rows Word marks as the header that repeats on each page (None if none are)."""
    rows: list[list[str | None]] = []
    marked = 0
    for row in table.rows:
        cells: list[str | None] = []
        previous = None
        for cell in row.cells:
            cells.append(None if previous is not None and cell._tc is previous._tc else cell.text)
            previous = cell
        if marked == len(rows) and row._tr.xpath("./w:trPr/w:tblHeader"):
            marked += 1
        rows.append(cells)
    return rows, marked or None
