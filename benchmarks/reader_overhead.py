"""What reading in a child process (qa_service/reader_process.py) adds to a build of many small
documents: the chapter (24 KB of text) read and split N times in this process, then N times
through one reader child (its start included), and their ratio.

    .venv/bin/python benchmarks/reader_overhead.py [--documents 200]
"""

from __future__ import annotations

import argparse
import time

from corpora import CHAPTER

from qa_service.reader_process import ReaderProcess, read_and_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=200)
    count = parser.parse_args().documents
    started = time.perf_counter()
    for number in range(count):
        read_and_split(CHAPTER, f"notitie-{number}.txt")
    here = time.perf_counter() - started
    started = time.perf_counter()
    with ReaderProcess(2048, 120) as reader:
        for number in range(count):
            reader.read(CHAPTER, f"notitie-{number}.txt")
    child = time.perf_counter() - started
    print(f"{count} small documents: in this process {here:.2f} s, through one reader child {child:.2f} s "
          f"(its start included); ratio {child / here:.2f}, {(child - here) / count * 1000:.1f} ms a document")


if __name__ == "__main__":
    main()
