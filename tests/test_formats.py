"""PDF, HTML and Word files read into documents: title, headings, pages and numbered lines."""

from pathlib import Path

import pytest
from sample_files import (
    BUDGET_CAPTION,
    BUDGET_TABLE,
    FIRST_PRINTED_PAGE,
    FOOTNOTE,
    GAP,
    LEFT_COLUMN,
    MISSIONS_CAPTION,
    MISSIONS_HEADER,
    MISSIONS_ROWS,
    REPORT_HTML,
    RIGHT_COLUMN,
    RUN_ON_REST,
    RUNNING_FOOTER,
    RUNNING_HEADER,
    write_annual_report,
    write_docx,
    write_pdf,
    write_report_pdf,
    write_scanned_pdf,
)

from qa_service.documents import DocumentError, Heading, Paragraph, Table, page_label, read_document
from qa_service.documents.pdf import heading_levels
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
    assert onderhoud.label == "Jaarverslag Waterbeheer 2023 › Dijkonderhoud, p. 1–2, r. 7–10"  # runs on over the break
    assert by_text["zeventien"].page == 2


def test_pdf_section_numbers_set_the_level_of_headings_in_one_style(tmp_path: Path):
    """Sections and subsections in one bold body-size style: the number says which is which."""
    body = 10
    pages = [[
        ("Rapport toezicht jeugdzorg", 20, True), GAP,
        ("1 Inleiding", body, True), ("Dit rapport gaat over het toezicht op de jeugdzorg.", body, False), GAP,
        ("1.1 Aanpak", body, True), ("De inspectie bezocht veertig aanbieders van jeugdzorg.", body, False), GAP,
        ("1.1.1 Gemeenten", body, True), ("Ook spraken de inspecteurs met twaalf gemeenten.", body, False), GAP,
        ("1.2. Leeswijzer", body, True), ("Hoofdstuk twee bevat de bevindingen.", body, False), GAP,
        ("2 Bevindingen", body, True), ("De wachtlijsten zijn langer geworden.", body, False),
    ]]
    document = read_document(write_pdf(tmp_path / "jeugdzorg.pdf", pages, footers=False))
    assert headings(document) == [(1, "1 Inleiding"), (2, "1.1 Aanpak"), (3, "1.1.1 Gemeenten"),
                                  (2, "1.2. Leeswijzer"), (1, "2 Bevindingen")]
    passages = split_document(document)
    assert passage_with(passages, "twaalf gemeenten").citation.section == ("1 Inleiding", "1.1 Aanpak", "1.1.1 Gemeenten")
    assert passage_with(passages, "bevindingen").citation.section == ("1 Inleiding", "1.2. Leeswijzer")


def test_a_pdf_chapter_cut_from_a_report_keeps_its_numbered_heading_as_a_section(tmp_path: Path):
    """As in plain text: "3 Operaties" in a type of its own above "3.1" is the chapter, not the title."""
    pages = [[("3 Operaties", 16, True), GAP, ("3.1 Missies", 10, True),
              ("Gemiddeld waren 1.140 militairen uitgezonden.", 10, False), GAP,
              ("3.2 Nationale taken", 10, True), ("De marechaussee bewaakte Schiphol.", 10, False)]]
    document = read_document(write_pdf(tmp_path / "jaarverslag-h3.pdf", pages, footers=False))
    assert document.title == "Jaarverslag h3"
    assert headings(document) == [(1, "3 Operaties"), (2, "3.1 Missies"), (2, "3.2 Nationale taken")]
    assert passage_with(split_document(document), "marechaussee").citation.section == ("3 Operaties", "3.2 Nationale taken")


XL, LARGE, BOLD = (20.0, True), (16.0, True), (10.0, True)


