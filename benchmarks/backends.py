"""FAISS and Milvus Lite side by side, in one run, on the same corpora and the same vectors:

  1. build: writing a generation with each backend (the vectors come from the FAISS index of
     the corpus, so both write the same generation and embedding, the same for both, is left out)
  2. /ask over HTTP ÷ bare encode([question]) with each backend, the questions interleaved
     (bare, FAISS, Milvus); target: Milvus Lite within 1.5× of FAISS per question
  3. load: 8 clients asking for `--load-seconds`, requests/s, p50, p99 and errors with each
  4. memory: total PSS of each server's processes (master, workers and, with Milvus Lite, its
     own process) once every worker has answered

at 2,000 passages embedded by the model and at 100,000 passages with the calibrated generated
vectors (corpora.CalibratedEmbedder: embedding 100,000 passages with the model takes about ten
hours on this machine's two cores). Questions are always embedded by the real model.

    .venv/bin/python benchmarks/backends.py                       # both sizes
    .venv/bin/python benchmarks/backends.py --sizes 2000 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from corpora import CalibratedEmbedder, corpus_settings, synthetic_index
from measuring import BareModel, Client, Memory, Server, Spread, percentile, questions, save_figures
from run import DEFAULT, LOGS, SERVER_TORCH_THREADS, _hammer

from qa_service.config import Settings
from qa_service.index import IndexGeneration, build_index
from qa_service.index.vector_cache import dequantized


class StoredVectors:
    """An embedder that hands out the vectors a FAISS generation already holds, by passage text:
    so a second backend's build writes the same vectors without embedding them again."""

    def __init__(self, generation: IndexGeneration):
        self.name, self.dimension = generation.manifest["model"], int(generation.manifest["dimension"])
        records = generation.store.passages(range(generation.passage_count))
        self.rows = {records[row].contextual_text(): row for row in range(generation.passage_count)}
        self.generation = generation

    def embed_passages(self, texts, sentences):
        rows = [self.rows[text] for text in texts]
        return (np.asarray(self.generation.vectors[rows], np.float32),
                np.concatenate([dequantized(self.generation.sentences_of(row)) for row in rows]))

    def embed_queries(self, texts):
        raise NotImplementedError("questions are embedded by the real model, in the server")


def indexes(passages: int, generated: bool) -> tuple[Settings, Settings, dict]:
    """The corpus's FAISS index (built once, as benchmarks/run.py builds it), a Milvus Lite index
    of the same vectors, and how long each backend took to write the generation."""
    from qa_service.embedder import load_embedder

    faiss = synthetic_index(passages, CalibratedEmbedder() if generated else load_embedder(DEFAULT))
    source = IndexGeneration.open(faiss.index_dir)
    stored = StoredVectors(source)
    seconds = {}
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as scratch:
        started = time.perf_counter()
        build_index(faiss.with_changes(index_dir=Path(scratch)), stored, full=True)
        seconds["faiss"] = time.perf_counter() - started
    milvus = corpus_settings(passages, generated).with_changes(index_backend="milvus")
    milvus = milvus.with_changes(index_dir=milvus.index_dir.parent / (milvus.index_dir.name + "-milvus"))
    started = time.perf_counter()
    build_index(milvus, stored, full=True)
    seconds["milvus"] = time.perf_counter() - started
    source.close()
    return faiss, milvus, seconds


