"""Splitting documents into passages with citations that hold up."""

import re
from pathlib import Path

from qa_service.documents import read_document
from qa_service.passages import join_lines, sentence_spans, split_document

from conftest import CHAPTER, CHAPTER_NAME


def chapter_passages():
    return split_document(read_document(CHAPTER, CHAPTER_NAME))


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_every_chapter_passage_is_on_page_nine_with_its_document_and_title():
    passages = chapter_passages()
    assert len(passages) >= 4
    for passage in passages:
        assert passage.citation.page == 9
        assert passage.citation.document == CHAPTER_NAME
        assert passage.citation.title == "Beleidsthema 2 Vrede, veiligheid en stabiliteit"


def test_hyphenation_at_line_ends():
    text = " ".join(p.text for p in chapter_passages())
    assert "MENA-regio" in text
    assert "mensenhandel- en smokkel" in text
    assert "mensenhandel en -smokkel" in text


def test_line_ranges_hold_the_passage_text():
    lines = CHAPTER.read_text(encoding="utf-8").split("\n")
    for passage in chapter_passages():
        cited = "".join(lines[passage.citation.line_start - 1 : passage.citation.line_end])
        assert squeeze(passage.text) in squeeze(cited)


def test_no_passage_crosses_a_heading():
    document = read_document(CHAPTER, CHAPTER_NAME)
    heading_lines = {b.line.number for b in document.blocks if hasattr(b, "level")}
    for passage in split_document(document):
        inside = set(range(passage.citation.line_start, passage.citation.line_end + 1))
        assert not inside & heading_lines
        assert passage.citation.section[-1] in {"Beleidsdoelstelling", "Veiligheid", "Migratiesamenwerking", "Budget Internationale Veiligheid"}


def test_the_deployment_passage_cites_lines_49_to_50_under_its_section():
    passage = next(p for p in chapter_passages() if "3.337" in p.text)
    c = passage.citation
    assert (c.line_start, c.line_end, c.page) == (49, 50, 9)
    assert c.section == ("Beleidsinzet toegelicht", "Budget Internationale Veiligheid")
    assert c.label == "Beleidsthema 2 Vrede, veiligheid en stabiliteit › Budget Internationale Veiligheid, p. 9, r. 49–50"


def test_passages_are_whole_sentences_and_ids_are_stable():
    first, second = chapter_passages(), chapter_passages()
    assert [p.id for p in first] == [p.id for p in second]
    assert len({p.id for p in first}) == len(first)
    for passage in first:
        assert passage.text[0].isupper()
        assert passage.text.rstrip()[-1] in ".!?"


def test_long_paragraphs_split_at_sentences_and_short_ones_merge(tmp_path: Path):
    long_paragraph = " ".join(f"Zin nummer {i} gaat over beleid en telt precies elf woorden in totaal." for i in range(60))
    path = tmp_path / "lang.txt"
    path.write_text(f"Rapport\n\nKop een\n{long_paragraph}\n\nKop twee\nKort.\n\nOok kort.\n")
    passages = split_document(read_document(path))
    under_first = [p for p in passages if p.citation.section == ("Kop een",)]
    assert len(under_first) >= 3
    assert all(len(p.text.split()) <= 200 for p in under_first)
    assert all(p.text.endswith("totaal.") for p in under_first)
    under_second = [p for p in passages if p.citation.section == ("Kop twee",)]
    assert len(under_second) == 1 and "Kort." in under_second[0].text and "Ook kort." in under_second[0].text


def test_sentences_respect_abbreviations_and_numbers():
    text = "Er zijn o.a. 3.337 militairen uitgezonden. Dat is bijv. meer dan in 2021! Klopt dat? Ja."
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "Er zijn o.a. 3.337 militairen uitgezonden.",
        "Dat is bijv. meer dan in 2021!",
        "Klopt dat?",
        "Ja.",
    ]


def test_join_lines_drops_a_hyphen_only_for_words_broken_by_the_line_width():
    text, starts = join_lines(["de migratie-", "samenwerking gaat door"], frozenset({"migratiesamenwerking"}))
    assert text == "de migratiesamenwerking gaat door"
    text, _ = join_lines(["in de MENA-", "regio"], frozenset())
    assert text == "in de MENA-regio"
    assert starts == [0, len("in de MENA-")]


def test_text_without_sentence_ends_is_cut_at_word_breaks_into_passages_of_bounded_length(tmp_path: Path):
    from qa_service.passages import MAX_CHARS, MAX_WORDS

    words = [f"woord{i}" for i in range(5000)]
    path = tmp_path / "zonder-punten.txt"
    path.write_text("Lijst\n\n" + "\n".join(" ".join(words[i:i + 12]) for i in range(0, len(words), 12)) + "\n")
    passages = split_document(read_document(path))
    assert len(passages) >= len(words) / MAX_WORDS
    assert all(len(p.text.split()) <= MAX_WORDS and len(p.text) <= MAX_CHARS for p in passages)
    assert [w for p in passages for w in p.text.split()] == words  # every word, once, in order
    # A "word" with no break to cut at (a pasted hash, a line of dashes) is cut where it must be.
    blob = tmp_path / "blob.txt"
    blob.write_text("Bijlage\n\n" + "x" * (3 * MAX_CHARS) + "\n")
    pieces = split_document(read_document(blob))
    assert "".join(p.text for p in pieces) == "x" * (3 * MAX_CHARS) and all(len(p.text) <= MAX_CHARS for p in pieces)


def test_join_lines_and_sentence_spans_keep_their_results_on_long_input():
    text, starts = join_lines(["T", ""] + ["ab-"] * 1000, frozenset())
    assert text == "T " + "ab-" * 1000 and len(starts) == 1002 and starts[-1] == len(text) - 3
    sentence = "zie bijv. Amsterdam "
    assert sentence_spans(sentence * 500) == [(0, len(sentence * 500) - 1)]  # one sentence: "bijv." ends none
    text = "Een zin. " * 1000
    assert len(sentence_spans(text)) == 1000
