"""Small PDF, Word and HTML files the tests make themselves, with known headings, pages and lines."""

from __future__ import annotations

from pathlib import Path

TITLE = ("Jaarverslag Waterbeheer 2023", 20, True)
BODY = 10
GAP = None  # a paragraph break: an empty stretch of one line

# A report: a title page numbered "i", then pages numbered from 1 with chapters, sections and
# a paragraph that runs from page 1 onto page 2. Each item is (text, font size, bold) or GAP.
REPORT_PAGES: list[list] = [
    [
        TITLE,
        GAP,
        ("Dit verslag beschrijft het beheer van dijken en gemalen in het jaar 2023.", BODY, False),
    ],
    [
        ("1 Inleiding", 16, True),
        ("Het waterschap beheert 412 kilometer dijk langs de rivieren en de kust.", BODY, False),
        ("In 2023 zijn alle dijken twee keer geinspecteerd door de eigen dienst.", BODY, False),
        GAP,
        ("Dijkonderhoud", BODY, True),
        ("Het onderhoud van de dijken kostte dit jaar 3,4 miljoen euro aan materiaal", BODY, False),
        ("en personeel, iets meer dan", BODY, False),
    ],
    [
        ("begroot omdat de zomer erg droog was.", BODY, False),
        GAP,
        ("2 Gemalen", 16, True),
        ("De zeventien gemalen pompten samen 820 miljoen kubieke meter water weg.", BODY, False),
    ],
]
# Page labels: the first page roman (i), the rest arabic from 1.
REPORT_LABELS = [(0, "ROMAN_LOWER", 1), (1, "ARABIC", 1)]


def write_pdf(path: Path, pages: list[list], labels: list[tuple[int, str, int]] = (), footers: bool = True,
              headers: list[str] = (), number_on_top: bool = False) -> Path:
    """A PDF with one page per list of lines; `labels` are (first page index, style, start).

    From the second page on, each page's number (one less than its place, as the labels say)
    is printed alone at its foot (`footers`), or with `number_on_top` at its very top, above the
    running header. `headers` are the pages' running headers, one per page ("" for none), in
    small type above the text.
    """
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    for index, style, start in labels:
        pdf.addPageLabel(index, style, start)
    for number, lines in enumerate(pages, start=1):
        header = headers[number - 1] if number <= len(headers) else ""
        if header:
            pdf.setFont("Helvetica", 8)
            pdf.drawString(72, A4[1] - 56, header)
        y = A4[1] - 72
        for item in lines:
            if item is GAP:
                y -= BODY * 1.4
                continue
            text, size, bold = item
            pdf.setFont("Helvetica-Bold" if bold else "Helvetica", size)
            pdf.drawString(72, y, text)
            y -= size * 1.4
        if footers and number > 1:
            pdf.setFont("Helvetica", 9)
            pdf.drawString(A4[0] / 2, A4[1] - 40 if number_on_top else 40, str(number - 1))
        pdf.showPage()
    pdf.save()
    return path


def write_report_pdf(path: Path) -> Path:
    return write_pdf(path, REPORT_PAGES, REPORT_LABELS)


def write_scanned_pdf(path: Path) -> Path:
    """Two pages that hold only a picture of text: what a scanner makes, no text layer."""
    from PIL import Image, ImageDraw
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    picture = Image.new("RGB", (400, 100), "white")
    ImageDraw.Draw(picture).text((10, 40), "Gescande pagina", fill="black")
    pdf = canvas.Canvas(str(path), pagesize=A4)
    for _ in range(2):
        pdf.drawImage(ImageReader(picture), 72, 600, width=400, height=100)
        pdf.showPage()
    pdf.save()
    return path


def write_docx(path: Path) -> Path:
    """A Word file with a Title, two heading levels, a line break, a table and plain paragraphs."""
    import docx

    word = docx.Document()
    word.add_heading("Beleidsplan Natuur 2024", 0)
    word.add_paragraph("Dit plan beschrijft hoe de provincie haar natuurgebieden beheert.")
    word.add_heading("Doelen", 1)
    paragraph = word.add_paragraph("Meer heide in het noorden.")
    paragraph.add_run().add_break()
    paragraph.add_run("Minder stikstof in het oosten.")
    word.add_heading("Heide", 2)
    table = word.add_table(rows=2, cols=2)
    for row, cells in enumerate([("Gebied", "Hectare"), ("Drenthe", "1200")]):
        for column, text in enumerate(cells):
            table.cell(row, column).text = text
    word.add_paragraph("De heide groeit elk jaar met zestig hectare.")
    word.save(str(path))
    return path


