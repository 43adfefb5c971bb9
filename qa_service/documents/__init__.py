"""Read a corpus file into a Document: its title, headings, paragraphs, pages and source lines.

One reader per format (plain text, Markdown, PDF, HTML, Word). Readers know nothing of passages
or embeddings; they only say what the file holds and where (line numbers and pages), so
citations can point back into the source. Every format numbers its lines from 1 through the
whole document, which is what the document viewer shows and the citations' #L anchors name.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable, Union


class DocumentError(ValueError):
    """A file that cannot be read as a document; the message says why, in a user's words."""


# A page as printed: its number, or its label where that is not a number (roman "iv", "A-3").
Page = Union[int, str]


@dataclass(frozen=True)
class Line:
    """A line of the source: its 1-based number, its page (None where the format has no pages)."""

    number: int
    page: Page | None
    text: str


@dataclass(frozen=True)
class Heading:
    text: str
    level: int  # 1 is outermost
    line: Line


@dataclass(frozen=True)
class Paragraph:
    lines: tuple[Line, ...]


Block = Union[Heading, Paragraph]


@dataclass
class Document:
    name: str  # path relative to the corpus directory, with forward slashes
    title: str
    blocks: list[Block]
    lines: list[Line] = field(repr=False)  # every source line, for showing the document

    @property
    def paged(self) -> bool:
        return any(line.page is not None for line in self.lines)

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        """The document's words, lower-cased: tells a broken word from a hyphenated one."""
        return frozenset(w.lower() for line in self.lines for w in re.findall(r"\w+", line.text))


SENTENCE_END = ".!?:;"
_SECTION_NUMBER = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+\S")
_FOOTER = re.compile(r"^[-–—]?\s*(\d{1,4})\s*[-–—]?$")


def title_from_name(name: str) -> str:
    """A readable title from a file name, for documents that do not state one."""
    stem = Path(name).stem.replace("_", " ").replace("-", " ").strip()
    return stem[:1].upper() + stem[1:] if stem else name


# --- plain text (as extracted from PDFs) -------------------------------------------------


def _paginate(raw_lines: list[str]) -> tuple[list[Line], set[int]]:
    """Number the lines, give each its page, and say which lines are page-number footers.

    Pages end at a form feed (text before a \f is on one page, after it on the next) and at a
    footer, whose number is the page's. Pages without a footer count on from the one before.
    Without either, the document has no pages and every line's page is None.
    """
    texts: list[str] = []
    segments: list[int] = []
    segment = 0
    for raw in raw_lines:
        # Form feeds before the text open a new page for this line; others close its page.
        leading = len(raw) - len(raw.lstrip("\f"))
        segment += leading
        texts.append(raw.replace("\f", ""))
        segments.append(segment)
        segment += raw.count("\f") - leading
    footer_at = _footers(texts, segments)
    if segment == 0 and not footer_at:
        return [Line(i + 1, None, t.rstrip()) for i, t in enumerate(texts)], set()

    groups: list[list[int]] = []
    current: list[int] = []
    for i in range(len(texts)):
        if current and segments[i] != segments[i - 1]:
            groups.append(current)
            current = []
        current.append(i)
        if i in footer_at:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    pages = [0] * len(texts)
    previous = 0
    for group in groups:
        footer = next((footer_at[i] for i in group if i in footer_at), None)
        has_text = any(texts[i].strip() for i in group)
        number = footer if footer is not None else (previous + 1 if has_text else max(previous, 1))
        for i in group:
            pages[i] = number
        previous = number
    lines = [Line(i + 1, pages[i], t.rstrip()) for i, t in enumerate(texts)]
    return lines, set(footer_at)


def _footers(texts: list[str], segments: list[int]) -> dict[int, int]:
    """Lines that are page-number footers, with their number: alone between blank lines or
    page breaks, holding only a number, and rising through the document."""
    found: dict[int, int] = {}
    last = 0
    for i, text in enumerate(texts):
        match = _FOOTER.match(text.strip())
        if not match:
            continue
        before_ok = i == 0 or not texts[i - 1].strip() or segments[i - 1] != segments[i]
        after_ok = i + 1 == len(texts) or not texts[i + 1].strip() or segments[i + 1] != segments[i]
        number = int(match.group(1))
        if before_ok and after_ok and number > last:
            found[i] = number
            last = number
    return found


