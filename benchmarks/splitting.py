"""How long splitting text takes on the inputs that made it quadratic, and that a text without
sentence ends stays in passages of bounded size.

For 1 MB of each pattern: `join_lines` on `'T\\n\\n' + 'ab-\\n' * N` (a hyphen at every line end),
`sentence_spans` on `'zie bijv. Amsterdam ' * N` (an abbreviation in every sentence), and the
whole path a build takes (read the .txt, split it into passages) for both and for a million
characters of words without punctuation. The splitter before the rework (commit 58d93df) is
timed on a smaller size beside this one, since on 1 MB it runs for most of an hour.

    .venv/bin/python benchmarks/splitting.py
    .venv/bin/python benchmarks/splitting.py --megabytes 1 --baseline-kilobytes 64
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

from corpora import ROOT

from qa_service.documents import read_document
from qa_service.passages import MAX_CHARS, join_lines, sentence_spans, split_document

BASELINE_COMMIT = "58d93df"
TARGET_SECONDS = 2.0


def patterns(size: int) -> dict[str, str]:
    """Each pattern at about `size` characters."""
    return {
        "hyphens": "T\n\n" + "ab-\n" * (size // 4),
        "abbreviations": "zie bijv. Amsterdam " * (size // 20),
        "no sentence ends": " ".join(f"woord{i % 1000}" for i in range(size // 8)),
    }


def baseline_splitter():
    """join_lines and sentence_spans as they were before the rework."""
    source = subprocess.run(["git", "show", f"{BASELINE_COMMIT}:qa_service/passages.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    source = source.replace("from .documents import Document, Heading, Page, Paragraph\n", "")
    module = sys.modules["baseline_passages"] = types.ModuleType("baseline_passages")  # dataclasses look it up
    exec(compile(source, "baseline_passages.py", "exec"), module.__dict__)
    return module.join_lines, module.sentence_spans


def timed(function, *arguments) -> float:
    started = time.perf_counter()
    function(*arguments)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=1.0)
    parser.add_argument("--baseline-kilobytes", type=int, default=64,
                        help="the size to time the quadratic baseline on (0: leave it out)")
    arguments = parser.parse_args()
    size = int(arguments.megabytes * 1_000_000)
    texts = patterns(size)

    print(f"{arguments.megabytes:g} MB of each pattern (target: at most {TARGET_SECONDS:g} s each):")
    results = {
        "join_lines, a hyphen at every line end": timed(join_lines, texts["hyphens"].split("\n"), frozenset()),
        "sentence_spans, an abbreviation in every sentence": timed(sentence_spans, texts["abbreviations"]),
    }
    for what, seconds in results.items():
        verdict = "within" if seconds <= TARGET_SECONDS else "over"
        print(f"  {what:52s} {seconds:6.2f} s ({verdict} the target)")

    with tempfile.TemporaryDirectory(prefix="qa-splitting-") as scratch:
        for name, text in texts.items():
            path = Path(scratch) / f"{name.replace(' ', '-')}.txt"
            path.write_text(text, encoding="utf-8")
            started = time.perf_counter()
            document = read_document(path)
            read = time.perf_counter() - started
            passages = split_document(document)
            split = time.perf_counter() - started - read
            longest = max((len(p.text) for p in passages), default=0)
            print(f"  read and split the .txt, {name:17s} read {read:5.2f} s, split {split:5.2f} s: "
                  f"{len(passages)} passages, the longest {longest} characters (cap {MAX_CHARS})")

    if arguments.baseline_kilobytes:
        small = patterns(arguments.baseline_kilobytes * 1000)
        old_join, old_spans = baseline_splitter()
        print(f"{arguments.baseline_kilobytes} KB, this splitter against the one before ({BASELINE_COMMIT}):")
        for what, ours, before, given in [
            ("join_lines, hyphens", join_lines, old_join, (small["hyphens"].split("\n"), frozenset())),
            ("sentence_spans, abbreviations", sentence_spans, old_spans, (small["abbreviations"],)),
        ]:
            new, old = timed(ours, *given), timed(before, *given)
            print(f"  {what:32s} this {new:7.3f} s, before {old:7.3f} s ({old / max(new, 1e-9):.0f}× as long)")


if __name__ == "__main__":
    main()
