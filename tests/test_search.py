"""Ranking, fusion and highlighting on the chapter."""

import pytest

from qa_service.index import LiveIndex
from qa_service.search import Searcher, reciprocal_rank_fusion


@pytest.fixture(scope="module")
def searcher(chapter_settings, embedder):
    return Searcher(embedder, LiveIndex(chapter_settings, embedder))


def test_reciprocal_rank_fusion_orders_by_summed_reciprocal_ranks():
    fused = reciprocal_rank_fusion([[10, 20, 30], [30, 20, 40]], k=1)
    # 20: 1/3 + 1/3; 10: 1/2; 30: 1/4 + 1/2; 40: 1/4
    assert [row for row, _ in fused] == [30, 20, 10, 40]
    assert fused[0][1] == pytest.approx((1 / 4 + 1 / 2) / 1.0)


def test_a_row_first_in_every_ranking_scores_one():
    fused = reciprocal_rank_fusion([[7, 8], [7, 9]])
    assert fused[0] == (7, pytest.approx(1.0))


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
