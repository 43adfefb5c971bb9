"""`qa-service add` and `qa-service remove` (change_corpus): the corpus and the index change
together or not at all."""

from pathlib import Path

import pytest
from click.testing import CliRunner
from sample_files import write_pdf, write_report_pdf, write_scanned_pdf

from qa_service.cli import main
from qa_service.corpus import NewDocument, change_corpus
from qa_service.index import IndexGeneration, build_index
from qa_service.reader_process import ReaderProcess

from conftest import CHAPTER_NAME, snapshot


@pytest.fixture
def built(settings, embedder):
    build_index(settings, embedder)
    return settings


def run(settings, *arguments: str):
    runner = CliRunner()
    return runner.invoke(main, [*arguments, "--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir)])


def indexed_documents(settings) -> dict[str, int]:
    generation = IndexGeneration.open(settings.index_dir)
    try:
        return {d.name: d.passages for d in generation.store.documents()}
    finally:
        generation.close()


def test_add_replace_and_remove(built, tmp_path: Path):
    pdf = write_report_pdf(tmp_path / "jaarverslag.pdf")
    added = run(built, "add", str(pdf))
    assert added.exit_code == 0, added.output
    assert "jaarverslag.pdf: Jaarverslag Waterbeheer 2023 (4 passages, 3 pages numbered as printed)" in added.output
    assert "added 1, changed 0, removed 0; vectors reused" in added.output and "embedded 4" in added.output
    assert (built.corpus_dir / "jaarverslag.pdf").read_bytes() == pdf.read_bytes()
    assert indexed_documents(built)["jaarverslag.pdf"] == 4

    before = snapshot(built.corpus_dir, built.index_dir)
    again = run(built, "add", str(pdf))
    assert again.exit_code == 1 and "already in the corpus" in again.output and "--replace" in again.output
    assert snapshot(built.corpus_dir, built.index_dir) == before

    (tmp_path / "v2").mkdir()
    newer = write_pdf(tmp_path / "v2" / "jaarverslag.pdf", [[("Jaarverslag Waterbeheer 2023, herziene versie", 10, False)]])
    notitie = tmp_path / "notitie.txt"
    notitie.write_text("Notitie\n\nHet jaarverslag verschijnt dit jaar later dan gepland.\n")
    replaced = run(built, "add", "--replace", str(newer), str(notitie))
    assert replaced.exit_code == 0, replaced.output
    assert "added 1, changed 1, removed 0" in replaced.output
    assert (built.corpus_dir / "jaarverslag.pdf").read_bytes() == newer.read_bytes()

    removed = run(built, "remove", "jaarverslag.pdf", "notitie.txt")
    assert removed.exit_code == 0, removed.output
    assert "removed jaarverslag.pdf, notitie.txt" in removed.output and "removed 2" in removed.output
    assert sorted(p.name for p in built.corpus_dir.iterdir()) == [CHAPTER_NAME]
    assert set(indexed_documents(built)) == {CHAPTER_NAME}


def test_removing_an_unknown_name_changes_nothing(built):
    before = snapshot(built.corpus_dir, built.index_dir)
    result = run(built, "remove", CHAPTER_NAME, "bestaat-niet.pdf")
    assert result.exit_code == 1 and "bestaat-niet.pdf is not in the corpus" in result.output
    assert snapshot(built.corpus_dir, built.index_dir) == before


@pytest.mark.parametrize("name, content, words", [
    ("scan.pdf", None, "no text found — needs OCR"),
    ("aantekeningen.xyz", b"tekst", "cannot be added; supported: "),
    (".verborgen.txt", b"Een zin.", "hidden"),
    ("leeg.md", b"", "holds no text"),
])
def test_add_refuses_what_cannot_be_read_and_adds_nothing(built, tmp_path: Path, name, content, words):
    good = tmp_path / "goed.txt"
    good.write_text("Notitie\n\nDeze goede notitie mag niet alleen worden toegevoegd.\n")
    bad = tmp_path / name
    write_scanned_pdf(bad) if content is None else bad.write_bytes(content)
    before = snapshot(built.corpus_dir, built.index_dir)
    result = run(built, "add", str(good), str(bad))
    assert result.exit_code == 1 and words in result.output
    assert snapshot(built.corpus_dir, built.index_dir) == before


def test_an_added_file_is_read_once_and_the_others_not_again(built, embedder, tmp_path: Path, monkeypatch):
    """A PDF takes a while to read: the check before the build and the build share one reading,
    and the documents already indexed are not read again."""
    read = []
    reading = ReaderProcess.read

    def counting(reader, path, name):
        read.append(name)
        return reading(reader, path, name)

    monkeypatch.setattr(ReaderProcess, "read", counting)
    pdf = write_report_pdf(tmp_path / "jaarverslag.pdf")
    change = change_corpus(built, embedder, add=[NewDocument("jaarverslag.pdf", pdf)])
    assert change.documents[0].passages == 4 and read == ["jaarverslag.pdf"]
