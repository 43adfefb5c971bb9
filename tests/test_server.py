"""The production server as a real process, asked over HTTP on loopback."""

import requests

from conftest import CHAPTER_NAME


def test_qa_service_serve_answers_over_http(start_server, chapter_settings):
    server = start_server(chapter_settings, workers=2)
    health = requests.get(server.url + "/health", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    response = requests.post(server.url + "/ask", json={"question": "Hoeveel militairen zijn in 2022 uitgezonden?"}, timeout=30)
    assert response.status_code == 200
    top = response.json()["passages"][0]
    assert "3.337" in top["text"]
    assert (top["citation"]["document"], top["citation"]["page"]) == (CHAPTER_NAME, 9)
    bad = requests.post(server.url + "/ask", data="{", headers={"Content-Type": "application/json"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
    assert "gunicorn" in server.output().lower()


def test_gunicorn_refusals_are_json_and_its_own_failures_do_not_blame_the_client():
    import json
    import socket

    from qa_service.server import _write_json_error

    def refusal(status: int, reason: str, detail: str) -> tuple[str, dict]:
        server_side, client_side = socket.socketpair()
        with server_side, client_side:
            _write_json_error(server_side, status, reason, detail)
            head, _, body = client_side.recv(65536).decode().partition("\r\n\r\n")
        return head, json.loads(body)

    head, body = refusal(400, "Bad Request", "Invalid HTTP method")
    assert head.startswith("HTTP/1.1 400") and "Content-Type: application/json" in head
    assert body["error"]["code"] == "bad_request" and "not valid HTTP (Invalid HTTP method)" in body["error"]["message"]
    head, body = refusal(500, "Internal Server Error", "")
    assert head.startswith("HTTP/1.1 500") and body["error"]["code"] == "internal_server_error"
    assert "not valid HTTP" not in body["error"]["message"] and "try again" in body["error"]["message"]
