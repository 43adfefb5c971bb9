"""Reading files into documents: titles, headings, pages and lines as the source has them."""

from pathlib import Path

import pytest

from qa_service.documents import DocumentError, Heading, Paragraph, Table, read_document

from conftest import CHAPTER, ROOT


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


def test_a_chapter_cut_from_a_report_keeps_its_numbered_heading_as_a_section(tmp_path: Path):
    """"3 Operaties" at the top of an excerpt, continued by "3.1" and "3.2", heads the chapter's
    sections instead of becoming the document's title; a title that only starts with a year stays one."""
    path = tmp_path / "jaarverslag-h3.txt"
    path.write_text("3 Operaties\n\nDefensie leverde in 2023 een grote bijdrage.\n\n3.1 Missies\n\n"
                    "Gemiddeld waren 1.140 militairen uitgezonden.\n\n3.2 Nationale taken\n\nDe marechaussee bewaakte Schiphol.\n")
    document = read_document(path)
    assert document.title == "Jaarverslag h3"
    assert headings(document) == [(1, "3 Operaties"), (2, "3.1 Missies"), (2, "3.2 Nationale taken")]
    assert [p.citation.section for p in passages_of(path)][1] == ("3 Operaties", "3.1 Missies")
    yearly = tmp_path / "beeld.txt"
    yearly.write_text("2023 in beeld\n\nHet jaar in cijfers.\n\n1 Inleiding\n\nDit verslag beschrijft 2023.\n")
    assert read_document(yearly).title == "2023 in beeld"


def test_markdown_headings_give_title_and_sections(tmp_path: Path):
    path = tmp_path / "nota.md"
    path.write_text("# Nota over water\n\nInleidende tekst.\n\n## Dijken\n\nTekst over dijken.\n\n### Onderhoud\n\nMeer.\n\n```\n# geen kop\n```\n")
    document = read_document(path)
    assert document.title == "Nota over water"
    assert headings(document) == [(2, "Dijken"), (3, "Onderhoud")]


def test_markdown_pipe_tables_read_row_by_row_with_their_column_names(tmp_path: Path):
    """A pipe table is rows of figures under column names, each row citing its own line; its
    caption, where a "Tabel" line stands just above it, or else the name of its label column,
    opens each passage. Pipes outside such a table (no row of dashes under the first) stay text."""
    path = tmp_path / "arbeidsmigratie.md"
    path.write_text(
        "# Arbeidsmigratie\n\n## Vergunningen\n\nHet aantal vergunningen steeg.\n\n"
        "| Verleende vergunningen | 2022 | 2023 |\n|:-----------------------|-----:|-----:|\n"
        "| Kennismigrant | 22.900 | 26.400 |\n| EU Blue Card | 760 | 760 |\n| Formule a \\| b | 1 | 2 |\n\n"
        "Tabel 2 Boetes per sector\n\nSector | 2023\n--- | ---\nHoreca | 38\n\n"
        "Kies ja | nee.\n---\n\nDe IND controleerde 610 referenten.\n\n"
        "| Regio | 2022 |\n|---|---|\n| Noord | 4 | 9 |\n\n"  # a cell past the header's is left out
        "Tabel 3 Leeg\n\n| Regio | 2022 |\n|---|---|\n\n"  # no rows: text, caption and all
        "    | code | blok |\n    |---|---|\n    | a | b |\n", encoding="utf-8")
    document = read_document(path)
    permits, fines, regions = [block for block in document.blocks if isinstance(block, Table)]
    assert [row.cells for row in regions.rows] == [("Noord", "4")]
    assert (permits.caption, permits.header) == ("", ("Verleende vergunningen", "2022", "2023"))
    assert [(row.cells, [line.number for line in row.lines]) for row in permits.rows] == [
        (("Kennismigrant", "22.900", "26.400"), [9]), (("EU Blue Card", "760", "760"), [10]), (("Formule a | b", "1", "2"), [11])]
    assert (fines.caption, fines.header, [row.cells for row in fines.rows]) == (
        "Tabel 2 Boetes per sector", ("Sector", "2023"), [("Horeca", "38")])
    assert headings(document) == [(2, "Vergunningen"), (2, "Kies ja | nee.")]
    texts = [p.text for p in passages_of(path)]
    assert "Verleende vergunningen — Kennismigrant: 2022 22.900; 2023 26.400\nEU Blue Card: 2022 760; 2023 760" in texts[1]
    assert texts[2] == "Tabel 2 Boetes per sector — Horeca: 2023 38"
    assert "Tabel 3 Leeg" in texts[-1] and "| Regio | 2022 |" in texts[-1] and "| code | blok |" in texts[-1]


