"""What the people who run the service rely on: the rate limit on /ask (on a real server, and
behind proxies), /metrics added up over the workers, and the request log (JSON, without the
question unless asked for, never the admin token)."""

import json
import logging
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from qa_service.api import create_app
from qa_service.config import Settings

from conftest import RunningServer

TOKEN = "operations-admin-token-c81e"
QUESTION = "Welke afspraken staan er over het COMPASS-partnerschap?"
QUICK = {"question": "Hoeveel militairen zijn in 2022 uitgezonden?", "top_k": 1, "mode": "lexical"}
DENSE = {"question": "Hoeveel militairen zijn in 2022 uitgezonden?", "top_k": 5, "mode": "dense"}
ROUND = 8


# --- rate limit -----------------------------------------------------------------------------


@pytest.mark.slow
def test_the_rate_limit_answers_429_with_retry_after_and_lets_questions_through_after_the_window(
        start_server, chapter_settings):
    # A window long enough that six questions fit in it on a loaded machine (at 10 s they did not).
    server = start_server(chapter_settings, workers=2, env={"QA_RATE_LIMIT": "5/30 seconds"})
    # A new connection for each question, so that both workers count: the limit is theirs together.
    answered = [requests.post(server.url + "/ask", json=QUICK, timeout=60).status_code for _ in range(5)]
    assert answered == [200] * 5
    refused = requests.get(server.url + "/ask", params={"q": QUICK["question"]}, timeout=60)  # GET shares the budget
    assert refused.status_code == 429 and refused.headers["Content-Type"] == "application/json"
    assert refused.json()["error"]["code"] == "rate_limited"
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 30
    assert f"wait {wait} s" in refused.json()["error"]["message"] and "5 per 30 seconds" in refused.json()["error"]["message"]
    assert requests.get(server.url + "/health", timeout=30).status_code == 200, "only /ask is limited"

    time.sleep(wait + 0.5)
    assert requests.post(server.url + "/ask", json=QUICK, timeout=60).status_code == 200


def test_workers_count_in_one_window_shared_through_the_counters_file(tmp_path):
    from qa_service.rate_limit import SharedCounters, counters_uri

    first, second = (SharedCounters(counters_uri(tmp_path)) for _ in range(2))  # as two worker processes open it
    assert [worker.incr("client", expiry=1) for worker in (first, second, first, second)] == [1, 2, 3, 4]
    assert second.get("client") == 4 and time.time() < first.get_expiry("client") <= time.time() + 1
    time.sleep(1.1)
    assert first.get("client") == 0 and second.incr("client", expiry=1) == 1, "a new window starts from zero"
    first.clear("client")
    assert second.get("client") == 0


def limited_client(chapter_settings, embedder, trusted_proxy_addresses: tuple[str, ...]):
    settings = Settings(corpus_dir=chapter_settings.corpus_dir, index_dir=chapter_settings.index_dir,
                        rate_limit="2/minute", trusted_proxy_addresses=trusted_proxy_addresses)
    return create_app(settings, embedder).test_client()


