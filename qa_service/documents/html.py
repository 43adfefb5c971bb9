"""HTML: the main text (the site's menus, banner, footer and scripts left out), headings from
<h1>–<h6>, tables row by row with their column names."""

from __future__ import annotations

from pathlib import Path

from .model import Document
from .structure import BlockWriter

_SKIPPED = frozenset("script style nav footer aside noscript template form button svg iframe head".split())
# ARIA landmarks that are the site around the text, not the text.
_SKIPPED_ROLES = frozenset("banner navigation contentinfo complementary search".split())
# A <header> inside these (or <main>) is the header of an article or section (its title, a
# date); elsewhere it is the site's banner.
_SECTIONING = ("article", "section")
_BLOCKS = frozenset(
    """address article blockquote body caption dd details dialog div dl dt fieldset figcaption figure
    hr html li main ol p pre section summary tbody td tfoot th thead tr ul""".split()
)
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
MAX_COLSPAN = 50
MAX_CELL_CHARS = 600  # a cell with more text than this holds a text, not a figure or a name


def read_html(path: Path, name: str) -> Document:
    """HTML: the text of <main>, else of the page's one <article>, else of <body>. The first
    <h1> before the text is the title, else <title>. The tree is walked with a stack of its
    own, so however deeply elements nest, reading it cannot overflow Python's."""
    from bs4 import BeautifulSoup, NavigableString, Tag

    soup = BeautifulSoup(path.read_bytes(), "html.parser")
    page_title = " ".join(soup.title.get_text(" ").split()) if soup.title else ""
    writer = BlockWriter()
    mains = [m for m in soup.find_all(_is_main) if _in_the_text(m)]
    articles = [a for a in soup.find_all("article") if a.find_parent("article") is None and _in_the_text(a)]
    root = (mains[0] if mains else None) or (articles[0] if len(articles) == 1 else None) or soup.body or soup
    # Each open element: its remaining children, and whether closing it ends a block.
    stack = [(iter(root.children), False)]
    while stack:
        children, is_block = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if is_block:
                writer.end_block()
            continue
        if isinstance(child, Tag):
            if _outside_the_text(child):
                continue
            if child.name in _HEADINGS:
                writer.heading(child.get_text(" "), _HEADINGS[child.name])
            elif child.name == "br":
                writer.end_line()
            elif child.name == "table" and not _lays_out_a_page(child):
                caption, rows, header_rows = _table(child)
                writer.table(caption, rows, header_rows)
            else:
                block = child.name in _BLOCKS
                if block:
                    writer.end_block()
                stack.append((iter(child.children), block))
        elif type(child) is NavigableString:  # not comments, doctypes or CDATA
            writer.text(str(child))
    return writer.document(name, page_title)


def _outside_the_text(element) -> bool:
    """Scripts, menus, the site's banner and footer, and what the page hides."""
    if element.name in _SKIPPED or element.has_attr("hidden") or element.get("aria-hidden") == "true":
        return True
    if element.get("role") in _SKIPPED_ROLES:
        return True
    return element.name == "header" and element.find_parent(_is_sectioning) is None


def _is_main(element) -> bool:
    return element.name == "main" or element.get("role") == "main"


def _is_sectioning(element) -> bool:
    return element.name in _SECTIONING or _is_main(element)


def _in_the_text(element) -> bool:
    """Whether an element stands in the page's text: neither it nor what holds it is left out
    (an <article> inside an <aside> is a teaser, not the page's text)."""
    return not any(_outside_the_text(e) for e in (element, *element.parents))


def _lays_out_a_page(table) -> bool:
    """A table used to place a page's parts (older sites): a table, a heading or a long text
    inside a cell. Its contents are read as text, not as rows of figures."""
    if table.find(["table", *_HEADINGS]) is not None:
        return True
    return any(len(cell.get_text()) > MAX_CELL_CHARS for cell in table.find_all(["td", "th"]))


def _table(table) -> tuple[str, list[list[str | None]], int | None]:
    """A <table>'s caption, its rows of cell texts (None in the columns a colspan covers), and
    how many leading rows are the header (<thead>, or rows of <th> only), None if unmarked."""
    caption = table.find("caption")
    caption_text = caption.get_text(" ") if caption is not None and caption.find_parent("table") is table else ""
    rows: list[list[str | None]] = []
    header_rows = 0
    in_header = True
    for tr in table.find_all("tr"):
        if tr.find_parent("table") is not table:
            continue  # a row of a table inside a cell: its text is in that cell's
        cells: list[str | None] = []
        kinds = set()
        for cell in tr.find_all(["td", "th"], recursive=False):
            kinds.add(cell.name)
            cells.append(cell.get_text(" "))
            span = cell.get("colspan", "1")
            span = int(span) if str(span).isdigit() else 1
            cells.extend([None] * (min(span, MAX_COLSPAN) - 1))
        if not cells:
            continue
        marked = tr.find_parent("thead") is not None or kinds == {"th"}
        if in_header and marked:
            header_rows += 1
        else:
            in_header = False
        rows.append(cells)
    return caption_text, rows, header_rows or None
