"""Measure the service on files of questions: retrieval (hit@1, recall@3, MRR, page accuracy,
highlight accuracy, per kind of question), abstention on questions the documents do not answer,
and the calibration of the confidence; for the dense, lexical and hybrid rankings side by side."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Sequence

from .confidence import ConfidenceModel, Evidence, choose_threshold, expected_calibration_error, fit_confidence
from .search import ANSWER_DEPTH, MODES, Searcher, Turn


class EvalFileError(ValueError):
    """A question file that cannot be used; the message names the line."""


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    document: str
    expect: str
    page: int | None = None
    kind: str | None = None  # what makes it hard (paraphrase, english, number, ...), for figures per kind


@dataclass(frozen=True)
class UnanswerableQuestion:
    question: str
    kind: str | None = None


@dataclass(frozen=True)
class Figures:
    questions: int
    hit_at_1: float
    recall_at_3: float


@dataclass(frozen=True)
class ModeResult:
    mode: str
    questions: int
    hit_at_1: float
    recall_at_3: float
    mrr: float
    page_accuracy: float | None  # rank 1 on the right page, over the questions that name one
    page_questions: int
    highlight_accuracy: float | None  # the highlight holds `expect`, over questions answered at rank 1
    median_ms: float
    kinds: dict[str, Figures] = field(default_factory=dict)
    abstained: float | None = None  # share of these (answerable) questions answered "not in the documents"


@dataclass(frozen=True)
class AbstentionResult:
    unanswerable: int
    abstained_unanswerable: float  # should be high
    answerable: int
    abstained_answerable: float  # should be low
    kinds: dict[str, float] = field(default_factory=dict)  # abstention per kind of unanswerable question


@dataclass(frozen=True)
class CalibrationResult:
    passages: int
    error: float  # expected calibration error
    table: list[dict]


def normalized_text(text: str) -> str:
    return " ".join(text.split())


def _read_lines(path: Path) -> list[tuple[int, dict]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"{path}: cannot be read ({exc}).") from None
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalFileError(f"{path}, line {number}: not valid JSON ({exc.msg}).") from None
        if not isinstance(item, dict):
            raise EvalFileError(f"{path}, line {number}: expected a JSON object.")
        items.append((number, item))
    if not items:
        raise EvalFileError(f"{path}: holds no questions.")
    return items


def _kind(path: Path, number: int, item: dict) -> str | None:
    kind = item.get("kind")
    if kind is not None and (not isinstance(kind, str) or not kind.strip()):
        raise EvalFileError(f"{path}, line {number}: kind must be a word such as paraphrase or english.")
    return kind


def read_questions(path: Path) -> list[EvalQuestion]:
    questions = []
    for number, item in _read_lines(path):
        missing = [k for k in ("question", "document", "expect") if not isinstance(item.get(k), str) or not item[k].strip()]
        if missing:
            raise EvalFileError(f"{path}, line {number}: needs the text field(s) {', '.join(missing)}.")
        page = item.get("page")
        if page is not None and (not isinstance(page, int) or isinstance(page, bool)):
            raise EvalFileError(f"{path}, line {number}: page must be a whole number.")
        questions.append(EvalQuestion(item["question"], item["document"], item["expect"], page, _kind(path, number, item)))
    return questions


def read_unanswerable(path: Path) -> list[UnanswerableQuestion]:
    questions = []
    for number, item in _read_lines(path):
        if not isinstance(item.get("question"), str) or not item["question"].strip():
            raise EvalFileError(f"{path}, line {number}: needs the text field question.")
        if "expect" in item or "document" in item:
            raise EvalFileError(f"{path}, line {number}: an unanswerable question names no document or expect.")
        questions.append(UnanswerableQuestion(item["question"], _kind(path, number, item)))
    return questions


def is_answer(hit, question: EvalQuestion) -> bool:
    citation = hit.passage.citation
    return (
        citation.document == question.document
        and normalized_text(question.expect) in normalized_text(hit.passage.text)
        and (question.page is None or on_page(citation, question.page))
    )


def on_page(citation, page: int) -> bool:
    """Whether the cited passage stands on the page: its first, its last, or one between."""
    pages = citation.pages
    if len(pages) == 2 and all(isinstance(p, int) for p in pages):
        return pages[0] <= page <= pages[1]
    return page in pages


def highlights_answer(hit, question: EvalQuestion) -> bool:
    start, end = hit.highlight
    return normalized_text(question.expect) in normalized_text(hit.passage.text[start:end])


def _share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def evaluate(searcher: Searcher, questions: list[EvalQuestion], top_k: int = 10, modes=MODES) -> list[ModeResult]:
    results = []
    for mode in modes:
        first_ranks, right_pages, highlighted, timings, abstained = [], [], [], [], []
        for question in questions:
            answer = searcher.ask(question.question, top_k=top_k, mode=mode)
            timings.append(answer.took_ms)
            abstained.append(not answer.answered)
            rank = next((hit.rank for hit in answer.hits if is_answer(hit, question)), None)
            first_ranks.append(rank)
            if question.page is not None:
                top = answer.hits[0].passage.citation if answer.hits else None
                right_pages.append(top is not None and top.document == question.document and on_page(top, question.page))
            if rank == 1:
                highlighted.append(highlights_answer(answer.hits[0], question))
        kinds = {}
        for kind in sorted({q.kind for q in questions if q.kind}):
            ranks = [r for q, r in zip(questions, first_ranks) if q.kind == kind]
            kinds[kind] = Figures(len(ranks), _share([r == 1 for r in ranks]), _share([r is not None and r <= 3 for r in ranks]))
        results.append(ModeResult(
            mode=mode,
            questions=len(questions),
            hit_at_1=_share([r == 1 for r in first_ranks]),
            recall_at_3=_share([r is not None and r <= 3 for r in first_ranks]),
            mrr=sum(1 / r for r in first_ranks if r is not None) / len(questions),
            page_accuracy=_share(right_pages) if right_pages else None,
            page_questions=len(right_pages),
            highlight_accuracy=_share(highlighted) if highlighted else None,
            median_ms=statistics.median(timings),
            kinds=kinds,
            abstained=_share(abstained),
        ))
    return results


def evaluate_abstention(searcher: Searcher, answerable: list[EvalQuestion],
                        unanswerable: list[UnanswerableQuestion]) -> AbstentionResult:
    """How often the service says "not in the documents": on questions they do not answer (it
    should) and on questions they do (it should not). Hybrid ranking, as the chat asks."""
    said_not = [not searcher.ask(q.question, top_k=ANSWER_DEPTH).answered for q in unanswerable]
    wrongly = [not searcher.ask(q.question, top_k=ANSWER_DEPTH).answered for q in answerable]
    kinds = {kind: _share([s for q, s in zip(unanswerable, said_not) if q.kind == kind])
             for kind in sorted({q.kind for q in unanswerable if q.kind})}
    return AbstentionResult(len(unanswerable), _share(said_not), len(answerable), _share(wrongly), kinds)


def labelled_evidence(searcher: Searcher, answerable: list[EvalQuestion], unanswerable: list[UnanswerableQuestion],
                      depth: int = ANSWER_DEPTH) -> list[tuple[int, Evidence, float, bool]]:
    """For the first `depth` passages of every question (hybrid ranking): the question's number
    (answerable first, then unanswerable), the evidence, the confidence it got, and whether the
    passage answers the question (holds the answer, on whatever page it is cited)."""
    rows = []
    for number, question in enumerate([*answerable, *unanswerable]):
        for hit in searcher.ask(question.question, top_k=depth).hits:
            answers = isinstance(question, EvalQuestion) and is_answer(hit, replace(question, page=None))
            rows.append((number, hit.evidence, hit.confidence, answers))
    return rows


def fit_and_choose(searcher: Searcher, answerable: list[EvalQuestion], unanswerable: list[UnanswerableQuestion],
                   model: str, features: Sequence[str], fitted_on: str) -> tuple[ConfidenceModel, CalibrationResult]:
    """Fit the confidence on these questions' first passages, choose the threshold of `answered`
    on the same questions, and say how well calibrated the fit is on them.

    Every question weighs the same, however many passages it has, and the answerable and the
    unanswerable questions weigh the same in all: what matters most is telling a question the
    documents answer from one they do not, not ranking a question's passages among themselves."""
    rows = labelled_evidence(searcher, answerable, unanswerable)
    evidence = [row[1] for row in rows]
    per_question = Counter(row[0] for row in rows)
    split = len(answerable)
    classes = {True: max(1, sum(n < split for n in per_question)), False: max(1, sum(n >= split for n in per_question))}
    weights = [1 / per_question[n] / classes[n < split] for n, *_ in rows]
    fitted = fit_confidence(model, evidence, [row[3] for row in rows], features, fitted_on, weights)
    probabilities = fitted.probabilities(evidence)
    best: dict[int, float] = {}
    for (number, *_), probability in zip(rows, probabilities):
        best[number] = max(best.get(number, 0.0), float(probability))
    fitted = replace(fitted, threshold=round(choose_threshold(
        [best.get(n, 0.0) for n in range(split)], [best.get(n, 0.0) for n in range(split, split + len(unanswerable))]), 6))
    return fitted, calibration([(n, e, float(p), a) for (n, e, _, a), p in zip(rows, probabilities)])


