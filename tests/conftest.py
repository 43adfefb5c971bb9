"""Shared fixtures: the chapter, settings in temporary folders, built indexes, the app, a real
server and a real browser."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa_service.config import Settings

ROOT = Path(__file__).resolve().parent.parent
CHAPTER_NAME = "beleidsthema-2-vrede-veiligheid-stabiliteit.txt"
CHAPTER = ROOT / "corpus" / CHAPTER_NAME
# The headings that the chapter's passages stand under, in reading order.
CHAPTER_HEADINGS = ["Beleidsdoelstelling", "Veiligheid", "Migratiesamenwerking", "Budget Internationale Veiligheid"]
# A copy of ../shared/eval/dev-questions.jsonl, so the suite runs from any clone.
DEV_QUESTIONS = ROOT / "tests" / "fixtures" / "dev-questions.jsonl"
OUTPUT = ROOT / "test-output"
# A note whose text and heading are markup that would run if a page inserted it as HTML.
HOSTILE_NAME = "proefnotitie-onveilige-invoer.md"
HOSTILE_SCRIPT = "<script>window.__pwned=1</script>"
HOSTILE_IMAGE = '<img src=x onerror="window.__pwned=1">'
HOSTILE_NOTE = f"""# Proefnotitie onveilige invoer

## Kwaadaardige opmaak {HOSTILE_IMAGE}

Deze proefnotitie over kwaadaardige opmaak bevat letterlijk {HOSTILE_SCRIPT} en ook {HOSTILE_IMAGE} als tekst.
Een pagina die deze proefnotitie toont, laat de tekens zien en voert niets uit.
"""
# Debian's chromium (`make browser`): Playwright's own browser download cannot reach its host here.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A corpus folder holding the chapter."""
    directory = tmp_path / "corpus"
    directory.mkdir()
    shutil.copy(CHAPTER, directory / CHAPTER_NAME)
    return directory


@pytest.fixture
def settings(tmp_path: Path, corpus_dir: Path) -> Settings:
    return Settings(corpus_dir=corpus_dir, index_dir=tmp_path / "index")


@pytest.fixture(scope="session")
def embedder():
    from qa_service.embedder import load_embedder

    return load_embedder(Settings())


@pytest.fixture(scope="session")
def english_embedder():
    """The English all-MiniLM-L6-v2, one setting away from the default: another model."""
    from qa_service.config import MINILM
    from qa_service.embedder import load_embedder

    return load_embedder(Settings(model=MINILM))


@pytest.fixture(scope="session")
def chapter_settings(tmp_path_factory, embedder) -> Settings:
    """A built index of the chapter, shared by the tests that only read it."""
    from qa_service.index import build_index

    root = tmp_path_factory.mktemp("chapter")
    (root / "corpus").mkdir()
    shutil.copy(CHAPTER, root / "corpus" / CHAPTER_NAME)
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index")
    build_index(settings, embedder)
    return settings


@pytest.fixture(scope="session")
def hostile_settings(tmp_path_factory, embedder) -> Settings:
    """A built index of the chapter and the hostile note."""
    from qa_service.index import build_index

    root = tmp_path_factory.mktemp("hostile")
    (root / "corpus").mkdir()
    shutil.copy(CHAPTER, root / "corpus" / CHAPTER_NAME)
    (root / "corpus" / HOSTILE_NAME).write_text(HOSTILE_NOTE, encoding="utf-8")
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index")
    build_index(settings, embedder)
    return settings


REPORT_NAME = "jaarverslag-2022.pdf"  # the six-page report of tests/sample_files.py
LONG_NOTE = "lange-notitie.txt"
LONG_NOTE_LAST = "Het slot van de notitie noemt de grutto als weidevogel van het jaar."
LONG_NOTE_LINES = 2604  # more than the viewer shows at once: it comes in three parts


