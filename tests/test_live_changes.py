"""Changing the corpus under a running server: uploads go live without a failed request, and
a build or change killed with SIGKILL leaves the old generation serving and the corpus as it was."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
import requests
from sample_files import write_pdf

from qa_service.index import build_index, current_generation_name

from conftest import CHAPTER, asking_throughout, snapshot

TOKEN = "live-admin-token-81c2"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHAPTER_QUESTION = "Hoeveel militairen zijn in 2022 uitgezonden?"
SEAL_QUESTION = "Hoeveel zeehonden zijn er in 2023 in de Waddenzee geteld?"
QA_SERVICE = str(Path(sys.executable).parent / "qa-service")
LEFTOVER_PREFIXES = (".building-", ".staging-")

pytestmark = pytest.mark.slow


def ask(server, question: str) -> requests.Response:
    # A new connection each time, so that the questions reach every worker.
    return requests.post(server.url + "/ask", json={"question": question, "top_k": 3}, timeout=120)


# Enough copies that embedding them takes several seconds (about 50 passages: 20 s with the
# default model on 2 cores), so that the test acts and kills while the build is embedding.
COPIES = 10


def chapter_copies(count: int) -> list[str]:
    """The chapter under other titles: new passages for a build to embed."""
    text = CHAPTER.read_text(encoding="utf-8")
    return [text.replace("Beleidsthema 2", f"Beleidsthema {number}", 1) for number in range(10, 10 + count)]


@contextmanager
def killed_while_embedding(settings, log: Path, *arguments: str) -> Iterator[None]:
    """Run `qa-service ARGUMENTS`, wait until it is embedding, let the caller act, then kill -9 it."""
    command = [QA_SERVICE, *arguments, "--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    try:
        deadline = time.monotonic() + 600
        while "embedding:" not in log.read_text(errors="replace"):  # its progress bar has started
            assert process.poll() is None, f"the process ended before it embedded anything:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no embedding progress within 600 s:\n{log.read_text()}"
            time.sleep(0.05)
        assert process.poll() is None, "the process finished before it could be killed; give it more text to embed"
        yield
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()


def leftovers(index_dir: Path) -> list[str]:
    return [p.name for p in index_dir.iterdir() if p.name.startswith(LEFTOVER_PREFIXES)]


def test_a_pdf_added_to_a_running_server_answers_with_its_page_and_no_question_fails(start_server, settings, embedder, tmp_path):
    build_index(settings, embedder)
    server = start_server(settings, workers=2, env={"QA_ADMIN_TOKEN": TOKEN})
    pages = [
        [("Zeehondentelling 2023", 20, True), None, ("Een telling van de zeehonden in de Waddenzee.", 10, False)],
        [("Resultaten", 14, True),
         ("In 2023 zijn in de Waddenzee 8.412 gewone zeehonden geteld, meer dan in 2022.", 10, False),
         ("De grijze zeehond werd 1.706 keer gezien.", 10, False)],
    ]
    pdf = write_pdf(tmp_path / "zeehonden.pdf", pages, labels=[(0, "ARABIC", 6)])

    def upload():
        with open(pdf, "rb") as handle:
            return requests.post(server.url + "/documents", files={"file": ("zeehonden.pdf", handle)},
                                 headers=AUTH, timeout=600)

    response, upload_started, upload_ended, asked = asking_throughout(
        lambda: ask(server, CHAPTER_QUESTION).status_code, upload)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["documents"][0]["name"] == "zeehonden.pdf" and body["documents"][0]["pages"] == 2
    during = [status for start, end, status in asked if start < upload_ended and end > upload_started]
    assert during, "no question was asked while the upload ran"
    assert {status for _, _, status in asked} == {200}
    for _ in range(4):
        answer = ask(server, SEAL_QUESTION).json()
        assert answer["generation"] == body["generation"]
        top = answer["passages"][0]
        assert "8.412 gewone zeehonden" in top["text"]
        assert (top["citation"]["document"], top["citation"]["page"]) == ("zeehonden.pdf", 7)
    assert TOKEN not in server.output()


def test_a_build_killed_midway_leaves_the_old_generation_serving_and_a_rebuild_succeeds(start_server, settings, embedder, tmp_path):
    build_index(settings, embedder)
    old = current_generation_name(settings.index_dir)
    server = start_server(settings, workers=1, env={"QA_ADMIN_TOKEN": TOKEN})
    for number, text in enumerate(chapter_copies(COPIES)):
        (settings.corpus_dir / f"kopie-{number:02d}.txt").write_text(text, encoding="utf-8")
    corpus = snapshot(settings.corpus_dir)

    with killed_while_embedding(settings, tmp_path / "build.log", "build", "--full"):
        busy = requests.post(server.url + "/index/rebuild", json={}, headers=AUTH, timeout=60)
        assert busy.status_code == 409 and "another build" in busy.json()["error"]["message"]

    assert current_generation_name(settings.index_dir) == old
    assert snapshot(settings.corpus_dir) == corpus
    for _ in range(3):
        response = ask(server, CHAPTER_QUESTION)
        assert response.status_code == 200 and response.json()["generation"] == old
        assert "3.337" in response.json()["passages"][0]["text"]

    rebuilt = requests.post(server.url + "/index/rebuild", json={"full": False}, headers=AUTH, timeout=900)
    assert rebuilt.status_code == 200, rebuilt.text
    body = rebuilt.json()
    assert len(body["added"]) == COPIES and body["generation"] != old
    assert leftovers(settings.index_dir) == []
    assert ask(server, CHAPTER_QUESTION).json()["generation"] == body["generation"]


def test_an_add_killed_midway_changes_nothing_and_the_next_build_removes_its_staging(settings, embedder, tmp_path):
    build_index(settings, embedder)
    old = current_generation_name(settings.index_dir)
    before = snapshot(settings.corpus_dir)
    big = tmp_path / "verzameld.txt"
    big.write_text("\n\n".join(chapter_copies(COPIES)), encoding="utf-8")

    with killed_while_embedding(settings, tmp_path / "add.log", "add", str(big)):
        pass

    assert snapshot(settings.corpus_dir) == before
    assert current_generation_name(settings.index_dir) == old
    assert any(name.startswith(".staging-") for name in leftovers(settings.index_dir))
    report = build_index(settings, embedder)
    assert report.up_to_date and leftovers(settings.index_dir) == []