@pytest.mark.parametrize("found, levels", [
    # A chapter title in a larger font above its numbered sections: "2.1" goes on from it.
    ([("Beleidsthema 2", XL), ("2.1 Doel", BOLD), ("2.1.1 Missies", BOLD), ("Beleidsthema 3", XL), ("3.1 Doel", BOLD)],
     [1, 2, 3, 1, 2]),
    # A part above numbered chapters: the numbers move down below it.
    ([("Deel A", XL), ("1 Inleiding", LARGE), ("1.1 Aanpak", BOLD), ("Kader", BOLD)], [1, 2, 3, 3]),
    # Numbered and unnumbered headings in one style: the unnumbered ones stand with the chapters.
    ([("Samenvatting", BOLD), ("1 Inleiding", BOLD), ("1.1 Aanpak", BOLD), ("Bijlage", BOLD)], [1, 1, 2, 1]),
    # An unnumbered style below numbered ones sits under their deepest number.
    ([("1 Inleiding", LARGE), ("1.1 Aanpak", LARGE), ("1.1.1 Gemeenten", LARGE), ("Kader", BOLD)], [1, 2, 3, 4]),
    # No numbers: larger fonts are outer levels.
    ([("Inleiding", XL), ("Aanpak", LARGE), ("Kader", BOLD)], [1, 2, 3]),
])
def test_pdf_heading_levels_from_numbers_and_font_styles(found, levels):
    assert heading_levels(found) == levels


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


ARTICLE_PAGE = """<!DOCTYPE html><html lang="nl"><head><title>Kamerbrief stikstof | Rijksoverheid.nl</title></head>
<body><a class="skiplink" href="#inhoud">Ga direct naar inhoud</a>
<div class="cookies">Deze website gebruikt cookies.</div>
<header><div>Rijksoverheid</div><nav><a href="/">Home</a></nav></header>
<div role="navigation">U bent hier: Home &gt; Documenten</div>
<div id="inhoud"><article>
<header><h1>Kamerbrief over de stikstofaanpak</h1><p>Kamerstuk | 14-11-2023</p></header>
<section><header><h2>Uitkoopregelingen</h2></header>
<p>Tot 1 november 2023 hebben 1.096 veehouders zich aangemeld.</p>
<h3>Budget</h3><p>Voor beide regelingen is 1,5 miljard euro beschikbaar.</p></section>
<section><header><h2>Vergunningen</h2></header>
<p>De provincies verleenden in 2023 in totaal 312 natuurvergunningen.</p></section>
<p aria-hidden="true">Sluit venster</p>
</article></div>
<div role="contentinfo">Dit is een website van de Rijksoverheid.</div></body></html>"""


def test_html_article_headers_are_its_title_and_sections_and_the_site_around_it_is_left_out(tmp_path: Path):
    """The common HTML5 page: one <article>, its title and sections in <header>s of their own,
    inside a site's skip link, cookie notice, banner, breadcrumbs and footer."""
    path = tmp_path / "kamerbrief.html"
    path.write_text(ARTICLE_PAGE, encoding="utf-8")
    document = read_document(path)
    assert document.title == "Kamerbrief over de stikstofaanpak"
    assert headings(document) == [(2, "Uitkoopregelingen"), (3, "Budget"), (2, "Vergunningen")]
    assert [line.text for line in document.lines] == [
        "Kamerbrief over de stikstofaanpak", "Kamerstuk | 14-11-2023", "Uitkoopregelingen",
        "Tot 1 november 2023 hebben 1.096 veehouders zich aangemeld.", "Budget",
        "Voor beide regelingen is 1,5 miljard euro beschikbaar.", "Vergunningen",
        "De provincies verleenden in 2023 in totaal 312 natuurvergunningen."]
    # Two articles (a list of news items): the page's body is the text, but still not its banner.
    two = tmp_path / "nieuws.html"
    two.write_text(ARTICLE_PAGE.replace("</article></div>", "</article><article><p>Ander bericht.</p></article></div>"),
                   encoding="utf-8")
    text = [line.text for line in read_document(two).lines]
    assert text[0] == "Ga direct naar inhoud" and "Ander bericht." in text
    assert not {"Rijksoverheid", "Home", "U bent hier: Home > Documenten", "Sluit venster",
                "Dit is een website van de Rijksoverheid."} & set(text)
    # An article in the sidebar is a teaser, not the page's text; role="main" is <main>.
    teaser = tmp_path / "met-zijbalk.html"
    teaser.write_text(ARTICLE_PAGE.replace("<article>", "<div>", 1).replace("</article></div>", "</div></div>")
                      .replace('<div role="contentinfo">', '<aside><article><p>Lees ook dit.</p></article></aside><div>'),
                      encoding="utf-8")
    text = [line.text for line in read_document(teaser).lines]
    assert "De provincies verleenden in 2023 in totaal 312 natuurvergunningen." in text and "Lees ook dit." not in text
    landmark = tmp_path / "landmark.html"
    landmark.write_text(ARTICLE_PAGE.replace('<div id="inhoud"><article>', '<div role="main"><div>')
                        .replace("</article></div>", "</div></div>"), encoding="utf-8")
    document = read_document(landmark)
    assert document.title == "Kamerbrief over de stikstofaanpak" and document.lines[-1].text.startswith("De provincies")


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
    assert [[n for n, _, _ in block] for block in paragraphs(document)] == [[2], [4, 5], [9]]
    table = next(b for b in document.blocks if isinstance(b, Table))
    assert table.header == ("Gebied", "Hectare") and [row.cells for row in table.rows] == [("Drenthe", "1200")]
    assert [line.number for row in table.rows for line in row.lines] == [8]


