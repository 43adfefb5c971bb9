"""Answer a question: dense and BM25 rankings, fused, with the answering sentence highlighted."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .embedder import Embedder
from .index import LiveIndex
from .passages import Passage

MODES = ("hybrid", "dense", "lexical")
RRF_K = 60  # the constant of Cormack et al. (2009); it damps the weight of the very first ranks
CANDIDATES = 100  # how deep each ranking is read before fusion


@dataclass(frozen=True)
class Hit:
    passage: Passage
    rank: int
    score: float  # hybrid: fused score scaled to 0..1; dense: cosine; lexical: BM25
    dense: float | None  # cosine similarity, None where the dense ranking did not find it
    lexical: float | None  # BM25 score, None where the passage shares no term with the question
    highlight: tuple[int, int]  # the sentence that best answers the question, within text
    terms: tuple[tuple[int, int], ...]  # the question's words as they occur in text


@dataclass(frozen=True)
class Answer:
    question: str
    mode: str
    hits: list[Hit]
    generation: str
    took_ms: float


def reciprocal_rank_fusion(rankings: list[list[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse rankings of rows by the sum of 1/(k + rank); scores scaled so that a row ranked
    first everywhere scores 1. Ties keep the order in which rows were first seen."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking, start=1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (k + rank)
    best = len(rankings) / (k + 1)
    return sorted(((row, score / best) for row, score in fused.items()), key=lambda item: -item[1])


class Searcher:
    def __init__(self, embedder: Embedder, live_index: LiveIndex):
        self.embedder = embedder
        self.live_index = live_index

    def ask(self, question: str, top_k: int = 5, mode: str = "hybrid") -> Answer:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        started = time.perf_counter()
        generation = self.live_index.current()
        query_vector = None
        dense: dict[int, float] = {}
        lexical: dict[int, float] = {}
        if mode != "lexical":
            query_vector = self.embedder.embed_queries([question])[0]
            dense = dict(generation.dense.search(query_vector, CANDIDATES))
        if mode != "dense":
            lexical = dict(generation.lexical.search(question, CANDIDATES))
        if mode == "hybrid":
            ranked = reciprocal_rank_fusion([list(dense), list(lexical)])
        else:
            ranked = list((dense or lexical).items())
        ranked = ranked[:top_k]

        records = generation.passages([row for row, _ in ranked])
        analyzer = generation.lexical.analyzer
        question_stems = set(analyzer.stems(question))
        hits = []
        for rank, (row, score) in enumerate(ranked, start=1):
            passage, sentence_row = records[row]
            spans = [(t.start, t.end, t.stem) for t in analyzer.terms(passage.text) if t.stem in question_stems]
            sentence_vectors = generation.sentence_vectors[sentence_row : sentence_row + len(passage.sentences)]
            hits.append(
                Hit(
                    passage=passage,
                    rank=rank,
                    score=score,
                    dense=dense.get(row),
                    lexical=lexical.get(row),
                    highlight=_best_sentence(passage, sentence_vectors, query_vector, spans),
                    terms=tuple((a, b) for a, b, _ in spans),
                )
            )
        took_ms = (time.perf_counter() - started) * 1000
        return Answer(question, mode, hits, generation.name, took_ms)


def _best_sentence(passage: Passage, sentence_vectors: np.ndarray, query_vector: np.ndarray | None, terms) -> tuple[int, int]:
    """The sentence closest to the question by the model (to two decimals, the precision at
    which its scores mean something); ties go to the sentence with more of the question's
    words. Without a question vector (lexical mode), by those words alone."""
    if query_vector is not None and len(sentence_vectors):
        similarity = (np.asarray(sentence_vectors, dtype=np.float32) / 127.0) @ query_vector
    else:
        similarity = np.zeros(len(passage.sentences))

    def overlap(span: tuple[int, int]) -> int:
        return len({stem for a, b, stem in terms if span[0] <= a and b <= span[1]})

    best = max(range(len(passage.sentences)), key=lambda i: (round(float(similarity[i]), 2), overlap(passage.sentences[i]), -i))
    return passage.sentences[best]