@pytest.fixture(scope="session")
def report_settings(tmp_path_factory, embedder) -> Settings:
    """A built index of the chapter, the annual report PDF and a note of 2,604 lines (mostly
    empty, so that it is long to show but quick to embed), its last sentence on the last line."""
    from sample_files import write_annual_report

    from qa_service.index import build_index

    root = tmp_path_factory.mktemp("report")
    (root / "corpus").mkdir()
    shutil.copy(CHAPTER, root / "corpus" / CHAPTER_NAME)
    write_annual_report(root / "corpus" / REPORT_NAME)
    (root / "corpus" / LONG_NOTE).write_text(
        "Lange notitie\n\nDe notitie begint met een inleidende zin over weidevogels.\n"
        + "\n" * (LONG_NOTE_LINES - 5) + "Slot\n" + LONG_NOTE_LAST + "\n", encoding="utf-8")
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index")
    build_index(settings, embedder)
    return settings


@pytest.fixture
def client(chapter_settings, embedder):
    from qa_service.api import create_app

    app = create_app(chapter_settings, embedder)
    app.testing = True
    return app.test_client()


def snapshot(*folders: Path) -> dict[str, str]:
    """Every file and folder under the folders, hidden ones too, with the SHA-256 of each file."""
    import hashlib

    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "folder"
        for folder in folders
        for path in sorted(folder.rglob("*"))
    }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningServer:
    """`qa-service serve` as a real process on a loopback port; `workers` None: the server's default."""

    def __init__(self, settings: Settings, workers: int | None = 2, env: dict | None = None):
        import os
        import subprocess
        import sys

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {
            **os.environ,
            "QA_CORPUS_DIR": str(settings.corpus_dir),
            "QA_INDEX_DIR": str(settings.index_dir),
            **(env or {}),
        }
        command = [str(Path(sys.executable).parent / "qa-service"), "serve", "--host", "127.0.0.1",
                   "--port", str(self.port), *(["--workers", str(workers)] if workers else [])]
        self.log = open(settings.index_dir.parent / f"server-{self.port}.log", "w+")
        self.process = subprocess.Popen(command, env=environment, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_until_ready(self) -> None:
        import time

        import requests

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.output()}")
            try:
                if requests.get(self.url + "/health", timeout=2).status_code in (200, 503):
                    return
            except requests.RequestException:
                time.sleep(0.3)
        raise RuntimeError(f"the server did not answer within 120 s:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        import subprocess

        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture
def start_server():
    """Start real servers; every one is stopped at the end of the test."""
    servers = []

    def start(settings: Settings, **kwargs) -> RunningServer:
        server = RunningServer(settings, **kwargs)
        servers.append(server)  # stopped at the end even if it never becomes ready
        server.wait_until_ready()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, driven by Playwright; one for the whole session."""
    if not CHROMIUM.exists():
        pytest.fail(f"the browser tests need Debian's chromium at {CHROMIUM}: run `make browser`, "
                    "which installs it with apt-get.", pytrace=False)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    except Exception:
        playwright.stop()
        raise
    yield chromium
    chromium.close()
    playwright.stop()


def asking_throughout(ask, action):
    """Ask questions in a loop (`ask()` returns a status) from before `action()` starts until one
    is asked after it ended. Returns what `action()` returned, when it started and ended, and
    the (start, end, status) of every question."""
    import threading
    import time

    asked: list[tuple[float, float, int]] = []
    stop = threading.Event()

    def ask_in_a_loop():
        while not stop.is_set() and len(asked) < 5000:
            started = time.monotonic()
            status = ask()
            asked.append((started, time.monotonic(), status))

    asker = threading.Thread(target=ask_in_a_loop)
    asker.start()
    try:
        while not asked:
            time.sleep(0.05)
        action_started = time.monotonic()
        result = action()
        action_ended = time.monotonic()
        while not any(start > action_ended for start, _, _ in asked):
            time.sleep(0.05)
    finally:
        stop.set()
        asker.join()
    return result, action_started, action_ended, asked