def test_a_file_that_is_not_a_docx_is_refused_with_a_reason(tmp_path: Path):
    path = tmp_path / "oud.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0 an old binary .doc file")
    with pytest.raises(DocumentError, match=r"oud\.docx cannot be read as a Word document"):
        read_document(path)


# --- a report as ministries publish it -----------------------------------------------------------


@pytest.fixture(scope="module")
def annual_report(tmp_path_factory):
    path = write_annual_report(tmp_path_factory.mktemp("report") / "jaarverslag-2022.pdf")
    document = read_document(path)
    return path, document, split_document(document)


def passage_with(passages, words: str):
    found = [p for p in passages if words in " ".join(p.text.split())]
    assert len(found) == 1, f"{words!r} is in {len(found)} passages"
    return found[0]


def test_pages_are_cited_as_printed_and_pdf_pages_as_in_the_file(annual_report):
    _, document, passages = annual_report
    assert document.page_numbering == "printed" and document.pages == 6
    cited = {(p.citation.page, p.citation.pdf_page) for p in passages}
    assert {(page, page - FIRST_PRINTED_PAGE + 2) for page in range(FIRST_PRINTED_PAGE, FIRST_PRINTED_PAGE + 5)} <= cited
    assert passage_with(passages, "Het bevorderen van de Nederlandse").citation.page == 21
    assert passage_with(passages, "mensensmokkel").citation.page == 23
    # The cover carries no number; it is the page before 21 in the printed report.
    assert {line.page for line in document.lines if line.pdf_page == 1} == {20}
    assert [line.pdf_page for line in document.lines] == sorted(line.pdf_page for line in document.lines)


def test_running_headers_footers_and_page_numbers_are_lines_but_not_text(annual_report):
    _, document, passages = annual_report
    furniture = [line for line in document.lines if line.furniture]
    assert {line.pdf_page for line in furniture if RUNNING_HEADER in line.text} == set(range(1, 7))
    assert {line.pdf_page for line in furniture if RUNNING_FOOTER in line.text} == set(range(1, 7))
    for passage in passages:
        assert "Jaarverslag 2022 |" not in passage.text and "Ministerie van Buitenlandse Zaken" not in passage.text
        assert RUNNING_FOOTER not in passage.text
    headings_text = [b.text for b in document.blocks if isinstance(b, Heading)]
    assert not any(RUNNING_HEADER in text or RUNNING_FOOTER in text for text in headings_text)
    assert document.title == "Beleidsthema 2 Vrede, veiligheid en stabiliteit"  # the cover's, in 24 points


def test_a_paragraph_that_runs_on_over_a_page_break_is_one_passage(annual_report):
    _, document, passages = annual_report
    joined = passage_with(passages, "zelf de prioriteiten stelde en de Europese Unie de financiering")
    assert " ".join(joined.text.split("\n\n")[0].split()).endswith(RUN_ON_REST)
    assert joined.citation.page == 21 and joined.citation.pdf_page == 2
    lines = {line.number: line for line in document.lines}
    assert lines[joined.citation.line_end].page == 22
    assert joined.citation.page_end == 22 and "p. 21–22" in joined.citation.label
    for passage in passages:  # the others that stand on one page say only that page
        first, last = lines[passage.citation.line_start].page, lines[passage.citation.line_end].page
        assert passage.citation.page_end == (None if first == last else last)
    assert any(passage.citation.page_end is None and f"p. {passage.citation.page}," in passage.citation.label
               for passage in passages)


