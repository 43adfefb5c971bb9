"""What showing a long document costs: GET /documents/<name> of a 200,000-line text file, a part
of 1,000 lines at a time, against rendering all of it at once as the viewer did before.

The file is written from the chapter's words with a fixed seed and indexed by the service's
own build, with the stand-in embedder of corpora.py for its passages (the model would take
over an hour; the viewer does not use the vectors). Each time is the median of five requests
through Flask's test client, beside the size of the page and the Python memory allocated at
the peak of a request (tracemalloc).

    .venv/bin/python benchmarks/document_viewer.py
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import textwrap
import time
import tracemalloc
from pathlib import Path

from corpora import CalibratedEmbedder, Writer

from qa_service.api import create_app
from qa_service.config import Settings
from qa_service.embedder import load_embedder
from qa_service.index import build_index
from qa_service.schemas import VIEWER_LINES

NAME = "lang-verslag.txt"


def write_long_text(path: Path, lines: int, writer: Writer) -> None:
    written: list[str] = ["Een lang verslag", ""]
    while len(written) < lines:
        written += textwrap.wrap(writer.paragraph(), 95) + [""]
    path.write_text("\n".join(written[:lines]) + "\n", encoding="utf-8")


def measure(request) -> tuple[float, int, float]:
    """Seconds (median of five), bytes of the answer, and the peak MB allocated (one more
    request, traced apart: tracing slows the allocations it counts)."""
    times, size = [], 0
    for _ in range(5):
        started = time.perf_counter()
        size = request()
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    request()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return statistics.median(times), size, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=2023)
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="qa-viewer-") as scratch:
        settings = Settings(corpus_dir=Path(scratch) / "corpus", index_dir=Path(scratch) / "index")
        settings.corpus_dir.mkdir()
        write_long_text(settings.corpus_dir / NAME, arguments.lines, Writer(arguments.seed))
        started = time.perf_counter()
        report = build_index(settings, CalibratedEmbedder())
        print(f"{NAME}: {arguments.lines:,} lines, {report.passages:,} passages, indexed in "
              f"{time.perf_counter() - started:.0f} s (passages embedded by the stand-in)")
        app = create_app(settings, load_embedder(settings))
        client = app.test_client()

        def get(url: str):
            return lambda: len(client.get(url).data)

        def everything():
            # The viewer before: every line of the document in one page.
            from flask import render_template

            store = app.extensions["qa_service"].live_index.current().store
            with app.test_request_context(f"/documents/{NAME}"):
                summary = store.document(NAME)
                lines = store.document_lines(NAME)
                return len(render_template("document.html", document=summary, lines=lines, first=1,
                                           last=len(lines), parts=[], url=f"/documents/{NAME}", original=None)
                           .encode("utf-8"))

        middle = arguments.lines * 3 // 4
        rows = [
            (f"first part ({VIEWER_LINES:,} lines)", get(f"/documents/{NAME}")),
            (f"the part of a citation at line {middle:,}", get(f"/documents/{NAME}?lines={middle}-{middle + 1}")),
            (f"all {arguments.lines:,} lines at once (as before)", everything),
        ]
        print("GET /documents/<name>:")
        for what, request in rows:
            seconds, size, peak = measure(request)
            print(f"  {what:40s} {seconds * 1000:8.1f} ms, {size / 1e6:6.2f} MB sent, {peak:6.1f} MB allocated at the peak")


if __name__ == "__main__":
    main()
