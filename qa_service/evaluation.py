"""Measure retrieval on a file of questions: hit@1, recall@3, MRR, page accuracy and latency,
for the dense, lexical and hybrid rankings side by side."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from .search import MODES, Searcher


class EvalFileError(ValueError):
    """A question file that cannot be used; the message names the line."""


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    document: str
    expect: str
    page: int | None = None


@dataclass(frozen=True)
class ModeResult:
    mode: str
    questions: int
    hit_at_1: float
    recall_at_3: float
    mrr: float
    page_accuracy: float | None  # rank 1 on the right page, over the questions that name one
    page_questions: int
    median_ms: float


def _normalized(text: str) -> str:
    return " ".join(text.split())


def read_questions(path: Path) -> list[EvalQuestion]:
    questions = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"{path}: cannot be read ({exc}).") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalFileError(f"{path}, line {number}: not valid JSON ({exc.msg}).") from None
        if not isinstance(item, dict):
            raise EvalFileError(f"{path}, line {number}: expected a JSON object.")
        missing = [k for k in ("question", "document", "expect") if not isinstance(item.get(k), str) or not item[k].strip()]
        if missing:
            raise EvalFileError(f"{path}, line {number}: needs the text field(s) {', '.join(missing)}.")
        page = item.get("page")
        if page is not None and (not isinstance(page, int) or isinstance(page, bool)):
            raise EvalFileError(f"{path}, line {number}: page must be a whole number.")
        questions.append(EvalQuestion(item["question"], item["document"], item["expect"], page))
    if not questions:
        raise EvalFileError(f"{path}: holds no questions.")
    return questions


def is_answer(hit, question: EvalQuestion) -> bool:
    citation = hit.passage.citation
    return (
        citation.document == question.document
        and _normalized(question.expect) in _normalized(hit.passage.text)
        and (question.page is None or citation.page == question.page)
    )


def evaluate(searcher: Searcher, questions: list[EvalQuestion], top_k: int = 10, modes=MODES) -> list[ModeResult]:
    results = []
    for mode in modes:
        first_ranks, right_pages, timings = [], [], []
        for question in questions:
            answer = searcher.ask(question.question, top_k=top_k, mode=mode)
            timings.append(answer.took_ms)
            rank = next((hit.rank for hit in answer.hits if is_answer(hit, question)), None)
            first_ranks.append(rank)
            if question.page is not None:
                top = answer.hits[0].passage.citation if answer.hits else None
                right_pages.append(top is not None and top.document == question.document and top.page == question.page)
        n = len(questions)
        results.append(ModeResult(
            mode=mode,
            questions=n,
            hit_at_1=sum(r == 1 for r in first_ranks) / n,
            recall_at_3=sum(r is not None and r <= 3 for r in first_ranks) / n,
            mrr=sum(1 / r for r in first_ranks if r is not None) / n,
            page_accuracy=sum(right_pages) / len(right_pages) if right_pages else None,
            page_questions=len(right_pages),
            median_ms=statistics.median(timings),
        ))
    return results


def results_table(results: list[ModeResult], top_k: int) -> str:
    header = f"{'mode':<8} {'hit@1':>12} {'recall@3':>12} {f'MRR@{top_k}':>8} {'page acc':>12} {'median ms':>10}"
    rows = [header, "-" * len(header)]
    for r in results:
        n = r.questions

        def share(value: float | None, of: int = n) -> str:
            return "n/a" if value is None else f"{value:.2f} ({round(value * of)}/{of})"

        rows.append(f"{r.mode:<8} {share(r.hit_at_1):>12} {share(r.recall_at_3):>12} {r.mrr:>8.3f} "
                    f"{share(r.page_accuracy, r.page_questions):>12} {r.median_ms:>10.1f}")
    return "\n".join(rows)


def results_json(results: list[ModeResult]) -> dict:
    return {r.mode: {k: v for k, v in asdict(r).items() if k != "mode"} for r in results}
