"""Printed page numbers and running headers and footers, for the formats that have pages: PDF,
and text extracted from PDFs.

A page's number is the one printed in its top or bottom lines, alone ("23", "- 23 -", "iv"),
after a word for page ("Pagina 23", "blz. 23 van 40") or at one end of a header or footer line
("23 | Jaarverslag 2023"). A number is believed only when the pages' numbers form a sequence:
each numbered page one more than the numbered page before it, counting the unnumbered pages
between (a cover, a full-page picture). So a year or an amount at the foot of a page never
becomes a page number: nothing on the next pages continues it. Pages inside or around a
sequence get the number their place in it gives them.

Running headers and footers are lines that repeat at the top or bottom of nearby pages, with
their digits counting as alike ("Jaarverslag 2022 | 14", a chapter name, one header on even
pages and another on odd ones): they are furniture, not text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from .model import Page

MAX_GAP = 10  # unnumbered pages a sequence may pass over
NEARBY = 6  # pages on either side where a running header or footer must repeat
EDGE_LINES = 3  # lines at the top and at the bottom of a page that may be furniture

_ROMAN = re.compile(r"^(?=[ivxlcdm]+$)m{0,3}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}
_NUMERAL = r"(\d{1,4}|[ivxlcdm]{1,7}|[IVXLCDM]{1,7})"
_ALONE = re.compile(rf"^[-–—(\[]?\s*{_NUMERAL}\s*[-–—)\]]?$")
_PAGE_WORD = re.compile(rf"^(?:pagina|page|pag\.?|blz\.?|bladzijde|p\.)\s*{_NUMERAL}(?:\s*(?:van|of|/)\s*\d{{1,4}})?$",
                        re.IGNORECASE)
_OF_TOTAL = re.compile(r"^(\d{1,4})\s*(?:/|van|of)\s*(\d{1,4})$")
# A table of contents' entry: a dot leader, then a page reference.
_CONTENTS_ENTRY = re.compile(r"\S\s*(?:\.\s?){4,}\s*\S{1,8}$|\S\s*…{2,}\s*\S{1,8}$")
# Where a header or footer line holds more than its number: a separator or a wide gap.
_SEPARATOR = re.compile(r"\s*[|·•]\s*|\s+[-–—]\s+|\s{3,}|\t+")
_DIGITS = re.compile(r"\d+")
_HAS_DIGIT = re.compile(r"\d")
_ROMAN_WORD = re.compile(r"\b(?:[ivxlcdm]{1,7}|[IVXLCDM]{1,7})\b")


@dataclass(frozen=True)
class PrintedNumber:
    value: int
    numeral: str | None = None  # a roman numeral as printed ("iv", "XII"); None for digits

    @property
    def page(self) -> Page:
        return self.numeral if self.numeral else self.value

    def at(self, value: int) -> "PrintedNumber | None":
        """The number `value` written the same way, None where it cannot be (roman below 1)."""
        if value < 1:
            return None
        if self.numeral is None:
            return PrintedNumber(value)
        numeral = to_roman(value)
        return PrintedNumber(value, numeral if self.numeral.islower() else numeral.upper())


def roman_value(numeral: str) -> int | None:
    numeral = numeral.lower()
    if not numeral or not _ROMAN.match(numeral):
        return None
    total = 0
    for a, b in zip(numeral, numeral[1:] + " "):
        value = _ROMAN_VALUES[a]
        total += -value if b != " " and _ROMAN_VALUES[b] > value else value
    return total


def to_roman(value: int) -> str:
    parts = []
    for amount, numeral in ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
                            (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
        count, value = divmod(value, amount)
        parts.append(numeral * count)
    return "".join(parts)


def _numeral(text: str) -> PrintedNumber | None:
    if text.isdigit():
        value = int(text)
        return PrintedNumber(value) if value >= 1 else None
    value = roman_value(text)
    return PrintedNumber(value, text) if value else None


def _whole(text: str) -> PrintedNumber | None:
    """The page number that makes up all of `text`, if it is one."""
    for pattern in (_ALONE, _PAGE_WORD):
        match = pattern.match(text)
        if match:
            return _numeral(match.group(1))
    match = _OF_TOTAL.match(text)
    if match and int(match.group(1)) <= int(match.group(2)):
        return _numeral(match.group(1))
    return None


def is_contents_entry(text: str) -> bool:
    """A line of a table of contents: a dot leader, then the page it points to
    ("1.1 Aanleiding ........ 5"). Its number is no page's, and the line heads nothing."""
    return bool(_CONTENTS_ENTRY.search(text))


def numbers_in(text: str) -> list[PrintedNumber]:
    """The page numbers a header or footer line may hold: the whole line, or the first or last
    part of a line that a separator or a wide gap divides ("Jaarverslag 2023 | 23")."""
    text = text.strip()
    if not text or len(text) > 160 or is_contents_entry(text):
        return []
    if not _HAS_DIGIT.search(text) and (len(text) > 40 or not _ROMAN_WORD.search(text)):
        return []  # the quick way out for most lines

    whole = _whole(text)
    if whole:
        return [whole]
    parts = [part for part in _SEPARATOR.split(text) if part]
    if len(parts) < 2 or len(parts) > 4:
        return []
    found = [number for number in (_whole(parts[0]), _whole(parts[-1])) if number]
    return found


def is_lone_number(text: str) -> bool:
    """A line that is only a page number ("23", "- 23 -", "Pagina 23"), not part of a header."""
    return _whole(text.strip()) is not None


def looks_like_year(number: PrintedNumber) -> bool:
    return number.numeral is None and 1900 <= number.value <= 2100