def test_a_footnote_is_its_own_paragraph_after_the_text_of_its_page(annual_report):
    _, document, passages = annual_report
    note = passage_with(passages, "Zie de Kamerbrief")
    # A paragraph of its own in its passage, after the sentence it interrupted on the page.
    paragraphs_of_note = [" ".join(part.split()) for part in note.text.split("\n\n")]
    assert FOOTNOTE in paragraphs_of_note
    assert paragraphs_of_note.index(FOOTNOTE) > next(
        i for i, part in enumerate(paragraphs_of_note) if part.endswith(RUN_ON_REST))
    blocks = [b for b in document.blocks if isinstance(b, Paragraph)]
    texts = [" ".join(line.text for line in b.lines) for b in blocks]
    footnote_at = next(i for i, t in enumerate(texts) if t.startswith("1 Zie de Kamerbrief"))
    assert "de prioriteiten stelde" in texts[footnote_at - 1]  # right after the run-on paragraph


def test_two_columns_are_read_one_after_the_other(annual_report):
    _, _, passages = annual_report
    paragraphs_read = [" ".join(part.split()) for p in passages for part in p.text.split("\n\n")]
    assert paragraphs_read.index(RIGHT_COLUMN) == paragraphs_read.index(LEFT_COLUMN) + 1


def test_a_ruled_budget_table_reads_row_by_row_with_its_column_names(annual_report):
    _, document, passages = annual_report
    row = passage_with(passages, "Artikel 2.1 Veiligheid:")
    assert row.text.startswith(f"{BUDGET_CAPTION} — ")
    assert "Artikel 2.1 Veiligheid: Realisatie 2022 123.456; Vastgestelde begroting 2022 120.000; Verschil 3.456" in row.text
    assert (row.citation.page, row.citation.pdf_page, row.citation.section) == (22, 3, ("2 Budget",))
    cited = [line.text for line in document.lines if row.citation.line_start <= line.number <= row.citation.line_end]
    assert cited[0].startswith("Artikel 2.1 Veiligheid") and "123.456" in cited[0]
    for label, realised, *_ in BUDGET_TABLE[1:]:
        assert f"{label}: Realisatie 2022 {realised};" in " ".join(p.text for p in passages)


def test_an_unruled_table_over_two_pages_keeps_its_caption_and_header(annual_report):
    _, document, passages = annual_report
    table = next(b for b in document.blocks if isinstance(b, Table) and b.caption == MISSIONS_CAPTION)
    assert table.header == MISSIONS_HEADER and [row.cells for row in table.rows] == MISSIONS_ROWS
    first, last = MISSIONS_ROWS[0], MISSIONS_ROWS[-1]
    on_first_page = passage_with(passages, f"{first[0]}: 2021 {first[1]}; 2022 {first[2]}")
    on_next_page = passage_with(passages, f"{last[0]}: 2021 {last[1]}; 2022 {last[2]}")
    assert on_first_page.citation.page == 24 and on_next_page.citation.page == 25
    assert on_next_page.text.startswith(f"{MISSIONS_CAPTION} — ")


@pytest.mark.parametrize("numbered", [False, True])
def test_a_year_at_the_foot_of_a_pdf_page_is_not_a_page_number(tmp_path: Path, numbered: bool):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    path = tmp_path / "jaartal.pdf"
    pdf = canvas.Canvas(str(path), pagesize=A4)
    for page, year in enumerate((None, "2022", None), start=4):
        pdf.setFont("Helvetica", 10)
        pdf.drawString(72, 760, f"Tekst van de pagina over het beleid, deel {page - 3}.")
        if year:
            pdf.drawString(72, 70, year)  # a year alone, low on the page (under a signature, say)
        if numbered:
            pdf.drawString(A4[0] / 2, 36, str(page))
        pdf.showPage()
    pdf.save()
    document = read_document(path)
    year_line = next(line for line in document.lines if line.text == "2022")
    assert not year_line.furniture and year_line.pdf_page == 2
    if numbered:
        assert document.page_numbering == "printed" and year_line.page == 5
    else:
        assert document.page_numbering == "ordinal" and year_line.page == 2
    assert any("2022" in p.text for p in split_document(document))


