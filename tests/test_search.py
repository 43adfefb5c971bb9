"""Ranking, fusion and highlighting on the chapter."""

import numpy as np
import pytest

from qa_service.index import LiveIndex
from qa_service.search import Searcher, standard_score_fusion


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


def test_the_highlight_is_the_sentence_with_the_answer(searcher):
    answer = searcher.ask("Hoeveel militairen zijn in 2022 uitgezonden?", top_k=5)
    top = answer.hits[0]
    start, end = top.highlight
    assert "3.337" in top.passage.text[start:end]
    assert "wederom" not in top.passage.text[start:end]


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
            assert hit.dense is not None
        if mode == "lexical":
            assert hit.lexical is not None and hit.dense is None
    assert "COMPASS" in answer.hits[0].passage.text
