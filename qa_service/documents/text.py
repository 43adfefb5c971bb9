"""Plain text, typically extracted from a PDF (pdftotext and the like): hard-wrapped lines, page
numbers and running headers between the pages, sometimes form feeds."""

from __future__ import annotations

import statistics
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from pathlib import Path

from .model import Block, Document, DocumentError, Heading, Line, Page, PageNumbering, Paragraph, title_from_name
from .pages import (
    EDGE_LINES,
    PrintedNumber,
    is_contents_entry,
    is_lone_number,
    looks_like_year,
    numbers_in,
    page_numbers,
    running_lines,
)
from .structure import SENTENCE_END, assign_levels, is_heading_text, merge_continuations, opens_numbered_sections
from .text_tables import find_tables


def decode(data: bytes, name: str) -> str:
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DocumentError(f"{name} is not a text file (it holds binary data).")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # a UTF-16 byte order mark
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise DocumentError(
                f"{name} says it is UTF-16 text but is not valid UTF-16"
                f"{' (its length is an odd number of bytes: it was cut off)' if len(data) % 2 else ''}; "
                "save it again as UTF-8 text.") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def read_text(path: Path, name: str) -> Document:
    """Plain text: pages from page numbers and form feeds, running headers and footers kept as
    lines but not as text, tables laid out in fixed-width columns, headings from short lines that
    follow a sentence end."""
    raw = decode(path.read_bytes(), name).replace("\r\n", "\n").replace("\r", "\n")
    lines, numbering, page_count = _paginate(raw.removesuffix("\n").split("\n"))
    content = [line for line in lines if not line.furniture]
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
    if _is_title(title_lines, content[first + len(title_lines):], width):
        title = " ".join(line.text.strip() for line in title_lines)
        body = content[first + len(title_lines) :]
    else:
        title, body = title_from_name(name), content[first:]

    # Split into runs of non-blank lines, less the tables; within a run, a heading-like line
    # that follows the end of a sentence starts a new block.
    blocks: list[Block] = []
    current: list[Line] = []
    tables = {found.top: found for found in find_tables(body)}
    table_end = 0

    def flush():
        if current:
            blocks.append(Paragraph(tuple(current)))
            current.clear()

    filled = [i for i, line in enumerate(body) if line.text.strip()]
    next_filled = dict(zip(filled, filled[1:]))
    text_page = None  # the page of the last line of text (not a heading)
    for i, line in enumerate(body):
        if i < table_end:
            continue
        if i in tables:
            flush()
            blocks.append(tables[i].table)
            table_end = tables[i].end
            continue
        text = line.text.strip()
        if not text:
            flush()
            continue
        prev_ends = not current or current[-1].text.rstrip()[-1:] in SENTENCE_END
        nxt = body[i + 1].text.strip() if i + 1 < len(body) else ""
        next_ok = not nxt or nxt[0].isupper() or nxt[0].isdigit()
        if prev_ends and next_ok and is_heading_text(text, width) and not _closes_its_page(body, i, next_filled, text_page):
            flush()
            blocks.append(Heading(text, 0, line))
            continue
        current.append(line)
        text_page = line.page
    flush()
    blocks = merge_continuations(blocks)
    return Document(name, title, assign_levels(blocks), lines, numbering, page_count)


# What a table of contents is headed by; such a heading at the top of a file is not its title.
CONTENTS_HEADINGS = frozenset({"inhoud", "inhoudsopgave", "inhoudstafel", "contents", "table of contents"})


def _is_title(first_lines: list[Line], rest: list[Line], width: int) -> bool:
    """Whether a file's first lines (up to a blank line) are its title: one to three lines that
    read like headings, but not the heading of a table of contents ("Inhoud", or one followed by
    entries with dot leaders), nor a numbered chapter's whose sections follow ("3 Operaties")."""
    if not 0 < len(first_lines) <= 3 or not all(is_heading_text(line.text, width) for line in first_lines):
        return False
    text = " ".join(line.text.strip() for line in first_lines)
    following = next((line.text for line in rest if line.text.strip()), "")
    if text.lower() in CONTENTS_HEADINGS or is_contents_entry(following):
        return False
    return not (len(first_lines) == 1 and opens_numbered_sections(text, (line.text for line in rest)))


def _closes_its_page(body: list[Line], i: int, next_filled: dict[int, int], text_page: Page | None) -> bool:
    """Whether a heading-like line is the last of a page that has text above it: a signature
    ("M. Harbers"), a place and date. A heading stands above the text it heads (typesetters keep
    it with the next line), so it never ends a page of text; a chapter's title alone on a
    divider page still heads the chapter."""
    page = body[i].page
    if page is None or page != text_page:
        return False
    following = next_filled.get(i)
    return following is None or body[following].page != page


