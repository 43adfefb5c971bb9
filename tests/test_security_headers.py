"""The security headers of every kind of response, through Flask's test client: JSON answers,
pages, errors of both kinds, static files, metrics, and admin answers that are never cached."""

import shutil

import pytest

from qa_service.api import create_app
from qa_service.config import Settings

TOKEN = "headers-admin-token-07d4"


def policy(response) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))


def assert_protected(response) -> dict[str, str]:
    """The headers every response carries; returns its Content-Security-Policy by directive."""
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    directives = policy(response)
    assert directives["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    return directives


@pytest.mark.parametrize("path, headers, status", [
    ("/health", {}, 200),
    ("/ask?q=COMPASS", {}, 200),
    ("/ask", {}, 400),
    ("/nowhere", {}, 404),
    ("/documents/nope.txt", {"Accept": "application/json"}, 404),
    ("/openapi.json", {}, 200),
    ("/metrics", {}, 200),
    ("/static/chat.js", {}, 200),
])
def test_responses_that_are_not_pages_may_load_nothing(client, path, headers, status):
    response = client.get(path, headers=headers)
    assert response.status_code == status
    assert assert_protected(response)["default-src"] == "'none'"
    assert "no-store" not in response.headers.get("Cache-Control", "")


@pytest.mark.parametrize("path, status", [("/", 200), ("/documents", 200), ("/documents/nope.txt", 404)])
def test_pages_run_scripts_only_from_the_service(client, path, status):
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == status and response.mimetype == "text/html"
    directives = assert_protected(response)
    assert directives["script-src"] == "'self'" and directives["object-src"] == "'none'"


def test_admin_answers_are_never_cached(chapter_settings, embedder, tmp_path):
    shutil.copytree(chapter_settings.corpus_dir, tmp_path / "corpus")
    shutil.copytree(chapter_settings.index_dir, tmp_path / "index")
    settings = Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", admin_token=TOKEN)
    admin = create_app(settings, embedder).test_client()
    answers = [
        admin.post("/index/rebuild", json={}, headers={"Authorization": f"Bearer {TOKEN}"}),
        admin.post("/index/rebuild", json={}),
        admin.delete("/documents/nope.txt", headers={"Authorization": f"Bearer {TOKEN}"}),
    ]
    assert [response.status_code for response in answers] == [200, 401, 404]
    for response in answers:
        assert response.headers["Cache-Control"] == "no-store"
        assert_protected(response)
