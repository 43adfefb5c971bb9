"""The shell examples of README.md and docs/*.md, run against a real server, so the docs cannot drift.

A fenced block whose info string is `sh runnable` is run with bash in a folder laid out like a
clone with `make serve` done: `.venv` (this Python's environment), `corpus/` holding the shipped
chapter, `index/` built from it, and `rapporten/` holding two PDF reports (the folder of PDFs
the README indexes). `http://127.0.0.1:8000` in a block is the test's server on a free loopback
port, started with QA_ADMIN_TOKEN set to the value the block's environment holds too.

The block must succeed. When a block fenced `json output` or `text output` follows it (nothing
but blank lines between), that is what it prints: JSON output must hold every documented field
with the documented value (numbers within rounding, lists at their documented length); text
output must match line by line. Generation names, the seconds a build took and `took_ms`
differ from run to run and are compared by their shape only. Every block must leave the
server's index as it found it, so each can be read, and run, on its own. Links between the
docs must lead to a file and a heading that exist.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from conftest import CHAPTER, CHAPTER_NAME, ROOT, RunningServer

DOCUMENTED_URL = "http://127.0.0.1:8000"
ADMIN_TOKEN = "docs-example-token-that-is-long-and-random-enough"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A fence of three or more backticks, closed by the same; a longer one can show a shorter one.
FENCE = re.compile(r"^(?P<fence>`{3,})(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.MULTILINE | re.DOTALL)
GENERATION = re.compile(r"\b\d{8}T\d{12}Z-[0-9a-f]{6}\b")
SECONDS = re.compile(r"\bin \d+(?:\.\d+)? s\b")
# Fields whose values are a run's own: how long it took.
TIMINGS = {"took_ms", "seconds"}


@dataclass(frozen=True)
class Example:
    document: Path
    line: int
    script: str
    output_kind: str | None  # "json", "text" or None
    output: str

    def __str__(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"


def runnable_examples(document: Path) -> list[Example]:
    text = document.read_text(encoding="utf-8")
    blocks = list(FENCE.finditer(text))
    examples = []
    for block, following in zip(blocks, blocks[1:] + [None]):
        if block["info"].split() != ["sh", "runnable"]:
            continue
        output_kind, output = None, ""
        if following is not None and not text[block.end():following.start()].strip():
            words = following["info"].split()
            if len(words) == 2 and words[1] == "output" and words[0] in ("json", "text"):
                output_kind, output = words[0], following["body"]
        line = text.count("\n", 0, block.start()) + 1
        examples.append(Example(document, line, block["body"], output_kind, output))
    return examples


EXAMPLES = [example for document in DOCS for example in runnable_examples(document)]


def test_the_docs_have_runnable_examples_where_a_newcomer_starts():
    documents = {example.document.name for example in EXAMPLES}
    assert {"README.md", "api.md", "documents.md"} <= documents
    assert all(example.output_kind for example in EXAMPLES if example.document.name == "README.md")


@pytest.fixture(scope="module")
def clone(tmp_path_factory, embedder) -> Path:
    """A folder laid out as a clone after `make serve`, with a folder of PDFs beside it."""
    from sample_files import write_annual_report, write_report_pdf

    from qa_service.config import Settings
    from qa_service.index import build_index

    root = tmp_path_factory.mktemp("clone")
    (root / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    (root / "corpus").mkdir()
    shutil.copy(CHAPTER, root / "corpus" / CHAPTER_NAME)
    (root / "rapporten").mkdir()
    write_annual_report(root / "rapporten" / "jaarverslag-2022.pdf")
    write_report_pdf(root / "rapporten" / "waterbeheer-2023.pdf")
    build_index(Settings(corpus_dir=root / "corpus", index_dir=root / "index"), embedder)
    return root


@pytest.fixture(scope="module")
def server(clone):
    from qa_service.config import Settings

    running = RunningServer(Settings(corpus_dir=clone / "corpus", index_dir=clone / "index"), workers=1,
                            env={"QA_ADMIN_TOKEN": ADMIN_TOKEN})
    try:
        running.wait_until_ready()
        yield running
    finally:
        running.stop()


def index_state(server) -> dict:
    health = requests.get(server.url + "/health", timeout=30).json()
    documents = requests.get(server.url + "/documents", headers={"Accept": "application/json"}, timeout=30).json()
    return {"passages": health["passages"], "documents": sorted(d["name"] for d in documents["documents"])}


def run(example: Example, clone: Path, server) -> str:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("QA_")}
    environment["QA_ADMIN_TOKEN"] = ADMIN_TOKEN
    script = example.script.replace(DOCUMENTED_URL, server.url)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=clone, env=environment,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (
        f"{example} exited with {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result.stdout


def normalized(text: str) -> str:
    return SECONDS.sub("in <seconds> s", GENERATION.sub("<generation>", text))


def json_values(text: str) -> list:
    """Every JSON value in the text, one after the other (a block may print several)."""
    decoder, values, position = json.JSONDecoder(), [], 0
    while (position := _skip_space(text, position)) < len(text):
        value, position = decoder.raw_decode(text, position)
        values.append(value)
    return values


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def differences(documented, actual, path: str = "$") -> list[str]:
    """Where `actual` lacks a documented field or holds another value than the documented one."""
    if isinstance(documented, dict):
        if not isinstance(actual, dict):
            return [f"{path}: documented an object, got {actual!r}"]
        found = []
        for key, value in documented.items():
            if key not in actual:
                found.append(f"{path}.{key}: documented, but not in the answer")
            elif key in TIMINGS:
                if not isinstance(actual[key], (int, float)):
                    found.append(f"{path}.{key}: documented a number, got {actual[key]!r}")
            else:
                found += differences(value, actual[key], f"{path}.{key}")
        return found
    if isinstance(documented, list):
        if not isinstance(actual, list) or len(actual) != len(documented):
            return [f"{path}: documented {len(documented)} items, got {actual!r}"]
        return [problem for i, (d, a) in enumerate(zip(documented, actual)) for problem in differences(d, a, f"{path}[{i}]")]
    if isinstance(documented, bool) or documented is None or isinstance(actual, bool):
        return [] if documented is actual else [f"{path}: documented {documented!r}, got {actual!r}"]
    if isinstance(documented, float) or isinstance(actual, float):
        if isinstance(actual, (int, float)) and math.isclose(documented, actual, rel_tol=0.01, abs_tol=0.01):
            return []
        return [f"{path}: documented {documented!r}, got {actual!r}"]
    if isinstance(documented, str) and isinstance(actual, str):
        return [] if normalized(documented) == normalized(actual) else [f"{path}: documented {documented!r}, got {actual!r}"]
    return [] if documented == actual else [f"{path}: documented {documented!r}, got {actual!r}"]


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_a_runnable_example_prints_what_the_docs_say(example, clone, server):
    before = index_state(server)
    printed = run(example, clone, server)
    if example.output_kind == "json":
        documented, actual = json_values(example.output), json_values(printed)
        assert len(actual) == len(documented), f"{example} printed {len(actual)} JSON values:\n{printed}"
        problems = [p for d, a in zip(documented, actual) for p in differences(d, a)]
        assert not problems, f"{example} prints other JSON than documented:\n" + "\n".join(problems)
    elif example.output_kind == "text":
        assert normalized(printed).rstrip("\n").splitlines() == normalized(example.output).rstrip("\n").splitlines(), (
            f"{example} prints:\n{printed}")
    assert index_state(server) == before, f"{example} left the index changed: put back what it adds or removes"


def test_output_comparison_finds_a_missing_field_a_changed_score_and_a_longer_list():
    documented = {"answered": True, "passages": [{"score": 2.27, "citation": {"page": 9}}], "took_ms": 50.1}
    assert differences(documented, {"answered": True, "passages": [{"score": 2.2725, "citation": {"page": 9}}],
                                    "took_ms": 80.0, "generation": "x"}) == []
    assert differences(documented, {"answered": True, "passages": [{"score": 1.83, "citation": {"page": 9}}],
                                    "took_ms": 1}) == ["$.passages[0].score: documented 2.27, got 1.83"]
    assert differences(documented, {"answered": True, "passages": [{"score": 2.27, "citation": {}}], "took_ms": 1}) \
        == ["$.passages[0].citation.page: documented, but not in the answer"]
    assert differences({"passages": [1]}, {"passages": [1, 2]}) == ["$.passages: documented 1 items, got [1, 2]"]
    assert differences({"answered": False}, {"answered": 0}) == ["$.answered: documented False, got 0"]
    assert differences({"generation": "20261203T034010617973Z-981af4"},
                       {"generation": "20261203T050000000000Z-0a0b0c"}) == []


LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def heading_anchors(document: Path) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings: lower case, punctuation dropped,
    spaces as hyphens (fenced blocks hold no headings)."""
    text = FENCE.sub("", document.read_text(encoding="utf-8"))
    headings = re.findall(r"^#{1,6} +(.+?) *$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("document", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_links_between_the_docs_lead_to_a_file_and_a_heading_that_exist(document):
    broken = []
    for link in LINK.finditer(FENCE.sub("", document.read_text(encoding="utf-8"))):
        target = link["target"]
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        if not linked.exists():
            broken.append(f"{target}: no file {linked}")
        elif anchor and anchor not in heading_anchors(linked):
            broken.append(f"{target}: no heading with that anchor in {linked.name}")
    assert not broken, f"{document.name}: " + "; ".join(broken)
