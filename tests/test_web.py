"""The pages through Flask's test client: the chat page, the document list, the document
viewer, their errors, and the Content-Security-Policy that keeps inline scripts out."""

import re
from html.parser import HTMLParser

import pytest

from qa_service.api import create_app
from qa_service.config import Settings
from qa_service.documents import read_document
from qa_service.passages import split_document
from qa_service.schemas import VIEWER_LINES

from conftest import (
    CHAPTER,
    CHAPTER_HEADINGS,
    CHAPTER_NAME,
    HOSTILE_NAME,
    HOSTILE_SCRIPT,
    LONG_NOTE,
    LONG_NOTE_LINES,
    REPORT_NAME,
)

TITLE = "Beleidsthema 2 Vrede, veiligheid en stabiliteit"


class PageParts(HTMLParser):
    """What a test needs from a page: its scripts, inline event handlers, line elements, links."""

    def __init__(self, html: str):
        super().__init__()
        self.scripts: list[dict] = []
        self.inline_script_text = ""
        self.event_handlers: list[str] = []
        self.line_ids: list[str] = []
        self.links: list[str] = []
        self.suggested_questions: list[str] = []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.event_handlers += [name for name in attributes if name.startswith("on")]
        if tag == "script":
            self.scripts.append(attributes)
            self._in_script = True
        if tag == "li" and "line" in (attributes.get("class") or "").split():
            self.line_ids.append(attributes["id"])
        if tag == "a":
            self.links.append(attributes.get("href"))
        if "data-question" in attributes:
            self.suggested_questions.append(attributes["data-question"])

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.inline_script_text += data


@pytest.fixture
def hostile_client(hostile_settings, embedder):
    app = create_app(hostile_settings, embedder)
    app.testing = True
    return app.test_client()


def assert_protected_page(response) -> PageParts:
    """A page in Dutch whose scripts can only come from the service's own files."""
    assert response.mimetype == "text/html"
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'" and policy["object-src"] == "'none'"
    html = response.get_data(as_text=True)
    assert '<html lang="nl">' in html
    parts = PageParts(html)
    assert all(script.get("src", "").startswith("/static/") for script in parts.scripts)
    assert parts.inline_script_text.strip() == "" and parts.event_handlers == []
    return parts


def test_the_chat_page_suggests_topics_from_the_corpus_headings(client):
    response = client.get("/")
    assert response.status_code == 200
    parts = assert_protected_page(response)
    html = response.get_data(as_text=True)
    assert 'placeholder="Typ hier uw vraag…"' in html
    assert ">Verstuur</button>" in html and 'aria-live="polite"' in html
    # Each topic is a question about the document it comes from, which the button names.
    assert parts.suggested_questions == [f"Wat staat er in {TITLE} over {heading}?" for heading in CHAPTER_HEADINGS]
    assert html.count(f"uit {TITLE}</span>") == len(CHAPTER_HEADINGS)
    assert "/documents" in parts.links


@pytest.mark.parametrize("heading, topic", [("1 Gemalen", "Gemalen"), ("2.3. Budget en uitgaven", "Budget en uitgaven"),
                                            ("B. Sahel", "Sahel"), ("2022 in cijfers", "2022 in cijfers"),
                                            ("Migratiesamenwerking", "Migratiesamenwerking")])
def test_a_suggested_topic_leaves_out_the_headings_number(heading, topic):
    from qa_service.web import _topic

    assert _topic(heading, "Jaarverslag 2023") == {
        "heading": topic, "title": "Jaarverslag 2023", "question": f"Wat staat er in Jaarverslag 2023 over {topic}?"}