@pytest.mark.parametrize("number_on_top", [True, False], ids=["number-above-header", "number-at-foot"])
def test_alternating_running_headers_below_or_above_the_page_number_are_not_text(tmp_path: Path, number_on_top):
    """A short report: a cover, then four pages whose chapter header and report header take
    turns, each standing on two pages only. A page number printed above the header does not
    hide it: the header stays out of the passages, and no passage runs on into the next page."""
    chapter, report = "2 Dijken en gemalen", "Evaluatie Waterbeheer 2018-2023"
    body = 10
    pages = [
        [("Evaluatie Waterbeheer", 20, True), GAP, ("Een evaluatie over de jaren 2018 tot en met 2023.", body, False)],
        [("2 Dijken", 16, True), ("Het waterschap versterkte 38 kilometer dijk in zes jaar.", body, False),
         ("De versterking kostte gemiddeld 9 miljoen euro per kilometer.", body, False)],
        [("2.1 Ondergrond", 12, True),
         ("Bij vier dijkvakken bleek de ondergrond zwakker dan gedacht, zodat het ontwerp", body, False),
         ("moest worden aangepast", body, False)],
        [("en de oplevering een jaar later volgde dan gepland.", body, False), GAP,
         ("2.2 Gemalen", 12, True), ("De zeventien gemalen werden alle van nieuwe pompen voorzien.", body, False)],
        [("3 Conclusies", 16, True), ("De commissie beveelt aan de kosten per dijkvak bij te houden.", body, False)],
    ]
    path = write_pdf(tmp_path / "evaluatie.pdf", pages, headers=["", chapter, report, chapter, report],
                     number_on_top=number_on_top)
    document = read_document(path)
    passages = split_document(document)
    assert document.page_numbering == "printed"
    assert [line.pdf_page for line in document.lines if line.text in (chapter, report) and line.furniture] == [2, 3, 4, 5]
    assert not any(chapter in p.text or report in p.text for p in passages)

    def pages_of(words: str):
        citation = passage_with(passages, words).citation
        return citation.page, citation.page_end

    assert pages_of("9 miljoen euro per kilometer") == (1, None)  # not on to page 2 for its header
    assert pages_of("zwakker dan gedacht") == (2, 3)  # the paragraph runs on over the break
    assert pages_of("zeventien gemalen") == (3, None)
    assert pages_of("kosten per dijkvak") == (4, None)


def test_page_labels_where_nothing_is_printed(tmp_path: Path):
    pages = [[("Voorwoord bij het verslag.", 10, False)], [("Inleiding van het verslag.", 10, False)]]
    document = read_document(write_pdf(tmp_path / "labels.pdf", pages, [(0, "ROMAN_LOWER", 3)], footers=False))
    assert document.page_numbering == "labels"
    assert [(line.page, line.pdf_page) for line in document.lines] == [("iii", 1), ("iv", 2)]


def test_html_tables_read_row_by_row_and_deep_nesting_reads(tmp_path: Path):
    path = tmp_path / "meetpunten.html"
    path.write_text(
        "<html><body><h1>Meetpunten</h1><p>Per rivier.</p><table><caption>Tabel 1 Meetpunten per rivier</caption>"
        "<thead><tr><th>Rivier</th><th>Meetpunten</th><th>Overschrijdingen</th></tr></thead>"
        "<tbody><tr><td>Rijn</td><td>120</td><td>7</td></tr><tr><td>Maas</td><td>80</td><td>3</td></tr></tbody>"
        "</table></body></html>", encoding="utf-8")
    passages = split_document(read_document(path))
    table = next(p for p in passages if "Rijn" in p.text)
    assert table.text == "Tabel 1 Meetpunten per rivier — Rijn: Meetpunten 120; Overschrijdingen 7\nMaas: Meetpunten 80; Overschrijdingen 3"
    deep = tmp_path / "diep.html"
    deep.write_text("<div>" * 2000 + "<p>Een alinea diep in de boom.</p>" + "</div>" * 2000)
    assert [p.text for p in split_document(read_document(deep))] == ["Een alinea diep in de boom."]


def test_docx_table_rows_with_their_column_names(tmp_path: Path):
    passages = split_document(read_document(write_docx(tmp_path / "plan.docx")))
    assert "Gebied — Drenthe: Hectare 1200" in [p.text for p in passages]  # no caption: the label column names the rows


