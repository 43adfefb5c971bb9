"""Would ONNX Runtime with int8 weights make the default model fast enough to offer it?

Exports all-MiniLM-L6-v2 from the installed package to ONNX (torch.onnx, into
benchmarks/results/onnx/, never into site-packages), quantizes its weights to int8 (dynamic,
per channel), and compares it with the service's torch embedder in one run:

  - a question: the service's torch path ÷ ONNX int8, one thread each (a server worker's share)
  - an index build's embedding: passage and late-chunked sentence vectors of passages of the
    2,000 passage benchmark corpus, torch ÷ ONNX int8, on every core each (as a build runs)
  - hit@1 and recall@3 of hybrid search on the dev questions (and the held-out ones), each
    model indexing the documents itself, and the cosine of the two models' vectors

The issue's bar for offering it as a backend of the service: at least 1.5x faster for both, with eval
results no worse than torch. sentence-transformers' own backend="onnx" needs optimum-onnx,
which cannot be installed beside transformers 5, so this calls onnxruntime directly.

    .venv/bin/pip install onnx onnxruntime            # not dependencies of the service
    .venv/bin/python benchmarks/onnx_backend.py
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from corpora import RESULTS, ROOT, synthetic_corpus
from measuring import QUESTION_FILES, Spread, questions

from qa_service.config import DEFAULT_MODEL, Settings, usable_cores
from qa_service.embedder import Spans, late_chunks, load_embedder, normalized

EXPORT = RESULTS / "onnx"
CORES = usable_cores()
HELD_OUT = ROOT / "tests" / "fixtures" / "heldout" / "corpus"
CHAPTER = ROOT / "corpus" / "beleidsthema-2-vrede-veiligheid-stabiliteit.txt"


def export(model, folder: Path) -> Path:
    """The model's transformer as ONNX, and its int8 quantization; returns the int8 file."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantized = folder / "model-int8.onnx"
    if quantized.exists():
        return quantized
    folder.mkdir(parents=True, exist_ok=True)
    transformer = model[0].auto_model.eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                    token_type_ids=token_type_ids).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = model.tokenizer(["een voorbeeld"], return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "token_embeddings"]}
    torch.onnx.export(LastHiddenState(), tuple(example[name] for name in names), str(folder / "model.onnx"),
                      input_names=names, output_names=["token_embeddings"], dynamic_axes=axes, opset_version=17,
                      dynamo=False)
    quantize_dynamic(str(folder / "model.onnx"), str(quantized), weight_type=QuantType.QInt8, per_channel=True)
    return quantized


