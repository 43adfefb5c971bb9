"""The FAISS index chosen by corpus size, and approximate search that agrees with exact search."""

import numpy as np
import pytest

from qa_service.index import EXACT_UP_TO, HNSW_UP_TO, FaissVectorSearch, IndexType, index_type_for


def clustered_vectors(count: int, dimension: int = 384, clusters: int = 400, seed: int = 7) -> np.ndarray:
    """Unit vectors shaped like sentence embeddings: a shared direction, topics, and noise."""
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal(dimension)
    shared *= 0.8 / np.linalg.norm(shared)
    centres = rng.standard_normal((clusters, dimension)) / np.sqrt(dimension)
    topics = rng.integers(0, clusters, count)
    vectors = shared + centres[topics] + rng.standard_normal((count, dimension)) * (0.6 / np.sqrt(dimension))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_the_index_type_follows_the_corpus_size():
    assert index_type_for(5).kind == "flat"
    assert index_type_for(EXACT_UP_TO).kind == "flat"
    assert index_type_for(EXACT_UP_TO + 1).kind == "hnsw"
    assert index_type_for(HNSW_UP_TO).kind == "hnsw"
    large = index_type_for(1_000_000)
    assert large.kind == "ivf" and large.parameters["nlist"] == 4000 and large.parameters["nprobe"] >= 16


def test_a_small_corpus_records_exact_search_in_its_manifest(chapter_settings):
    from qa_service.index import IndexGeneration

    manifest = IndexGeneration.open(chapter_settings.index_dir).manifest
    assert manifest["index_type"] == "flat" and manifest["index_parameters"] == {}


@pytest.fixture(scope="module")
def corpus_and_questions():
    vectors = clustered_vectors(20_000)
    rng = np.random.default_rng(11)
    # Questions sit near passages but are none of them.
    questions = vectors[rng.choice(len(vectors), 200, replace=False)] + rng.standard_normal((200, 384)) * 0.03
    questions /= np.linalg.norm(questions, axis=1, keepdims=True)
    return vectors, questions.astype(np.float32)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_search_agrees_with_exact_search_on_20000_passages(corpus_and_questions, kind, tmp_path):
    vectors, questions = corpus_and_questions
    chosen = index_type_for(1_000_000 if kind == "ivf" else HNSW_UP_TO)
    parameters = dict(chosen.parameters)
    if kind == "ivf":
        parameters["nlist"] = int(4 * np.sqrt(len(vectors)))  # the rule, at this corpus size
    exact = FaissVectorSearch.build(vectors, IndexType("flat"))
    approximate = FaissVectorSearch.build(vectors, IndexType(kind, parameters))
    approximate.save(tmp_path)
    loaded = FaissVectorSearch.load(tmp_path, vectors, IndexType(kind, parameters))
    agreement = []
    for question in questions:
        truth = {row for row, _ in exact.search(question, 10)}
        found = [row for row, _ in loaded.search(question, 10)]
        assert found == [row for row, _ in approximate.search(question, 10)]  # the memory-mapped copy answers the same
        agreement.append(len(truth & set(found)) / 10)
    assert np.mean(agreement) >= 0.95, f"{kind}: {np.mean(agreement):.3f} of the exact top 10"


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_every_index_type_returns_exact_cosines_for_the_rows_it_finds(corpus_and_questions, kind):
    """Fusion takes the dense search's cosines as they are and looks up only the rows BM25 adds."""
    vectors, questions = corpus_and_questions
    parameters = {"flat": {}, "hnsw": index_type_for(HNSW_UP_TO).parameters,
                  "ivf": {"nlist": 64, "nprobe": 8}}[kind]
    index = FaissVectorSearch.build(vectors, IndexType(kind, parameters))
    for question in questions[:20]:
        found = index.search(question, 100)
        rows = [row for row, _ in found]
        assert np.allclose([cosine for _, cosine in found], vectors[rows] @ question, atol=1e-5)
        assert np.allclose(index.similarities(question, rows), vectors[rows] @ question, atol=1e-5)