def ask_from(client, peer: str, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post("/ask", json=QUICK, headers=headers, environ_base={"REMOTE_ADDR": peer}).status_code


def test_without_trusted_proxies_x_forwarded_for_cannot_buy_more_questions(chapter_settings, embedder):
    client = limited_client(chapter_settings, embedder, trusted_proxy_addresses=())
    assert [ask_from(client, "192.0.2.10", f"198.51.100.{n}") for n in range(3)] == [200, 200, 429]
    assert ask_from(client, "192.0.2.11") == 200, "another peer has its own budget"


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(chapter_settings, embedder, caplog):
    client = limited_client(chapter_settings, embedder, trusted_proxy_addresses=("10.0.0.0/24", "::1"))
    proxy = "10.0.0.5"
    assert [ask_from(client, proxy, "203.0.113.1") for _ in range(3)] == [200, 200, 429]
    # What the client wrote itself stands left of what the proxy appended, and is not believed.
    with caplog.at_level(logging.INFO, logger="qa_service.requests"):
        assert ask_from(client, proxy, "198.51.100.99, 203.0.113.1") == 429
    assert caplog.records[-1].fields["client"] == "203.0.113.1"
    assert [ask_from(client, proxy, "203.0.113.2") for _ in range(3)] == [200, 200, 429]
    # Through two trusted proxies, the address the outer one saw.
    assert ask_from(client, "10.0.0.6", "203.0.113.3, 10.0.0.7") == 200


def test_x_forwarded_for_counts_only_from_a_trusted_proxy_and_only_as_an_ip(chapter_settings, embedder):
    client = limited_client(chapter_settings, embedder, trusted_proxy_addresses=("10.0.0.0/24",))
    # A client that reaches the port directly cannot pick its address.
    assert [ask_from(client, "192.0.2.10", f"198.51.100.{n}") for n in range(3)] == [200, 200, 429]
    # A value that is not an IP address leaves the proxy's own address (one budget for all such).
    assert [ask_from(client, "10.0.0.9", f"client-{n}") for n in range(3)] == [200, 200, 429]


def test_the_old_proxy_count_setting_is_refused_and_addresses_are_checked():
    with pytest.raises(ValueError, match="QA_TRUSTED_PROXIES is gone"):
        Settings.from_env({"QA_TRUSTED_PROXIES": "1"})
    with pytest.raises(ValueError, match="'proxy.example' is not an IP address"):
        Settings.from_env({"QA_TRUSTED_PROXY_ADDRESSES": "10.0.0.1, proxy.example"})
    assert Settings.from_env({"QA_TRUSTED_PROXY_ADDRESSES": "10.0.0.1, 192.168.0.0/16"}).trusted_proxy_addresses == (
        "10.0.0.1", "192.168.0.0/16")


def test_a_rate_limit_that_cannot_be_read_is_refused_at_start():
    with pytest.raises(ValueError, match="QA_RATE_LIMIT='lots' is not a rate limit"):
        Settings.from_env({"QA_RATE_LIMIT": "lots"})


# --- metrics and logs on a real server ------------------------------------------------------


@pytest.fixture(scope="module")
def server(chapter_settings, tmp_path_factory):
    """A server with two workers and the admin routes, on a throwaway copy of the chapter."""
    root = tmp_path_factory.mktemp("operations")
    shutil.copytree(chapter_settings.corpus_dir, root / "corpus")
    shutil.copytree(chapter_settings.index_dir, root / "index")
    running = RunningServer(Settings(corpus_dir=root / "corpus", index_dir=root / "index"), workers=2,
                            env={"QA_ADMIN_TOKEN": TOKEN})
    try:
        running.wait_until_ready()
        yield running
    finally:
        running.stop()


def scrape(server) -> dict[str, float]:
    """/metrics as {series with its labels: value}."""
    response = requests.get(server.url + "/metrics", timeout=30)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    return {name: float(value) for name, value in re.findall(r"^(\S+(?:\{[^}]*\})?) (\S+)$", response.text, re.M)}


def request_lines(server) -> list[dict]:
    return [entry for entry in map(json.loads, (line for line in server.output().splitlines() if line.startswith("{")))
            if entry["logger"] == "qa_service.requests"]


def requests_of(metrics: dict[str, float], route: str, method: str, status: int) -> float:
    return metrics.get(f'qa_http_requests_total{{method="{method}",route="{route}",status="{status}"}}', 0.0)


@pytest.mark.slow
def test_metrics_add_up_the_requests_of_every_worker(server):
    before = scrape(server)
    asked = 0
    # Which worker takes a connection is up to them; questions asked 8 at a time keep one busy
    # embedding, so the other takes some. Rounds go on until the log shows both answered.
    while len({line["pid"] for line in request_lines(server) if line["path"] == "/ask"}) < 2:
        assert asked < 20 * ROUND, "eight questions at a time, on new connections, should reach both workers"
        with ThreadPoolExecutor(ROUND) as pool:
            answers = list(pool.map(lambda _: requests.post(server.url + "/ask", json=DENSE, timeout=120), range(ROUND)))
        assert [answer.status_code for answer in answers] == [200] * ROUND
        asked += ROUND
    for _ in range(3):
        assert requests.get(server.url + "/ask", timeout=30).status_code == 400
    for path in ("/nowhere", "/nowhere/else"):
        assert requests.get(server.url + path, timeout=30).status_code == 404
    rebuilt = requests.post(server.url + "/index/rebuild", json={"full": True},
                            headers={"Authorization": f"Bearer {TOKEN}"}, timeout=600)
    assert rebuilt.status_code == 200
    generation, passages = rebuilt.json()["generation"], rebuilt.json()["passages"]
    after = scrape(server)

    def added(series: str) -> float:
        return after.get(series, 0.0) - before.get(series, 0.0)

    assert requests_of(after, "/ask", "POST", 200) - requests_of(before, "/ask", "POST", 200) == asked
    assert requests_of(after, "/ask", "GET", 400) - requests_of(before, "/ask", "GET", 400) == 3
    assert requests_of(after, "unmatched", "GET", 404) - requests_of(before, "unmatched", "GET", 404) == 2
    assert requests_of(after, "/index/rebuild", "POST", 200) - requests_of(before, "/index/rebuild", "POST", 200) == 1
    assert requests_of(after, "/metrics", "GET", 200) >= 1
    assert not any("/nowhere" in series for series in after), "unknown paths share one label"
    assert added("qa_ask_duration_seconds_count") == asked
    assert added('qa_ask_duration_seconds_bucket{le="+Inf"}') == asked
    assert added("qa_index_build_duration_seconds_count") == 1
    assert after["qa_index_passages"] == passages and after["qa_index_documents"] == 1
    assert after[f'qa_index_generation_info{{generation="{generation}"}}'] == 1


@pytest.mark.slow
def test_each_request_is_one_json_log_line_without_the_question_or_the_token(server):
    assert requests.post(server.url + "/ask", json={"question": QUESTION}, timeout=60).status_code == 200
    assert requests.get(server.url + "/ask", params={"q": QUESTION}, timeout=60).status_code == 200
    assert requests.post(server.url + "/index/rebuild", json={},
                         headers={"Authorization": f"Bearer {TOKEN}"}, timeout=600).status_code == 200
    assert requests.post(server.url + "/index/rebuild", json={},
                         headers={"Authorization": f"Bearer {TOKEN}-wrong"}, timeout=60).status_code == 401

    output = server.output()
    assert "COMPASS" not in output and TOKEN not in output
    # No progress bars: one worker's would run into another's JSON lines.
    assert "Loading weights" not in output and "it/s]" not in output
    service_lines = [line for line in output.splitlines() if '"logger": "qa_service' in line]
    assert service_lines and all(json.loads(line) for line in service_lines), "the service logs JSON only"
    lines = request_lines(server)
    asks = [line for line in lines if line["path"] == "/ask"][-2:]
    assert [(line["method"], line["status"]) for line in asks] == [("POST", 200), ("GET", 200)]
    rebuilds = [line for line in lines if line["path"] == "/index/rebuild"][-2:]
    assert [line["status"] for line in rebuilds] == [200, 401]
    for line in asks + rebuilds:
        assert set(line) == {"time", "level", "logger", "pid", "message", "method", "path", "status", "duration_ms",
                             "client"}
        assert line["client"] == "127.0.0.1" and line["duration_ms"] >= 0


def test_questions_are_logged_only_when_qa_log_questions_says_so(chapter_settings, embedder, caplog):
    for log_questions in (False, True):
        settings = Settings(corpus_dir=chapter_settings.corpus_dir, index_dir=chapter_settings.index_dir,
                            log_questions=log_questions)
        client = create_app(settings, embedder).test_client()
        with caplog.at_level(logging.INFO, logger="qa_service.requests"):
            caplog.clear()
            assert client.post("/ask", json={"question": QUESTION}).status_code == 200
        fields = caplog.records[-1].fields
        assert fields.get("question") == (QUESTION if log_questions else None)
