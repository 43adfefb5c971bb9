"""Read a corpus file into a Document: its title, headings, paragraphs, pages and source lines.

One reader per format. Readers know nothing of passages or embeddings; they only say what the
file holds and where (line numbers and pages), so citations can point back into the source.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable, Union


class DocumentError(ValueError):
    """A file that cannot be read as a document; the message says why, in a user's words."""


@dataclass(frozen=True)
class Line:
    """A line of the source: its 1-based number, its page (None where the format has no pages)."""

    number: int
    page: int | None
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
    content = [l for i, l in enumerate(lines) if i not in footers]
    if not any(l.text.strip() for l in content):
        raise DocumentError(f"{name} holds no text.")
    width = int(statistics.median([len(l.text) for l in content if l.text.strip()]))

    # Title: the first lines up to a blank line, when they look like headings.
    first = 0
    while first < len(content) and not content[first].text.strip():
        first += 1
    title_lines = []
    for line in content[first:]:
        if not line.text.strip():
            break
        title_lines.append(line)
    if 0 < len(title_lines) <= 3 and all(_is_heading_text(l.text, width) for l in title_lines):
        title = " ".join(l.text.strip() for l in title_lines)
        body = content[first + len(title_lines) :]
    else:
        title, body = title_from_name(name), content[first:]

    # Split into runs of non-blank lines; within a run, a heading-like line that follows the
    # end of a sentence starts a new block.
    blocks: list[Block] = []
    kinds: list[str] = []  # "heading" or "paragraph", parallel to blocks, before levels are set
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
    if not any(l.text.strip() for l in lines):
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
