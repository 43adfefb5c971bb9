"""What hostile documents cost now that every document is read in a child process within
QA_READ_MEMORY_MB and QA_READ_SECONDS (qa_service/reader_process.py): for each of the files of
issue 19, made by tests/hostile_files.py, its size, the time to read or refuse it, the reader
child's peak memory and the outcome; then the same files uploaded (POST /documents) to a real
server of one worker, with that worker's resident memory before and after each upload.

    .venv/bin/python benchmarks/hostile.py [--memory-mb 2048] [--seconds 120] [--no-server]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from corpora import CHAPTER, ROOT
from measuring import Memory

sys.path.insert(0, str(ROOT / "tests"))
from hostile_files import (  # noqa: E402
    write_empty_paragraphs_docx,
    write_inflate_bomb_pdf,
    write_nested_forms_pdf,
    write_operator_flood_pdf,
)

from qa_service.config import Settings  # noqa: E402
from qa_service.documents import DocumentError  # noqa: E402
from qa_service.embedder import load_embedder  # noqa: E402
from qa_service.index import build_index  # noqa: E402
from qa_service.reader_process import ReaderProcess  # noqa: E402

from conftest import RunningServer  # noqa: E402

TOKEN = "hostile-benchmark-token"
DOCUMENTS = {
    "vormen-5.pdf": ("Form XObjects X0…X4, each drawing the next 10 times", lambda p: write_nested_forms_pdf(p, 5, 10)),
    "vormen-6.pdf": ("the same with one more level", lambda p: write_nested_forms_pdf(p, 6, 10)),
    "bom.pdf": ("a stream that inflates to 1 GB", lambda p: write_inflate_bomb_pdf(p, 1024)),
    "vloed.pdf": ("100 MB of q/Q operators, deflated", lambda p: write_operator_flood_pdf(p, 100)),
    "leeg.docx": ("3.5 million empty paragraphs", lambda p: write_empty_paragraphs_docx(p, 3_500_000)),
}


def read_each(folder: Path, memory_mb: int, seconds: int) -> None:
    print(f"reading in the child process (QA_READ_MEMORY_MB={memory_mb}, QA_READ_SECONDS={seconds}):")
    with ReaderProcess(memory_mb, seconds) as reader:
        for name in DOCUMENTS:
            path = folder / name
            started = time.perf_counter()
            try:
                _, passages = reader.read(path, name)
                outcome = f"read: {len(passages)} passages"
            except DocumentError as exc:
                outcome = "refused: " + str(exc).split(";")[0].removeprefix(name).strip()
            print(f"  {name:13} {path.stat().st_size / 1024:8.1f} KB  {time.perf_counter() - started:6.1f} s  "
                  f"child peak {reader.peak_mb:6.0f} MB  {outcome}")


def upload_each(folder: Path, memory_mb: int, seconds: int) -> None:
    import requests

    root = folder / "server"
    (root / "corpus").mkdir(parents=True)
    shutil.copy(CHAPTER, root / "corpus" / CHAPTER.name)
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index")
    build_index(settings, load_embedder(settings))
    server = RunningServer(settings, workers=1, env={"QA_ADMIN_TOKEN": TOKEN, "QA_READ_MEMORY_MB": str(memory_mb),
                                                     "QA_READ_SECONDS": str(seconds)})
    try:
        server.wait_until_ready()
        worker = int(Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()[0])
        print("uploading each to a server of one worker (POST /documents); the worker's resident memory:")
        for name in DOCUMENTS:
            before = Memory.of(worker).rss
            started = time.perf_counter()
            with open(folder / name, "rb") as handle:
                response = requests.post(server.url + "/documents", files={"file": (name, handle)},
                                         headers={"Authorization": f"Bearer {TOKEN}"}, timeout=3600)
            print(f"  {name:13} {response.status_code} in {time.perf_counter() - started:6.1f} s;  worker "
                  f"{before:6.0f} MB before, {Memory.of(worker).rss:6.0f} MB after")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memory-mb", type=int, default=Settings.read_memory_mb)
    parser.add_argument("--seconds", type=int, default=Settings.read_seconds)
    parser.add_argument("--no-server", action="store_true", help="only read, without the upload to a server")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as scratch:
        folder = Path(scratch)
        for name, (what, make) in DOCUMENTS.items():
            make(folder / name)
            print(f"{name}: {what}")
        read_each(folder, arguments.memory_mb, arguments.seconds)
        if not arguments.no_server:
            upload_each(folder, arguments.memory_mb, arguments.seconds)


if __name__ == "__main__":
    main()
