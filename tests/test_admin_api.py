"""The admin API through Flask's test client: adding, replacing and removing documents,
rebuilding, and every refused request leaving the corpus and the index exactly as they were."""

import io
import logging
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from hostile_files import write_operator_flood_pdf
from sample_files import REPORT_HTML, write_docx, write_report_pdf, write_scanned_pdf

from qa_service.api import create_app
from qa_service.config import Settings
from qa_service.index import IndexGeneration, build_lock, current_generation_name

from conftest import CHAPTER_NAME, snapshot

TOKEN = "test-admin-token-3f9a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def admin_settings(chapter_settings, tmp_path) -> Settings:
    """A copy of the built chapter, for the admin routes to change."""
    shutil.copytree(chapter_settings.corpus_dir, tmp_path / "corpus")
    shutil.copytree(chapter_settings.index_dir, tmp_path / "index")
    return Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", admin_token=TOKEN, max_upload_mb=1)


def client_for(settings: Settings, embedder):
    app = create_app(settings, embedder)
    app.testing = True
    return app.test_client()


@pytest.fixture
def admin(admin_settings, embedder):
    return client_for(admin_settings, embedder)


def upload(*files: tuple[str, bytes]) -> dict:
    return {"file": [(io.BytesIO(data), name) for name, data in files]}


def report_pdf(tmp_path: Path) -> bytes:
    return write_report_pdf(tmp_path / "made.pdf").read_bytes()


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["message"]
    if code:
        assert error["code"] == code
    return error


def ask(client, question: str) -> dict:
    response = client.post("/ask", json={"question": question, "top_k": 3})
    assert response.status_code == 200
    return response.get_json()


# --- changes that go through ---------------------------------------------------------------


def test_an_uploaded_pdf_is_searchable_with_its_pages_when_the_answer_comes(admin, admin_settings, tmp_path):
    data = report_pdf(tmp_path)
    response = admin.post("/documents", data=upload(("jaarverslag.pdf", data)), headers=AUTH)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["generation"] == current_generation_name(admin_settings.index_dir)
    assert body["documents"] == [{"name": "jaarverslag.pdf", "title": "Jaarverslag Waterbeheer 2023",
                                  "passages": 4, "pages": 3, "page_numbering": "printed",
                                  "url": "/documents/jaarverslag.pdf"}]
    assert body["build"]["added"] == ["jaarverslag.pdf"] and body["build"]["embedded"] == 4
    assert body["build"]["reused"] == body["build"]["passages"] - 4 and body["removed"] == []
    assert (admin_settings.corpus_dir / "jaarverslag.pdf").read_bytes() == data
    generation = IndexGeneration.open(admin_settings.index_dir)
    try:  # a roman page label is stored as it is printed, beside the numbered pages
        assert [line.page for line in generation.store.document_lines("jaarverslag.pdf")[:3]] == ["i", "i", 1]
        passages = list(generation.store.passages(range(generation.passage_count)).values())
        assert {p.citation.page for p in passages if p.citation.document == "jaarverslag.pdf"} == {"i", 1, 2}
    finally:
        generation.close()

    top = ask(admin, "Hoeveel kubieke meter water pompten de gemalen weg?")["passages"][0]
    assert "820 miljoen kubieke meter" in top["text"]
    assert top["citation"]["document"] == "jaarverslag.pdf" and top["citation"]["page"] == 2
    assert top["citation"]["section"] == ["2 Gemalen"]
    assert admin.get("/health").get_json()["documents"] == 2


def test_several_files_in_one_upload_go_live_together(admin, admin_settings, tmp_path):
    files = upload(("plan.docx", write_docx(tmp_path / "x.docx").read_bytes()), ("nota.html", REPORT_HTML.encode()))
    response = admin.post("/documents", data=files, headers=AUTH)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert [(d["name"], d["title"], d["pages"]) for d in response.get_json()["documents"]] == [
        ("plan.docx", "Beleidsplan Natuur 2024", None), ("nota.html", "Nota Waterkwaliteit", None),
    ]
    top = ask(admin, "Op hoeveel meetpunten werd de norm voor nitraat overschreden?")["passages"][0]
    assert top["citation"]["document"] == "nota.html" and top["citation"]["section"] == ["Meetpunten", "Nitraat"]