def compare(passages: int, generated: bool, repeats: int, load_seconds: float, report: dict) -> None:
    faiss, milvus, build = indexes(passages, generated)
    vectors = "generated vectors (CalibratedEmbedder)" if generated else "vectors from the model"
    print(f"\n{passages:,} passages, {vectors}")
    print(f"   build (writing the generation, embedding left out): FAISS {build['faiss']:.1f} s, Milvus Lite "
          f"{build['milvus']:.1f} s, ratio {build['milvus'] / build['faiss']:.2f}")
    figures: dict = {"build_seconds": build}
    asked = questions()
    bare = BareModel(SERVER_TORCH_THREADS)
    servers = {"faiss": Server(faiss, DEFAULT.workers, DEFAULT.threads, LOGS / f"backends-faiss-{passages}.log"),
               "milvus": Server(milvus, DEFAULT.workers, DEFAULT.threads, LOGS / f"backends-milvus-{passages}.log")}
    with servers["faiss"], servers["milvus"]:
        for server in servers.values():
            _hammer(server.port, asked, clients=2 * DEFAULT.workers * DEFAULT.threads, seconds=3)
        clients = {name: Client(server.port) for name, server in servers.items()}
        runs: dict = {name: [] for name in servers}
        encodes = []
        for _ in range(repeats):
            ms: dict = {"encode": [], "faiss": [], "milvus": []}
            for question in asked:  # interleaved, so all three see the same machine
                ms["encode"].append(bare.encode_ms(question))
                for name, client in clients.items():
                    ms[name].append(client.ask_ms(question))
            encodes.append(statistics.median(ms["encode"]))
            for name in servers:
                runs[name].append(statistics.median(ms[name]))
        for client in clients.values():
            client.close()
        ratios = {name: Spread.of([a / e for a, e in zip(runs[name], encodes)]) for name in servers}
        per_question = Spread.of([m / f for m, f in zip(runs["milvus"], runs["faiss"])])
        figures["ask"] = {"encode_ms": Spread.of(encodes).as_json(),
                          **{name: {"ask_ms": Spread.of(runs[name]).as_json(), "ratio_to_encode": ratios[name].as_json()}
                             for name in servers},
                          "milvus_per_faiss": per_question.as_json()}
        print(f"   /ask: encode {Spread.of(encodes).format(1, ' ms')}; FAISS {Spread.of(runs['faiss']).format(1, ' ms')} "
              f"(÷ encode {ratios['faiss'].format(2)}); Milvus Lite {Spread.of(runs['milvus']).format(1, ' ms')} "
              f"(÷ encode {ratios['milvus'].format(2)}); Milvus ÷ FAISS {per_question.format(2)} "
              f"(target <= 1.5: {'met' if per_question.median <= 1.5 else 'missed'}); {len(asked)} questions × {repeats}")

        figures["load"] = {}
        for name, server in servers.items():
            latencies, failed = _hammer(server.port, asked, clients=8, seconds=load_seconds)
            figures["load"][name] = {"requests_per_s": len(latencies) / load_seconds, "errors": failed,
                                     "p50_ms": percentile(latencies, 0.5) if latencies else None,
                                     "p99_ms": percentile(latencies, 0.99) if latencies else None}
            load = figures["load"][name]
            print(f"   load, 8 clients, {load_seconds:.0f} s, {name}: {load['requests_per_s']:.1f} req/s, "
                  f"p50 {load['p50_ms'] or 0:.0f} ms, p99 {load['p99_ms'] or 0:.0f} ms, errors {failed}", flush=True)

        figures["memory_pss_mib"] = {}
        for name, server in servers.items():
            processes = [server.process.pid, *server.worker_pids()]
            figures["memory_pss_mib"][name] = sum(Memory.of(pid).pss for pid in processes)
        print(f"   memory (PSS of every process of the server, after load): FAISS "
              f"{figures['memory_pss_mib']['faiss']:.0f} MiB, Milvus Lite {figures['memory_pss_mib']['milvus']:.0f} MiB")
    report[f"{passages}-{'generated' if generated else 'model'}"] = figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--load-seconds", type=float, default=20.0)
    parser.add_argument("--generated", action="store_true",
                        help="generated vectors at 2,000 passages too (speed hardly depends on the vectors)")
    arguments = parser.parse_args()
    report: dict = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    for passages in arguments.sizes:
        generated = arguments.generated or passages > 2_000
        compare(passages, generated, arguments.repeats if passages <= 2_000 else 1, arguments.load_seconds, report)
    save_figures(report, "backends")


if __name__ == "__main__":
    main()