def calibration(rows: list[tuple[int, Evidence, float, bool]]) -> CalibrationResult:
    error, table = expected_calibration_error([r[2] for r in rows], [r[3] for r in rows])
    return CalibrationResult(len(rows), error, table)


def results_table(results: list[ModeResult], top_k: int) -> str:
    header = (f"{'mode':<8} {'hit@1':>12} {'recall@3':>12} {f'MRR@{top_k}':>8} {'page acc':>12} "
              f"{'highlight':>12} {'abstained':>10} {'median ms':>10}")
    rows = [header, "-" * len(header)]
    for r in results:
        n = r.questions

        def share(value: float | None, of: int = n) -> str:
            return "n/a" if value is None else f"{value:.2f} ({round(value * of)}/{of})"

        answered_first = round(r.hit_at_1 * n)
        rows.append(f"{r.mode:<8} {share(r.hit_at_1):>12} {share(r.recall_at_3):>12} {r.mrr:>8.3f} "
                    f"{share(r.page_accuracy, r.page_questions):>12} {share(r.highlight_accuracy, answered_first):>12} "
                    f"{(r.abstained or 0):>10.2f} {r.median_ms:>10.1f}")
    kinds = sorted({kind for r in results for kind in r.kinds})
    if kinds:
        rows += ["", f"{'by kind':<12} " + " ".join(f"{r.mode + ' hit@1 / recall@3':>28}" for r in results)]
        for kind in kinds:
            cells = []
            for r in results:
                f = r.kinds.get(kind)
                cells.append(f"{f.hit_at_1:.2f} / {f.recall_at_3:.2f} (n={f.questions})" if f else "")
            rows.append(f"{kind:<12} " + " ".join(f"{c:>28}" for c in cells))
    return "\n".join(rows)


