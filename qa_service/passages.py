"""Split a Document into Passages: whole sentences under one heading, each with its citation;
tables a few rows at a time, each row read with its column names."""

from __future__ import annotations

import bisect
import hashlib
import math
import re
from dataclasses import dataclass, field

from .documents import Document, Heading, Line, Page, Paragraph, Table, TableRow
from .documents.tables import is_value

MAX_WORDS = 200
MIN_WORDS = 40
# A passage is at most this long even where its text has no word breaks (a URL, a hash, a
# line of characters): a quote stays a quote, and an answer of 20 passages stays small.
MAX_CHARS = 2400
TABLE_ROWS = 5  # rows per passage of a table, each passage repeating the caption

# Words after which a full stop does not end a sentence (Dutch and English), lower-case,
# without their final dot.
_ABBREVIATIONS = frozenset(
    """
    o.a bijv bv d.w.z m.b.t t.a.v i.v.m e.d enz etc ca nr nrs art blz pag jl mln mld mrd
    drs dr mr ir ing prof dhr mevr min resp evt incl excl vgl zgn m.u.v n.a.v t.o.v c.q
    cf e.g i.e vs mrs ms no fig st jr sr inc ltd co corp approx dept gov
    """.split()
)
_CONJUNCTIONS = frozenset({"en", "of", "tot", "noch", "and", "or", "to"})
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+")
_FIRST_WORD = re.compile(r"\w+")
_WORD = re.compile(r"\S+")
_LAST_WORD = re.compile(r"(\w+)-$")
_LAST_TOKEN = re.compile(r"(\S+)$")
_LONGEST_ABBREVIATION = max(len(a) for a in _ABBREVIATIONS) + 4  # with an opening bracket or quote