def test_docx_headings_in_a_template_style_or_with_an_outline_level_head_their_sections(tmp_path: Path):
    """Ministry templates head a chapter in a style of their own based on Heading 1, or give a
    style or a paragraph an outline level; the text under each is cited under it. Word's own
    'TOC Heading' (based on Heading 1, outline level 9) is body text, and styles based on each
    other in a loop are read."""
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    def outline_level(properties_owner, value: int) -> None:
        level = OxmlElement("w:outlineLvl")
        level.set(qn("w:val"), str(value))
        properties_owner.get_or_add_pPr().append(level)

    word = docx.Document()
    word.add_heading("Beleidsnota Lerarentekort", 0)
    word.add_paragraph("Inhoud", style="TOC Heading")
    word.add_heading("2 Werkdruk", 1)
    word.add_paragraph("De werkdrukmiddelen worden structureel verhoogd.")
    chapter = word.styles.add_style("Hoofdstuktitel", WD_STYLE_TYPE.PARAGRAPH)
    chapter.base_style = word.styles["Heading 1"]
    word.add_paragraph("3 Monitoring", style="Hoofdstuktitel")
    word.add_paragraph("De voortgang wordt jaarlijks gemeten met de Arbeidsmarktanalyse Onderwijs.")
    section = word.styles.add_style("Paragraaftitel", WD_STYLE_TYPE.PARAGRAPH)
    outline_level(section.element, 1)
    word.add_paragraph("3.1 Eerste meting", style="Paragraaftitel")
    word.add_paragraph("De eerste meting verschijnt in het najaar van 2025.")
    outline_level(word.add_paragraph("3.1.1 Scholen")._p, 2)
    frame, box = (word.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH) for name in ("Kader", "Kaderkop"))
    frame.base_style, box.base_style = box, frame
    word.add_paragraph("Scholen leveren hun cijfers voor 1 maart aan.", style="Kader")
    path = tmp_path / "nota.docx"
    word.save(str(path))
    document = read_document(path)

    assert headings(document) == [(1, "2 Werkdruk"), (1, "3 Monitoring"), (2, "3.1 Eerste meting"), (3, "3.1.1 Scholen")]
    sections = {p.text: p.citation.section for p in split_document(document)}
    assert sections["Inhoud"] == ()
    assert sections["De voortgang wordt jaarlijks gemeten met de Arbeidsmarktanalyse Onderwijs."] == ("3 Monitoring",)
    assert sections["De eerste meting verschijnt in het najaar van 2025."] == ("3 Monitoring", "3.1 Eerste meting")
    assert sections["Scholen leveren hun cijfers voor 1 maart aan."] == (
        "3 Monitoring", "3.1 Eerste meting", "3.1.1 Scholen")


def _text_box(*paragraphs: str) -> str:
    """A run holding a text box of these w:p paragraphs as Word writes it: DrawingML (wps) in
    mc:Choice and the same text again as VML in mc:Fallback."""
    content = "<w:txbxContent>" + "".join(paragraphs) + "</w:txbxContent>"
    return (
        '<w:r xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
        ' xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
        ' xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"'
        ' xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
        ' xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"'
        ' xmlns:v="urn:schemas-microsoft-com:vml">'
        '<mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wp:anchor distT="0" distB="0" distL="0"'
        ' distR="0" simplePos="0" relativeHeight="1" behindDoc="0" locked="0" layoutInCell="1" allowOverlap="1">'
        '<wp:simplePos x="0" y="0"/><wp:positionH relativeFrom="column"><wp:posOffset>0</wp:posOffset>'
        '</wp:positionH><wp:positionV relativeFrom="paragraph"><wp:posOffset>0</wp:posOffset></wp:positionV>'
        '<wp:extent cx="2000000" cy="800000"/><wp:wrapSquare wrapText="bothSides"/><wp:docPr id="1" name="Kader"/>'
        '<a:graphic><a:graphicData uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">'
        f"<wps:wsp><wps:txbx>{content}</wps:txbx><wps:bodyPr/></wps:wsp></a:graphicData></a:graphic>"
        "</wp:anchor></w:drawing></mc:Choice>"
        f'<mc:Fallback><w:pict><v:shape style="width:160pt;height:60pt"><v:textbox>{content}</v:textbox>'
        "</v:shape></w:pict></mc:Fallback></mc:AlternateContent></w:r>"
    )


def _box_paragraph(text: str, style: str = "") -> str:
    properties = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f"<w:p>{properties}<w:r><w:t>{text}</w:t></w:r></w:p>"


