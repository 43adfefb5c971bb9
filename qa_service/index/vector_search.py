"""The vector search interface the searcher uses, and the index type a corpus of a given size gets.

Each backend (FAISS on local disk, Milvus) implements `VectorSearch`; `index_type_for` is the
one policy both follow: exact search for small corpora, HNSW, then IVF as the corpus grows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np


class VectorSearch(Protocol):
    """Nearest passages to a question vector."""

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(row, cosine) pairs, best first; the cosines exact (fusion takes them as they are),
        the rows the index's best guess."""

    def similarities(self, vector: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """The cosine of the question vector with the passages at `rows`, exactly."""

    def passage_vectors(self, rows: Sequence[int]) -> np.ndarray:
        """The passage vectors at `rows`, one per row, as float32."""


# Exact search up to here; measured on one core at 384 dimensions (benchmarks/vector_search.py):
# 2.3 ms a question at 30,000 vectors, 6.8 ms at 50,000, as it becomes bound by memory bandwidth.
EXACT_UP_TO = 30_000
# HNSW up to here; above, IVF, whose recall holds at a million (0.996-0.998 at nprobe 32, 2-4 ms)
# where HNSW's falls to 0.89. HNSW's parameters come from the hardest corpus we measured: 100,000
# passages embedded by the model whose texts are all alike (a passage's cosine with another is
# 0.69 on average). There, with the model's questions, efConstruction 100 and efSearch 128 found
# 0.90 of the exact top 10 in 0.54 ms; efConstruction 200 and efSearch 192 find 0.95 in 0.93-0.95 ms.
HNSW_UP_TO = 300_000


@dataclass(frozen=True)
class IndexType:
    """The FAISS structure for a corpus size, and the parameters it is built and searched with."""

    kind: str  # flat, hnsw or ivf
    parameters: dict = field(default_factory=dict)


def index_type_for(passages: int) -> IndexType:
    if passages <= EXACT_UP_TO:
        return IndexType("flat")
    if passages <= HNSW_UP_TO:
        return IndexType("hnsw", {"M": 32, "efConstruction": 200, "efSearch": 192})
    # About four lists per square root of the corpus, trained on 64 vectors a list.
    return IndexType("ivf", {"nlist": int(4 * math.sqrt(passages)), "nprobe": 32})

