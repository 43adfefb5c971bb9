"""PDF, HTML and Word files read into documents: title, headings, pages and numbered lines."""

from pathlib import Path

import pytest
from sample_files import REPORT_HTML, write_docx, write_pdf, write_report_pdf, write_scanned_pdf

from qa_service.documents import DocumentError, Heading, Paragraph, page_label, read_document
from qa_service.passages import split_document


def headings(document):
    return [(b.level, b.text) for b in document.blocks if isinstance(b, Heading)]


def paragraphs(document):
    return [[(line.number, line.page, line.text) for line in b.lines] for b in document.blocks if isinstance(b, Paragraph)]


def test_pdf_title_headings_from_font_sizes_and_bold(tmp_path: Path):
    document = read_document(write_report_pdf(tmp_path / "jaarverslag.pdf"))
    assert document.title == "Jaarverslag Waterbeheer 2023"
    assert headings(document) == [(1, "1 Inleiding"), (2, "Dijkonderhoud"), (1, "2 Gemalen")]


def test_pdf_lines_are_numbered_through_all_pages_with_their_printed_page(tmp_path: Path):
    document = read_document(write_report_pdf(tmp_path / "jaarverslag.pdf"))
    numbered = [(line.number, line.page, line.text) for line in document.lines]
    assert [n for n, _, _ in numbered] == list(range(1, len(numbered) + 1))
    assert numbered[:3] == [
        (1, "i", "Jaarverslag Waterbeheer 2023"),
        (2, "i", "Dit verslag beschrijft het beheer van dijken en gemalen in het jaar 2023."),
        (3, 1, "1 Inleiding"),
    ]
    # The page number printed at the foot of a page is a line of the page, but not text.
    assert (9, 1, "1") in numbered and (13, 2, "2") in numbered
    assert all(text not in ("1", "2") for block in paragraphs(document) for _, _, text in block)


def test_pdf_paragraphs_split_at_gaps_and_join_across_a_page_break(tmp_path: Path):
    document = read_document(write_report_pdf(tmp_path / "jaarverslag.pdf"))
    blocks = paragraphs(document)
    assert [[n for n, _, _ in block] for block in blocks] == [[2], [4, 5], [7, 8, 10], [12]]
    assert [page for _, page, _ in blocks[2]] == [1, 1, 2]


def test_pdf_passages_cite_the_printed_page(tmp_path: Path):
    passages = split_document(read_document(write_report_pdf(tmp_path / "jaarverslag.pdf")))
    by_text = {p.text.split()[1]: p.citation for p in passages}
    assert (by_text["verslag"].page, by_text["verslag"].line_start) == ("i", 2)
    onderhoud = by_text["onderhoud"]
    assert (onderhoud.page, onderhoud.line_start, onderhoud.line_end) == (1, 7, 10)
    assert onderhoud.section == ("1 Inleiding", "Dijkonderhoud")
    assert onderhoud.label == "Jaarverslag Waterbeheer 2023 › Dijkonderhoud, p. 1, r. 7–10"
    assert by_text["zeventien"].page == 2


def test_a_pdf_without_labels_counts_its_pages_from_one(tmp_path: Path):
    pages = [[("Eerste pagina zonder label.", 10, False)], [("Tweede pagina zonder label.", 10, False)]]
    document = read_document(write_pdf(tmp_path / "kaal.pdf", pages, footers=False))
    assert [(line.page, line.text) for line in document.lines] == [
        (1, "Eerste pagina zonder label."), (2, "Tweede pagina zonder label."),
    ]
    assert document.title == "Kaal"


@pytest.mark.parametrize("label, ordinal, page", [(None, 3, 3), ("", 3, 3), ("12", 3, 12), ("iv", 3, "iv"), ("A-2", 9, "A-2")])
def test_page_labels_are_numbers_where_they_are_numeric(label, ordinal, page):
    assert page_label(label, ordinal) == page


def test_a_scanned_pdf_needs_ocr(tmp_path: Path):
    with pytest.raises(DocumentError, match="no text found — needs OCR"):
        read_document(write_scanned_pdf(tmp_path / "scan.pdf"))


@pytest.mark.parametrize("data", [b"not a pdf at all", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog"])
def test_a_broken_pdf_is_refused_with_the_parsers_reason(tmp_path: Path, data: bytes):
    path = tmp_path / "kapot.pdf"
    path.write_bytes(data)
    with pytest.raises(DocumentError, match=r"kapot\.pdf cannot be read as a PDF \(.+\)"):
        read_document(path)


def test_html_main_text_headings_and_title(tmp_path: Path):
    path = tmp_path / "nota.html"
    path.write_text(REPORT_HTML, encoding="utf-8")
    document = read_document(path)
    assert document.title == "Nota Waterkwaliteit"
    assert headings(document) == [(2, "Meetpunten"), (3, "Nitraat")]
    assert [(line.number, line.page, line.text) for line in document.lines] == [
        (1, None, "Nota Waterkwaliteit"),
        (2, None, "De kwaliteit van het oppervlaktewater is in 2023 licht verbeterd."),
        (3, None, "Meetpunten"),
        (4, None, "Er zijn 240 meetpunten."),
        (5, None, "Elk meetpunt wordt maandelijks bemonsterd."),
        (6, None, "Rijn"),
        (7, None, "Maas"),
        (8, None, "Nitraat"),
        (9, None, "De norm voor nitraat werd op 12 meetpunten overschreden."),
    ]
    assert [[n for n, _, _ in block] for block in paragraphs(document)] == [[2], [4, 5], [6], [7], [9]]


def test_html_without_h1_takes_its_title_from_the_title_element(tmp_path: Path):
    path = tmp_path / "kort.htm"
    path.write_text("<html><head><title>Korte nota</title></head><body><p>Alleen tekst.</p></body></html>")
    document = read_document(path)
    assert document.title == "Korte nota" and headings(document) == []
    empty = tmp_path / "leeg.html"
    empty.write_text("<html><body><nav>menu</nav><script>x()</script></body></html>")
    with pytest.raises(DocumentError, match="holds no text"):
        read_document(empty)


def test_docx_title_heading_styles_tables_and_lines(tmp_path: Path):
    document = read_document(write_docx(tmp_path / "plan.docx"))
    assert document.title == "Beleidsplan Natuur 2024"
    assert headings(document) == [(1, "Doelen"), (2, "Heide")]
    assert [(line.number, line.page, line.text) for line in document.lines] == [
        (1, None, "Beleidsplan Natuur 2024"),
        (2, None, "Dit plan beschrijft hoe de provincie haar natuurgebieden beheert."),
        (3, None, "Doelen"),
        (4, None, "Meer heide in het noorden."),
        (5, None, "Minder stikstof in het oosten."),
        (6, None, "Heide"),
        (7, None, "Gebied | Hectare"),
        (8, None, "Drenthe | 1200"),
        (9, None, "De heide groeit elk jaar met zestig hectare."),
    ]
    assert [[n for n, _, _ in block] for block in paragraphs(document)] == [[2], [4, 5], [7, 8], [9]]


def test_a_file_that_is_not_a_docx_is_refused_with_a_reason(tmp_path: Path):
    path = tmp_path / "oud.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0 an old binary .doc file")
    with pytest.raises(DocumentError, match=r"oud\.docx cannot be read as a Word document"):
        read_document(path)