def test_a_name_with_folders_is_stored_under_its_base_name_inside_the_corpus(admin, admin_settings):
    text = b"Notitie\n\nDe gemeente plant in 2025 zevenhonderd nieuwe bomen langs de dijk.\n"
    response = admin.post("/documents", data=upload(("../../bomen.txt", text)), headers=AUTH)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["documents"][0]["name"] == "bomen.txt"
    assert (admin_settings.corpus_dir / "bomen.txt").read_bytes() == text
    assert not (admin_settings.corpus_dir.parent / "bomen.txt").exists()
    assert not (admin_settings.corpus_dir.parent.parent / "bomen.txt").exists()


def test_put_replaces_a_document_and_delete_removes_it(admin, admin_settings):
    first = b"Notitie\n\nHet gemaal Lely pompt sinds 1930 water uit de Wieringermeer.\n"
    second = b"Notitie\n\nHet gemaal Lely is in 2024 vervangen door een elektrisch gemaal.\n"
    assert admin.post("/documents", data=upload(("lely.txt", first)), headers=AUTH).status_code == 201

    replaced = admin.put("/documents/lely.txt", data=upload(("whatever-name.txt", second)), headers=AUTH)
    assert replaced.status_code == 200, replaced.get_data(as_text=True)
    assert replaced.get_json()["build"]["changed"] == ["lely.txt"]
    assert (admin_settings.corpus_dir / "lely.txt").read_bytes() == second
    assert "elektrisch" in ask(admin, "Wat is er met het gemaal Lely gebeurd?")["passages"][0]["text"]

    removed = admin.delete("/documents/lely.txt", headers=AUTH)
    assert removed.status_code == 200, removed.get_data(as_text=True)
    assert removed.get_json()["removed"] == ["lely.txt"] and removed.get_json()["build"]["embedded"] == 0
    assert not (admin_settings.corpus_dir / "lely.txt").exists()
    documents = {p["citation"]["document"] for p in ask(admin, "Wat is er met het gemaal Lely gebeurd?")["passages"]}
    assert documents == {CHAPTER_NAME}


def test_rebuild_reports_what_it_did(admin, admin_settings):
    up_to_date = admin.post("/index/rebuild", json={"full": False}, headers=AUTH)
    assert up_to_date.status_code == 200 and up_to_date.get_json()["up_to_date"] is True
    assert admin.post("/index/rebuild", headers=AUTH).get_json()["up_to_date"] is True  # no body: the defaults

    (admin_settings.corpus_dir / "los.txt").write_text("Notitie\n\nEen los bestand dat iemand in de map zette.\n")
    full = admin.post("/index/rebuild", json={"full": True}, headers=AUTH)
    assert full.status_code == 200
    body = full.get_json()
    assert body["added"] == ["los.txt"] and body["embedded"] == body["passages"] and body["reused"] == 0
    assert body["generation"] == current_generation_name(admin_settings.index_dir)
    assert "embedded" in body["summary"]
    assert_error(admin.post("/index/rebuild", json={"full": "ja"}, headers=AUTH), 400, "invalid_request")


DEEP_HTML = ("<div>" * 2000 + "<p>De diepe notitie noemt de ijsvogel.</p>" + "</div>" * 2000).encode()


def test_deeply_nested_html_is_added_and_a_document_past_the_read_limits_is_a_422_and_a_skipped_file(
        admin, admin_settings, embedder, tmp_path, caplog):
    added = admin.post("/documents", data=upload(("diep.html", DEEP_HTML)), headers=AUTH)
    assert added.status_code == 201, added.get_data(as_text=True)
    assert "ijsvogel" in ask(admin, "Welke vogel noemt de diepe notitie?")["passages"][0]["text"]

    limited = client_for(replace(admin_settings, read_seconds=1), embedder)
    flood = write_operator_flood_pdf(tmp_path / "vloed.pdf", megabytes=4).read_bytes()
    before = snapshot(admin_settings.corpus_dir, admin_settings.index_dir)
    error = assert_error(limited.post("/documents", data=upload(("vloed.pdf", flood)), headers=AUTH),
                         422, "unreadable_document")
    assert "vloed.pdf needs more than the 1 s of CPU time" in error["message"] and "QA_READ_SECONDS" in error["message"]
    assert snapshot(admin_settings.corpus_dir, admin_settings.index_dir) == before
    # Copied into the corpus by hand: a rebuild leaves it out, says and logs why, and serves the rest.
    (admin_settings.corpus_dir / "vloed.pdf").write_bytes(flood)
    with caplog.at_level(logging.WARNING):
        rebuilt = limited.post("/index/rebuild", json={}, headers=AUTH)
    assert rebuilt.status_code == 200
    assert "QA_READ_SECONDS" in rebuilt.get_json()["skipped"]["vloed.pdf"]
    assert "skipped vloed.pdf" in caplog.text
    assert "ijsvogel" in ask(limited, "Welke vogel noemt de diepe notitie?")["passages"][0]["text"]


