"""The FAISS backend: the passage vectors in a FAISS index on local disk, memory-mapped."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import faiss
import numpy as np

from ..config import usable_cores
from .vector_search import IndexType

# A single question searches fastest on one thread (exact search over 10,000 vectors: 0.6 ms on
# one, 16 ms on two, as OpenMP's start-up dominates); building an index uses every core.
faiss.omp_set_num_threads(1)


class FaissVectorSearch:
    def __init__(self, index: faiss.Index, vectors: np.ndarray, index_type: IndexType):
        self.index = index
        self.vectors = vectors
        space = faiss.ParameterSpace()
        for name in ("efSearch", "nprobe"):
            if name in index_type.parameters:
                # Search parameters are set after loading: the file keeps whatever they were
                # when it was written.
                space.set_index_parameter(index, name, index_type.parameters[name])

    @classmethod
    def build(cls, vectors: np.ndarray, index_type: IndexType) -> "FaissVectorSearch":
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dimension, p = vectors.shape[1], index_type.parameters
        if index_type.kind == "flat":
            index = faiss.IndexFlatIP(dimension)
        elif index_type.kind == "hnsw":
            index = faiss.IndexHNSWFlat(dimension, p["M"], faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = p["efConstruction"]
        elif index_type.kind == "ivf":
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, p["nlist"], faiss.METRIC_INNER_PRODUCT)
        else:
            raise ValueError(f"unknown index type {index_type.kind!r}")
        faiss.omp_set_num_threads(usable_cores())
        try:
            if index_type.kind == "ivf":
                sample = np.random.default_rng(0).choice(len(vectors), min(len(vectors), 64 * p["nlist"]), replace=False)
                index.train(vectors[np.sort(sample)])
            index.add(vectors)
        finally:
            faiss.omp_set_num_threads(1)
        return cls(index, vectors, index_type)

    def save(self, directory: Path) -> None:
        faiss.write_index(self.index, str(directory / "dense.faiss"))

    @classmethod
    def load(cls, directory: Path, vectors: np.ndarray, index_type: IndexType) -> "FaissVectorSearch":
        # Memory-mapped: worker processes share the pages instead of each holding a copy.
        index = faiss.read_index(str(directory / "dense.faiss"), faiss.IO_FLAG_MMAP_IFC)
        return cls(index, vectors, index_type)

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, self.index.ntotal)
        if k <= 0:
            return []
        scores, rows = self.index.search(np.asarray(vector, dtype=np.float32).reshape(1, -1), k)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def similarities(self, vector: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        if not len(rows):
            return np.zeros(0, np.float32)
        order = np.argsort(rows)  # read the memory-mapped rows in file order
        found = np.empty(len(rows), np.float32)
        found[order] = np.asarray(self.vectors[np.asarray(rows)[order]], dtype=np.float32) @ vector
        return found

    def passage_vectors(self, rows: Sequence[int]) -> np.ndarray:
        return np.asarray(self.vectors[np.asarray(rows, dtype=np.int64)], dtype=np.float32)