@dataclass
class _Candidate:
    index: int  # the line
    number: PrintedNumber
    breaks_before: int  # form feeds before the line


def _paginate(raw_lines: list[str]) -> tuple[list[Line], PageNumbering | None, int | None]:
    """Number the lines and give each its page; say which are page numbers or running headers.

    Pages end at form feeds, and at the lines that hold the printed page numbers: numbers in
    sequence through the document (each one more than the one before, or as many more as form
    feeds passed), with text between them. Each sequence (front matter in roman numerals, the
    body from 1) has its numbers in headers or in footers of its own: see `_in_footers`.
    Without either, the document has no pages.
    """
    texts: list[str] = []
    breaks: list[int] = []  # form feeds before each line: its page as the form feeds count
    seen = 0
    for raw in raw_lines:
        if "\f" not in raw:
            texts.append(raw.rstrip())
            breaks.append(seen)
            continue
        # Form feeds before the text open a new page for this line; others close its page.
        leading = len(raw) - len(raw.lstrip("\f"))
        seen += leading
        texts.append(raw.replace("\f", "").rstrip())
        breaks.append(seen)
        seen += raw.count("\f") - leading
    filled = [i for i, text in enumerate(texts) if text.strip()]

    runs = _numbered_lines(texts, breaks, filled)
    number_lines = [c for numbers in runs for c in numbers]
    # Where pages start: at a form feed, and after a footer or at a header.
    starts = {0} | {i for i in range(1, len(texts)) if breaks[i] != breaks[i - 1]}
    for numbers, footers in zip(runs, _in_footers(runs, breaks, filled)):
        starts |= {c.index + footers for c in numbers if 0 < c.index + footers < len(texts)}
    pages = _pages_with_text(sorted(starts), len(texts), filled)
    if len(pages) <= 1 and not number_lines:
        return [Line(i + 1, None, t) for i, t in enumerate(texts)], None, None

    page_of = [0] * len(texts)
    for page, (start, end) in enumerate(pages):
        for i in range(start, end):
            page_of[i] = page
    candidates: list[list[PrintedNumber]] = [[] for _ in pages]
    for c in number_lines:
        candidates[page_of[c.index]].append(c.number)
    numbers = page_numbers(candidates, lone_page_ok=True)
    numbering: PageNumbering = "printed" if numbers.found else "ordinal"
    printed: list[Page | None] = numbers.pages if numbers.found else list(range(1, len(pages) + 1))

    furniture = {c.index for c in number_lines}
    edge_lines, edge_texts = [], []
    for start, end in pages:
        on_page = [i for i in range(start, end) if texts[i].strip() and i not in furniture]
        top, bottom = on_page[:EDGE_LINES], on_page[::-1][:EDGE_LINES]
        edge_lines.append((top, bottom))
        edge_texts.append(([texts[i] for i in top], [texts[i] for i in bottom]))
    for (top, bottom), (top_found, bottom_found) in zip(edge_lines, running_lines(edge_texts)):
        furniture |= {top[p] for p in top_found} | {bottom[p] for p in bottom_found}
    lines = [Line(i + 1, printed[page_of[i]], text, None, i in furniture) for i, text in enumerate(texts)]
    return lines, numbering, len(pages)


