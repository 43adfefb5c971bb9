"""Latency and recall@10 of exact (flat), HNSW and IVF search at several corpus sizes, on one
thread: the figures behind the index types that `index_type_for` in qa_service/index/vector_search.py chooses.

Indexes are built and searched by the service's own FaissVectorSearch (built on every core,
loaded memory-mapped, searched on one thread for the top 100, as a question is), with the
parameters index_type_for gives at each size. Vectors and questions come from the generator
calibrated to real MiniLM embeddings (corpora.py); recall@10 is against exact search. Built
indexes are kept in benchmarks/results/vector-search/ for the next run.

    .venv/bin/python benchmarks/vector_search.py                        # 10,000 to 1,000,000
    .venv/bin/python benchmarks/vector_search.py --sizes 30000 100000
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import faiss
import numpy as np
from corpora import RESULTS, CalibratedVectors
from measuring import Spread

from qa_service.config import usable_cores
from qa_service.index import (
    EXACT_UP_TO,
    HNSW_UP_TO,
    FaissVectorSearch,
    IndexType,
    VectorSearch,
    index_type_for,
)
from qa_service.search import CANDIDATES

CACHE = RESULTS / "vector-search"
SIZES = [10_000, 30_000, 50_000, 100_000, 300_000, 1_000_000]
QUESTIONS = 300
EXACT_QUESTIONS = 30  # exact search at a million takes a third of a second a question


@dataclass(frozen=True)
class SearchFigures:
    milliseconds: Spread  # median latency of one question, over rounds
    recall_at_10: float


def exact_top10(vectors: np.ndarray, questions: np.ndarray) -> np.ndarray:
    """The true 10 nearest rows of each question (all cores, in one batch)."""
    faiss.omp_set_num_threads(usable_cores())  # qa_service.index set one thread, for questions
    try:
        _, rows = faiss.knn(np.ascontiguousarray(questions), vectors, 10, faiss.METRIC_INNER_PRODUCT)
    finally:
        faiss.omp_set_num_threads(1)
    return rows


def measure_search(search: VectorSearch, questions: np.ndarray, truth: np.ndarray | None, rounds: int) -> SearchFigures:
    """Time single questions as the service asks them (top 100, one thread); recall@10 of
    the first 10 against `truth` (None: the search is exact)."""
    found = [[row for row, _ in search.search(q, CANDIDATES)[:10]] for q in questions[:5]]  # warm up
    medians = []
    for _ in range(rounds):
        times = []
        found = []
        for question in questions:
            started = time.perf_counter()
            hits = search.search(question, CANDIDATES)
            times.append((time.perf_counter() - started) * 1000)
            found.append([row for row, _ in hits[:10]])
        medians.append(statistics.median(times))
    recall = 1.0 if truth is None else float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]))
    return SearchFigures(Spread.of(medians), recall)


def vectors_for(size: int) -> np.ndarray:
    """The first `size` passage vectors of the generator, kept on disk and memory-mapped."""
    path = CACHE / f"vectors-{size}.npy"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(path, CalibratedVectors().sample(size, stream=0))
    return np.load(path, mmap_mode="r")


def index_for(vectors: np.ndarray, index_type: IndexType) -> FaissVectorSearch:
    """The service's index of `vectors`, built once and loaded as the service loads it."""
    folder = CACHE / f"{index_type.kind}-{len(vectors)}"
    if not (folder / "dense.faiss").exists():
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        FaissVectorSearch.build(vectors, index_type).save(folder)
        print(f"   (built {index_type.kind} of {len(vectors):,} vectors in {time.perf_counter() - started:.0f} s)", flush=True)
    return FaissVectorSearch.load(folder, vectors, index_type)


def types_to_measure(size: int) -> list[IndexType]:
    """Exact search everywhere; HNSW and IVF, with the parameters the service would use for
    them, from the threshold of exact search up (below it, exact search is fast enough)."""
    if size < EXACT_UP_TO:
        return [IndexType("flat")]
    hnsw = index_type_for(min(max(size, EXACT_UP_TO + 1), HNSW_UP_TO))
    ivf_parameters = dict(index_type_for(HNSW_UP_TO + 1).parameters, nlist=int(4 * np.sqrt(size)))
    return [IndexType("flat"), IndexType("hnsw", hnsw.parameters), IndexType("ivf", ivf_parameters)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds over the questions")
    arguments = parser.parse_args()
    faiss.omp_set_num_threads(1)
    questions = CalibratedVectors().questions(QUESTIONS)
    print(f"one thread, top {CANDIDATES} of {QUESTIONS} question-like vectors (exact search: {EXACT_QUESTIONS}); "
          f"median ms over {arguments.rounds} rounds (min–max), recall@10 against exact search")
    print(f"service thresholds: exact up to {EXACT_UP_TO:,}, HNSW up to {HNSW_UP_TO:,}, IVF above\n")
    print(f"{'passages':>10}  {'index':<56} {'ms a question':>20}  {'recall@10':>9}")
    for size in arguments.sizes:
        vectors = vectors_for(size)
        truth = exact_top10(vectors, questions)
        chosen = index_type_for(size)
        for index_type in types_to_measure(size):
            search = index_for(vectors, index_type)
            asked = questions[:EXACT_QUESTIONS] if index_type.kind == "flat" else questions
            figures = measure_search(search, asked, None if index_type.kind == "flat" else truth, arguments.rounds)
            label = index_type.kind + (f" {index_type.parameters}" if index_type.parameters else "")
            mark = "  ← the service's choice" if index_type.kind == chosen.kind else ""
            print(f"{size:>10,}  {label:<56} {figures.milliseconds.format(2):>20}  {figures.recall_at_10:>9.3f}{mark}",
                  flush=True)


if __name__ == "__main__":
    main()
