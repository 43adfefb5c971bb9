"""The lexical search interface the searcher uses: BM25 over the passages as the service's
analyzer reads them (lexical.py), whichever backend ranks them.

With FAISS the generation carries a bm25s index that scores every passage at once
(`lexical.LexicalIndex`); with Milvus, Milvus ranks them with its BM25 function over the
analyzed terms (`milvus.MilvusLexicalSearch`). Both give the same scores for the same terms.
"""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

from ..lexical import Analyzer


class LexicalRanking(Protocol):
    """The BM25 ranking of the passages for one question."""

    top: list[tuple[int, float]]  # the best rows with a positive score, best first, as many as asked

    def scores(self, rows: Sequence[int]) -> np.ndarray:
        """The exact BM25 score of each row; 0 for a row that shares no term with the question."""


class LexicalSearch(Protocol):
    analyzer: Analyzer  # also marks the question's words in a passage (highlighting)

    def ranking(self, question: str, k: int) -> LexicalRanking | None:
        """The `k` best passages for the question; None if it shares no term with any passage."""

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """In how many passages each term stands (0 for a term no passage holds)."""