def _numbered_lines(texts: list[str], breaks: list[int], filled: list[int]) -> list[list[_Candidate]]:
    """The lines that hold the pages' printed numbers, as the sequences they form, in document
    order: the longest sequences of numbers, each one more than the one before (or as many more
    as form feeds passed between them), with text between any two. Years count only in a
    sequence of three or more. A document with one page and no sequence: its last line, if that
    is a lone number."""
    # Where form feeds mark the pages, a page's number stands among its first or last lines, not
    # in the middle (a table of contents: "1   Inleiding   5").
    by_sheet: dict[int, list[int]] = {}
    for i in filled:
        by_sheet.setdefault(breaks[i], []).append(i)
    at_edges = {i for lines in by_sheet.values() for i in (*lines[:EDGE_LINES], *lines[-EDGE_LINES:])}
    sheets = len(by_sheet) > 1
    candidates = [
        _Candidate(i, number, breaks[i])
        for i in filled
        if not sheets or i in at_edges
        for number in numbers_in(texts[i])
    ]
    text_before = {i: position for position, i in enumerate(filled)}  # lines with text before each
    runs: list[list[_Candidate]] = []
    # The longest open run that each number would continue: by the number it needs next, and
    # by its number less the form feeds before it (pages without a number in between).
    by_next: dict[tuple[bool, int], list[_Candidate]] = {}
    by_offset: dict[tuple[bool, int], list[_Candidate]] = {}

    def fits(run: list[_Candidate] | None, candidate: _Candidate) -> bool:
        if run is None:
            return False
        last = run[-1]
        step, passed = candidate.number.value - last.number.value, candidate.breaks_before - last.breaks_before
        if sheets and not passed:
            return False  # where form feeds mark the pages, the next page's number is on the next one
        return (step == 1 or (passed > 1 and step == passed)) and text_before[candidate.index] - text_before[last.index] > 1

    for candidate in candidates:
        roman, value = candidate.number.numeral is not None, candidate.number.value
        fitting = [run for run in (by_next.get((roman, value)), by_offset.get((roman, value - candidate.breaks_before)))
                   if fits(run, candidate)]
        if fitting:
            run = max(fitting, key=len)
            run.append(candidate)
        else:
            run = [candidate]
            runs.append(run)
        for table, key in ((by_next, (roman, value + 1)), (by_offset, (roman, value - candidate.breaks_before))):
            held = table.get(key)
            # A held run that has moved on since, or a shorter one, gives way.
            if held is None or len(held) <= len(run) or held[-1].number.value > value:
                table[key] = run
    trusted = [
        run for run in runs
        if len(run) >= 3 or (len(run) == 2 and not any(looks_like_year(c.number) for c in run))
    ]
    if trusted:
        # The longest sequences that do not overlap: front matter in roman numerals, then the body.
        chosen: list[list[_Candidate]] = []
        for run in sorted(trusted, key=len, reverse=True):
            if all(run[-1].index < other[0].index or run[0].index > other[-1].index for other in chosen):
                chosen.append(run)
        return sorted(chosen, key=lambda run: run[0].index)
    if filled and not any(breaks) and is_lone_number(texts[filled[-1]]):
        last = [c for c in candidates if c.index == filled[-1] and not looks_like_year(c.number)]
        return [last[:1]] if last else []
    return []


def _in_footers(runs: list[list[_Candidate]], breaks: list[int], filled: list[int]) -> list[bool]:
    """Whether each sequence of page numbers stands in footers (else in headers): front matter
    may be numbered at the foot of its pages and the body at the top, or the other way round.

    Form feeds settle it where they put every number of a sequence at the same edge of its
    page: each the first text after a form feed makes headers, each the last before one footers.
    Else the choice is the one that leaves the least text outside the numbered pages: footers
    number the text before the sequence's first number, headers the text after its last (up to
    the next sequence, or the end). So a title page and a foreword numbered i at its foot, then
    a body numbered 1 at the top, give footers then headers.
    """
    def at_edge(index: int, step: int) -> bool:  # the first (step -1) or last (+1) text of its page
        neighbour = bisect_left(filled, index) + step
        return not 0 <= neighbour < len(filled) or breaks[filled[neighbour]] != breaks[index]

    choices: list[tuple[bool, ...]] = []
    for numbers in runs:
        opens, closes = (all(at_edge(c.index, step) for c in numbers) for step in (-1, 1))
        choices.append((True, False) if opens == closes else (closes,))
    # Text lines before the first sequence, between any two, and after the last.
    edges = [-1, *(i for numbers in runs for i in (numbers[0].index, numbers[-1].index)), len(breaks)]
    stretches = [bisect_left(filled, end) - bisect_right(filled, start) for start, end in zip(edges[::2], edges[1::2])]

    # A stretch is numbered as the last page of a sequence in headers before it, or the first of
    # one in footers after it, so each choice weighs only the stretches beside it: from the last
    # sequence back, the most text numbered from each one on, given whether the one before it
    # stands in headers.
    def gain(k: int, headers_before: bool, footers: bool) -> int:
        return stretches[k] if headers_before or footers else 0

    best = [{False: 0, True: stretches[-1]} for _ in range(len(runs) + 1)]  # by "the one before is in headers"
    for k in reversed(range(len(runs))):
        best[k] = {before: max(gain(k, before, f) + best[k + 1][not f] for f in choices[k]) for before in (False, True)}
    chosen, before = [], False
    for k in range(len(runs)):  # on a tie, footers (choices list footers first)
        footers = next(f for f in choices[k] if gain(k, before, f) + best[k + 1][not f] == best[k][before])
        chosen.append(footers)
        before = not footers
    return chosen


def _pages_with_text(starts: list[int], count: int, filled: list[int]) -> list[tuple[int, int]]:
    """Pages as (first line, end) from where they start; a stretch without text (the blank lines
    between a footer and a form feed) joins the page before it."""
    has_text = set(filled)
    pages: list[tuple[int, int]] = []
    for start, end in zip(starts, starts[1:] + [count]):
        if start >= end:
            continue
        if pages and not any(i in has_text for i in range(start, end)):
            pages[-1] = (pages[-1][0], end)
        else:
            pages.append((start, end))
    if len(pages) > 1 and not any(i in has_text for i in range(*pages[0])):
        pages[1] = (pages[0][0], pages[1][1])
        pages.pop(0)
    return pages
