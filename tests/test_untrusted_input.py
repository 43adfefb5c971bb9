"""Names, links and files that try to pass for something else, answers that would grow without
bound, and runtime folders a killed server left behind."""

import dataclasses
import io
import os
import subprocess
import sys
import time

import pytest

from qa_service.api import create_app
from qa_service.config import Settings
from qa_service.corpus import UnsafeNameError, document_name
from qa_service.documents import DocumentError, read_document
from qa_service.index import build_index
from qa_service.schemas import ANSWER_TEXT_CHARS
from qa_service.search import Searcher
from qa_service.server import OWNER_FILE, RUNTIME_PREFIX, remove_stale_runtime_dirs

from conftest import CHAPTER_NAME

TOKEN = "untrusted-input-token-5e2b"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize("given", ["‥∕evil.txt", "evil⁄part.txt", "map∖evil.txt"])
def test_a_name_that_looks_like_a_path_once_normalised_is_refused(given):
    with pytest.raises(UnsafeNameError, match="looks like a path"):
        document_name(given)


def test_compatibility_characters_in_a_name_are_normalised():
    assert document_name("．．／evil.txt") == "evil.txt"  # fullwidth "../": its folders are dropped like any
    assert document_name("ﬁnanciën.txt") == "financiën.txt"


def admin_client(settings: Settings, embedder):
    app = create_app(dataclasses.replace(settings, admin_token=TOKEN), embedder)
    app.testing = True
    return app.test_client()


def test_names_that_differ_only_in_case_are_refused(settings, embedder):
    build_index(settings, embedder)
    client = admin_client(settings, embedder)
    note = b"Notitie\n\nDe notitie noemt de ijsvogel.\n"
    assert client.post("/documents", data={"file": [(io.BytesIO(note), "evil.txt")]}, headers=AUTH).status_code == 201
    for other in ("EVIL.txt", "evil.TXT"):
        refused = client.post("/documents", data={"file": [(io.BytesIO(note), other)]}, headers=AUTH)
        assert refused.status_code == 409 and "differs only in case from evil.txt" in refused.get_json()["error"]["message"]
    both = client.post("/documents", data={"file": [(io.BytesIO(note), "Nieuw.txt"), (io.BytesIO(note), "nieuw.txt")]},
                       headers=AUTH)
    assert both.status_code == 409
    assert sorted(p.name for p in settings.corpus_dir.iterdir()) == sorted([CHAPTER_NAME, "evil.txt"])


def test_utf16_text_with_an_odd_number_of_bytes_is_refused(tmp_path):
    whole = tmp_path / "heel.txt"
    whole.write_bytes("Notitie\n\nDe notitie noemt de ijsvogel.\n".encode("utf-16"))
    assert "ijsvogel" in read_document(whole).lines[2].text
    cut = tmp_path / "afgekapt.txt"
    cut.write_bytes(whole.read_bytes() + b"\x00")
    with pytest.raises(DocumentError, match="odd number of bytes"):
        read_document(cut)


def test_a_link_out_of_the_corpus_is_skipped_and_reported(settings, embedder, tmp_path):
    outside = tmp_path / "geheim.txt"
    outside.write_text("Geheim\n\nHet wachtwoord van de beheerder is zwaardvis.\n", encoding="utf-8")
    (settings.corpus_dir / "geheim.txt").symlink_to(outside)
    inside = settings.corpus_dir / "map"
    inside.mkdir()
    (inside / "hoofdstuk.txt").symlink_to(settings.corpus_dir / CHAPTER_NAME)  # within the corpus: indexed
    report = build_index(settings, embedder)
    assert "outside the corpus folder" in report.skipped["geheim.txt"]
    assert set(report.indexed) == {CHAPTER_NAME, "map/hoofdstuk.txt"}


def test_an_answer_carries_at_most_a_bounded_excerpt_of_a_huge_passage(chapter_settings, embedder, monkeypatch):
    asking = Searcher.ask

    def with_a_huge_first_passage(searcher, *args, **kwargs):
        answer = asking(searcher, *args, **kwargs)
        first = answer.hits[0]
        padding = "woord " * 20_000
        passage = dataclasses.replace(first.passage, text=padding + first.passage.text + " " + padding)
        shifted = len(padding)
        hit = dataclasses.replace(first, passage=passage, highlight=(first.highlight[0] + shifted,
                                                                     first.highlight[1] + shifted),
                                  terms=tuple((a + shifted, b + shifted) for a, b in first.terms))
        return dataclasses.replace(answer, hits=[hit, *answer.hits[1:]])

    monkeypatch.setattr(Searcher, "ask", with_a_huge_first_passage)
    app = create_app(chapter_settings, embedder)
    body = app.test_client().post("/ask", json={"question": "Hoeveel militairen zijn uitgezonden?"}).get_json()
    first = body["passages"][0]
    assert len(first["text"]) <= ANSWER_TEXT_CHARS
    assert first["excerpt"]["length"] > 240_000
    assert first["excerpt"]["end"] - first["excerpt"]["start"] == len(first["text"])
    highlighted = first["text"][first["highlight"]["start"]:first["highlight"]["end"]]
    assert highlighted and "woord woord" not in highlighted
    assert all(first["text"][t["start"]:t["end"]].strip() for t in first["terms"])
    assert all(p["excerpt"] is None for p in body["passages"][1:])
    schema = app.test_client().get("/openapi.json").get_json()["components"]["schemas"]
    assert "excerpt" in schema["PassageOut"]["properties"]


def test_runtime_folders_of_servers_that_are_gone_are_removed(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = tmp_path / f"{RUNTIME_PREFIX}stale"
    stale.mkdir()
    (stale / OWNER_FILE).write_text(str(gone.pid))
    live = tmp_path / f"{RUNTIME_PREFIX}live"
    live.mkdir()
    (live / OWNER_FILE).write_text(str(os.getpid()))
    starting = tmp_path / f"{RUNTIME_PREFIX}starting"  # no owner written yet
    starting.mkdir()
    ownerless = tmp_path / f"{RUNTIME_PREFIX}ownerless"
    ownerless.mkdir()
    old = time.time() - 3600
    os.utime(ownerless, (old, old))
    assert sorted(remove_stale_runtime_dirs(tmp_path)) == sorted([stale, ownerless])
    assert live.is_dir() and starting.is_dir() and not stale.exists()
