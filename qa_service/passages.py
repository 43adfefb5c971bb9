"""Split a Document into Passages: whole sentences under one heading, each with its citation."""

from __future__ import annotations

import bisect
import hashlib
import math
import re
from dataclasses import dataclass, field

from .documents import Document, Heading, Page, Paragraph

MAX_WORDS = 200
MIN_WORDS = 40

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


@dataclass(frozen=True)
class Citation:
    """Where a passage stands: enough to find it in the source and check it."""

    document: str
    title: str
    section: tuple[str, ...]  # headings above the passage, outermost first, nearest last
    page: Page | None  # as printed: a number, or a label such as "iv"; None without pages
    line_start: int
    line_end: int

    @property
    def label(self) -> str:
        parts = [self.title + (f" › {self.section[-1]}" if self.section else "")]
        if self.page is not None:
            parts.append(f"p. {self.page}")
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
    joined = ""
    starts = []
    for raw in texts:
        text = raw.strip()
        if joined.endswith("-") and len(joined) > 1 and joined[-2].isalpha() and text:
            first_word = re.match(r"\w+", text)
            word = first_word.group(0) if first_word else ""
            if word.lower() in _CONJUNCTIONS:
                joined += " "
            else:
                head = re.search(r"(\w+)-$", joined)
                if head and word and (head.group(1) + word).lower() in vocabulary:
                    joined = joined[:-1]
        elif joined and text:
            joined += " "
        starts.append(len(joined))
        joined += text
    return joined, starts


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
            token = re.search(r"(\S+)$", text[start : match.start()])
            word = token.group(1).lower().lstrip("(\"'“‘") if token else ""
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
    """A piece of running text on its way to becoming a passage."""

    text: str
    sentences: list[tuple[int, int]]
    line_start: int
    line_end: int
    page: Page | None

    @property
    def words(self) -> int:
        return len(self.text.split())

    def joined_with(self, other: "_Unit") -> "_Unit":
        shift = len(self.text) + 2
        return _Unit(
            self.text + "\n\n" + other.text,
            self.sentences + [(a + shift, b + shift) for a, b in other.sentences],
            self.line_start,
            other.line_end,
            self.page,
        )


def _paragraph_units(paragraph: Paragraph, vocabulary: frozenset[str], max_words: int) -> list[_Unit]:
    """A paragraph as one unit, or split at sentence boundaries into chunks of similar size."""
    lines = paragraph.lines
    text, starts = join_lines([line.text for line in lines], vocabulary)
    spans = sentence_spans(text)
    if not spans:
        return []

    def line_at(offset: int):
        return lines[max(0, bisect.bisect_right(starts, offset) - 1)]

    def unit(chunk: list[tuple[int, int]]) -> _Unit:
        begin, end = chunk[0][0], chunk[-1][1]
        first, last = line_at(begin), line_at(end - 1)
        return _Unit(text[begin:end], [(a - begin, b - begin) for a, b in chunk], first.number, last.number, first.page)

    counts = [len(text[a:b].split()) for a, b in spans]
    total = sum(counts)
    if total <= max_words:
        return [unit(spans)]
    limit = min(max_words, math.ceil(total / math.ceil(total / max_words) * 1.15))
    units, chunk, words = [], [], 0
    for span, count in zip(spans, counts):
        if chunk and words + count > limit:
            units.append(unit(chunk))
            chunk, words = [], 0
        chunk.append(span)
        words += count
    units.append(unit(chunk))
    return units


def _merge_short(units: list[_Unit], min_words: int, max_words: int) -> list[_Unit]:
    merged: list[_Unit] = []
    for unit in units:
        if merged and (merged[-1].words < min_words or unit.words < min_words) and merged[-1].words + unit.words <= max_words:
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
            citation = Citation(document.name, document.title, section, unit.page, unit.line_start, unit.line_end)
            passages.append(Passage(passage_id(document.name, unit.text, occurrence), unit.text, citation, tuple(unit.sentences)))
        pending.clear()

    for block in document.blocks:
        if isinstance(block, Heading):
            flush()
            headings = [h for h in headings if h.level < block.level] + [block]
        else:
            pending.extend(_paragraph_units(block, document.vocabulary, max_words))
    flush()
    return passages
