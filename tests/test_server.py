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
