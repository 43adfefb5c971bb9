"""What reusing each document's reading across builds saves (qa_service/index/parsed_cache.py):
a corpus of one large PDF (300 pages by default, made with reportlab from the chapter's words
with a fixed seed) is built once; then the script times reading that PDF alone (in the reader's
child process, as a build does) and adding a one-paragraph note beside it (`change_corpus`, the
path of `qa-service add` and POST /documents), and prints their ratio (target: at most 0.1).

    .venv/bin/python benchmarks/reading_reuse.py [--pages 300]     # needs the test extra (reportlab)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from add_document import write_pdf
from corpora import Writer

from qa_service.config import Settings
from qa_service.corpus import NewDocument, change_corpus
from qa_service.embedder import load_embedder
from qa_service.index import build_index
from qa_service.reader_process import ReaderProcess

TARGET_RATIO = 0.1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2023)
    arguments = parser.parse_args()
    embedder = load_embedder(Settings())
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as scratch:
        root = Path(scratch)
        settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index")
        settings.corpus_dir.mkdir()
        pdf = settings.corpus_dir / "groot-rapport.pdf"
        write_pdf(pdf, Writer(arguments.seed), arguments.pages)
        built = build_index(settings, embedder, progress=True)
        print(f"corpus: {pdf.name}, {arguments.pages} pages, {pdf.stat().st_size / 1e6:.1f} MB, "
              f"{built.passages} passages; model {embedder.name}")

        with ReaderProcess.for_settings(settings) as reader:
            started = time.perf_counter()
            reader.read(pdf, pdf.name)
            read_seconds = time.perf_counter() - started
        print(f"read the PDF (child process, its start included):  {read_seconds:7.2f} s")

        note = root / "notitie.txt"
        note.write_text("Korte notitie\n\nDe notitie noemt de grutto als weidevogel van het jaar.\n", encoding="utf-8")
        started = time.perf_counter()
        change = change_corpus(settings, embedder, add=[NewDocument(note.name, note)])
        add_seconds = time.perf_counter() - started
        print(f"add a note beside it:                              {add_seconds:7.2f} s  "
              f"(documents read: {', '.join(change.report.read)}; embedded {change.report.embedded})")

    ratio = add_seconds / read_seconds
    verdict = "within" if ratio <= TARGET_RATIO else "over"
    print(f"ratio add-small-beside-large / read-the-large-PDF: {ratio:.3f} ({verdict} the target of {TARGET_RATIO})")


if __name__ == "__main__":
    main()