def _is_heading_text(text: str, width: int) -> bool:
    text = text.strip()
    if not text or text[-1] in SENTENCE_END + ",-–—" or len(text) > max(40, 0.7 * width):
        return False
    if len(text.split()) > 12 or _FOOTER.match(text):
        return False
    first = text[0]
    return first.isupper() or first.isdigit()


def read_text(path: Path, name: str) -> Document:
    """Plain text, typically extracted from a PDF: hard-wrapped, with footers and form feeds."""
    raw = _decode(path.read_bytes(), name)
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    lines, footers = _paginate(raw.removesuffix("\n").split("\n"))
    content = [line for i, line in enumerate(lines) if i not in footers]
    if not any(line.text.strip() for line in content):
        raise DocumentError(f"{name} holds no text.")
    width = int(statistics.median([len(line.text) for line in content if line.text.strip()]))

    # Title: the first lines up to a blank line, when they look like headings.
    first = 0
    while first < len(content) and not content[first].text.strip():
        first += 1
    title_lines = []
    for line in content[first:]:
        if not line.text.strip():
            break
        title_lines.append(line)
    if 0 < len(title_lines) <= 3 and all(_is_heading_text(line.text, width) for line in title_lines):
        title = " ".join(line.text.strip() for line in title_lines)
        body = content[first + len(title_lines) :]
    else:
        title, body = title_from_name(name), content[first:]

    # Split into runs of non-blank lines; within a run, a heading-like line that follows the
    # end of a sentence starts a new block.
    blocks: list[Block] = []
    current: list[Line] = []

    def flush():
        if current:
            blocks.append(Paragraph(tuple(current)))
            current.clear()

    for i, line in enumerate(body):
        text = line.text.strip()
        if not text:
            flush()
            continue
        prev_ends = not current or current[-1].text.rstrip()[-1:] in SENTENCE_END
        nxt = body[i + 1].text.strip() if i + 1 < len(body) else ""
        next_ok = not nxt or nxt[0].isupper() or nxt[0].isdigit()
        if prev_ends and next_ok and _is_heading_text(text, width):
            flush()
            blocks.append(Heading(text, 0, line))
            continue
        current.append(line)
    flush()
    blocks = _merge_page_continuations(blocks)
    return Document(name, title, _assign_levels(blocks), lines)


def _merge_page_continuations(blocks: list[Block]) -> list[Block]:
    """Join a paragraph that a page break cut in two (no sentence end, next starts lower-case)."""
    merged: list[Block] = []
    for block in blocks:
        previous = merged[-1] if merged else None
        if (
            isinstance(block, Paragraph)
            and isinstance(previous, Paragraph)
            and previous.lines[-1].page != block.lines[0].page
            and previous.lines[-1].text.rstrip()[-1:] not in SENTENCE_END
            and block.lines[0].text.strip()[:1].islower()
        ):
            merged[-1] = Paragraph(previous.lines + block.lines)
        else:
            merged.append(block)
    return merged


