"""Documents made to exhaust a reader (tests/hostile_files.py) are read in a child process within
QA_READ_MEMORY_MB and QA_READ_SECONDS: refused on upload, skipped on rebuild, and the process
that asked never holds their memory. And a build reads only the documents that changed."""

import logging
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from hostile_files import (
    write_empty_paragraphs_docx,
    write_inflate_bomb_pdf,
    write_nested_forms_pdf,
    write_operator_flood_pdf,
)
from sample_files import write_report_pdf

from qa_service.documents import DocumentError
from qa_service.index import build_index, parsed_cache
from qa_service.reader_process import ReaderProcess

from conftest import CHAPTER, CHAPTER_NAME

TOKEN = "hostile-documents-token-8c1d"


def peak_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """A PDF of a few hundred KB whose page inflates to 300 MB."""
    return write_inflate_bomb_pdf(tmp_path_factory.mktemp("bomb") / "bom.pdf", megabytes=300)


def test_a_document_past_the_memory_limit_is_refused_and_the_next_one_is_read(bomb):
    before = peak_mb()
    with ReaderProcess(memory_mb=256, seconds=60) as reader:
        with pytest.raises(DocumentError, match=r"bom\.pdf needs more than the 256 MB of memory .*QA_READ_MEMORY_MB"):
            reader.read(bomb, "bom.pdf")
        document, passages = reader.read(CHAPTER, CHAPTER_NAME)
    assert document.name == CHAPTER_NAME and len(passages) == 5
    assert peak_mb() - before < 50  # the 300 MB were the child's, never this process's


@pytest.mark.parametrize("make", [
    lambda folder: write_operator_flood_pdf(folder / "vloed.pdf", megabytes=4),
    lambda folder: write_nested_forms_pdf(folder / "vormen.pdf", levels=5, fanout=10),
    lambda folder: write_empty_paragraphs_docx(folder / "leeg.docx", paragraphs=500_000),
], ids=["q/Q operator flood", "nested Form XObjects", "half a million empty paragraphs"])
def test_a_document_past_the_cpu_limit_is_refused(tmp_path, make):
    path = make(tmp_path)
    assert path.stat().st_size < 100_000
    with ReaderProcess(memory_mb=2048, seconds=1) as reader:
        with pytest.raises(DocumentError, match=rf"{path.name} needs more than the 1 s of CPU time .*QA_READ_SECONDS"):
            reader.read(path, path.name)


def test_a_rebuild_skips_a_document_past_a_limit_says_why_and_indexes_the_rest(settings, embedder, bomb, caplog):
    shutil.copy(bomb, settings.corpus_dir / "bom.pdf")
    with caplog.at_level(logging.WARNING):
        report = build_index(replace(settings, read_memory_mb=256), embedder)
    assert "QA_READ_MEMORY_MB" in report.skipped["bom.pdf"] and "skipped bom.pdf" in caplog.text
    assert set(report.indexed) == {CHAPTER_NAME}


@pytest.mark.slow
def test_an_upload_past_the_memory_limit_is_a_422_and_no_worker_holds_its_memory(start_server, settings, embedder,
                                                                                  bomb):
    build_index(settings, embedder)
    server = start_server(settings, workers=1, env={"QA_ADMIN_TOKEN": TOKEN, "QA_READ_MEMORY_MB": "256"})
    worker = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()[0]
    before = peak_mb(worker)
    with open(bomb, "rb") as handle:
        response = requests.post(server.url + "/documents", files={"file": ("bom.pdf", handle)},
                                 headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "unreadable_document"
    assert "QA_READ_MEMORY_MB" in response.json()["error"]["message"]
    assert peak_mb(worker) - before < 50
    answer = requests.post(server.url + "/ask", json={"question": "Hoeveel militairen zijn uitgezonden?"}, timeout=60)
    assert answer.status_code == 200


# --- reading reused across builds -------------------------------------------------------------


def test_a_build_reads_only_the_documents_that_changed(settings, embedder, tmp_path, monkeypatch):
    write_report_pdf(settings.corpus_dir / "jaarverslag.pdf")
    assert sorted(build_index(settings, embedder).read) == sorted(["jaarverslag.pdf", CHAPTER_NAME])

    (settings.corpus_dir / "notitie.txt").write_text("Notitie\n\nDe notitie noemt de grutto.\n", encoding="utf-8")
    assert build_index(settings, embedder).read == ["notitie.txt"]

    (settings.corpus_dir / "notitie.txt").write_text("Notitie\n\nDe notitie noemt de kievit.\n", encoding="utf-8")
    report = build_index(settings, embedder)
    assert report.read == ["notitie.txt"] and report.changed == ["notitie.txt"]

    assert len(build_index(settings, embedder, full=True).read) == 3  # a full build reads everything

    # Other reading code (or another version of a parsing library) reads everything again.
    monkeypatch.setattr(parsed_cache, "reader_version", lambda: "another version")
    (settings.corpus_dir / "notitie.txt").unlink()
    assert sorted(build_index(settings, embedder).read) == sorted(["jaarverslag.pdf", CHAPTER_NAME])
    assert len(list((settings.index_dir / parsed_cache.FOLDER).iterdir())) == 2  # only the live documents' kept
