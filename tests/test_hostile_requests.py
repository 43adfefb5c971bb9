"""Hand-written bad requests against the production server over real HTTP: each gets a 4xx JSON
error that says what is wrong, and the good question asked right after it is still answered."""

import json

import pytest
import requests

from conftest import RunningServer

GOOD_QUESTION = {"question": "Hoeveel militairen zijn in 2022 uitgezonden?", "top_k": 2}
JSON = {"Content-Type": "application/json"}

# (name, method, path, keyword arguments for requests, status, error code)
BAD_REQUESTS = [
    ("invalid UTF-8", "POST", "/ask", {"data": b'{"question": "vr\xff\xfeaag"}', "headers": JSON}, 400, "invalid_json"),
    ("arrays nested 10,000 deep", "POST", "/ask", {"data": b"[" * 10_000 + b"]" * 10_000, "headers": JSON},
     400, "invalid_json"),
    ("objects nested 10,000 deep", "POST", "/ask",
     {"data": b'{"q":' * 10_000 + b"1" + b"}" * 10_000, "headers": JSON}, 400, "invalid_json"),
    ("a 10 MB question", "POST", "/ask", {"data": json.dumps({"question": "x" * 10_000_000}), "headers": JSON},
     413, "request_entity_too_large"),
    ("a chunked body over 64 KB", "POST", "/ask", {"data": (b" " * 1024 for _ in range(100)), "headers": JSON},
     413, "request_entity_too_large"),
    ("an escaped null byte", "POST", "/ask", {"json": {"question": "vr\u0000aag"}}, 400, "invalid_request"),
    ("a raw null byte", "POST", "/ask", {"data": b'{"question": "vr\x00aag"}', "headers": JSON}, 400, "invalid_json"),
    ("a null byte in the query", "GET", "/ask?q=vr%00aag", {}, 400, "invalid_request"),
    ("top_k of 10**100", "POST", "/ask", {"json": {"question": "vraag", "top_k": 10**100}}, 400, "invalid_request"),
    ("top_k of 10**100 in the query", "GET", f"/ask?q=vraag&top_k={10**100}", {}, 400, "invalid_request"),
    ("a form-encoded body", "POST", "/ask", {"data": {"question": "vraag"}}, 415, "unsupported_media_type"),
    ("a multipart body", "POST", "/ask", {"files": {"question": ("q.txt", b"vraag")}}, 415, "unsupported_media_type"),
    ("duplicate keys", "POST", "/ask", {"data": b'{"question": "a", "question": "b"}', "headers": JSON},
     400, "invalid_json"),
    ("a URL longer than the server reads", "GET", "/ask?q=" + "%E2%82%AC" * 1000, {}, 414, "uri_too_long"),
    ("a 1 MB body on a route that takes no upload", "POST", "/index/rebuild",
     {"data": b'{"full": false}' + b" " * 1_000_000, "headers": JSON}, 413, "request_entity_too_large"),
    ("a body on a GET", "GET", "/health", {"data": b"x" * 1_000_000}, 413, "request_entity_too_large"),
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(chapter_settings):
    running = RunningServer(chapter_settings)
    try:
        running.wait_until_ready()
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize("method, path, arguments, status, code",
                         [case[1:] for case in BAD_REQUESTS], ids=[case[0] for case in BAD_REQUESTS])
def test_a_bad_request_is_a_json_error_and_the_next_question_is_answered(server, method, path, arguments, status, code):
    response = requests.request(method, server.url + path, timeout=60, **arguments)
    assert response.status_code == status, response.text[:500]
    assert response.headers["Content-Type"] == "application/json"
    assert set(response.json()) == {"error"} and response.json()["error"]["code"] == code
    assert response.json()["error"]["message"].endswith(".")

    answer = requests.post(server.url + "/ask", json=GOOD_QUESTION, timeout=60)
    assert answer.status_code == 200, answer.text[:500]
    assert "3.337" in answer.json()["passages"][0]["text"]