class OnnxEmbedder:
    """The same embeddings from an ONNX file: the model's tokenizer, ONNX Runtime for the
    transformer, then mean pooling and normalizing as the sentence-transformers model does;
    sentence vectors by late chunking from the same token embeddings."""

    dimension = 384
    name = DEFAULT_MODEL

    def __init__(self, path: Path, tokenizer, max_length: int, threads: int, batch_size: int = 32):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.tokenizer, self.max_length, self.batch_size = tokenizer, max_length, batch_size

    def _run(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, list]:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                               return_tensors="np", return_offsets_mapping=True)
        inputs = {name: batch[name].astype(np.int64) for name in ("input_ids", "attention_mask", "token_type_ids")}
        tokens = self.session.run(None, inputs)[0]
        mask = batch["attention_mask"][..., None].astype(np.float32)
        pooled = (tokens * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        return tokens, normalized(pooled), batch["offset_mapping"].tolist()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(list(texts))[1]

    def embed_passages(self, texts: Sequence[str], sentences: Sequence[Spans]) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort([-len(text) for text in texts], kind="stable")  # batches of like length pad least
        passage_vectors = np.zeros((len(texts), self.dimension), np.float32)
        by_passage: list[list[np.ndarray]] = [[] for _ in texts]
        for first in range(0, len(texts), self.batch_size):
            rows = order[first:first + self.batch_size]
            tokens, pooled, offsets = self._run([texts[i] for i in rows])
            for j, i in enumerate(rows):
                length = int(sum(1 for a, b in offsets[j] if (a, b) != (0, 0))) + 2  # with [CLS] and [SEP]
                passage_vectors[i] = pooled[j]
                by_passage[i] = late_chunks(tokens[j][:length], offsets[j][:length], sentences[i], pooled[j])
        flat = [vector for vectors in by_passage for vector in vectors]
        return passage_vectors, normalized(np.array(flat).reshape(-1, self.dimension))


def in_turns(first, second, items) -> tuple[list[float], list[float]]:
    """Seconds of `first` and of `second` on each item, taken in turns so both see the same machine."""
    a, b = [], []
    for item in items:
        started = time.perf_counter()
        first(item)
        a.append(time.perf_counter() - started)
        started = time.perf_counter()
        second(item)
        b.append(time.perf_counter() - started)
    return a, b


def evaluate_with(embedder, documents: list[Path], questions_file: Path) -> dict:
    """hit@1 and recall@3 of hybrid search, the embedder having indexed `documents` itself."""
    from qa_service.evaluation import evaluate, read_questions
    from qa_service.index import LiveIndex, build_index
    from qa_service.search import Searcher

    with tempfile.TemporaryDirectory(prefix="qa-onnx-") as scratch:
        settings = Settings(corpus_dir=Path(scratch) / "corpus", index_dir=Path(scratch) / "index")
        settings.corpus_dir.mkdir()
        for document in documents:
            shutil.copy(document, settings.corpus_dir)
        build_index(settings, embedder)
        hybrid = next(r for r in evaluate(Searcher(embedder, LiveIndex(settings, embedder)), read_questions(questions_file))
                      if r.mode == "hybrid")
    return {"hit_at_1": hybrid.hit_at_1, "recall_at_3": hybrid.recall_at_3}


def main() -> None:
    import torch
    from transformers import AutoTokenizer

    from qa_service.documents import corpus_files
    from qa_service.index import file_digests, read_corpus

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--passages", type=int, default=256, help="passages embedded in each run of the build comparison")
    arguments = parser.parse_args()

    torch_embedder = load_embedder(Settings())
    model = torch_embedder.model
    started = time.perf_counter()
    path = export(model, EXPORT)
    print(f"ONNX int8 model: {path.relative_to(ROOT)} ({path.stat().st_size / 1e6:.0f} MB; float32 "
          f"{(EXPORT / 'model.onnx').stat().st_size / 1e6:.0f} MB), ready in {time.perf_counter() - started:.0f} s")
    tokenizer = AutoTokenizer.from_pretrained(str(model[0].auto_model.name_or_path))

    asked = questions()
    torch.set_num_threads(1)
    onnx_one = OnnxEmbedder(path, tokenizer, model.max_seq_length, threads=1)
    in_turns(torch_embedder.embed_queries, onnx_one.embed_queries, [[q] for q in asked[:5]])  # warm up
    torch_ms, onnx_ms, ratios = [], [], []
    for _ in range(arguments.repeats):
        a, b = in_turns(torch_embedder.embed_queries, onnx_one.embed_queries, [[q] for q in asked])
        torch_ms.append(statistics.median(a) * 1000)
        onnx_ms.append(statistics.median(b) * 1000)
        ratios.append(torch_ms[-1] / onnx_ms[-1])
    question_ratio = Spread.of(ratios)
    print(f"\na question, 1 thread each, median of {len(asked)} questions, {arguments.repeats} runs: torch "
          f"{Spread.of(torch_ms).format(1, ' ms')}, ONNX int8 {Spread.of(onnx_ms).format(1, ' ms')}; "
          f"torch ÷ ONNX {question_ratio.format(2)}")

    sources = corpus_files(synthetic_corpus(2_000).corpus_dir)
    passages = read_corpus(sources, file_digests(sources)).passages
    torch.set_num_threads(CORES)
    onnx_all = OnnxEmbedder(path, tokenizer, model.max_seq_length, threads=CORES)
    runs = []
    for run in range(arguments.repeats):
        chosen = passages[run * arguments.passages:(run + 1) * arguments.passages]
        shifts = [len(p.contextual_text()) - len(p.text) for p in chosen]
        runs.append(([p.contextual_text() for p in chosen],
                     [[(a + s, b + s) for a, b in p.sentences] for p, s in zip(chosen, shifts)]))
    a, b = in_turns(lambda run: torch_embedder.embed_passages(*run), lambda run: onnx_all.embed_passages(*run), runs)
    build_ratio = Spread.of([t / o for t, o in zip(a, b)])
    print(f"\nan index build's embedding (passage and sentence vectors), {CORES} threads each, {arguments.passages} "
          f"other passages in each of {arguments.repeats} runs: torch {Spread.of([arguments.passages / t for t in a]).format(1)}"
          f" passages/s, ONNX int8 {Spread.of([arguments.passages / o for o in b]).format(1)} passages/s; "
          f"torch ÷ ONNX {build_ratio.format(2)}")

    texts, spans = runs[0]
    torch_passages, torch_sentences = torch_embedder.embed_passages(texts, spans)
    onnx_passages, onnx_sentences = onnx_all.embed_passages(texts, spans)
    print(f"\ncosine of ONNX int8 and torch vectors (mean, min): questions "
          f"{_agreement(torch_embedder.embed_queries(asked), onnx_all.embed_queries(asked))}, passages "
          f"{_agreement(torch_passages, onnx_passages)}, sentences {_agreement(torch_sentences, onnx_sentences)}")

    floors_met = True
    print("\nhybrid search, each model indexing the documents itself:")
    for label, documents, questions_file in [("dev (1 document, 10 questions)", [CHAPTER], QUESTION_FILES[0]),
                                             ("held-out (4 documents, 60 questions)",
                                              [CHAPTER, *sorted(HELD_OUT.glob("*.txt"))], QUESTION_FILES[1])]:
        with_torch = evaluate_with(torch_embedder, documents, questions_file)
        with_onnx = evaluate_with(onnx_all, documents, questions_file)
        floors_met &= all(with_onnx[k] >= with_torch[k] for k in with_torch)
        print(f"   {label}: torch hit@1 {with_torch['hit_at_1']:.2f} recall@3 {with_torch['recall_at_3']:.2f}; "
              f"ONNX int8 hit@1 {with_onnx['hit_at_1']:.2f} recall@3 {with_onnx['recall_at_3']:.2f}")

    fast = question_ratio.median >= 1.5 and build_ratio.median >= 1.5
    print(f"\nthe bar for offering ONNX int8 (>= 1.5x for questions and builds, eval no worse): "
          f"{'met' if fast and floors_met else 'not met'} (questions {question_ratio.median:.2f}x, builds "
          f"{build_ratio.median:.2f}x, eval {'no worse' if floors_met else 'worse'})")


def _agreement(first: np.ndarray, second: np.ndarray) -> str:
    cosines = (first * second).sum(axis=1)
    return f"{cosines.mean():.3f}, {cosines.min():.3f}"


if __name__ == "__main__":
    main()