def test_unknown_type_and_binary_data_are_refused_with_a_reason(tmp_path: Path):
    odd = tmp_path / "data.xyz"
    odd.write_text("x")
    with pytest.raises(DocumentError, match="cannot be read"):
        read_document(odd)
    binary = tmp_path / "image.txt"
    binary.write_bytes(b"\x89PNG\x00\x00\x00binary")
    with pytest.raises(DocumentError, match="binary"):
        read_document(binary)


# --- text extracted from PDFs: pages as printed, running headers ---------------------------------

HEADER = "Jaarverslag 2022 | Ministerie van Buitenlandse Zaken"
# Three pages of a report, as pdftotext writes them: each page's footer holds its number and is
# followed directly by the next page's running header; a paragraph runs on over a page break.
REPORT_PAGES = [
    "Beleidsthema 7\nHandel en ontwikkeling\n\nInleiding\nNederland zette zich in 2022 in voor eerlijke handel "
    "met partnerlanden in Afrika en Azië. De\nexport naar deze landen steeg met vier procent, vooral door "
    "landbouwproducten en machines die",
    "door Nederlandse bedrijven werden geleverd. Daarnaast groeide de import van duurzame grondstoffen.\n\n"
    "Handelsmissies\nIn 2022 vonden elf handelsmissies plaats, waarvan zeven naar landen in Afrika. Aan de "
    "missies\nnamen in totaal 214 bedrijven deel.",
    "Budget\nHet budget voor handelsbevordering bedroeg € 41 miljoen, waarvan € 38 miljoen is uitgegeven.\n"
    "De onderuitputting van € 3 miljoen ontstond doordat twee missies zijn uitgesteld.",
]


def passages_of(path: Path):
    from qa_service.passages import split_document

    return split_document(read_document(path))


def page_of(passages, words: str):
    return next(p.citation.page for p in passages if words in " ".join(p.text.split()))


@pytest.mark.parametrize("footer, first", [("{}", 55), ("- {} -", 31), ("Pagina {}", 41), ("{} | Handel en ontwikkeling", 12)])
def test_text_pages_end_at_footers_followed_directly_by_the_next_running_header(tmp_path: Path, footer, first):
    path = tmp_path / "handel.txt"
    path.write_text("".join(f"{HEADER}\n{body}\n{footer.format(first + i)}\n" for i, body in enumerate(REPORT_PAGES)))
    document = read_document(path)
    passages = passages_of(path)
    assert document.page_numbering == "printed" and document.pages == 3
    assert page_of(passages, "eerlijke handel") == first
    assert page_of(passages, "elf handelsmissies") == first + 1
    assert page_of(passages, "handelsbevordering bedroeg") == first + 2
    # The paragraph cut by the page break is one passage again, cited from where it starts.
    run_on = next(p for p in passages if "machines die door Nederlandse bedrijven werden geleverd" in p.text)
    assert run_on.citation.page == first
    assert not any(HEADER in p.text or "Jaarverslag 2022" in p.text for p in passages)
    assert not any(p.text.strip().endswith(str(first)) for p in passages)
    assert all(line.furniture for line in document.lines if line.text in (HEADER, footer.format(first + 1)))
    assert document.title == "Beleidsthema 7 Handel en ontwikkeling"


def test_a_running_header_the_first_page_lacks_is_furniture_in_a_short_report(tmp_path: Path):
    """The first page of a report carries its title instead of the running header: in three
    pages the header stands on two, and is still not text, nor a heading."""
    path = tmp_path / "kort.txt"
    path.write_text("".join(f"{HEADER + chr(10) if i else ''}{body}\n\n{141 + i}\n" for i, body in enumerate(REPORT_PAGES)))
    document = read_document(path)
    assert [line.furniture for line in document.lines if line.text == HEADER] == [True, True]
    assert not any(HEADER in p.text or HEADER in p.citation.section for p in passages_of(path))
    assert page_of(passages_of(path), "elf handelsmissies") == 142