# --- refusals: the right status, and nothing changed ---------------------------------------


def pdf_bytes(tmp_path: Path, kind: str) -> bytes:
    return write_scanned_pdf(tmp_path / "scan.pdf").read_bytes() if kind == "scanned" else b"%PDF-1.4 kapot"


REFUSED_UPLOADS = [
    # (files, status, code, words the message holds)
    ([("groot.txt", b"tekst " * 300_000)], 413, "request_entity_too_large", "QA_MAX_UPLOAD_MB"),
    ([("rapport.exe", b"MZ binary")], 415, "unsupported_type", "supported: "),
    ([("rapport", b"geen extensie")], 415, "unsupported_type", "(none)"),
    ([("../../etc/passwd", b"root:x:0:0")], 415, "unsupported_type", "passwd"),
    ([("../", b"tekst")], 400, "unsafe_name", "plain name"),
    ([("..", b"tekst")], 400, "unsafe_name", "plain name"),
    ([("", b"tekst")], 400, "unsafe_name", "plain name"),
    ([(".verborgen.txt", b"tekst")], 400, "unsafe_name", "hidden"),
    ([("map/.env.txt", b"tekst")], 400, "unsafe_name", "hidden"),
    ([("re\x07port.txt", b"tekst")], 400, "unsafe_name", "control characters"),
    ([("leeg.txt", b"")], 422, "unreadable_document", "holds no text"),
    ([("binair.txt", b"\x00\x01\x02\x03")], 422, "unreadable_document", "binary"),
    ([("kapot.pdf", "broken")], 422, "unreadable_document", "cannot be read as a PDF ("),
    ([("scan.pdf", "scanned")], 422, "unreadable_document", "no text found — needs OCR"),
    ([("kapot.docx", b"PK\x03\x04 half a zip")], 422, "unreadable_document", "cannot be read as a Word document"),
    # One bad file spoils the whole upload: the good one is not added either.
    ([("goed.txt", b"Notitie\n\nEen goede zin.\n"), ("kapot.pdf", "broken")], 422, "unreadable_document", "kapot.pdf"),
    ([("dubbel.txt", b"Een zin."), ("dubbel.txt", b"Nog een zin.")], 400, "invalid_change", "more than once"),
    ([(CHAPTER_NAME, b"Een nieuwe versie.")], 409, "name_taken", "PUT /documents/"),
]


@pytest.mark.parametrize("files, status, code, words", REFUSED_UPLOADS, ids=[f"{c[0][0][0] or 'empty'}-{c[1]}" for c in REFUSED_UPLOADS])
def test_refused_uploads_change_nothing(admin, admin_settings, tmp_path, files, status, code, words):
    files = [(name, pdf_bytes(tmp_path, data) if isinstance(data, str) else data) for name, data in files]
    before = snapshot(admin_settings.corpus_dir, admin_settings.index_dir)
    error = assert_error(admin.post("/documents", data=upload(*files), headers=AUTH), status, code)
    assert words in error["message"]
    assert snapshot(admin_settings.corpus_dir, admin_settings.index_dir) == before