def test_docx_text_box_is_read_once_after_the_paragraph_it_is_anchored_in(tmp_path: Path):
    """A "Kader" box: its text follows the paragraph that anchors it, in that paragraph's
    section, once although Word stores it twice; its title in a heading style heads nothing."""
    import docx
    from docx.oxml import parse_xml

    word = docx.Document()
    word.add_heading("Evaluatie Wet inburgering", 0)
    word.add_heading("2 Taaleisen", 1)
    anchor = word.add_paragraph("Gemeenten toetsen het taalniveau bij de brede intake.")
    anchor._p.append(parse_xml(_text_box(
        _box_paragraph("Kader 2.1 Taalniveau", style="Heading2"),
        _box_paragraph("Het taalniveau B1 is de norm voor inburgeraars."))))
    word.add_paragraph("De meeste inburgeraars volgen de B1-route.")
    path = tmp_path / "evaluatie.docx"
    word.save(str(path))
    document = read_document(path)

    assert headings(document) == [(1, "2 Taaleisen")]
    assert [line.text for line in document.lines][2:] == [
        "Gemeenten toetsen het taalniveau bij de brede intake.", "Kader 2.1 Taalniveau",
        "Het taalniveau B1 is de norm voor inburgeraars.", "De meeste inburgeraars volgen de B1-route."]
    passages = split_document(document)
    (box,) = [p for p in passages if "Het taalniveau B1 is de norm voor inburgeraars." in p.text]
    assert box.text.count("Het taalniveau B1 is de norm voor inburgeraars.") == 1
    assert box.citation.section == ("2 Taaleisen",)
    assert any("Gemeenten toetsen het taalniveau bij de brede intake." in p.text for p in passages)


def test_docx_boxes_nested_in_boxes_are_read_once_each_in_reading_order(tmp_path: Path):
    """Each box carries a Fallback copy of all the boxes inside it, so the file holds 2^12 copies
    of the innermost one; a reader that took every copy would read them all."""
    import docx
    from docx.oxml import parse_xml

    box = _box_paragraph("Niveau 12.")
    for level in range(11, 0, -1):
        box = f"<w:p><w:r><w:t>Niveau {level}.</w:t></w:r>{_text_box(box)}</w:p>"
    word = docx.Document()
    word.add_paragraph("Het kader.")._p.append(parse_xml(_text_box(box)))
    path = tmp_path / "kaders.docx"
    word.save(str(path))
    assert [line.text for line in read_document(path).lines] == ["Het kader."] + [f"Niveau {n}." for n in range(1, 13)]


# A table whose header cell "Bedrag" is merged over the two year columns, and whose first row
# holds the same figure in both: the merged cell shows once, both figures stay.
WORKLOAD_TABLE = [("Sector", "Bedrag", None), ("", "2024", "2025"),
                  ("Primair onderwijs", "150", "150"), ("Speciaal onderwijs", "20", "25")]
WORKLOAD_INTRO = "De tabel geeft de inzet van de werkdrukmiddelen per sector en jaar."


def _workload_docx(path: Path) -> Path:
    import docx

    word = docx.Document()
    word.add_heading("Werkdrukmiddelen per sector", 0)
    word.add_paragraph(WORKLOAD_INTRO)
    table = word.add_table(rows=len(WORKLOAD_TABLE), cols=3)
    table.cell(0, 1).merge(table.cell(0, 2))
    for r, row in enumerate(WORKLOAD_TABLE):
        for c, cell in enumerate(row):
            if cell is not None:
                table.cell(r, c).text = cell
    word.save(str(path))
    return path


def _workload_html(path: Path) -> Path:
    path.write_text(
        f"<html><body><h1>Werkdrukmiddelen per sector</h1><p>{WORKLOAD_INTRO}</p><table>"
        '<tr><td>Sector</td><td colspan="2">Bedrag</td></tr><tr><td></td><td>2024</td><td>2025</td></tr>'
        "<tr><td>Primair onderwijs</td><td>150</td><td>150</td></tr>"
        "<tr><td>Speciaal onderwijs</td><td>20</td><td>25</td></tr></table></body></html>", encoding="utf-8")
    return path


