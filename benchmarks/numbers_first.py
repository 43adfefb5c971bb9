"""How many of the fused ranking to put in order of the question's numbers they hold
(qa_service.search.NUMBERS_FIRST): each depth scored by hybrid hit@1, recall@3 and MRR on the
choosing questions (dev, held-out, the choosing third of the hard ones), where the depth is
chosen, then on the reporting two thirds of the hard questions and on the year questions
(tests/fixtures/hard/questions-years.jsonl: figures asked for one year where the documents give
other years' too), where it was not.

    .venv/bin/python benchmarks/numbers_first.py [--index DIR]   # DIR: reuse a built index
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from fusion_weights import CHOOSE, FIXTURES, REPORT, questions, searcher_over_the_documents

import qa_service.search as search
from qa_service.config import Settings
from qa_service.evaluation import evaluate

YEARS = [FIXTURES / "hard" / "questions-years.jsonl"]
DEPTHS = (0, 2, 3, 5, 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, help="An index of the 13 documents to reuse (built there if missing).")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qa-numbers-") as scratch:
        searcher = searcher_over_the_documents(Path(scratch), Settings().model, arguments.index)
        sets = {"choosing": questions(CHOOSE), "reporting": questions(REPORT), "years": questions(YEARS)}
        print("hybrid hit@1 / recall@3 / MRR; depth 0 is the fused order as it is; "
              + ", ".join(f"{name} {len(asked)} questions" for name, asked in sets.items()))
        print(f"{'depth':>5}  " + "  ".join(f"{name:>21}" for name in sets))
        for depth in DEPTHS:
            search.NUMBERS_FIRST = depth
            figures = [evaluate(searcher, asked, modes=("hybrid",))[0] for asked in sets.values()]
            print(f"{depth:>5}  " + "  ".join(f"{f.hit_at_1:>5.3f} / {f.recall_at_3:.3f} / {f.mrr:.3f}" for f in figures))


if __name__ == "__main__":
    main()