def test_refused_admin_requests_change_nothing(admin, admin_settings, tmp_path, embedder):
    before = snapshot(admin_settings.corpus_dir, admin_settings.index_dir)
    pdf = upload(("jaarverslag.pdf", report_pdf(tmp_path)))

    missing = admin.post("/documents", data=pdf)
    assert_error(missing, 401, "unauthorized")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = admin.post("/documents", data=upload(("jaarverslag.pdf", report_pdf(tmp_path))),
                       headers={"Authorization": "Bearer not-the-token"})
    assert_error(wrong, 401, "invalid_token")
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    assert_error(admin.delete(f"/documents/{CHAPTER_NAME}", headers={"Authorization": f"Basic {TOKEN}"}), 401)
    assert_error(admin.post("/index/rebuild", json={}, headers={"Authorization": f"Bearer {TOKEN}x"}), 401)

    assert_error(admin.post("/documents", json={"file": "rapport.pdf"}, headers=AUTH), 415, "unsupported_media_type")
    assert_error(admin.post("/documents", data={"other": "x"}, headers=AUTH, content_type="multipart/form-data"), 400, "no_file")
    assert_error(admin.put("/documents/nieuw.txt", data=upload(("nieuw.txt", b"Een zin.")), headers=AUTH), 404, "unknown_document")
    two = upload(("a.txt", b"Een zin."), ("b.txt", b"Een zin."))
    assert_error(admin.put(f"/documents/{CHAPTER_NAME}", data=two, headers=AUTH), 400, "one_file")
    assert_error(admin.put(f"/documents/{CHAPTER_NAME}", data=upload((CHAPTER_NAME, b"")), headers=AUTH), 422)
    assert_error(admin.delete("/documents/bestaat-niet.pdf", headers=AUTH), 404, "unknown_document")
    assert_error(admin.delete("/documents/../corpus/" + CHAPTER_NAME, headers=AUTH), 404)
    assert_error(admin.post("/index/rebuild", data="full", content_type="text/plain", headers=AUTH), 415)

    disabled = client_for(Settings(corpus_dir=admin_settings.corpus_dir, index_dir=admin_settings.index_dir), embedder)
    for response in (disabled.post("/documents", data=upload(("a.txt", b"Een zin.")), headers=AUTH),
                     disabled.delete(f"/documents/{CHAPTER_NAME}", headers=AUTH),
                     disabled.post("/index/rebuild", json={}, headers=AUTH)):
        assert "QA_ADMIN_TOKEN" in assert_error(response, 403, "admin_disabled")["message"]
    assert snapshot(admin_settings.corpus_dir, admin_settings.index_dir) == before


def test_a_change_while_another_build_runs_is_409_and_changes_nothing(admin, admin_settings):
    before = snapshot(admin_settings.corpus_dir, admin_settings.index_dir)
    with build_lock(admin_settings.index_dir):
        for response in (admin.post("/index/rebuild", json={}, headers=AUTH),
                         admin.post("/documents", data=upload(("nieuw.txt", b"Een zin.")), headers=AUTH),
                         admin.delete(f"/documents/{CHAPTER_NAME}", headers=AUTH)):
            assert "another build" in assert_error(response, 409, "build_in_progress")["message"]
    assert snapshot(admin_settings.corpus_dir, admin_settings.index_dir) == before


def test_removing_the_last_document_is_refused_and_changes_nothing(admin, admin_settings):
    before = snapshot(admin_settings.corpus_dir, admin_settings.index_dir)
    error = assert_error(admin.delete(f"/documents/{CHAPTER_NAME}", headers=AUTH), 409, "empty_corpus")
    assert "nothing to search" in error["message"] and "POST /documents" in error["message"]
    assert snapshot(admin_settings.corpus_dir, admin_settings.index_dir) == before
    assert ask(admin, "Hoeveel militairen zijn in 2022 uitgezonden?")["passages"]

    (admin_settings.corpus_dir / CHAPTER_NAME).unlink()  # emptied by hand, then a rebuild is asked for
    (admin_settings.corpus_dir / "leeg.txt").write_text("")
    error = assert_error(admin.post("/index/rebuild", json={}, headers=AUTH), 409, "empty_corpus")
    assert "leeg.txt: " in error["message"]  # the reason the one file left could not be indexed
    assert ask(admin, "Hoeveel militairen zijn in 2022 uitgezonden?")["passages"], "the old generation still answers"


def test_the_token_is_never_logged(admin, caplog):
    with caplog.at_level(logging.DEBUG):
        admin.post("/documents", data=upload(("notitie.txt", b"Notitie\n\nEen zin over dijken.\n")), headers=AUTH)
        admin.post("/index/rebuild", json={}, headers={"Authorization": f"Bearer {TOKEN}-wrong"})
    assert "corpus changed" in caplog.text and TOKEN not in caplog.text


def test_openapi_describes_the_admin_routes_with_their_bearer_token(admin):
    spec = admin.get("/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    add = spec["paths"]["/documents"]["post"]
    assert add["security"] == [{"bearerAuth": []}]
    assert "multipart/form-data" in add["requestBody"]["content"]
    assert {"201", "400", "401", "403", "409", "413", "415", "422"} <= set(add["responses"])
    assert set(spec["paths"]["/documents/{name}"]) == {"get", "put", "delete"}  # the viewer, and the admin's two
    assert "security" not in spec["paths"]["/documents/{name}"]["get"]
    assert spec["paths"]["/index/rebuild"]["post"]["security"] == [{"bearerAuth": []}]
    assert "security" not in spec["paths"]["/ask"]["post"]
