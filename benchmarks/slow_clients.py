"""What reading requests in the worker's event loop (qa_service/worker.py) costs and buys: the
load test of tests/test_load.py (8 clients asking without pause) against the server with that
worker and with gunicorn's plain gthread, one after the other, and the ratio of their
throughputs; then /ask's latency while 50 connections trickle a header every 2 s, on each.

    .venv/bin/python benchmarks/slow_clients.py [--seconds 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from corpora import CHAPTER
from measuring import Client, percentile, questions

from qa_service.config import Settings
from qa_service.embedder import load_embedder
from qa_service.index import build_index

WORKERS = {"event-loop reading (qa_service.worker)": "qa_service.worker.SlowClientWorker", "gthread": "gthread"}
CLIENTS, TRICKLERS = 8, 50


def start(settings: Settings, worker_class: str, log: Path) -> tuple[subprocess.Popen, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = (f"import qa_service.server as server; server.WORKER_CLASS = {worker_class!r}; "
            "from qa_service.cli import main; main()")
    environment = {**os.environ, "QA_CORPUS_DIR": str(settings.corpus_dir), "QA_INDEX_DIR": str(settings.index_dir),
                   "QA_WORKERS": "2", "QA_THREADS": "4"}
    process = subprocess.Popen([sys.executable, "-c", code, "serve", "--host", "127.0.0.1", "--port", str(port)],
                               env=environment, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            Client(port).ask_ms("warm-up")
            return process, port
        except (OSError, RuntimeError):
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"the server did not start; see {log}")


def load(port: int, seconds: float) -> float:
    """Questions answered per second by CLIENTS clients asking without pause."""
    asked = questions()
    done = []
    deadline = time.monotonic() + seconds

    def client(number: int) -> None:
        connection = Client(port)
        for question in itertools.cycle(asked[number:] + asked[:number]):
            if time.monotonic() >= deadline:
                break
            connection.ask_ms(question)
            done.append(1)
        connection.close()

    began = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(done) / (time.monotonic() - began)


def latency_while_trickled(port: int) -> list[float | None]:
    """/ask's latency in ms (None: no answer within 10 s) with TRICKLERS trickling connections."""
    stop = threading.Event()

    def trickle() -> None:
        try:
            with socket.create_connection(("127.0.0.1", port)) as connection:
                connection.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
                for header in range(8):
                    if stop.wait(2):
                        return
                    connection.sendall(b"X-Trickle-%d: x\r\n" % header)
        except OSError:
            pass

    tricklers = [threading.Thread(target=trickle) for _ in range(TRICKLERS)]
    for trickler in tricklers:
        trickler.start()
    time.sleep(3)
    latencies = []
    for question in questions()[:5]:
        connection = Client(port)
        connection.connection.timeout = 10
        try:
            latencies.append(connection.ask_ms(question))
        except OSError:
            latencies.append(None)
        connection.close()
    stop.set()
    for trickler in tricklers:
        trickler.join()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="load runs per worker class, alternating")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as scratch:
        root = Path(scratch)
        (root / "corpus").mkdir()
        shutil.copy(CHAPTER, root / "corpus" / CHAPTER.name)
        settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index")
        build_index(settings, load_embedder(settings))
        rates: dict[str, list[float]] = {name: [] for name in WORKERS}
        trickled: dict[str, list[float | None]] = {}
        for _ in range(arguments.rounds):
            for name, worker_class in WORKERS.items():
                process, port = start(settings, worker_class, root / "server.log")
                try:
                    rates[name].append(load(port, arguments.seconds))
                    trickled.setdefault(name, latency_while_trickled(port))
                finally:
                    process.terminate()
                    process.wait()
    print(f"{CLIENTS} clients for {arguments.seconds:g} s, 2 workers x 4 threads, {arguments.rounds} rounds each, "
          "alternating:")
    for name, values in rates.items():
        answered = [ms for ms in trickled[name] if ms is not None]
        print(f"  {name}: {statistics.median(values):.1f} questions/s (runs: "
              f"{', '.join(f'{v:.1f}' for v in values)}); with {TRICKLERS} trickling connections /ask answered "
              f"{len(answered)} of {len(trickled[name])} within 10 s"
              + (f", p50 {percentile(answered, 0.5):.0f} ms, max {max(answered):.0f} ms" if answered else ""))
    first, second = (statistics.median(rates[name]) for name in WORKERS)
    print(f"throughput ratio event-loop reading / gthread: {first / second:.2f}")


if __name__ == "__main__":
    main()