def _workload_pdf(path: Path) -> Path:
    """The table ruled, with no line between the two columns the merged header cell spans."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setFont("Helvetica", 10)
    pdf.drawString(72, 760, "Werkdrukmiddelen per sector")
    pdf.drawString(72, 740, WORKLOAD_INTRO)
    columns, top, height = [72, 252, 352, 452], 720, 20
    for r in range(len(WORKLOAD_TABLE) + 1):
        pdf.line(columns[0], top - r * height, columns[-1], top - r * height)
    for c, x in enumerate(columns):
        pdf.line(x, top - (height if c == 2 else 0), x, top - len(WORKLOAD_TABLE) * height)
    for r, row in enumerate(WORKLOAD_TABLE):
        for x, cell in zip(columns, row):
            if cell:
                pdf.drawString(x + 4, top - r * height - 14, cell)
    pdf.showPage()
    pdf.save()
    return path


@pytest.mark.parametrize("suffix, write", [("docx", _workload_docx), ("html", _workload_html), ("pdf", _workload_pdf)],
                         ids=["docx", "html", "pdf"])
def test_a_table_row_keeps_equal_values_in_cells_of_their_own_and_a_merged_cell_once(tmp_path: Path, suffix, write):
    document = read_document(write(tmp_path / f"werkdruk.{suffix}"))
    assert [line.text for line in document.lines][-4:] == [
        "Sector | Bedrag", "2024 | 2025", "Primair onderwijs | 150 | 150", "Speciaal onderwijs | 20 | 25"]
    (table,) = [b for b in document.blocks if isinstance(b, Table)]
    assert table.header == ("Sector", "Bedrag 2024", "Bedrag 2025")
    assert [row.cells for row in table.rows] == [("Primair onderwijs", "150", "150"), ("Speciaal onderwijs", "20", "25")]
    row = next(p for p in split_document(document) if "Primair onderwijs" in p.text)
    assert "Primair onderwijs: Bedrag 2024 150; Bedrag 2025 150" in row.text


def test_any_failure_inside_a_reader_is_a_document_error_that_says_so(tmp_path: Path, monkeypatch):
    import qa_service.documents as documents

    path = tmp_path / "rapport.txt"
    path.write_text("Tekst.")

    def broken(path, name):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setitem(documents.READERS, ".txt", broken)
    with pytest.raises(DocumentError, match=r"rapport\.txt could not be read \(RecursionError: maximum recursion"):
        read_document(path)


def test_an_html_table_that_lays_out_a_page_is_read_as_text(tmp_path: Path):
    path = tmp_path / "oud.html"
    text = "Het waterschap heeft in 2023 de dijken versterkt langs de rivier. " * 12
    path.write_text(f"<html><body><table><tr><td><h1>Nota Dijken</h1><p>{text}</p></td><td>Contact</td></tr></table>"
                    "</body></html>")
    document = read_document(path)
    assert document.title == "Nota Dijken" and not any(isinstance(b, Table) for b in document.blocks)
    assert " ".join(text.split()) in [part for p in split_document(document) for part in p.text.split("\n\n")]


def test_an_unruled_table_whose_first_two_columns_hold_words_is_not_two_columns_of_text(tmp_path: Path):
    """Labels of several words in the first column and again in the second, starting mid-page,
    look like two columns of running text; the figures in the same rows say it is a table."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    rows = [("Beheer van de dijken langs de kust", "Zeeland en Zuid-Holland", "412", "3,4"),
            ("Onderhoud van de grote gemalen", "Noord-Holland en Flevoland", "17", "12,9"),
            ("Inspectie van de oude sluizen", "Gelderland en Overijssel", "56", "1,8"),
            ("Baggeren van de vaarwegen", "Limburg en Noord-Brabant", "230", "7,5"),
            ("Herstel van de kaden na de storm", "Friesland en Groningen", "38", "2,2")]
    path = tmp_path / "waterbeheer.pdf"
    pdf = canvas.Canvas(str(path), pagesize=A4)
    y = A4[1] - 80
    pdf.setFont("Helvetica", 10)
    pdf.drawString(72, y, "De tabel geeft per taak het gebied, het aantal objecten en de kosten in miljoenen.")
    y -= 30
    pdf.setFont("Helvetica-Bold", 9)
    for x, name in ((72, "Taak"), (260, "Gebied"), (420, "Objecten"), (490, "Kosten")):
        pdf.drawString(x, y, name)
    pdf.setFont("Helvetica", 9)
    for row in rows:
        y -= 17
        for x, cell in zip((72, 260, 420, 490), row):
            pdf.drawString(x, y, cell)
    pdf.showPage()
    pdf.save()
    passages = split_document(read_document(path))
    table_text = "\n".join(p.text for p in passages)
    for task, area, objects, cost in rows:
        assert f"{task}: Gebied {area}; Objecten {objects}; Kosten {cost}" in table_text