def test_a_line_at_the_top_of_only_two_of_many_pages_stays_text(tmp_path: Path):
    """Outermost on two pages is enough only for the outermost line: a heading that happens to
    open two pages of a long report, below a header that does repeat, stays a heading."""
    path = tmp_path / "lang.txt"
    bodies = [f"Toelichting\n{body}" if i in (1, 3) else body for i, body in enumerate(REPORT_PAGES * 2)]
    path.write_text("".join(f"{HEADER}\n{body}\n\n{i + 1}\n" for i, body in enumerate(bodies)))
    document = read_document(path)
    assert not any(line.furniture for line in document.lines if line.text == "Toelichting")
    assert all(line.furniture for line in document.lines if line.text == HEADER)


def test_text_with_form_feeds_and_numbered_footers(tmp_path: Path):
    path = tmp_path / "ff.txt"
    pages = [f"{HEADER}\n\n{body}\n\n{number}\n" for number, body in zip((8, 9, 10), REPORT_PAGES)]
    path.write_text("\f".join(pages))
    passages = passages_of(path)
    assert [page_of(passages, words) for words in ("eerlijke handel", "elf handelsmissies", "handelsbevordering")] == [8, 9, 10]
    assert not any("Jaarverslag 2022" in p.text for p in passages)


def test_a_year_at_the_foot_of_a_page_is_not_a_page_number(tmp_path: Path):
    path = tmp_path / "jaartal.txt"
    pages = ["Eerste pagina met een zin die hier staat.\n\nDen Haag, december\n2022",
             "Tweede pagina met nog een zin.\n\nDen Haag, januari\n2023",
             "Derde pagina, zonder jaartal onderaan."]
    path.write_text("\n\f".join(pages) + "\n")
    document = read_document(path)
    assert document.page_numbering == "ordinal"
    assert [line.page for line in document.lines if line.text.startswith(("Eerste", "Tweede", "Derde"))] == [1, 2, 3]
    assert not any(line.furniture for line in document.lines)
    # Pages numbered 4 to 6, and a year alone at the foot of the middle one: still 4, 5, 6.
    numbered = tmp_path / "genummerd.txt"
    numbered.write_text("".join(f"{body}\n\n{'2023' if n == 5 else ''}\n\n{n}\n" for n, body in zip((4, 5, 6), REPORT_PAGES)))
    document = read_document(numbered)
    lines = {line.text: line for line in document.lines}
    assert document.page_numbering == "printed"
    assert (lines["2023"].page, lines["2023"].furniture) == (5, False)
    assert [lines[str(n)].page for n in (4, 5, 6)] == [4, 5, 6]
    assert page_of(passages_of(numbered), "handelsbevordering") == 6


def test_text_pages_in_roman_numerals_then_arabic(tmp_path: Path):
    path = tmp_path / "voorwerk.txt"
    front = ["Voorwoord\nDit verslag beschrijft het jaar 2022 in vogelvlucht.", "Samenvatting\nHet jaar stond in het teken van herstel."]
    path.write_text("".join(f"{body}\n\n{numeral}\n\n" for body, numeral in zip(front, ("i", "ii")))
                    + "".join(f"{body}\n\n{n}\n\n" for n, body in zip((1, 2, 3), REPORT_PAGES)))
    passages = passages_of(path)
    assert page_of(passages, "vogelvlucht") == "i" and page_of(passages, "herstel") == "ii"
    assert page_of(passages, "eerlijke handel") == 1 and page_of(passages, "handelsbevordering") == 3


# A policy note as pdftotext writes it: a title page, front matter numbered i and ii at the foot of
# its pages, then a body numbered from 1 in a running header at the top, on the left of even
# pages and the right of odd ones.
NOTE_PAGES = [
    "Nota Waterbeheer 2024\nSchoon en voldoende water voor iedereen\n\n\nMinisterie van Infrastructuur en Waterstaat\n"
    "Den Haag, april 2024",
    "Voorwoord\n\nNederland is een waterland. Het water is een bron van welvaart, maar ook een bedreiging.\n"
    "Deze nota beschrijft hoe het kabinet de komende jaren zorgt voor schoon en voldoende water.\n\n"
    "De minister van Infrastructuur en Waterstaat,\n\n{:>44}",
    "Samenvatting\n\nHet kabinet trekt tot en met 2030 jaarlijks 180 miljoen euro uit voor het waterbeheer.\n"
    "Waterschappen krijgen meer ruimte om water vast te houden in natte perioden.\n\n{:>44}",
    "Hoofdstuk 1  Inleiding{:>60}\n\n1 Inleiding\n\nDe kwaliteit van het oppervlaktewater is de afgelopen tien jaar\n"
    "nauwelijks verbeterd. In 2023 voldeed slechts een op de vijf meetpunten aan de Europese normen.\n"
    "Deze nota zet uiteen hoe het Rijk en de waterschappen dat willen veranderen.",
    "{:<60}Nota Waterbeheer 2024\n\n2 Grondwater\n\nIn droge zomers daalt de grondwaterstand in het oosten van het land\n"
    "zo ver dat natuur en landbouw schade lijden. De provincies wijzen daarom gebieden aan\n"
    "waar niet meer grondwater mag worden opgepompt.",
    "Hoofdstuk 3  Financiering{:>57}\n\n3 Financiering\n\nHet Deltafonds draagt 60 procent van de kosten van de\n"
    "maatregelen, de waterschappen de rest. De voortgang wordt elk jaar gemeten.",
]
NOTE_NUMBERS = ["", "i", "ii", 1, 2, 3]