def _assign_levels(blocks: list[Block]) -> list[Block]:
    """Give plain-text headings a depth, which the text itself does not state.

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
        numbered = _SECTION_NUMBER.match(block.text)
        is_group = i + 1 < len(blocks) and isinstance(blocks[i + 1], Heading)
        if numbered:
            level = numbered.group(1).count(".") + 1
        elif is_group:
            level, seen_group = 1, True
        else:
            level = 2 if seen_group else 1
        result.append(Heading(block.text, level, block.line))
    return result


# --- Markdown ----------------------------------------------------------------------------

_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def read_markdown(path: Path, name: str) -> Document:
    """Markdown: `#` headings give the sections, the first top heading the title."""
    raw = _decode(path.read_bytes(), name).replace("\r\n", "\n").replace("\r", "\n")
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

    for i, line in enumerate(lines):
        text = line.text
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


# --- PDF ---------------------------------------------------------------------------------

HEADING_SIZE_RATIO = 1.15  # a line this much larger than the body text is a heading
_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)
_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class _PdfLine:
    """A line of a PDF page with what its characters look like."""

    line: Line
    size: float  # the font size of most of its characters, to half a point
    bold: bool  # every character is in a bold font
    top: float
    bottom: float

    @property
    def style(self) -> tuple[float, bool]:
        return (self.size, self.bold)


def page_label(label: str | None, ordinal: int) -> Page:
    """The page as printed: the PDF's page label, as a number where it is one; the page's
    position in the file where the PDF has no labels."""
    label = (label or "").strip()
    if not label:
        return ordinal
    return int(label) if label.isdigit() else label


def read_pdf(path: Path, name: str) -> Document:
    """PDF: the lines of each page's text, page after page; headings from font sizes and bold.

    A line is a heading when its font is clearly larger than the body text, or when it is in
    bold at body size and reads like a heading (short, no sentence end). Larger fonts are
    outer levels. Page-number lines at the top or bottom of a page are kept as lines but are
    not text. A vertical gap wider than the usual line spacing ends a paragraph.
    """
    import pdfplumber

    try:
        with pdfplumber.open(path) as pdf:
            pages = [
                (page_label(page.page_obj.label, page.page_number), page.extract_text_lines(return_chars=True))
                for page in pdf.pages
            ]
    except Exception as exc:  # pdfminer raises many kinds; every one means the PDF cannot be read
        raise DocumentError(
            f"{name} cannot be read as a PDF ({exc or exc.__class__.__name__}); "
            "check that it is a complete PDF without a password."
        ) from None

    lines: list[Line] = []
    content: list[_PdfLine] = []
    for page, extracted in pages:
        on_page = []
        for item in extracted:
            chars = [c for c in item["chars"] if c["text"].strip()]
            if not chars:
                continue
            line = Line(len(lines) + 1, page, item["text"])
            lines.append(line)
            size = Counter(round(c["size"] * 2) / 2 for c in chars).most_common(1)[0][0]
            bold = all(_BOLD_FONT.search(c.get("fontname", "")) for c in chars)
            on_page.append(_PdfLine(line, size, bold, item["top"], item["bottom"]))
        # Page numbers stand alone on the first or last line of their page.
        edges = {0, len(on_page) - 1}
        content.extend(
            item for i, item in enumerate(on_page)
            if not (i in edges and (_FOOTER.match(item.line.text.strip()) or item.line.text.strip() == str(page)))
        )
    if not content:
        raise DocumentError(
            f"{name}: no text found — needs OCR. The PDF holds images of its pages without a text "
            "layer; run OCR on it (for example with ocrmypdf) and add the result."
        )

    sizes = Counter()
    for item in content:
        sizes[item.size] += len(item.line.text)
    body = sizes.most_common(1)[0][0]
    width = int(statistics.median(len(item.line.text) for item in content))

    def is_heading(item: _PdfLine) -> bool:
        text = item.line.text.strip()
        if not _LETTER.search(text) or len(text.split()) > 20:
            return False
        return item.size >= body * HEADING_SIZE_RATIO or (item.bold and _is_heading_text(text, width))

    # The usual space between a line and the next one below it; a line higher up than the one
    # before it starts a new page (or column).
    gaps = [b.top - a.bottom for a, b in zip(content, content[1:]) if b.top > a.bottom]
    usual_gap = statistics.median(gaps) if gaps else 0.0

    def follows_closely(last: _PdfLine, item: _PdfLine) -> bool:
        return last.top < item.top <= last.bottom + usual_gap + 0.5 * (last.bottom - last.top)

    # Group the lines: runs of heading lines in one style are one (wrapped) heading.
    groups: list[tuple[bool, list[_PdfLine]]] = []
    for item in content:
        heading = is_heading(item)
        previous = groups[-1] if groups else None
        if previous and previous[0] == heading and follows_closely(previous[1][-1], item):
            if not heading or previous[1][-1].style == item.style:
                previous[1].append(item)
                continue
        groups.append((heading, [item]))

    def joined(group: list[_PdfLine]) -> str:
        return " ".join(item.line.text.strip() for item in group)

    # The title: a first heading in a style that no other heading has.
    title = title_from_name(name)
    heading_styles = [group[0].style for heading, group in groups if heading]
    if groups and groups[0][0] and heading_styles.count(heading_styles[0]) == 1:
        title = joined(groups[0][1])
        groups, heading_styles = groups[1:], heading_styles[1:]
    level_of = {style: level for level, style in enumerate(sorted(set(heading_styles), reverse=True), start=1)}
    blocks: list[Block] = [
        Heading(joined(group), level_of[group[0].style], group[0].line) if heading else Paragraph(tuple(item.line for item in group))
        for heading, group in groups
    ]
    return Document(name, title, _merge_page_continuations(blocks), lines)


# --- HTML and Word -----------------------------------------------------------------------


class _BlockWriter:
    """Builds a document from a stream of text, line ends, block ends and headings: one line
    per paragraph (or per explicit line break), numbered through the whole document."""

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

    def document(self, name: str, fallback_title: str = "") -> Document:
        self.end_block()
        if not self.lines:
            raise DocumentError(f"{name} holds no text.")
        return Document(name, self.title or fallback_title or title_from_name(name), self.blocks, self.lines)


_HTML_SKIPPED = frozenset("script style nav header footer aside noscript template form button svg iframe head".split())
_HTML_BLOCKS = frozenset(
    """address article blockquote body caption dd details dialog div dl dt fieldset figcaption figure
    hr html li main ol p pre section summary table tbody td tfoot th thead tr ul""".split()
)
_HTML_HEADINGS = {f"h{level}": level for level in range(1, 7)}


def read_html(path: Path, name: str) -> Document:
    """HTML: the main text (menus, headers, footers and scripts left out), headings from
    <h1>–<h6>. The first <h1> before the text is the title, else <title>."""
    from bs4 import BeautifulSoup, NavigableString, Tag

    soup = BeautifulSoup(path.read_bytes(), "html.parser")
    page_title = " ".join(soup.title.get_text(" ").split()) if soup.title else ""
    writer = _BlockWriter()

    def walk(node: Tag) -> None:
        for child in node.children:
            if isinstance(child, Tag):
                if child.name in _HTML_SKIPPED:
                    continue
                if child.name in _HTML_HEADINGS:
                    writer.heading(child.get_text(" "), _HTML_HEADINGS[child.name])
                elif child.name == "br":
                    writer.end_line()
                elif child.name in _HTML_BLOCKS:
                    writer.end_block()
                    walk(child)
                    writer.end_block()
                else:
                    walk(child)
            elif type(child) is NavigableString:  # not comments, doctypes or CDATA
                writer.text(str(child))

    walk(soup.find("main") or soup.body or soup)
    return writer.document(name, page_title)


_WORD_HEADING = re.compile(r"Heading ([1-9])")


def read_docx(path: Path, name: str) -> Document:
    """Word (.docx): headings from the 'Title' and 'Heading N' styles; tables one line a row."""
    import docx
    from docx.table import Table

    try:
        word = docx.Document(str(path))
    except Exception as exc:  # zip, XML and package errors alike mean an unreadable file
        raise DocumentError(
            f"{name} cannot be read as a Word document ({exc or exc.__class__.__name__}); "
            "save it again as .docx and add it once more."
        ) from None
    writer = _BlockWriter()
    for item in word.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells = [cell.text.strip() for cell in row.cells]
                # A merged cell repeats in every column it spans; keep it once.
                writer.text(" | ".join(c for i, c in enumerate(cells) if c and (i == 0 or c != cells[i - 1])))
                writer.end_line()
            writer.end_block()
            continue
        style = item.style.name if item.style is not None else ""
        heading = _WORD_HEADING.fullmatch(style)
        if style == "Title":
            writer.heading(item.text, 0)
        elif heading:
            writer.heading(item.text, int(heading.group(1)))
        else:
            for part in item.text.split("\n"):  # line breaks within the paragraph
                writer.text(part)
                writer.end_line()
            writer.end_block()
    return writer.document(name)


# --- dispatch ----------------------------------------------------------------------------


def _decode(data: bytes, name: str) -> str:
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DocumentError(f"{name} is not a text file (it holds binary data).")
    for encoding in ("utf-8-sig", "utf-16") if data.startswith((b"\xff\xfe", b"\xfe\xff")) else ("utf-8-sig",):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            pass
    return data.decode("cp1252", errors="replace")


Reader = Callable[[Path, str], Document]

READERS: dict[str, Reader] = {
    ".txt": read_text,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".pdf": read_pdf,
    ".html": read_html,
    ".htm": read_html,
    ".docx": read_docx,
}


def supported_suffixes() -> list[str]:
    return sorted(READERS)


def read_document(path: Path, name: str | None = None) -> Document:
    """Read one file; `name` is how citations name it (its path relative to the corpus)."""
    name = name or path.name
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DocumentError(
            f"{name}: files of type '{path.suffix or '(none)'}' cannot be read; "
            f"supported: {', '.join(supported_suffixes())}."
        )
    return reader(path, name)


def corpus_files(corpus_dir: Path) -> list[tuple[Path, str]]:
    """The readable files under the corpus directory, with their names, in a stable order.

    Hidden files and folders (".name") and files of unknown types are left out.
    """
    found = []
    for path in sorted(corpus_dir.rglob("*")):
        relative = path.relative_to(corpus_dir)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.suffix.lower() in READERS:
            found.append((path, relative.as_posix()))
    return found
