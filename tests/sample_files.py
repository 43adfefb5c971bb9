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


def write_pdf(path: Path, pages: list[list], labels: list[tuple[int, str, int]] = (), footers: bool = True) -> Path:
    """A PDF with one page per list of lines; `labels` are (first page index, style, start)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    for index, style, start in labels:
        pdf.addPageLabel(index, style, start)
    for number, lines in enumerate(pages, start=1):
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
            pdf.drawString(A4[0] / 2, 40, str(number - 1))  # the printed number, as the labels say
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