def test_an_unknown_address_is_a_dutch_page_for_a_browser_and_json_for_an_api_client(client):
    page = client.get("/nergens/heen", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 404
    assert_protected_page(page)
    assert "Deze pagina bestaat niet." in page.get_data(as_text=True)
    for accept in ({"Accept": "application/json"}, {"Accept": "*/*"}, {}):
        response = client.get("/nergens/heen", headers=accept)
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found", accept


def test_the_document_list_as_json(client):
    response = client.get("/documents", headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    passages = len(split_document(read_document(CHAPTER)))
    assert body["documents"] == [
        {"name": CHAPTER_NAME, "title": TITLE, "passages": passages, "pages": 1, "page_numbering": "printed",
         "url": f"/documents/{CHAPTER_NAME}"}
    ]
    assert body["generation"] == client.get("/health").get_json()["generation"]


def test_the_document_list_as_a_page(client):
    response = client.get("/documents", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 200
    parts = assert_protected_page(response)
    html = response.get_data(as_text=True)
    passages = len(split_document(read_document(CHAPTER)))
    assert TITLE in html and f'<td class="count">{passages}</td>' in html
    assert f"/documents/{CHAPTER_NAME}" in parts.links
    assert client.get("/documents").mimetype == "text/html"  # no Accept header: a page


def test_the_document_viewer_numbers_every_indexed_line(client):
    response = client.get(f"/documents/{CHAPTER_NAME}")
    assert response.status_code == 200
    parts = assert_protected_page(response)
    lines = read_document(CHAPTER).lines
    assert parts.line_ids == [f"L{line.number}" for line in lines] and len(lines) == 52
    html = response.get_data(as_text=True)
    assert '<span class="line-text">totaal 3.337 militairen uitgezonden geweest.</span>' in html
    assert f"<h1>{TITLE}</h1>" in html
    assert "/" in parts.links  # back to the chat
    assert "/static/document.js" in [script["src"] for script in parts.scripts]


def test_the_viewer_marks_the_documents_headings_as_headings_below_its_title(client):
    import re

    from qa_service.documents import Heading

    html = client.get(f"/documents/{CHAPTER_NAME}").get_data(as_text=True)
    marked = re.findall(r'<li id="L(\d+)" class="line heading"><span class="line-number">\d+</span>'
                        r'<span class="line-text" role="heading" aria-level="(\d)">', html)
    headings = [b for b in read_document(CHAPTER).blocks if isinstance(b, Heading)]
    assert headings and marked == [(str(h.line.number), str(min(h.level + 1, 6))) for h in headings]
    assert 'role="heading" aria-level="2">Beleidsinzet toegelicht' in html  # the title is the page's h1


def test_document_text_and_headings_are_escaped(hostile_client):
    for path in (f"/documents/{HOSTILE_NAME}", "/"):
        html = hostile_client.get(path).get_data(as_text=True)
        assert "window.__pwned" in html  # the text is there…
        assert "<img src=x" not in html and HOSTILE_SCRIPT not in html  # …but never as markup
    document = hostile_client.get(f"/documents/{HOSTILE_NAME}").get_data(as_text=True)
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in document


@pytest.mark.parametrize("name", ["nergens.txt", "../corpus/" + CHAPTER_NAME, "%2e%2e/%2e%2e/etc/passwd"])
def test_an_unknown_document_is_a_readable_404(client, name):
    page = client.get(f"/documents/{name}")
    assert page.status_code == 404
    assert_protected_page(page)
    assert "staat niet in de index" in page.get_data(as_text=True)
    as_json = client.get(f"/documents/{name}", headers={"Accept": "application/json"})
    assert as_json.status_code == 404 and as_json.get_json()["error"]["code"] == "not_found"


def test_without_an_index_the_chat_still_loads_and_the_documents_say_why(tmp_path, embedder):
    client = create_app(Settings(corpus_dir=tmp_path, index_dir=tmp_path / "index"), embedder).test_client()
    chat = client.get("/")
    assert chat.status_code == 200 and PageParts(chat.get_data(as_text=True)).suggested_questions == []
    page = client.get("/documents")
    assert page.status_code == 503
    assert_protected_page(page)
    assert "nog geen index" in page.get_data(as_text=True)
    as_json = client.get(f"/documents/{CHAPTER_NAME}", headers={"Accept": "application/json"})
    assert as_json.status_code == 503 and "qa-service build" in as_json.get_json()["error"]["message"]


def test_the_pages_scripts_and_styles_are_served(client):
    for name, mimetype in [("chat.js", "text/javascript"), ("document.js", "text/javascript"), ("style.css", "text/css")]:
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and response.mimetype == mimetype


def test_openapi_describes_the_document_list(client):
    spec = client.get("/openapi.json").get_json()
    assert "DocumentsResponse" in str(spec["paths"]["/documents"]["get"]["responses"]["200"])


# --- long documents, PDFs and their originals ------------------------------------------------------


@pytest.fixture
def report_client(report_settings, embedder):
    app = create_app(report_settings, embedder)
    app.testing = True
    return app.test_client()


def test_the_viewer_shows_a_pdf_page_by_page_with_links_to_the_original_and_dimmed_furniture(report_client):
    response = report_client.get(f"/documents/{REPORT_NAME}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    parts = PageParts(html)
    for pdf_page in range(1, 7):
        assert f"/documents/{REPORT_NAME}/original#page={pdf_page}" in parts.links
    assert "pagina 21" in html and "pagina 25" in html and "nummers zoals gedrukt" in html
    furniture = re.findall(r'<li id="L(\d+)" class="line furniture"', html)
    header_lines = re.findall(r'<li id="L(\d+)" class="line furniture"[^>]*>.*?Jaarverslag 2022 \| Ministerie', html)
    assert len(header_lines) == 6 and len(furniture) > 6
    listed = report_client.get("/documents", headers={"Accept": "application/json"}).get_json()["documents"]
    assert {d["name"]: (d["pages"], d["page_numbering"]) for d in listed} == {
        CHAPTER_NAME: (1, "printed"), LONG_NOTE: (None, None), REPORT_NAME: (6, "printed")}


def test_a_long_document_is_shown_a_part_at_a_time_the_cited_part_first(report_client):
    first = PageParts(report_client.get(f"/documents/{LONG_NOTE}").get_data(as_text=True))
    assert first.line_ids == [f"L{n}" for n in range(1, VIEWER_LINES + 1)]
    assert f"/documents/{LONG_NOTE}?lines={2 * VIEWER_LINES + 1}" in first.links
    answer = report_client.post("/ask", json={"question": "Welke weidevogel noemt het slot van de notitie?"}).get_json()
    cited = next(p for p in answer["passages"] if "grutto" in p["text"])["citation"]
    assert (cited["line_start"], cited["pdf_page"], cited["pdf_url"]) == (LONG_NOTE_LINES, None, None)
    assert cited["url"] == f"/documents/{LONG_NOTE}?lines={LONG_NOTE_LINES}-{LONG_NOTE_LINES}#L{LONG_NOTE_LINES}-L{LONG_NOTE_LINES}"
    part = PageParts(report_client.get(cited["url"].split("#")[0]).get_data(as_text=True))
    assert part.line_ids == [f"L{n}" for n in range(2 * VIEWER_LINES + 1, LONG_NOTE_LINES + 1)]
    # Cited lines across the end of a part are shown together.
    across = PageParts(report_client.get(f"/documents/{LONG_NOTE}?lines=999-1002").get_data(as_text=True))
    assert across.line_ids == [f"L{n}" for n in range(1, 1003)]
    refused = report_client.get(f"/documents/{LONG_NOTE}?lines=abc")
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "invalid_lines"


def test_the_original_is_served_unchanged_inline_with_a_sandbox_for_what_is_not_a_pdf(report_client, report_settings):
    pdf = report_client.get(f"/documents/{REPORT_NAME}/original")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data == (report_settings.corpus_dir / REPORT_NAME).read_bytes()
    assert pdf.headers["Content-Disposition"].startswith("inline") and REPORT_NAME in pdf.headers["Content-Disposition"]
    assert "sandbox" not in pdf.headers["Content-Security-Policy"]
    assert pdf.headers["X-Content-Type-Options"] == "nosniff"
    text = report_client.get(f"/documents/{CHAPTER_NAME}/original")
    assert text.status_code == 200 and text.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert text.data == CHAPTER.read_bytes() and text.headers["Content-Disposition"].startswith("inline")
    assert "sandbox" in text.headers["Content-Security-Policy"].split("; ")


@pytest.mark.parametrize("name", ["onbekend.pdf", "../index/CURRENT", "..%2Findex%2FCURRENT", "%2Fetc%2Fpasswd",
                                  "corpus/../jaarverslag-2022.pdf", "niet-geindexeerd.txt"])
def test_the_original_of_anything_the_index_does_not_list_is_not_found(report_client, report_settings, name):
    (report_settings.corpus_dir / "niet-geindexeerd.txt").write_text("Na de laatste build toegevoegd.")
    try:
        page = report_client.get(f"/documents/{name}/original", follow_redirects=True)  # "//" is merged first
        assert page.status_code == 404 and page.mimetype == "text/html"
        assert "staat niet in de index" in page.get_data(as_text=True) or "bestaat niet" in page.get_data(as_text=True)
        data = report_client.get(f"/documents/{name}/original", headers={"Accept": "application/json"},
                                 follow_redirects=True)
        assert data.status_code == 404 and data.get_json()["error"]["code"] == "not_found"
    finally:
        (report_settings.corpus_dir / "niet-geindexeerd.txt").unlink()


def test_the_budget_table_answers_with_the_figure_and_the_printed_page(report_client):
    body = report_client.post("/ask", json={"question": "Wat was de realisatie van artikel 2.1 in 2022?"}).get_json()
    top = body["passages"][0]
    assert "Artikel 2.1 Veiligheid: Realisatie 2022 123.456" in top["text"]
    assert top["text"][top["highlight"]["start"]:top["highlight"]["end"]].startswith("Artikel 2.1 Veiligheid")
    citation = top["citation"]
    assert (citation["document"], citation["page"], citation["pdf_page"]) == (REPORT_NAME, 22, 3)
    assert citation["pdf_url"] == f"/documents/{REPORT_NAME}/original#page=3"
    assert "p. 22" in citation["label"]
