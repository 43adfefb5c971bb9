"""A bounded load test of the production server on loopback: 8 clients ask questions without
pause for 20 seconds against `qa-service serve` with its default workers. No request may fail;
the latencies and throughput it saw are printed and written to test-output/load.txt (figures
for people: the machine is shared, so no assertion is made on them)."""

import itertools
import json
import statistics
import threading
import time

import pytest
import requests

from conftest import DEV_QUESTIONS, OUTPUT

CLIENTS = 8
SECONDS = 20
MAX_REQUESTS_PER_CLIENT = 5_000  # a second bound, should the machine be far faster than expected

pytestmark = pytest.mark.slow


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def test_eight_clients_for_twenty_seconds_get_every_answer(start_server, chapter_settings):
    server = start_server(chapter_settings, workers=None)
    questions = [json.loads(line)["question"] for line in DEV_QUESTIONS.read_text(encoding="utf-8").splitlines()]
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS

    def client(number: int) -> None:
        session = requests.Session()  # keeps its connection, as a browser would
        asked = itertools.islice(itertools.cycle(questions[number:] + questions[:number]), MAX_REQUESTS_PER_CLIENT)
        for question in asked:
            if time.monotonic() >= deadline:
                return
            started = time.perf_counter()
            try:
                response = session.post(server.url + "/ask", json={"question": question, "top_k": 5}, timeout=120)
                ok = response.status_code == 200 and response.json()["passages"]
                problem = None if ok else f"{response.status_code}: {response.text[:200]}"
            except requests.RequestException as exc:
                problem = repr(exc)
            with lock:
                latencies.append(time.perf_counter() - started)
                if problem:
                    failures.append(problem)

    began = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began

    report = (f"load: {CLIENTS} clients for {elapsed:.1f} s against qa-service serve (default workers) on loopback\n"
              f"requests {len(latencies)}, failed {len(failures)}, {len(latencies) / elapsed:.1f} requests/s\n"
              f"latency p50 {percentile(latencies, 0.50) * 1000:.0f} ms, p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
              f"mean {statistics.fmean(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms\n")
    print("\n" + report, end="")
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / "load.txt").write_text(report)
    assert failures == [], f"{len(failures)} of {len(latencies)} requests failed, e.g. {failures[:3]}"
    assert len(latencies) >= CLIENTS