def page_of_line(document, words: str):
    return next(line.page for line in document.lines if words in line.text)


@pytest.mark.parametrize("between_pages", ["\n\n\n", "\n\n\f"], ids=["blank lines", "form feeds"])
def test_front_matter_numbered_at_the_foot_and_a_body_numbered_at_the_top(tmp_path: Path, between_pages):
    """Each sequence of page numbers has its own place: i and ii end their pages, 1 to 3 open
    theirs, so the body is not cited a page too high, nor its headers read as pages of their own."""
    path = tmp_path / "nota-waterbeheer.txt"
    path.write_text(between_pages.join(page.format(number) for page, number in zip(NOTE_PAGES, NOTE_NUMBERS)) + "\n")
    document = read_document(path)
    assert document.page_numbering == "printed"
    assert page_of_line(document, "schoon en voldoende water.") == "i"
    assert page_of_line(document, "jaarlijks 180 miljoen euro") == "ii"
    assert page_of_line(document, "een op de vijf meetpunten") == 1
    assert page_of_line(document, "niet meer grondwater mag") == 2
    assert page_of_line(document, "60 procent van de kosten") == 3
    assert {line.page for line in document.lines} <= {None, "i", "ii", 1, 2, 3}
    passages = passages_of(path)
    assert page_of(passages, "jaarlijks 180 miljoen euro") == "ii" and page_of(passages, "60 procent van de kosten") == 3
    assert not any("Hoofdstuk 1  Inleiding" in p.text or "Nota Waterbeheer 2024" in p.text for p in passages)


@pytest.mark.parametrize("between_pages", ["\n\n\n", "\n\n\f"], ids=["blank lines", "form feeds"])
def test_a_signature_that_ends_a_page_is_no_heading_and_a_divider_page_still_heads(tmp_path: Path, between_pages):
    """The foreword's last line, the minister's name, reads like a heading but ends its page; taken
    for one, it became the section above the summary on the next page. A chapter's title alone on
    a page of its own does head the text on the next."""
    pages = [
        NOTE_PAGES[0],
        NOTE_PAGES[1].replace("Waterstaat,\n\n", "Waterstaat,\n\nM. Harbers\n\n"),
        NOTE_PAGES[2],
        NOTE_PAGES[3],
        "{:<60}Nota Waterbeheer 2024\n\n\n\n2 Grondwater",
        "Hoofdstuk 2  Grondwater{:>58}\n\nIn droge zomers daalt de grondwaterstand in het oosten van het land\n"
        "zo ver dat natuur en landbouw schade lijden.",
    ]
    path = tmp_path / "nota-ondertekend.txt"
    path.write_text(between_pages.join(page.format(n) for page, n in zip(pages, ["", "i", "ii", 1, 2, 3])) + "\n")
    passages = passages_of(path)
    foreword = next(p for p in passages if "waterland" in p.text)
    assert foreword.citation.section == ("Voorwoord",) and "M. Harbers" in foreword.text
    assert next(p for p in passages if "180 miljoen euro" in p.text).citation.section == ("Samenvatting",)
    groundwater = next(p for p in passages if "grondwaterstand" in p.text)
    assert groundwater.citation.section == ("2 Grondwater",) and page_of(passages, "grondwaterstand") == 3


