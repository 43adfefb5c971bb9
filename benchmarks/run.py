"""The five figures of issue 6, each a median with min–max over repeated runs and a ratio
measured in the same run:

  1. /ask latency over HTTP (the real server) ÷ a bare encode of the question by the model's own
     engine on the server's threads (measuring.BareModel), at 2,000 and 100,000 passages
                                                                       target <= 1.3
  2. vector search alone at 100,000 and 1,000,000 passages, recall@10 against exact search
                                                  target <= 5 ms at 1,000,000, recall >= 0.95
  3. index build throughput ÷ bare encode of the same passages (2,000)  target >= 0.9
  4. requests/s for /ask with 8 concurrent clients, p50 and p99, for 1-3 workers and threads
  5. memory of the server with the 1,000,000-passage index: master, each worker, per extra worker

The corpora are written from the chapter's words with a fixed seed (corpora.py). The /ask
and load figures use corpora of 2,000 and 100,000 passages embedded by the real model, as a
deployment's would be (the 100,000 take 90 minutes to embed here, once). The vector
search figures use corpora of 100,000 and 1,000,000 passages indexed by the service's own build
with passage vectors from a generator calibrated to real MiniLM embeddings (the model would
take about 15 hours for the million), and the model's 100,000 too; memory uses the generated
million. Questions sent to a server are always embedded
by the real model in that server. Corpora and indexes are built once into benchmarks/results/
and reused.

    .venv/bin/python benchmarks/run.py                 # all five
    .venv/bin/python benchmarks/run.py ask load        # some of them: ask search build load memory
    .venv/bin/python benchmarks/run.py --passages 200 ask build load memory   # one smaller corpus
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from corpora import RESULTS, CalibratedEmbedder, CalibratedVectors, synthetic_index
from measuring import BareModel, Client, Memory, Server, Spread, percentile, questions, save_figures

from qa_service.config import Settings, usable_cores

CORES = usable_cores()
DEFAULT = Settings()
SERVER_TORCH_THREADS = max(1, CORES // DEFAULT.workers)  # what server._share_cores gives a worker
LOGS = RESULTS / "logs"
MEASUREMENTS = ["ask", "search", "build", "load", "memory"]


def model_index(passages: int) -> Settings:
    """The synthetic corpus embedded by the real model."""
    from qa_service.embedder import load_embedder

    return synthetic_index(passages, load_embedder(DEFAULT))


def calibrated_index(passages: int) -> Settings:
    """The synthetic corpus with passage vectors from the calibrated generator."""
    return synthetic_index(passages, CalibratedEmbedder())


def ask_latency(sizes: list[int], repeats: int, report: dict) -> None:
    print(f"\n1. /ask over HTTP ÷ bare encode([question]); server: {DEFAULT.workers} workers × {DEFAULT.threads} "
          f"threads, model threads {SERVER_TORCH_THREADS} a worker; bare encode on {SERVER_TORCH_THREADS} thread(s)")
    asked = questions()
    indexes = {passages: model_index(passages) for passages in sizes}  # built before the bare model takes its threads
    bare = BareModel(SERVER_TORCH_THREADS)
    for passages, settings in indexes.items():
        with Server(settings, DEFAULT.workers, DEFAULT.threads, LOGS / f"ask-{passages}.log") as server:
            # Every worker thread's first questions, concurrently; then one user's questions over
            # one connection (one worker), each after the last.
            _hammer(server.port, asked, clients=2 * DEFAULT.workers * DEFAULT.threads, seconds=3)
            client = Client(server.port)
            asks, encodes, ratios = [], [], []
            for _ in range(repeats):
                ask_ms, encode_ms = [], []
                for question in asked:  # interleaved, so both see the same machine
                    encode_ms.append(bare.encode_ms(question))
                    ask_ms.append(client.ask_ms(question))
                asks.append(statistics.median(ask_ms))
                encodes.append(statistics.median(encode_ms))
                ratios.append(asks[-1] / encodes[-1])
            client.close()
        figures = {"ask_ms": Spread.of(asks), "encode_ms": Spread.of(encodes), "ratio": Spread.of(ratios)}
        report[f"ask_{passages}"] = {k: v.as_json() for k, v in figures.items()}
        verdict = "met" if figures["ratio"].median <= 1.3 else "missed"
        print(f"   {passages:>9,} passages: /ask {figures['ask_ms'].format(1, ' ms')}, encode "
              f"{figures['encode_ms'].format(1, ' ms')}, ratio {figures['ratio'].format(2)} "
              f"(target <= 1.3: {verdict}); {len(asked)} questions × {repeats} runs")


def vector_search(sizes: list[int], repeats: int, report: dict) -> None:
    from vector_search import EXACT_QUESTIONS, exact_top10, measure_search

    from qa_service.embedder import load_embedder
    from qa_service.index import FaissVectorSearch, IndexGeneration, IndexType

    print("\n2. vector search alone (the service's index, memory-mapped, one thread, top 100) ÷ exact search; "
          "recall@10 against exact search. Passage vectors from the calibrated generator with question-like "
          "vectors from it, and at 100,000 passages also the model's vectors with the 70 questions it encodes")
    generated = CalibratedVectors().questions(300)
    cases = [(passages, "generator", calibrated_index(passages), generated) for passages in sizes]
    if 100_000 in sizes:
        asked = load_embedder(DEFAULT).embed_queries(questions())
        cases = sorted([*cases, (100_000, "model", model_index(100_000), asked)], key=lambda case: case[0])
    for passages, vectors_by, settings, questions_ in cases:
        generation = IndexGeneration.open(settings.index_dir)
        truth = exact_top10(generation.vectors, questions_)
        chosen = measure_search(generation.dense, questions_, truth, repeats)
        exact = measure_search(FaissVectorSearch.build(generation.vectors, IndexType("flat")),
                               questions_[:EXACT_QUESTIONS], None, repeats)
        ratio = chosen.milliseconds.median / exact.milliseconds.median
        kind = f"{generation.manifest['index_type']} {generation.manifest['index_parameters']}"
        report[f"search_{passages}_{vectors_by}"] = {
            "index": kind, "ms": chosen.milliseconds.as_json(), "recall_at_10": chosen.recall_at_10,
            "exact_ms": exact.milliseconds.as_json(), "ratio_to_exact": ratio}
        met = "" if passages < 1_000_000 else (
            f" (target <= 5 ms with recall >= 0.95: "
            f"{'met' if chosen.milliseconds.median <= 5 and chosen.recall_at_10 >= 0.95 else 'missed'})")
        print(f"   {passages:>9,} passages, vectors by the {vectors_by}, {kind}: {chosen.milliseconds.format(2, ' ms')}, "
              f"recall@10 {chosen.recall_at_10:.3f}; exact {exact.milliseconds.format(1, ' ms')}, ratio {ratio:.3f}{met}")
        generation.close()


def build_throughput(passages: int, repeats: int, report: dict) -> None:
    import tempfile

    from qa_service.documents import corpus_files
    from qa_service.embedder import load_embedder
    from qa_service.index import build_index, file_digests, read_corpus

    print(f"\n3. index build of {passages:,} passages with the real model (passages/s) ÷ bare encode of the same "
          f"passages' texts; both on {CORES} model threads, as `qa-service build` runs")
    source = model_index(passages)
    sources = corpus_files(source.corpus_dir)
    texts = [p.contextual_text() for p in read_corpus(sources, file_digests(sources)).passages]
    bare = BareModel(CORES)
    embedder = load_embedder(DEFAULT)
    builds, encodes, ratios = [], [], []
    for _ in range(repeats):
        started = time.perf_counter()
        bare.encode_passages(texts)
        encodes.append(len(texts) / (time.perf_counter() - started))
        with tempfile.TemporaryDirectory(prefix="qa-bench-") as scratch:
            started = time.perf_counter()
            build_index(source.with_changes(index_dir=Path(scratch)), embedder, full=True)
            builds.append(passages / (time.perf_counter() - started))
        ratios.append(builds[-1] / encodes[-1])
    figures = {"build_per_s": Spread.of(builds), "encode_per_s": Spread.of(encodes), "ratio": Spread.of(ratios)}
    report["build"] = {k: v.as_json() for k, v in figures.items()}
    verdict = "met" if figures["ratio"].median >= 0.9 else "missed"
    print(f"   build {figures['build_per_s'].format(1, ' passages/s')}, encode {figures['encode_per_s'].format(1, ' passages/s')}, "
          f"ratio {figures['ratio'].format(2)} (target >= 0.9: {verdict}); {repeats} runs")


def load(passages: int, configurations: list[tuple[int, int]], repeats: int, seconds: float, report: dict) -> None:
    print(f"\n4. /ask under load: 8 clients on loopback, each asking again as soon as answered, {passages:,} passages; "
          f"rounds of {seconds:.0f} s; capacity of the bare model = {CORES} cores ÷ encode([question]) on one thread")
    settings = model_index(passages)
    asked = questions()
    bare = BareModel(1)
    report["load"] = {}
    for workers, threads in configurations:
        with Server(settings, workers, threads, LOGS / f"load-{workers}x{threads}.log") as server:
            _hammer(server.port, asked, clients=2 * workers * threads, seconds=3)  # every worker thread's first question
            rates, p50s, p99s, ratios, errors = [], [], [], [], 0
            for _ in range(repeats):
                capacity = CORES * 1000 / statistics.median(bare.encode_ms(q) for q in asked[:20])
                latencies, failed = _hammer(server.port, asked, clients=8, seconds=seconds)
                rates.append(len(latencies) / seconds)
                p50s.append(percentile(latencies, 0.5))
                p99s.append(percentile(latencies, 0.99))
                ratios.append(rates[-1] / capacity)
                errors += failed
        figures = {"requests_per_s": Spread.of(rates), "p50_ms": Spread.of(p50s), "p99_ms": Spread.of(p99s),
                   "ratio_to_capacity": Spread.of(ratios)}
        report["load"][f"{workers}x{threads}"] = {**{k: v.as_json() for k, v in figures.items()}, "errors": errors}
        print(f"   {workers} worker(s) × {threads} thread(s): {figures['requests_per_s'].format(1, ' req/s')}, "
              f"p50 {figures['p50_ms'].format(0, ' ms')}, p99 {figures['p99_ms'].format(0, ' ms')}, "
              f"÷ capacity {figures['ratio_to_capacity'].format(2)}, errors {errors}", flush=True)


def _hammer(port: int, asked: list[str], clients: int, seconds: float) -> tuple[list[float], int]:
    """`clients` threads asking in a loop until `seconds` have passed: the latencies of the
    answers, and how many requests failed."""
    deadline = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(clients)]  # each thread its own lists
    failures = [0] * clients

    def ask_until_deadline(number: int) -> None:
        client = Client(port)
        turn = number * 9
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                status, _ = client.ask(asked[turn % len(asked)])
            except (OSError, http.client.HTTPException):
                status = 0
                client.close()
                client = Client(port)
            if status == 200:
                latencies[number].append((time.perf_counter() - started) * 1000)
            else:
                failures[number] += 1
            turn += 1
        client.close()

    threads = [threading.Thread(target=ask_until_deadline, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [ms for own in latencies for ms in own], sum(failures)


def memory(settings: Settings, passages: int, worker_counts: list[int], repeats: int, report: dict) -> None:
    print(f"\n5. memory of the server with {passages:,} passages (MiB, from /proc/<pid>/smaps_rollup) once every "
          f"worker has answered questions. PSS shares each page among the processes that map it; a worker's "
          f"anonymous memory is its own (model, Python), the rest of its RSS is the memory-mapped index files, "
          f"shared by all workers")
    asked = questions()
    totals: dict[int, list[float]] = {}
    report["memory"] = {}
    for workers in worker_counts:
        runs = []
        for _ in range(repeats):
            with Server(settings, workers, DEFAULT.threads, LOGS / f"memory-{workers}.log") as server:
                latencies: list[float] = []
                # Concurrent clients until every worker has answered, and every question has been asked.
                while len(server.answering_pids()) < workers or len(latencies) < len(asked):
                    latencies += _hammer(server.port, asked, clients=2 * workers * DEFAULT.threads, seconds=5)[0]
                master = Memory.of(server.process.pid)
                each = [Memory.of(pid) for pid in server.worker_pids()]
            runs.append((master, each, statistics.median(latencies)))
        totals[workers] = [m.pss + sum(w.pss for w in each) for m, each, _ in runs]
        master, each, ask_ms = runs[-1]
        report["memory"][str(workers)] = {"total_pss": Spread.of(totals[workers]).as_json(), "master": master.__dict__,
                                         "workers": [w.__dict__ for w in each], "ask_ms_under_load": ask_ms}
        print(f"   {workers} worker(s): total PSS {Spread.of(totals[workers]).format(0)}; master RSS {master.rss:.0f}; "
              "workers " + ", ".join(f"RSS {w.rss:.0f} PSS {w.pss:.0f} anonymous {w.anonymous:.0f}" for w in each)
              + f"; /ask median under load {ask_ms:.0f} ms", flush=True)
    if len(worker_counts) > 1:
        first, last = worker_counts[0], worker_counts[-1]
        extra = [(b - a) / (last - first) for a, b in zip(totals[first], totals[last])]
        report["memory"]["per_extra_worker_pss"] = Spread.of(extra).as_json()
        print(f"   each extra worker adds {Spread.of(extra).format(0)} MiB of PSS "
              f"(total PSS with {last} workers − with {first}, ÷ {last - first})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("measurements", nargs="*", metavar="MEASUREMENT", help=f"some of {', '.join(MEASUREMENTS)} (default: all)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each figure")
    parser.add_argument("--build-repeats", type=int, default=3, help="builds with the real model take minutes each")
    parser.add_argument("--load-seconds", type=float, default=10.0, help="length of one round under load")
    parser.add_argument("--passages", type=int, metavar="N",
                        help="one corpus of N passages (a multiple of 20) embedded by the model for ask, build, load "
                             "and memory, instead of 2,000 and 100,000 and the generated million (for a slow model)")
    parser.add_argument("--load", nargs="+", default=["1x1", "1x2", "1x4", "2x1", "2x2", "2x4", "3x1", "3x2", "3x4"],
                        metavar="WORKERSxTHREADS", help="server configurations to load")
    arguments = parser.parse_args()
    if unknown := set(arguments.measurements) - set(MEASUREMENTS):
        parser.error(f"unknown measurement(s) {', '.join(sorted(unknown))}; choose from {', '.join(MEASUREMENTS)}")
    arguments.measurements = arguments.measurements or MEASUREMENTS
    report: dict = {"cores": CORES, "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    passages = arguments.passages
    if passages is not None and (passages <= 0 or passages % 20):
        parser.error("--passages must be a positive multiple of 20")
    report["passages"] = passages
    if "ask" in arguments.measurements:
        ask_latency([passages] if passages else [2_000, 100_000], arguments.repeats, report)
    if "search" in arguments.measurements:
        vector_search([100_000, 1_000_000], arguments.repeats, report)
    if "build" in arguments.measurements:
        build_throughput(passages or 2_000, arguments.build_repeats, report)
    if "load" in arguments.measurements:
        configurations = [tuple(int(n) for n in c.split("x")) for c in arguments.load]
        load(passages or 100_000, configurations, min(arguments.repeats, 3), arguments.load_seconds, report)
    if "memory" in arguments.measurements:
        if passages:
            memory(model_index(passages), passages, [1, 2, 3], 2, report)
        else:
            memory(calibrated_index(1_000_000), 1_000_000, [1, 2, 3], 2, report)
    save_figures(report, "run")


if __name__ == "__main__":
    main()