def abstention_table(result: AbstentionResult) -> str:
    rows = [f"said 'not in the documents' on {result.abstained_unanswerable:.2f} of {result.unanswerable} "
            f"unanswerable questions (target >= 0.80) and on {result.abstained_answerable:.2f} of "
            f"{result.answerable} answerable ones (target <= 0.05)"]
    rows += [f"  {kind:<12} {share:.2f}" for kind, share in result.kinds.items()]
    return "\n".join(rows)


def calibration_table(result: CalibrationResult) -> str:
    rows = [f"confidence of the first {ANSWER_DEPTH} passages of each question ({result.passages} passages): "
            f"expected calibration error {result.error:.3f}",
            f"  {'confidence':<10} {'passages':>8} {'mean confidence':>16} {'answered':>9}"]
    rows += [f"  {b['bin']:<10} {b['passages']:>8} {b['confidence']:>16.2f} {b['answers']:>9.2f}" for b in result.table]
    return "\n".join(rows)


def results_json(results: list[ModeResult]) -> dict:
    return {r.mode: {k: v for k, v in asdict(r).items() if k != "mode"} for r in results}


# --- conversations -------------------------------------------------------------------------

CONVERSATION_KINDS = ("followup", "switch")


@dataclass(frozen=True)
class Conversation:
    """Earlier questions, then a last one whose answer is known (tests/fixtures/followups-README.md)."""

    earlier: tuple[str, ...]
    last: EvalQuestion  # its kind: followup (needs the earlier turns) or switch (stands alone)
    split: str | None = None  # choose or report: which half weights may be chosen on


@dataclass(frozen=True)
class ConversationResult:
    kind: str
    conversations: int
    with_history: Figures
    without_history: Figures
    understood: float  # share whose last question was read with its history (context not null)
    unchanged: float  # share whose passages are the same with history as without
    marked: float | None  # with history, of those answered first: share whose marked sentence holds the answer


