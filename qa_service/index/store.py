"""The passage store of a generation: passages with their citations, the documents and their
lines, in one SQLite file written once by a build and read-only afterwards."""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..documents import Document, Line
from ..passages import Citation, Passage

_SCHEMA = """
CREATE TABLE passages (
    row INTEGER PRIMARY KEY, id TEXT NOT NULL, document TEXT NOT NULL, title TEXT NOT NULL,
    section TEXT NOT NULL, page INTEGER, line_start INTEGER NOT NULL, line_end INTEGER NOT NULL,
    text TEXT NOT NULL, sentences TEXT NOT NULL, embed_key TEXT NOT NULL, pdf_page INTEGER,
    page_end INTEGER
);
CREATE INDEX passages_by_id ON passages(id);
CREATE TABLE documents (
    name TEXT PRIMARY KEY, title TEXT NOT NULL, sha256 TEXT NOT NULL, passages INTEGER NOT NULL,
    pages INTEGER, page_numbering TEXT, lines INTEGER NOT NULL
);
CREATE TABLE lines (
    document TEXT NOT NULL, number INTEGER NOT NULL, page INTEGER, text TEXT NOT NULL,
    pdf_page INTEGER, furniture INTEGER NOT NULL, heading INTEGER NOT NULL,
    PRIMARY KEY (document, number)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class DocumentSummary:
    name: str
    title: str
    sha256: str
    passages: int
    pages: int | None
    page_numbering: str | None = None  # "printed", "labels", "ordinal"; None without pages
    lines: int = 0


def write_store(path: Path, passages: Sequence[Passage], keys: Sequence[str], documents: Iterable[Document],
                summaries: dict[str, DocumentSummary]) -> None:
    """Write the store of a new generation; row r is passage r, as in the vector files."""
    connection = sqlite3.connect(path)
    try:
        connection.executescript(_SCHEMA)
        rows = []
        for row, (passage, key) in enumerate(zip(passages, keys)):
            c = passage.citation
            rows.append((row, passage.id, c.document, c.title, json.dumps(c.section, ensure_ascii=False), c.page,
                         c.line_start, c.line_end, passage.text, json.dumps(passage.sentences), key, c.pdf_page,
                         c.page_end))
        connection.executemany("INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        for document in documents:
            summary = summaries[document.name]
            connection.execute(
                "INSERT INTO documents VALUES (?,?,?,?,?,?,?)",
                (summary.name, summary.title, summary.sha256, summary.passages, summary.pages,
                 summary.page_numbering, summary.lines),
            )
            connection.executemany(
                "INSERT INTO lines VALUES (?,?,?,?,?,?,?)",
                [(document.name, line.number, line.page, line.text, line.pdf_page, int(line.furniture), line.heading)
                 for line in document.shown_lines()],
            )
        connection.commit()
    finally:
        connection.close()


class PassageStore:
    """A generation's passages.sqlite, opened read-only and shared by a worker's threads."""

    def __init__(self, path: Path):
        self._db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        self._lock = threading.Lock()

    def _query(self, sql: str, parameters: Sequence = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    def last_row(self) -> int | None:
        """The last passage row. Rows are numbered 0..n-1, so this tells the count without the
        full scan of count(*) (0.57 s cold at a million passages)."""
        (last,), = self._query("SELECT max(row) FROM passages")
        return last

    def sentence_counts(self) -> list[int]:
        """How many sentences each passage has, by row."""
        return [len(json.loads(spans)) for (spans,) in self._query("SELECT sentences FROM passages ORDER BY row")]

    def passages(self, rows: Sequence[int]) -> dict[int, Passage]:
        """Passages by row."""
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        found = {}
        for row, pid, document, title, section, page, start, end, text, sentences, pdf_page, page_end in self._query(
            "SELECT row, id, document, title, section, page, line_start, line_end, text, sentences, pdf_page, page_end "
            f"FROM passages WHERE row IN ({marks})", list(rows)
        ):
            citation = Citation(document, title, tuple(json.loads(section)), page, start, end, pdf_page, page_end)
            spans = tuple(tuple(s) for s in json.loads(sentences))
            found[row] = Passage(pid, text, citation, spans)
        return found

    def rows_of(self, ids: Sequence[str]) -> dict[str, int]:
        """The rows of the passages with these ids; an id the generation does not hold is left out."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return dict(self._query(f"SELECT id, row FROM passages WHERE id IN ({marks})", list(ids)))

    def documents(self) -> list[DocumentSummary]:
        return [DocumentSummary(*row) for row in self._query(
            "SELECT name, title, sha256, passages, pages, page_numbering, lines FROM documents ORDER BY name")]

    def document(self, name: str) -> DocumentSummary | None:
        found = self._query("SELECT name, title, sha256, passages, pages, page_numbering, lines FROM documents "
                            "WHERE name = ?", (name,))
        return DocumentSummary(*found[0]) if found else None

    def document_digests(self) -> dict[str, str]:
        return {name: digest for name, digest in self._query("SELECT name, sha256 FROM documents")}

    def section_headings(self, limit: int) -> list[tuple[str, str]]:
        """Distinct headings that passages stand under (the nearest one), each with its document,
        taking turns across documents so that every document gets a say, in reading order within each."""
        by_document: dict[str, list[str]] = {}
        for document, section in self._query(
            "SELECT document, section FROM passages GROUP BY document, section ORDER BY MIN(row)"
        ):
            headings = json.loads(section)
            if headings and headings[-1] not in by_document.setdefault(document, []):
                by_document[document].append(headings[-1])
        return take_turns([[(heading, document) for heading in headings] for document, headings in by_document.items()],
                           limit)

    def document_lines(self, name: str, first: int = 1, last: int | None = None) -> list[Line]:
        """The document's lines `first` to `last` (to the end without `last`), from the index
        on (document, number): a slice of a long document costs what the slice holds."""
        return [Line(n, p, t, pdf, bool(furniture), heading) for n, p, t, pdf, furniture, heading in self._query(
            "SELECT number, page, text, pdf_page, furniture, heading FROM lines WHERE document = ? AND number BETWEEN ? AND ? "
            "ORDER BY number", (name, first, last if last is not None else 2**62))]

    def vector_cache(self) -> dict[str, int]:
        """embedding key -> the row of its passage's vectors."""
        return {key: row for row, key in self._query("SELECT row, embed_key FROM passages")}

    def close(self) -> None:
        self._db.close()


def take_turns(by_document: list[list[tuple[str, str]]], limit: int) -> list[tuple[str, str]]:
    """The first (heading, document) of each document, then the second of each, and so on; a
    heading already chosen is not chosen again."""
    chosen: list[tuple[str, str]] = []
    for pair in itertools.chain.from_iterable(itertools.zip_longest(*by_document)):
        if pair is not None and pair[0] not in {heading for heading, _ in chosen}:
            chosen.append(pair)
    return chosen[:limit]
