"""How fast the PDF reader reads a long report, and how much memory it takes: this version
against the reader before the rework (commit 58d93df), each in a fresh process.

The reports are made with reportlab from the chapter's words with a fixed seed, laid out as
ministries publish them: a running header, a footer with the printed page number (the first
page a cover without one), a heading and paragraphs on each page, and a ruled budget table on
every tenth page. Each reading runs in its own process; the figures are the time to read and
the process's peak resident memory, with what importing the reader costs before reading
shown apart (both from /proc/self/status: VmHWM).

    .venv/bin/python benchmarks/read_pdf.py                   # 300 and 1,000 pages; needs reportlab
    .venv/bin/python benchmarks/read_pdf.py --pages 300 --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from corpora import ROOT, Writer

BASELINE_COMMIT = "58d93df"  # the reader before the rework: pdfplumber's lines with every character kept
MEMORY_TARGET_MB = 300
SPEED_TARGET = 0.5  # at least half as many pages a second as the baseline

# Run in a child process: import a reader, read the PDF, report time and memory as JSON.
CHILD = """
import json, sys, time, importlib.util
from pathlib import Path
which, pdf = sys.argv[1], Path(sys.argv[2])
if which == "baseline":
    spec = importlib.util.spec_from_file_location("baseline_documents", sys.argv[3])
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    read = module.read_pdf
else:
    from qa_service.documents import read_pdf as read
import pdfplumber  # imported by both readers; loaded before the baseline memory figure

def status(field):
    # From /proc: ru_maxrss would start from the parent's peak, which Linux keeps across exec.
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith(field + ":")) / 1024

before = status("VmHWM")
started = time.perf_counter()
document = read(pdf, pdf.name)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "peak_mb": status("VmHWM"), "imported_mb": before, "lines": len(document.lines)}))
"""


def write_report(path: Path, pages: int, writer: Writer) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    width, height = A4
    pdf = canvas.Canvas(str(path), pagesize=A4)
    for page in range(1, pages + 1):
        pdf.setFont("Helvetica", 8)
        pdf.drawString(72, height - 40, "Jaarverslag 2022 | Ministerie van Buitenlandse Zaken")
        if page > 1:
            pdf.drawString(72, 36, "Beleidsthema 2 Vrede, veiligheid en stabiliteit")
            pdf.drawRightString(width - 72, 36, str(page - 1))
        y = height - 90
        pdf.setFont("Helvetica-Bold", 14)
        pdf.drawString(72, y, writer.heading())
        y -= 28
        if page % 10 == 0:
            pdf.setFont("Helvetica-Bold", 10)
            pdf.drawString(72, y, f"Tabel {page // 10}.1 Budgettaire gevolgen van beleid (bedragen x € 1.000)")
            columns, rows = [72, 262, 362, 462, 523], 6
            top = y - 10
            pdf.grid(columns, [top - r * 18 for r in range(rows + 1)])
            pdf.setFont("Helvetica", 9)
            for r in range(rows):
                cells = ["", "Realisatie", "Begroting", "Verschil"] if r == 0 else [
                    f"Artikel {page // 10}.{r} {writer.heading()}", f"{1000 * r + page:,}".replace(",", "."),
                    f"{900 * r + page:,}".replace(",", "."), str(100 * r)]
                for column, cell in zip(columns, cells):
                    pdf.drawString(column + 4, top - r * 18 - 13, cell[:30])
            y = top - rows * 18 - 24
        pdf.setFont("Helvetica", 10)
        while y > 110:
            for line in textwrap.wrap(writer.paragraph(), 95):
                if y <= 110:
                    break
                pdf.drawString(72, y, line)
                y -= 13
            y -= 13
        pdf.showPage()
    pdf.save()


def read_once(which: str, pdf: Path, baseline: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", CHILD, which, str(pdf), str(baseline)],
                            capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"reading with the {which} reader failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[300, 1000])
    parser.add_argument("--runs", type=int, default=3, help="readings per reader, interleaved")
    parser.add_argument("--baseline-pages", type=int, default=300,
                        help="read with the baseline only up to this many pages (it holds about 10 MB a page)")
    parser.add_argument("--seed", type=int, default=2023)
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="qa-read-pdf-") as scratch:
        scratch = Path(scratch)
        baseline = scratch / "baseline_documents.py"
        baseline.write_text(subprocess.run(["git", "show", f"{BASELINE_COMMIT}:qa_service/documents.py"], cwd=ROOT,
                                           capture_output=True, text=True, check=True).stdout)
        for pages in arguments.pages:
            pdf = scratch / f"report-{pages}.pdf"
            write_report(pdf, pages, Writer(arguments.seed))
            readers = ["ours", "baseline"] if pages <= arguments.baseline_pages else ["ours"]
            results: dict[str, list[dict]] = {reader: [] for reader in readers}
            for _ in range(arguments.runs):
                for reader in readers:
                    results[reader].append(read_once(reader, pdf, baseline))
            size = pdf.stat().st_size / 1e6
            print(f"{pages} pages ({size:.1f} MB), {arguments.runs} readings each, interleaved:")
            speeds = {}
            for reader in readers:
                runs = results[reader]
                speeds[reader] = statistics.median(pages / r["seconds"] for r in runs)
                peak = max(r["peak_mb"] for r in runs)
                imported = statistics.median(r["imported_mb"] for r in runs)
                name = "this reader" if reader == "ours" else f"before ({BASELINE_COMMIT})"
                print(f"  {name:16s} {speeds[reader]:6.1f} pages/s (median; "
                      f"{min(pages / r['seconds'] for r in runs):.1f}–{max(pages / r['seconds'] for r in runs):.1f}), "
                      f"peak memory {peak:.0f} MB ({imported:.0f} MB of it before reading), {runs[0]['lines']} lines")
            ours_peak = max(r["peak_mb"] for r in results["ours"])
            verdict = "within" if ours_peak <= MEMORY_TARGET_MB else "over"
            print(f"  peak memory {ours_peak:.0f} MB: {verdict} the target of {MEMORY_TARGET_MB} MB")
            if "baseline" in speeds:
                ratio = speeds["ours"] / speeds["baseline"]
                verdict = "within" if ratio >= SPEED_TARGET else "outside"
                print(f"  speed this / before: {ratio:.2f} ({verdict} the target of at least {SPEED_TARGET})")


if __name__ == "__main__":
    main()
