"""How long adding one 10-page PDF takes, against a full rebuild of the same corpus.

The corpus is made up from the chapter's own words with a fixed seed (about 2,000 passages in
100 text files), so the figures can be made again anywhere. The script times a full rebuild
(every passage embedded), then `change_corpus` adding a 10-page PDF made with reportlab, the
path `qa-service add` and POST /documents take; it prints both and their ratio.

    .venv/bin/python benchmarks/add_document.py            # needs the test extra (reportlab)
"""

from __future__ import annotations

import argparse
import tempfile
import textwrap
import time
from pathlib import Path

from corpora import Writer, write_corpus

from qa_service.config import Settings
from qa_service.corpus import NewDocument, change_corpus
from qa_service.documents import corpus_files, read_document
from qa_service.embedder import load_embedder
from qa_service.index import build_index
from qa_service.passages import split_document

TARGET_RATIO = 0.1


def write_pdf(path: Path, writer: Writer, pages: int) -> None:
    """A report of `pages` pages: a heading and three paragraphs on each, page numbers below."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.addPageLabel(0, "ARABIC", 1)
    for page in range(1, pages + 1):
        y = A4[1] - 72
        pdf.setFont("Helvetica-Bold", 14)
        pdf.drawString(72, y, writer.heading())
        y -= 28
        pdf.setFont("Helvetica", 10)
        for _ in range(3):
            for line in textwrap.wrap(writer.paragraph(), 90):
                pdf.drawString(72, y, line)
                y -= 13
            y -= 13
        pdf.drawString(A4[0] / 2, 40, str(page))
        pdf.showPage()
    pdf.save()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=100, help="text files in the corpus (20 passages each)")
    parser.add_argument("--pages", type=int, default=10, help="pages of the added PDF")
    parser.add_argument("--seed", type=int, default=2023)
    arguments = parser.parse_args()

    writer = Writer(arguments.seed)
    embedder = load_embedder(Settings())
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as scratch:
        root = Path(scratch)
        settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index")
        write_corpus(settings.corpus_dir, writer, arguments.documents)
        pdf = root / "nieuw-rapport.pdf"
        write_pdf(pdf, writer, arguments.pages)
        passages = sum(len(split_document(read_document(path, name))) for path, name in corpus_files(settings.corpus_dir))
        pdf_passages = len(split_document(read_document(pdf)))
        print(f"corpus: {arguments.documents} documents, {passages} passages (seed {arguments.seed}); "
              f"the PDF: {arguments.pages} pages, {pdf_passages} passages; model {embedder.name}")

        started = time.perf_counter()
        full = build_index(settings, embedder, full=True, progress=True)
        full_seconds = time.perf_counter() - started
        print(f"full rebuild:  {full_seconds:7.1f} s  (embedded {full.embedded})")

        started = time.perf_counter()
        change = change_corpus(settings, embedder, add=[NewDocument(pdf.name, pdf)], progress=True)
        add_seconds = time.perf_counter() - started
        print(f"add the PDF:   {add_seconds:7.1f} s  (embedded {change.report.embedded}, reused {change.report.reused})")

    ratio = add_seconds / full_seconds
    verdict = "within" if ratio <= TARGET_RATIO else "over"
    print(f"ratio add / full rebuild: {ratio:.3f} ({verdict} the target of {TARGET_RATIO})")


if __name__ == "__main__":
    main()
