"""Reading files into documents: titles, headings, pages and lines as the source has them."""

from pathlib import Path

import pytest

from qa_service.documents import DocumentError, Heading, Paragraph, read_document

from conftest import CHAPTER


def headings(document):
    return [(b.level, b.text) for b in document.blocks if isinstance(b, Heading)]


def test_chapter_title_headings_and_levels():
    document = read_document(CHAPTER)
    assert document.title == "Beleidsthema 2 Vrede, veiligheid en stabiliteit"
    assert headings(document) == [
        (1, "Beleidsdoelstelling"),
        (1, "Beleidsinzet toegelicht"),
        (2, "Veiligheid"),
        (2, "Migratiesamenwerking"),
        (2, "Budget Internationale Veiligheid"),
    ]


def test_chapter_is_on_page_nine_and_its_footer_is_not_text():
    document = read_document(CHAPTER)
    paragraphs = [b for b in document.blocks if isinstance(b, Paragraph)]
    assert {line.page for p in paragraphs for line in p.lines} == {9}
    assert all(line.text.strip() != "9" for p in paragraphs for line in p.lines)


def test_a_sentence_end_followed_by_a_heading_ends_the_paragraph(tmp_path: Path):
    path = tmp_path / "report.txt"
    path.write_text(
        "Jaarverslag 2023\n\nInleiding\nDit is de eerste zin van een lange alinea die over meerdere regels loopt en\n"
        "hier eindigt.\nTweede onderwerp\nDe tekst onder het tweede kopje begint hier en gaat nog even door.\n"
    )
    document = read_document(path)
    assert document.title == "Jaarverslag 2023"
    assert headings(document) == [(1, "Inleiding"), (1, "Tweede onderwerp")]
    first, second = [b for b in document.blocks if isinstance(b, Paragraph)]
    assert [line.number for line in first.lines] == [4, 5]
    assert [line.number for line in second.lines] == [7]


def test_form_feeds_and_footers_give_pages(tmp_path: Path):
    path = tmp_path / "paged.txt"
    path.write_text(
        "Titel van het rapport\n\nEerste pagina met een zin die hier staat.\n\n12\n"
        "\fTweede pagina begint na een paginawissel.\n\n13\n\nDerde pagina zonder voettekst.\n"
    )
    document = read_document(path)
    pages = {line.text: line.page for line in document.lines if line.text.strip()}
    assert pages["Eerste pagina met een zin die hier staat."] == 12
    assert pages["Tweede pagina begint na een paginawissel."] == 13
    assert pages["Derde pagina zonder voettekst."] == 14


def test_form_feeds_without_footers_count_pages_from_one(tmp_path: Path):
    path = tmp_path / "ff.txt"
    path.write_text("Een zin op de eerste pagina.\n\fEen zin op de tweede pagina.\f\nNog een pagina.\n")
    document = read_document(path)
    assert [line.page for line in document.lines] == [1, 2, 3]
    assert document.title == "Ff"


def test_text_without_page_information_has_no_pages(tmp_path: Path):
    path = tmp_path / "notes.txt"
    path.write_text("Een notitie zonder paginanummers. Ze telt 2022 als jaartal.\n")
    document = read_document(path)
    assert all(line.page is None for line in document.lines)
    assert not document.paged


def test_markdown_headings_give_title_and_sections(tmp_path: Path):
    path = tmp_path / "nota.md"
    path.write_text("# Nota over water\n\nInleidende tekst.\n\n## Dijken\n\nTekst over dijken.\n\n### Onderhoud\n\nMeer.\n\n```\n# geen kop\n```\n")
    document = read_document(path)
    assert document.title == "Nota over water"
    assert headings(document) == [(2, "Dijken"), (3, "Onderhoud")]


def test_unknown_type_and_binary_data_are_refused_with_a_reason(tmp_path: Path):
    odd = tmp_path / "data.xyz"
    odd.write_text("x")
    with pytest.raises(DocumentError, match="cannot be read"):
        read_document(odd)
    binary = tmp_path / "image.txt"
    binary.write_bytes(b"\x89PNG\x00\x00\x00binary")
    with pytest.raises(DocumentError, match="binary"):
        read_document(binary)
