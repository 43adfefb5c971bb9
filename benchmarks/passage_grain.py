"""How long a passage should be: the splitter's grain measured on the 13 documents, as issue 14
proposed (txtai's paragraph chunks reached a higher recall@3 than our passages on its questions).

Each grain splits the documents again and builds an index of its own; the fusion weights are then
chosen for that grain on the choosing questions (dev, held-out, the choosing third of the hard
ones), as benchmarks/fusion_weights.py chose the service's, and the grain is reported at its
chosen pair on the reporting two thirds of the hard questions. A grain would replace the
service's only if it did better where it is chosen and that held where it is reported. Hybrid
hit@1, recall@3, MRR@10; a passage on another page than the question names counts, so this
compares rankings.

Grains: the service's (at most 200 words, at least 40, five table rows a passage); shorter
(100 / 20); paragraph-sized (60 / 15: 251 characters here, txtai's chunks 370); longer
(300 / 80); and one table row a passage. About a minute and a half per grain here.

    .venv/bin/python benchmarks/passage_grain.py
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from fusion_weights import CHOOSE, REPORT, hybrid, questions, searcher_over_the_documents, weight_grid

from qa_service import passages
from qa_service.config import Settings
from qa_service.documents import read_document
from qa_service.reader_process import ReaderProcess

# name: (most words, fewest words, table rows) of a passage
GRAINS = {
    "service (200 / 40, 5 rows)": (passages.MAX_WORDS, passages.MIN_WORDS, passages.TABLE_ROWS),
    "shorter (100 / 20)": (100, 20, passages.TABLE_ROWS),
    "paragraphs (60 / 15)": (60, 15, passages.TABLE_ROWS),
    "longer (300 / 80)": (300, 80, passages.TABLE_ROWS),
    "one table row": (passages.MAX_WORDS, passages.MIN_WORDS, 1),
}


@contextmanager
def split_at(max_words: int, min_words: int, table_rows: int):
    """While open, builds split documents at this grain: ReaderProcess.read is replaced by a read
    in this process (the documents are the project's own, no reader child needed) and
    passages.TABLE_ROWS set; both are put back on leaving."""
    read, rows = ReaderProcess.read, passages.TABLE_ROWS

    def read_here(self, path: Path, name: str):
        document = read_document(path, name)
        return document, passages.split_document(document, max_words, min_words)

    ReaderProcess.read, passages.TABLE_ROWS = read_here, table_rows
    try:
        yield
    finally:
        ReaderProcess.read, passages.TABLE_ROWS = read, rows


def passage_lengths(searcher) -> tuple[int, float, float]:
    """How many passages the searcher's index holds, and their mean length in words and characters."""
    store = searcher.live_index.current().store
    texts = [passage.text for passage in store.passages(range(store.last_row() + 1)).values()]
    return len(texts), float(np.mean([len(t.split()) for t in texts])), float(np.mean([len(t) for t in texts]))


def main() -> None:
    choose, report = questions(CHOOSE), questions(REPORT)
    print(f"{len(choose)} choosing, {len(report)} reporting questions; hybrid hit@1 / recall@3 / MRR@10, "
          "each grain at the fusion weights chosen for it")
    print(f"{'grain':<28} {'passages':>8} {'words':>6} {'chars':>6} {'chosen':>9}  {'choosing':<20} reporting")
    with tempfile.TemporaryDirectory(prefix="qa-grain-") as scratch:
        for number, (name, grain) in enumerate(GRAINS.items()):
            folder = Path(scratch) / str(number)
            folder.mkdir()
            with split_at(*grain):
                searcher = searcher_over_the_documents(folder, Settings().model, None)
            count, words, characters = passage_lengths(searcher)
            pair, grid = weight_grid(searcher, choose)
            chosen, reported = grid[pair], hybrid(searcher, report, *pair)
            print(f"{name:<28} {count:>8} {words:>6.0f} {characters:>6.0f} {pair[0]:>4.1f}/{pair[1]:<4.1f}  "
                  f"{chosen.hit_at_1:.3f} {chosen.recall_at_3:.3f} {chosen.mrr:.3f}  "
                  f"{reported.hit_at_1:.3f} {reported.recall_at_3:.3f} {reported.mrr:.3f}")


if __name__ == "__main__":
    main()