def test_a_table_of_contents_gives_no_page_numbers_titles_or_headings(tmp_path: Path):
    """A report as pdftotext writes it, its contents on page 3: the chapter numbers and page
    references of the entries are no page numbers, and neither "Inhoud" nor an entry with a dot
    leader is the title or a heading."""
    path = tmp_path / "rapport-jeugdzorg.txt"
    contents = ("Inhoud\n\nSamenvatting                          4\n1   Inleiding                         5\n"
                "1.1 Aanleiding ...................... 5\n1.2 Werkwijze ....................... 6\n"
                "2   Bevindingen                       7\n\n\n{:>36}")
    pages = [contents,
             "Samenvatting\n\nDe inspectie onderzocht de jeugdzorg bij veertig aanbieders.\n\n\n{:>36}",
             "1 Inleiding\n\n1.1 Aanleiding\n\nDe Tweede Kamer vroeg om een onderzoek naar de wachtlijsten.\n\n\n{:>36}"]
    path.write_text("\n\f".join(page.format(n) for page, n in zip(pages, (3, 4, 5))) + "\n")
    document = read_document(path)
    assert document.title == "Rapport jeugdzorg"
    assert [page_of_line(document, words) for words in ("Aanleiding ....", "veertig aanbieders", "wachtlijsten")] == [3, 4, 5]
    assert [text for _, text in headings(document)] == ["Inhoud", "Samenvatting", "1 Inleiding", "1.1 Aanleiding"]
    assert page_of(passages_of(path), "wachtlijsten") == 5


def test_form_feeds_settle_that_page_numbers_open_their_pages(tmp_path: Path):
    """Numbers at the top of every page, and a short last page: less text after the last number
    than on the cover before the first, yet the form feeds show that each number opens a page."""
    path = tmp_path / "handel-ff.txt"
    cover = ("Jaarverslag 2022\nMinisterie van Buitenlandse Zaken\nDirectie Internationaal Ondernemen\n"
             "Den Haag, mei 2023\nVastgesteld door de ministerraad")
    path.write_text("\n\f".join([cover, *(f"{n:<60}{HEADER}\n\n{body}" for n, body in zip((7, 8, 9), REPORT_PAGES))]) + "\n")
    passages = passages_of(path)
    assert [page_of(passages, words) for words in ("eerlijke handel", "elf handelsmissies", "handelsbevordering")] == [7, 8, 9]
    assert read_document(path).pages == 4


def test_a_footer_and_heldout_pages_still_hold(tmp_path: Path):
    folder = ROOT / "tests" / "fixtures" / "heldout" / "corpus"
    for path, pages in [("beleidsthema-3-europese-samenwerking.txt", {10, 11, 12, 13}),
                        ("beleidsthema-4-consulaire-dienstverlening.txt", {14, 15, 16, 17, 18}),
                        ("beleidsthema-5-humanitaire-hulp.txt", {19, 20, 21})]:
        document = read_document(folder / path)
        assert {p.citation.page for p in passages_of(folder / path)} == pages
        assert document.page_numbering == "printed" and document.pages == len(pages)


# --- tables laid out in fixed-width columns (pdftotext -layout) ----------------------------------

def layout_row(label: str, *figures: str) -> str:
    return f"{label:<40}" + "".join(f"{figure:>16}" for figure in figures)


TABLE_HEADER = [layout_row("", "Realisatie", "Vastgestelde"), layout_row("", "2021", "begroting 2022")]
# A budget table over two pages of a report with running headers and printed page numbers; the
# second page repeats the column header, a label runs on over two lines.
TABLE_PAGES = [
    ["Budgettaire gevolgen", "De uitgaven van het artikel staan in de tabel hieronder.", "",
     "Tabel 4.1 Uitgaven per instrument (bedragen x € 1.000)", "", *TABLE_HEADER, "Uitgaven",
     "Bijdrage aan de Internationale", layout_row("  organisatie voor migratie", "12.760", "13.400"),
     layout_row("Subsidies aan gemeenten", "118.900", "40.000"), layout_row("Opdrachten", "5.400", "6.100")],
    [*TABLE_HEADER, layout_row("Bijdragen aan ZBO's", "41.000", "39.500"),
     layout_row("Totaal uitgaven", "178.060", "99.000"), "", "Toelichting",
     "De uitgaven lagen hoger dan begroot doordat meer gemeenten een subsidie aanvroegen."],
    ["Vooruitblik", "In 2023 blijven de bijdragen naar verwachting op hetzelfde niveau als in 2022."],
]