@dataclass
class _Run:
    """Numbers on several pages that agree: value - page index is the same for all."""

    numeral: bool
    offset: int
    members: list[tuple[int, PrintedNumber]]

    @property
    def first(self) -> int:
        return self.members[0][0]

    @property
    def last(self) -> int:
        return self.members[-1][0]

    @property
    def trusted(self) -> bool:
        # Three pages that agree, or two that are close: one more than the other, or with one
        # unnumbered page between (a picture). Two numbers far apart agree too easily by chance.
        return len(self.members) >= 3 or (len(self.members) == 2 and self.last - self.first <= 2)


@dataclass(frozen=True)
class PageNumbers:
    """Each page's printed number (None where neither printed nor given by its place in a
    sequence), and the number printed on each page that the sequence confirmed."""

    pages: list[Page | None]
    confirmed: list[PrintedNumber | None]

    @property
    def found(self) -> bool:
        return any(number is not None for number in self.confirmed)


def page_numbers(candidates: Sequence[Sequence[PrintedNumber]], lone_page_ok: bool = False) -> PageNumbers:
    """Printed page numbers from the numbers found at each page's top and bottom (`candidates`,
    one list per page of the file, in order).

    Numbers are believed where they form a sequence. A run that stops (front matter in roman
    numerals, then the body from 1) may be followed by another. A page outside every run takes
    the number the next run gives it counting back, else the one the run before it gives it
    counting on, else None. With `lone_page_ok`, a document of one page believes the one number
    it holds unless it looks like a year: there is nothing to check it against.
    """
    count = len(candidates)
    confirmed: list[PrintedNumber | None] = [None] * count
    if count == 1 and lone_page_ok:
        numbers = [n for n in candidates[0] if not looks_like_year(n)]
        if len(numbers) == 1:
            return PageNumbers([numbers[0].page], [numbers[0]])
    runs: list[_Run] = []
    open_runs: dict[tuple[bool, int], _Run] = {}
    for index, numbers in enumerate(candidates):
        for number in dict.fromkeys(numbers):
            key = (number.numeral is not None, number.value - index)
            run = open_runs.get(key)
            if run is not None and run.last == index:
                continue  # the same number twice on a page (header and footer)
            if run is not None and index - run.last <= MAX_GAP:
                run.members.append((index, number))
            else:
                open_runs[key] = _Run(key[0], key[1], [(index, number)])
                runs.append(open_runs[key])
    # Longer runs first: where two overlap, the pages belong to the one more pages confirm.
    claimed: list[_Run | None] = [None] * count
    for run in sorted((r for r in runs if r.trusted), key=lambda r: (-len(r.members), r.first)):
        span = range(run.first, run.last + 1)
        if any(claimed[i] is not None for i in span):
            span = [i for i in span if claimed[i] is None]
        for i in span:
            claimed[i] = run
        for i, number in run.members:
            if claimed[i] is run:
                confirmed[i] = number
    pages: list[Page | None] = [None] * count
    sample = {id(run): run.members[0][1] for run in runs}
    for i in range(count):
        run = claimed[i]
        if run is not None:
            number = sample[id(run)].at(run.offset + i)
            pages[i] = number.page if number else None
    for i in range(count):
        if claimed[i] is not None:
            continue
        after = next((j for j in range(i + 1, count) if claimed[j] is not None), None)
        before = next((j for j in range(i - 1, -1, -1) if claimed[j] is not None), None)
        for j in (after, before):
            if j is None:
                continue
            run = claimed[j]
            number = sample[id(run)].at(run.offset + i)
            if number is not None:
                pages[i] = number.page
                break
    return PageNumbers(pages, confirmed)


def furniture_key(text: str) -> str:
    """A line as running headers and footers are compared: without a page number at either end
    (the outer side alternates), digits alike, case and spacing aside."""
    parts = [part for part in _SEPARATOR.split(text.strip()) if part]
    if len(parts) > 1 and _whole(parts[-1]):
        parts.pop()
    if len(parts) > 1 and _whole(parts[0]):
        parts.pop(0)
    return _DIGITS.sub("#", " ".join(" | ".join(parts).lower().split()))


def running_lines(edges: Sequence[tuple[Sequence[str], Sequence[str]]]) -> list[tuple[set[int], set[int]]]:
    """Which of each page's top lines and bottom lines (`edges`: per page, the texts of its
    first and last few lines, outermost first, less the lines that are its printed number, so
    that a number above the header or below the footer does not take its place) repeat at the
    same edge of nearby pages.

    A line repeats when its text, digits aside, is among the same edge's lines of at least two
    other pages within NEARBY pages (of one other page in a document of two pages), or when it
    is the outermost line of its page and of one other nearby page: a report's first page
    carries its title instead of the running header, so in a short report of three or four
    pages the header stands on two or three of them.
    """
    count = len(edges)
    needed = min(2, count - 1)
    keys = [
        ([furniture_key(t) for t in top], [furniture_key(t) for t in bottom])
        for top, bottom in edges
    ]
    result: list[tuple[set[int], set[int]]] = []
    for i in range(count):
        found: tuple[set[int], set[int]] = (set(), set())
        if needed < 1:
            result.append(found)
            continue
        nearby = [j for j in range(max(0, i - NEARBY), min(count, i + NEARBY + 1)) if j != i]
        for edge in (0, 1):
            for position, key in enumerate(keys[i][edge]):
                if not key or key == "#":
                    continue  # a lone number is for page_numbers to judge
                matches = sum(1 for j in nearby if key in keys[j][edge])
                outermost = position == 0 and any(keys[j][edge][:1] == [key] for j in nearby)
                if matches >= needed or outermost:
                    found[edge].add(position)
        result.append(found)
    return result