REPORT_HTML = """<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><title>Nota Waterkwaliteit | Rijksoverheid</title>
<style>p { color: black }</style><script>var menu = "Hoofdmenu";</script></head>
<body>
<header><a href="/">Rijksoverheid</a><nav><ul><li>Onderwerpen</li><li>Contact</li></ul></nav></header>
<main>
  <h1>Nota Waterkwaliteit</h1>
  <p>De kwaliteit van het <b>oppervlaktewater</b> is in 2023
     licht verbeterd.</p>
  <h2>Meetpunten</h2>
  <p>Er zijn 240 meetpunten.<br>Elk meetpunt wordt maandelijks bemonsterd.</p>
  <ul><li>Rijn</li><li>Maas</li></ul>
  <!-- niet publiceren -->
  <h3>Nitraat</h3>
  <div>De norm voor nitraat werd op 12 meetpunten overschreden.</div>
  <aside>Lees ook: onze nieuwsbrief</aside>
</main>
<footer>Copyright Rijksoverheid</footer>
</body></html>
"""


# --- a report as ministries publish them ------------------------------------------------------
# Six pages: an unnumbered cover, then pages printed 21 to 25. Every page has a running header
# and a running footer; the footer holds the printed number on the outer side (right on odd
# pages, left on even ones). Page 21 has a footnote and a paragraph that runs on to page 22;
# page 22 a ruled budget table; page 23 two columns; an unruled table runs from page 24 onto 25.
RUNNING_HEADER = "Jaarverslag 2022 | Ministerie van Buitenlandse Zaken"
RUNNING_FOOTER = "Beleidsthema 2 Vrede, veiligheid en stabiliteit"
FIRST_PRINTED_PAGE = 21
RUN_ON = ("Nederland heeft in 2022 de samenwerking met de landen rond Europa verder versterkt, onder meer "
          "door gezamenlijke oefeningen, de opleiding van grenswachten en steun aan de hervorming van de politie "
          "in de landen van de Westelijke Balkan, waar de regering van elk land zelf de prioriteiten stelde")
RUN_ON_REST = ("en de Europese Unie de financiering voor een groot deel op zich nam. Deze aanpak wordt in 2023 "
               "voortgezet.")
FOOTNOTE = "1 Zie de Kamerbrief over de Geïntegreerde Buitenland- en Veiligheidsstrategie van 3 december 2022."
BUDGET_CAPTION = "Tabel 2.1 Budgettaire gevolgen van beleid (bedragen x € 1.000)"
BUDGET_TABLE = [
    ("", "Realisatie 2022", "Vastgestelde begroting 2022", "Verschil"),
    ("Artikel 2.1 Veiligheid", "123.456", "120.000", "3.456"),
    ("Artikel 2.2 Stabiliteit", "87.654", "90.000", "-2.346"),
    ("Artikel 2.3 Humanitaire hulp", "412.300", "395.000", "17.300"),
]
LEFT_COLUMN = ("De samenwerking met herkomstlanden richtte zich op het tegengaan van mensensmokkel langs de "
               "centrale route door de Sahel. Nederland financierde daarvoor drie regionale programma's van de "
               "Internationale Organisatie voor Migratie, die samen ruim negenduizend migranten bereikten.")
RIGHT_COLUMN = ("Voor terugkeer en herintegratie sloot Nederland nieuwe afspraken met Marokko en Tunesië. In beide "
                "landen begeleidden lokale organisaties de teruggekeerde migranten bij het vinden van werk, en de "
                "eerste evaluatie daarvan verschijnt in het voorjaar van 2024.")
MISSIONS_CAPTION = "Tabel 3.1 Uitgezonden militairen per missie"
MISSIONS_HEADER = ("Missie", "2021", "2022")
MISSIONS_ROWS = [
    ("Resolute Support Afghanistan", "160", "0"),
    ("MINUSMA Mali", "240", "115"),
    ("enhanced Forward Presence Litouwen", "270", "350"),
    ("UNIFIL Libanon", "1", "1"),
    ("EUFOR Althea Bosnië", "4", "6"),
    ("Sea Guardian Middellandse Zee", "60", "85"),
    ("KFOR Kosovo", "2", "3"),
    ("UNDOF Golan", "12", "14"),
]
MISSIONS_ON_FIRST_PAGE = 5


