"""BM25 with Dutch stemming: word forms, numbers as written, stop words."""

from qa_service.lexical import Analyzer, LexicalIndex, top_rows

TEXTS = [
    "Nederlandse militairen zijn ingezet. In 2022 zijn in totaal 3.337 militairen uitgezonden.",
    "Het COMPASS-partnerschap met de IOM is verdiept.",
    "Een militair sprak over het partnerschap met de regio.",
    "De begroting bedroeg 2,5 miljoen euro in 2021.",
]


def search(question: str) -> list[int]:
    scores = LexicalIndex.build(TEXTS, Analyzer("nl")).scores(question)
    return [] if scores is None else [row for row, _ in top_rows(scores, 10)]


def test_plural_finds_singular_and_back():
    assert 2 in search("militairen")
    assert 0 in search("militair")
    assert set(search("partnerschappen")) == {1, 2}


def test_numbers_stay_searchable_as_written():
    assert search("3.337") == [0]
    assert search("3337") == [0]
    assert search("2022") == [0]
    assert search("2.5 miljoen") == [3]


def test_number_words_are_numbers_in_dutch_and_english():
    texts = ["De inzet rust op drie pijlers.", "Er zijn 3 fregatten en twee mijnenjagers.", "Een enkele zin."]
    index = LexicalIndex.build(texts, Analyzer("nl"))
    assert [row for row, _ in top_rows(index.scores("three pillars"), 5)] == [0, 1]
    assert [row for row, _ in top_rows(index.scores("2 mijnenjagers"), 5)] == [1]
    assert index.scores("one") is None  # "een"/"one" are articles and pronouns more often than counts


def test_stop_words_alone_find_nothing():
    assert search("de het een van in") == []


def test_terms_know_where_they_stand():
    text = "Geïntegreerde aanpak"
    terms = Analyzer("nl").terms(text)
    assert [(text[t.start:t.end]) for t in terms] == ["Geïntegreerde", "aanpak"]
    assert Analyzer("nl").stems("geintegreerde") == [terms[0].stem]


def test_index_survives_a_save_and_load(tmp_path):
    index = LexicalIndex.build(TEXTS, Analyzer("nl"))
    index.save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25", Analyzer("nl"))
    assert top_rows(loaded.scores("COMPASS"), 5)[0][0] == 1