def test_a_layout_table_over_a_page_break_reads_row_by_row_with_its_column_names(tmp_path: Path):
    path = tmp_path / "begroting.txt"
    path.write_text("".join(f"{HEADER}\n" + "\n".join(page) + f"\n\n{number}\n" for number, page in zip((31, 32, 33), TABLE_PAGES)))
    document = read_document(path)
    assert headings(document) == [(1, "Budgettaire gevolgen"), (1, "Toelichting"), (1, "Vooruitblik")]
    (table,) = [b for b in document.blocks if isinstance(b, Table)]
    assert table.caption == "Tabel 4.1 Uitgaven per instrument (bedragen x € 1.000)"
    assert table.header == ("", "Realisatie 2021", "Vastgestelde begroting 2022")
    assert [row.cells for row in table.rows] == [
        ("Uitgaven", "", ""),
        ("Bijdrage aan de Internationale organisatie voor migratie", "12.760", "13.400"),
        ("Subsidies aan gemeenten", "118.900", "40.000"),
        ("Opdrachten", "5.400", "6.100"),
        ("Bijdragen aan ZBO's", "41.000", "39.500"),
        ("Totaal uitgaven", "178.060", "99.000"),
    ]
    numbered = {line.number: line.text for line in document.lines}
    for row in table.rows:  # each row cites the lines it stands on, on its page
        assert row.cells[0].split()[0] in numbered[row.lines[0].number] and row.cells[-1] in numbered[row.lines[-1].number]
    assert [len(row.lines) for row in table.rows] == [1, 2, 1, 1, 1, 1]
    assert [row.lines[0].page for row in table.rows] == [31, 31, 31, 31, 32, 32]
    passages = passages_of(path)
    row = next(p for p in passages if "Subsidies aan gemeenten:" in p.text)
    assert "Subsidies aan gemeenten: Realisatie 2021 118.900; Vastgestelde begroting 2022 40.000" in row.text
    assert row.text.startswith("Tabel 4.1 Uitgaven per instrument") and row.citation.section == ("Budgettaire gevolgen",)
    assert page_of(passages, "Totaal uitgaven: Realisatie 2021 178.060") == 32
    assert page_of(passages, "meer gemeenten een subsidie") == 32


def test_prose_with_double_spaces_and_columns_of_words_are_no_tables_nor_headings(tmp_path: Path):
    path = tmp_path / "notitie.txt"
    path.write_text(
        "Notitie\n\nDe uitgaven stegen in 2023 naar  4.559.400  euro; dat is meer dan in het jaar\n"
        "ervoor, toen  3.539.190  euro werd uitgegeven aan de opvang van asielzoekers.\n\n"
        "Deelnemende landen:\n    Nederland        België        Luxemburg\n    Duitsland        Frankrijk     Italië\n\n"
        "Samenvatting\nDe landen werken samen.\n"
    )
    document = read_document(path)
    assert not any(isinstance(b, Table) for b in document.blocks)
    assert headings(document) == [(1, "Samenvatting")]
    assert [line.number for line in document.blocks[0].lines] == [3, 4]


def test_layout_tables_in_the_hard_documents_do_not_become_the_section_of_the_text_after_them():
    path = ROOT / "tests" / "fixtures" / "hard" / "corpus" / "jaarverslag-2023-asielopvang.txt"
    document = read_document(path)
    (table,) = [b for b in document.blocks if isinstance(b, Table)]
    assert table.header == ("", "Realisatie 2022", "Vastgestelde begroting 2023", "Realisatie 2023")
    assert table.rows[1].cells == ("Bijdrage aan het COA", "2.184.310", "1.962.500", "2.861.740")
    assert table.rows[1].lines[0].number == 84
    after = next(p for p in passages_of(path) if "260 extra medewerkers" in p.text)
    assert after.citation.section == ("Toelichting op de financiële instrumenten",)


def test_a_column_name_over_two_columns_names_both(tmp_path: Path):
    path = tmp_path / "meerjarig.txt"
    path.write_text(
        "Meerjarenoverzicht\n\n"
        "                                Realisatie            Raming\n"  # each midway over two years
        "                              2021      2022      2023      2024\n"
        "Personeel                       10        20        30        40\n"
        "Materieel                       11        21        31        41\n"
    )
    (table,) = [b for b in read_document(path).blocks if isinstance(b, Table)]
    assert table.header == ("", "Realisatie 2021", "Realisatie 2022", "Raming 2023", "Raming 2024")
    assert [row.cells for row in table.rows] == [("Personeel", "10", "20", "30", "40"), ("Materieel", "11", "21", "31", "41")]