def write_annual_report(path: Path) -> Path:
    """The six-page report described above, made with reportlab's canvas."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfgen import canvas

    width, height = A4
    pdf = canvas.Canvas(str(path), pagesize=A4)

    def text(x, y, words, size=10, bold=False):
        pdf.setFont("Helvetica-Bold" if bold else "Helvetica", size)
        pdf.drawString(x, y, words)

    def paragraph(y, words, x=72, column=width - 144, size=10):
        for line in simpleSplit(words, "Helvetica", size, column):
            text(x, y, line, size)
            y -= size * 1.45
        return y - size * 0.9

    def furniture(printed: int | None):
        text(72, height - 40, RUNNING_HEADER, 8)
        footer = RUNNING_FOOTER
        if printed is not None and printed % 2:
            footer = f"{RUNNING_FOOTER}{' ' * 4}"
            text(72, 36, footer, 8)
            text(width - 72 - pdf.stringWidth(str(printed), "Helvetica", 8), 36, str(printed), 8)
        elif printed is not None:
            text(72, 36, str(printed), 8)
            text(width - 72 - pdf.stringWidth(RUNNING_FOOTER, "Helvetica", 8), 36, RUNNING_FOOTER, 8)
        else:
            text(width - 72 - pdf.stringWidth(RUNNING_FOOTER, "Helvetica", 8), 36, RUNNING_FOOTER, 8)

    # The cover (no printed number).
    furniture(None)
    text(72, height - 260, "Beleidsthema 2", 24, True)
    text(72, height - 292, "Vrede, veiligheid en stabiliteit", 24, True)
    text(72, height - 330, "Jaarverslag en slotwet van het ministerie over het jaar 2022.", 12)
    pdf.showPage()

    # 21: a footnote, and a paragraph that runs on to the next page.
    furniture(21)
    y = height - 90
    text(72, y, "1 Beleidsdoelstelling", 14, True)
    y = paragraph(y - 26, "Het bevorderen van de Nederlandse en internationale veiligheid en stabiliteit door "
                          "doelgerichte samenwerking in de ring rond Europa. De inzet volgde de nieuwe "
                          "veiligheidsstrategie van het kabinet.")
    pdf.setFont("Helvetica", 6)
    pdf.drawString(72 + pdf.stringWidth("veiligheidsstrategie van het kabinet.", "Helvetica", 10) + 300, y + 30, "")
    y = paragraph(y, "Uitgangspunt voor de inzet was een brede aanpak van diplomatie, ontwikkeling en defensie, "
                     "zoals de strategie die beschrijft. Elk onderdeel kreeg een eigen budget.")
    filler = ("Het ministerie rapporteerde ieder kwartaal over de voortgang van de programma's aan de Tweede Kamer. "
              "De rapportages beschreven de resultaten per land en per programma, met de uitgaven en de risico's.")
    for _ in range(4):
        y = paragraph(y, filler)
    lines = simpleSplit(RUN_ON, "Helvetica", 10, width - 144)
    while y - len(lines) * 14.5 > 150:
        y = paragraph(y, filler)
    for line in lines:
        text(72, y, line)
        y -= 14.5
    pdf.line(72, 96, 200, 96)
    text(72, 84, FOOTNOTE, 8)
    pdf.showPage()

    # 22: the rest of the paragraph, then a ruled budget table.
    furniture(22)
    y = paragraph(height - 90, RUN_ON_REST)
    text(72, y - 10, "2 Budget", 14, True)
    y = paragraph(y - 36, "De tabel hieronder geeft de budgettaire gevolgen van het beleid per artikel.")
    text(72, y, BUDGET_CAPTION, 10, True)
    columns = [72, 232, 332, 452, 523]
    top = y - 10
    row_height = 20
    rows = len(BUDGET_TABLE)
    pdf.grid(columns, [top - i * row_height for i in range(rows + 1)])
    for r, row in enumerate(BUDGET_TABLE):
        for c, cell in enumerate(row):
            size = 8 if r == 0 else 9
            pdf.setFont("Helvetica-Bold" if r == 0 else "Helvetica", size)
            pdf.drawString(columns[c] + 4, top - r * row_height - 14, cell)
    y = top - rows * row_height - 30
    paragraph(y, "De hogere uitgaven voor humanitaire hulp volgen uit de oorlog in Oekraïne.")
    pdf.showPage()

    # 23: a heading across the page, then two columns whose lines stand at the same heights.
    furniture(23)
    text(72, height - 90, "3 Migratiesamenwerking", 14, True)
    gutter = 20
    column = (width - 144 - gutter) / 2
    y0 = height - 120
    for x, words in ((72, LEFT_COLUMN), (72 + column + gutter, RIGHT_COLUMN)):
        y = y0
        for line in simpleSplit(words, "Helvetica", 10, column):
            text(x, y, line)
            y -= 14.5
    pdf.showPage()

    # 24 and 25: an unruled table from the foot of one page onto the next, its header only once.
    furniture(24)
    y = paragraph(height - 90, "In 2022 waren Nederlandse militairen uitgezonden naar missies in Europa, Afrika en "
                               "het Midden-Oosten. De tabel geeft het aantal per missie.")
    for _ in range(5):
        y = paragraph(y, filler)
    y = 40 + 22 + (MISSIONS_ON_FIRST_PAGE + 2) * 15

    def row(y, cells, bold=False):
        text(72, y, cells[0], 10, bold)
        for right, cell in zip((380, 470), cells[1:]):
            pdf.setFont("Helvetica-Bold" if bold else "Helvetica", 10)
            pdf.drawRightString(right, y, cell)

    text(72, y + 18, MISSIONS_CAPTION, 10, True)
    row(y, MISSIONS_HEADER, bold=True)
    for cells in MISSIONS_ROWS[:MISSIONS_ON_FIRST_PAGE]:
        y -= 15
        row(y, cells)
    pdf.showPage()
    furniture(25)
    y = height - 90
    for cells in MISSIONS_ROWS[MISSIONS_ON_FIRST_PAGE:]:
        row(y, cells)
        y -= 15
    paragraph(y - 20, "Het aantal uitgezonden militairen nam in 2022 af door het einde van de missie in Mali.")
    pdf.showPage()
    pdf.save()
    return path