def read_conversations(path: Path) -> list[Conversation]:
    conversations = []
    for number, item in _read_lines(path):
        turns = item.get("turns")
        if not (isinstance(turns, list) and len(turns) >= 2 and all(isinstance(t, str) and t.strip() for t in turns)):
            raise EvalFileError(f"{path}, line {number}: turns must be a list of at least two questions.")
        missing = [k for k in ("document", "expect") if not isinstance(item.get(k), str) or not item[k].strip()]
        if missing:
            raise EvalFileError(f"{path}, line {number}: needs the text field(s) {', '.join(missing)}.")
        if item.get("kind") not in CONVERSATION_KINDS:
            raise EvalFileError(f"{path}, line {number}: kind must be followup or switch.")
        page = item.get("page")
        if page is not None and (not isinstance(page, int) or isinstance(page, bool)):
            raise EvalFileError(f"{path}, line {number}: page must be a whole number.")
        split = item.get("split")
        if split is not None and not isinstance(split, str):
            raise EvalFileError(f"{path}, line {number}: split must be a word such as choose or report.")
        last = EvalQuestion(turns[-1], item["document"], item["expect"], page, item["kind"])
        conversations.append(Conversation(tuple(turns[:-1]), last, split))
    return conversations


def conversation_history(searcher: Searcher, earlier: Sequence[str], shown: int = 3) -> list[Turn]:
    """The history a chat client sends: each earlier question asked in turn with the ones before
    it, and the ids of the first `shown` passages it got."""
    history: list[Turn] = []
    for question in earlier:
        answer = searcher.ask(question, top_k=shown, history=history)
        history.append(Turn(question, tuple(hit.passage.id for hit in answer.hits)))
    return history


def evaluate_conversations(searcher: Searcher, conversations: list[Conversation],
                           top_k: int = 10) -> list[ConversationResult]:
    """Each conversation's last question asked with its history and without, per kind."""
    outcomes: dict[str, list[tuple[int | None, int | None, bool, bool, bool | None]]] = {}
    for conversation in conversations:
        question = conversation.last
        alone = searcher.ask(question.question, top_k=top_k)
        answer = searcher.ask(question.question, top_k=top_k, history=conversation_history(searcher, conversation.earlier))
        ranks = [next((hit.rank for hit in a.hits if is_answer(hit, question)), None) for a in (answer, alone)]
        same = [h.passage.id for h in answer.hits] == [h.passage.id for h in alone.hits]
        answer_marked = highlights_answer(answer.hits[0], question) if ranks[0] == 1 else None
        outcomes.setdefault(question.kind or "", []).append((*ranks, answer.context is not None, same, answer_marked))

    def figures(ranks: list[int | None]) -> Figures:
        return Figures(len(ranks), _share([r == 1 for r in ranks]), _share([r is not None and r <= 3 for r in ranks]))

    def marked_share(rows) -> float | None:
        first = [r[4] for r in rows if r[4] is not None]
        return _share(first) if first else None

    return [ConversationResult(kind, len(rows), figures([r[0] for r in rows]), figures([r[1] for r in rows]),
                               _share([r[2] for r in rows]), _share([r[3] for r in rows]), marked_share(rows))
            for kind, rows in sorted(outcomes.items())]


def conversations_table(results: list[ConversationResult]) -> str:
    header = (f"{'last question':<14} {'n':>4} {'':<10} {'with history':>14} {'without':>10} {'read with history':>18} "
              f"{'unchanged':>10} {'answer marked':>14}")
    rows = [header, "-" * len(header)]
    for r in results:
        name = {"followup": "follow-up", "switch": "topic switch"}.get(r.kind, r.kind)
        for label, attribute in (("hit@1", "hit_at_1"), ("recall@3", "recall_at_3")):
            cells = [f"{getattr(f, attribute):.2f}" for f in (r.with_history, r.without_history)]
            marked_cell = "-" if r.marked is None else f"{r.marked:.2f}"
            extra = f"{r.understood:>18.2f} {r.unchanged:>10.2f} {marked_cell:>14}" if label == "hit@1" else ""
            rows.append(f"{name if label == 'hit@1' else '':<14} {r.conversations if label == 'hit@1' else '':>4} "
                        f"{label:<10} {cells[0]:>14} {cells[1]:>10} {extra}".rstrip())
    return "\n".join(rows)
