"""Read a corpus file into a Document: its title, headings, paragraphs, tables, pages and lines.

One reader per format (text.py, markdown.py, pdf.py, html.py, docx.py) over shared parts: the
Document model (model.py), printed page numbers and running headers and footers (pages.py),
tables (tables.py), and what turns lines into blocks (structure.py). Readers know nothing of
passages or embeddings; they only say what the file holds and where (line numbers and pages),
so citations can point back into the source. Every format numbers its lines from 1 through the
whole document, which is what the document viewer shows and the citations' #L anchors name.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from .docx import read_docx
from .html import read_html
from .markdown import read_markdown
from .model import (
    Block,
    Document,
    DocumentError,
    Heading,
    Line,
    Page,
    PageNumbering,
    Paragraph,
    Table,
    TableRow,
    title_from_name,
)
from .pdf import page_label, read_pdf
from .text import read_text

__all__ = [
    "Block", "Document", "DocumentError", "Heading", "Line", "Page", "PageNumbering", "Paragraph", "READERS",
    "Table", "TableRow", "corpus_files", "page_label", "read_document", "supported_suffixes", "title_from_name",
]

log = logging.getLogger(__name__)

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
    """Read one file; `name` is how citations name it (its path relative to the corpus).

    Whatever goes wrong inside a reader is a DocumentError that says so: a file that breaks a
    parser is refused or skipped, never the end of a request or a build.
    """
    name = name or path.name
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DocumentError(
            f"{name}: files of type '{path.suffix or '(none)'}' cannot be read; "
            f"supported: {', '.join(supported_suffixes())}."
        )
    try:
        return reader(path, name)
    except DocumentError:
        raise
    except (OSError, MemoryError):
        raise  # the file itself could not be read, or the memory ran out: not the document's fault
    except Exception as exc:  # a parser's own failure on this file: RecursionError, KeyError, …
        log.warning("reading %s failed", name, exc_info=exc)
        raise DocumentError(
            f"{name} could not be read ({exc.__class__.__name__}: {str(exc)[:200] or 'no details'}); "
            "check that the file is complete and not damaged, or save it again in another program."
        ) from None


def corpus_files(corpus_dir: Path, left_out: dict[str, str] | None = None) -> list[tuple[Path, str]]:
    """The readable files under the corpus directory, with their names, in a stable order.

    Hidden files and folders (".name") and files of unknown types are left out, and so are
    symbolic links that lead out of the corpus (a link to /etc/passwd.txt would otherwise be
    indexed and shown to anyone): those go into `left_out`, by name, with the reason.
    """
    found = []
    root = corpus_dir.resolve()
    for path in sorted(corpus_dir.rglob("*")):
        relative = path.relative_to(corpus_dir)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.suffix.lower() in READERS:
            if not path.resolve().is_relative_to(root):
                if left_out is not None:
                    left_out[relative.as_posix()] = (
                        f"{relative.as_posix()} is a link to a file outside the corpus folder, which is not indexed; "
                        "copy the file into the corpus instead.")
                continue
            found.append((path, relative.as_posix()))
    return found