@dataclass(frozen=True)
class Citation:
    """Where a passage stands: enough to find it in the source and check it."""

    document: str
    title: str
    section: tuple[str, ...]  # headings above the passage, outermost first, nearest last
    page: Page | None  # as printed: a number, or a label such as "iv"; None without pages
    line_start: int
    line_end: int
    pdf_page: int | None = None  # the 1-based page of the PDF file, for opening it there
    page_end: Page | None = None  # the printed page the passage ends on, when it runs over a page break

    @property
    def pages(self) -> tuple[Page, ...]:
        """The printed pages the passage stands on: one, or the first and the last."""
        if self.page is None:
            return ()
        return (self.page,) if self.page_end is None else (self.page, self.page_end)

    @property
    def label(self) -> str:
        parts = [self.title + (f" › {self.section[-1]}" if self.section else "")]
        if self.page is not None:
            parts.append("p. " + "–".join(str(page) for page in self.pages))
        lines = f"{self.line_start}" if self.line_start == self.line_end else f"{self.line_start}–{self.line_end}"
        parts.append(f"r. {lines}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Passage:
    id: str
    text: str
    citation: Citation
    sentences: tuple[tuple[int, int], ...] = field(repr=False)  # character spans within text

    def contextual_text(self) -> str:
        """What gets embedded and BM25-indexed: title and headings, then the passage itself."""
        return " › ".join((self.citation.title, *self.citation.section)) + "\n" + self.text


def join_lines(texts: list[str], vocabulary: frozenset[str] = frozenset()) -> tuple[str, list[int]]:
    """Join hard-wrapped lines into running text; also return where each line starts in it.

    A hyphen at a line end joins the halves ("MENA-" + "regio" -> "MENA-regio") unless the
    next word is a conjunction ("mensenhandel-" + "en smokkel" keeps its space: the hyphen
    stands for a left-out word part). The hyphen is dropped only where the unhyphenated word
    occurs elsewhere in `vocabulary`: then it was a word broken for the line width.
    """
    # Built as pieces, looking back only at the previous line: linear in the text's length.
    pieces: list[str] = []
    starts = []
    length = 0
    previous = ""  # the last line with text
    for raw in texts:
        text = raw.strip()
        if previous.endswith("-") and len(previous) > 1 and previous[-2].isalpha() and text:
            first_word = _FIRST_WORD.match(text)
            word = first_word.group(0) if first_word else ""
            if word.lower() in _CONJUNCTIONS:
                pieces.append(" ")
                length += 1
            else:
                head = _LAST_WORD.search(previous)
                if head and word and (head.group(1) + word).lower() in vocabulary:
                    pieces[-1] = pieces[-1][:-1]
                    length -= 1
        elif length and text:
            pieces.append(" ")
            length += 1
        starts.append(length)
        if text:
            pieces.append(text)
            length += len(text)
            previous = text
    return "".join(pieces), starts


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences in `text`, knowing Dutch and English abbreviations."""
    spans = []
    start = len(text) - len(text.lstrip())
    for match in _SENTENCE_END.finditer(text):
        following = text[match.end() : match.end() + 2]
        opens = following[:1] in "\"'“‘([" and following[1:2].isupper()
        if not following or not (following[0].isupper() or following[0].isdigit() or opens):
            continue
        if match.group(0).startswith("."):
            # Only the last word matters, so look no further back than an abbreviation is long:
            # rescanning from the sentence's start made abbreviation-dense text quadratic.
            window = text[max(start, match.start() - _LONGEST_ABBREVIATION - 1) : match.start()]
            token = _LAST_TOKEN.search(window)
            word = token.group(1).lower().lstrip("(\"'“‘") if token else ""
            if token and token.start() == 0 and match.start() - len(window) > start and not text[match.start() - len(window) - 1].isspace():
                word = ""  # the word is longer than the window: no abbreviation
            if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                continue
        end = match.end() - (len(match.group(0)) - len(match.group(0).rstrip()))
        if end > start:
            spans.append((start, end))
        start = match.end()
    end = len(text.rstrip())
    if end > start:
        spans.append((start, end))
    return spans


@dataclass
class _Unit:
    """A piece of running text, or some rows of a table, on its way to becoming a passage."""

    text: str
    sentences: list[tuple[int, int]]
    first: Line  # the first line it cites
    last: Line  # the last line it cites
    mergeable: bool = True  # running text may join a short neighbour; table rows stay apart

    @property
    def words(self) -> int:
        return len(self.text.split())

    def joined_with(self, other: "_Unit") -> "_Unit":
        shift = len(self.text) + 2
        return _Unit(
            self.text + "\n\n" + other.text,
            self.sentences + [(a + shift, b + shift) for a, b in other.sentences],
            self.first,
            max(self.last, other.last, key=lambda line: line.number),  # a footnote comes after, numbered before
        )


def _bounded(text: str, spans: list[tuple[int, int]], max_words: int, max_chars: int) -> list[tuple[int, int]]:
    """The sentences, with any longer than a passage may be cut at word breaks into pieces of
    similar size: a text without sentence ends must not become one huge passage. A "word"
    longer than max_chars is cut where it reaches it."""
    bounded = []
    for begin, end in spans:
        words = [(m.start(), m.end()) for m in _WORD.finditer(text, begin, end)]
        if len(words) <= max_words and end - begin <= max_chars:
            bounded.append((begin, end))
            continue
        limit = math.ceil(len(words) / math.ceil(len(words) / max_words))
        piece_start, count, piece_end = None, 0, begin
        for word_start, word_end in words:
            if piece_start is not None and (count == limit or word_end - piece_start > max_chars):
                bounded.append((piece_start, piece_end))
                piece_start, count = None, 0
            while word_end - word_start > max_chars:  # no break to cut at
                bounded.append((word_start, word_start + max_chars))
                word_start += max_chars
            if piece_start is None:
                piece_start = word_start
            count += 1
            piece_end = word_end
        if piece_start is not None:
            bounded.append((piece_start, piece_end))
    return bounded


def _paragraph_units(paragraph: Paragraph, vocabulary: frozenset[str], max_words: int) -> list[_Unit]:
    """A paragraph as one unit, or split at sentence boundaries into chunks of similar size."""
    lines = paragraph.lines
    text, starts = join_lines([line.text for line in lines], vocabulary)
    spans = _bounded(text, sentence_spans(text), max_words, MAX_CHARS)
    if not spans:
        return []

    def line_at(offset: int) -> Line:
        return lines[max(0, bisect.bisect_right(starts, offset) - 1)]

    def unit(chunk: list[tuple[int, int]]) -> _Unit:
        begin, end = chunk[0][0], chunk[-1][1]
        return _Unit(text[begin:end], [(a - begin, b - begin) for a, b in chunk], line_at(begin), line_at(end - 1))

    counts = [len(text[a:b].split()) for a, b in spans]
    total = sum(counts)
    if total <= max_words and spans[-1][1] - spans[0][0] <= MAX_CHARS:
        return [unit(spans)]
    limit = min(max_words, math.ceil(total / math.ceil(total / max_words) * 1.15))
    units, chunk, words = [], [], 0
    for span, count in zip(spans, counts):
        if chunk and (words + count > limit or span[1] - chunk[0][0] > MAX_CHARS):
            units.append(unit(chunk))
            chunk, words = [], 0
        chunk.append(span)
        words += count
    units.append(unit(chunk))
    return units


def _row_text(header: tuple[str, ...], cells: tuple[str, ...], labelled: bool) -> str:
    """A table row as a sentence: "Artikel 2.1 Veiligheid: Realisatie 2022 123.456; Begroting 2022 120.000"."""
    label, named = (cells[0], zip(header[1:], cells[1:])) if labelled else ("", zip(header, cells))
    values = [f"{name} {value}" if name else value for name, value in named if value]
    if label and values:
        return f"{label}: " + "; ".join(values)
    return label or "; ".join(values)


def _table_units(table: Table, max_words: int) -> list[_Unit]:
    """A table's rows a few at a time, each unit starting with the caption (without one, the
    name of the column that labels the rows: "Verleende vergunningen"), every row read with its
    column names, so each passage can be understood and found on its own."""
    firsts = [row.cells[0] for row in table.rows if row.cells and row.cells[0]]
    labelled = bool(firsts) and sum(not is_value(cell) for cell in firsts) * 2 > len(firsts)
    title = table.caption or (table.header[0] if labelled and table.header else "")
    prefix = f"{title} — " if title else ""
    rows = [(_row_text(table.header, row.cells, labelled), row) for row in table.rows]
    rows = [(text, row) for text, row in rows if text]
    units: list[_Unit] = []
    chunk: list[tuple[str, TableRow]] = []

    def flush():
        if not chunk:
            return
        text, spans = prefix, []
        for row_text, _ in chunk:
            spans.append((len(text), len(text) + len(row_text)))
            text += row_text + "\n"
        units.append(_Unit(text.rstrip("\n"), spans, chunk[0][1].lines[0], chunk[-1][1].lines[-1], mergeable=False))
        chunk.clear()

    words = 0
    for row_text, row in rows:
        count = len(row_text.split())
        if chunk and (len(chunk) == TABLE_ROWS or words + count > max_words
                      or len(prefix) + sum(len(t) + 1 for t, _ in chunk) + len(row_text) > MAX_CHARS):
            flush()
            words = 0
        if len(prefix) + len(row_text) > MAX_CHARS or count > max_words:
            # A row with a whole text in a cell: its pieces, each with the caption before it.
            for begin, end in _bounded(row_text, [(0, len(row_text))], max_words, MAX_CHARS - len(prefix)):
                chunk.append((row_text[begin:end], row))
                flush()
            continue
        chunk.append((row_text, row))
        words += count
    flush()
    return units


def _merge_short(units: list[_Unit], min_words: int, max_words: int) -> list[_Unit]:
    merged: list[_Unit] = []
    for unit in units:
        if (merged and merged[-1].mergeable and unit.mergeable
                and (merged[-1].words < min_words or unit.words < min_words)
                and merged[-1].words + unit.words <= max_words
                and len(merged[-1].text) + len(unit.text) + 2 <= MAX_CHARS):
            merged[-1] = merged[-1].joined_with(unit)
        else:
            merged.append(unit)
    return merged


def passage_id(document: str, text: str, occurrence: int = 0) -> str:
    """Stable id: the same text in the same document gets the same id on every rebuild."""
    key = f"{document}\x00{' '.join(text.split())}\x00{occurrence}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def split_document(document: Document, max_words: int = MAX_WORDS, min_words: int = MIN_WORDS) -> list[Passage]:
    """The document's passages, in reading order. Passages never cross a heading."""
    passages: list[Passage] = []
    seen: dict[str, int] = {}
    headings: list[Heading] = []
    pending: list[_Unit] = []

    def flush():
        section = tuple(h.text for h in headings)
        for unit in _merge_short(pending, min_words, max_words):
            occurrence = seen.get(unit.text, 0)
            seen[unit.text] = occurrence + 1
            last_page = unit.last.page if unit.last.page != unit.first.page else None
            citation = Citation(document.name, document.title, section, unit.first.page, unit.first.number,
                                unit.last.number, unit.first.pdf_page, last_page)
            passages.append(Passage(passage_id(document.name, unit.text, occurrence), unit.text, citation, tuple(unit.sentences)))
        pending.clear()

    for block in document.blocks:
        if isinstance(block, Heading):
            flush()
            headings = [h for h in headings if h.level < block.level] + [block]
        elif isinstance(block, Table):
            pending.extend(_table_units(block, max_words))
        else:
            pending.extend(_paragraph_units(block, document.vocabulary, max_words))
    flush()
    return passages
