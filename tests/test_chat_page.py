"""The chat page and the document viewer in Chromium, against `qa-service serve` on loopback:
what a person sees when they ask, follow a citation, make mistakes, or read a hostile document."""

import re

import pytest
from playwright.sync_api import Page, expect

from conftest import (
    CHAPTER_NAME,
    HOSTILE_IMAGE,
    HOSTILE_NAME,
    HOSTILE_SCRIPT,
    LONG_NOTE,
    LONG_NOTE_LINES,
    OUTPUT,
    REPORT_NAME,
)

pytestmark = pytest.mark.slow

QUESTION = "Hoeveel militairen zijn in 2022 uitgezonden?"
PATIENCE_MS = 90_000  # two cores shared with other people's jobs: waiting long is not failing


@pytest.fixture
def page(browser):
    """A fresh tab (its own storage) in which a script error, a resource the policy refused or a
    missing file fails the test. Failed questions are left to the tests, which provoke them."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="nl-NL")
    context.set_default_timeout(PATIENCE_MS)
    tab = context.new_page()
    problems: list[str] = []

    def note_console(message):
        if message.type == "error" and not message.location["url"].endswith("/ask"):
            problems.append(f"console: {message.text} ({message.location['url']})")

    tab.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    tab.on("console", note_console)
    yield tab
    context.close()
    assert not problems, "the page reported problems:\n" + "\n".join(problems)


@pytest.fixture(autouse=True)
def patient_expectations():
    expect.set_options(timeout=PATIENCE_MS)


def ask(page: Page, question: str) -> None:
    box = page.get_by_label("Uw vraag")
    box.fill("")
    box.press_sequentially(question)
    box.press("Enter")


def fits_the_width(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_asking_shows_the_cited_sentence_and_the_citation_opens_the_cited_lines(start_server, chapter_settings, page):
    server = start_server(chapter_settings, workers=1)
    page.goto(server.url + "/")
    expect(page.get_by_role("button", name="Migratiesamenwerking")).to_be_visible()

    ask(page, QUESTION)
    first = page.locator(".exchange").nth(0)
    expect(first.locator(".bubble")).to_have_text("Uw vraag: " + QUESTION)
    expect(first.locator(".answer > .passage-text .highlight")).to_contain_text("In 2022 zijn in totaal 3.337 militairen uitgezonden")
    expect(first.locator(".answer > .passage-text .term").first).to_be_visible()
    citation = first.locator(".answer > .citation a")
    expect(citation).to_contain_text("p. 9")
    expect(citation).to_have_attribute("href", f"/documents/{CHAPTER_NAME}#L49-L50")
    expect(page.get_by_label("Uw vraag")).to_have_value("")
    expect(page.locator("#suggestions")).to_be_hidden()
    assert "0." not in first.locator(".answer > .citation").inner_text()  # no raw scores
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=OUTPUT / "chat-desktop.png")

    # While the service works, the second question shows a busy indicator under its bubble.
    held = []
    page.route("**/ask", lambda route: held.append(route))
    ask(page, "Wat is het COMPASS-partnerschap?")
    second = page.locator(".exchange").nth(1)
    expect(second.locator(".busy")).to_have_text("Bezig met zoeken in de documenten…")
    while not held:
        page.wait_for_timeout(100)  # Playwright hands the held request over between its calls
    held[0].continue_()
    page.unroute("**/ask")
    expect(second.locator(".answer > .passage-text")).to_contain_text("COMPASS")
    expect(second.locator(".busy")).to_have_count(0)
    expect(page.locator(".exchange")).to_have_count(2)
    expect(first.locator(".answer > .passage-text")).to_contain_text("3.337")
    expect(second).to_be_in_viewport()
    second.locator("details summary").click()
    expect(second.locator("details li .citation a").first).to_be_visible()

    citation.click()
    page.wait_for_url(re.compile(re.escape(f"/documents/{CHAPTER_NAME}#L49-L50") + "$"))
    expect(page.locator(".line.cited")).to_have_count(2)
    assert page.locator(".line.cited").evaluate_all("lines => lines.map(line => line.id)") == ["L49", "L50"]
    expect(page.locator("#L50")).to_contain_text("3.337")
    expect(page.locator("#L49")).to_be_in_viewport()
    expect(page.get_by_text("Regels 49 tot en met 50 zijn gemarkeerd.")).to_be_visible()
    page.screenshot(path=OUTPUT / "document-desktop.png")

    page.get_by_role("link", name="Terug naar de chat").click()
    expect(page.locator(".exchange")).to_have_count(2)  # the conversation is still there
    expect(page.locator(".exchange").nth(0).locator(".highlight").first).to_contain_text("3.337")
    page.get_by_role("button", name="Nieuw gesprek").click()
    expect(page.locator(".exchange")).to_have_count(0)
    expect(page.get_by_role("button", name="Migratiesamenwerking")).to_be_visible()


def test_mistakes_and_failures_are_told_in_dutch_and_the_typed_text_stays(start_server, chapter_settings, page):
    server = start_server(chapter_settings, workers=1)
    asked = []
    page.on("request", lambda request: asked.append(request.url) if request.url.endswith("/ask") else None)
    page.goto(server.url + "/")
    box = page.get_by_label("Uw vraag")

    box.press_sequentially("   ")
    box.press("Enter")
    expect(page.locator(".problem")).to_have_text("Typ eerst een vraag; een lege vraag kan niet worden beantwoord.")
    assert asked == [] and page.locator(".exchange").count() == 0

    box.fill("")
    box.press_sequentially("Hoeveel militairen")
    box.press("Shift+Enter")
    box.press_sequentially("in 2022?")
    expect(box).to_have_value("Hoeveel militairen\nin 2022?")
    assert asked == [] and page.locator(".exchange").count() == 0

    too_long = "Waarom " * 150
    box.fill(too_long)
    box.press("Enter")
    expect(page.locator(".exchange .problem")).to_contain_text("Uw vraag is te lang: 1049 tekens")
    expect(box).to_have_value(too_long)
    assert len(asked) == 1  # this one the service refused with a 400

    page.route("**/ask", lambda route: route.abort())
    box.fill(QUESTION)
    box.press("Enter")
    expect(page.locator(".exchange").nth(1).locator(".problem")).to_have_text(
        "De dienst is niet bereikbaar. Controleer de verbinding en probeer het opnieuw.")
    expect(box).to_have_value(QUESTION)
    shown = page.locator("#conversation").inner_text()
    assert "{" not in shown and "error" not in shown  # never the API's raw JSON


def test_over_the_rate_limit_the_chat_says_when_to_ask_again(start_server, chapter_settings, page):
    server = start_server(chapter_settings, workers=1, env={"QA_RATE_LIMIT": "2/minute"})
    page.goto(server.url + "/")
    box = page.get_by_label("Uw vraag")
    for number in range(1, 4):
        box.fill(QUESTION)
        box.press("Enter")
        expect(page.locator(".exchange")).to_have_count(number)
        expect(page.locator(".exchange").nth(number - 1).locator(".problem, .citation").first).to_be_visible()
    refused = page.locator(".exchange").nth(2).locator(".problem")
    expect(refused).to_contain_text("U hebt kort na elkaar veel vragen gesteld. Stel uw vraag over ")
    assert re.search(r"over \d+ seconden? opnieuw", refused.inner_text())
    expect(box).to_have_value(QUESTION)


def test_without_an_index_asking_says_so_in_dutch(start_server, tmp_path, page):
    from qa_service.config import Settings

    (tmp_path / "corpus").mkdir()
    (tmp_path / "index").mkdir()
    server = start_server(Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index"), workers=1)
    page.goto(server.url + "/")
    expect(page.locator("#suggestions")).to_have_count(0)
    ask(page, QUESTION)
    expect(page.locator(".exchange .problem")).to_have_text(
        "De dienst kan nu geen vragen beantwoorden: de documenten zijn nog niet geïndexeerd. Probeer het later opnieuw.")
    expect(page.get_by_label("Uw vraag")).to_have_value(QUESTION)


def test_markup_in_a_document_shows_as_text_and_runs_nothing(start_server, hostile_settings, page):
    server = start_server(hostile_settings, workers=1)
    page.goto(server.url + "/")
    expect(page.get_by_role("button", name=f"Kwaadaardige opmaak {HOSTILE_IMAGE}")).to_be_visible()

    ask(page, "Wat bevat de proefnotitie over kwaadaardige opmaak?")
    best = page.locator(".exchange .answer > .passage-text")
    expect(best).to_contain_text(HOSTILE_SCRIPT)
    expect(best).to_contain_text(HOSTILE_IMAGE)
    citation = page.locator(".exchange .answer > .citation a")
    expect(citation).to_contain_text(f"Kwaadaardige opmaak {HOSTILE_IMAGE}")
    assert page.locator("main img, main script").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"

    citation.click()
    page.wait_for_url(re.compile(re.escape(f"/documents/{HOSTILE_NAME}#L")))
    expect(page.locator(".line.cited").first).to_contain_text(HOSTILE_SCRIPT)
    expect(page.get_by_text(HOSTILE_IMAGE).first).to_be_visible()
    assert page.locator("main img, main script").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_on_a_phone_the_chat_and_the_document_fit_the_width(start_server, chapter_settings, page):
    server = start_server(chapter_settings, workers=1)
    page.set_viewport_size({"width": 375, "height": 700})
    page.goto(server.url + "/")
    assert fits_the_width(page)

    ask(page, QUESTION)  # keyboard only
    answer = page.locator(".exchange .answer")
    expect(answer.locator(".citation a").first).to_be_visible()
    answer.locator("summary").press("Enter")
    expect(answer.locator("details li").first).to_be_visible()
    page.locator(".exchange").scroll_into_view_if_needed()
    for part in (page.get_by_label("Uw vraag"), page.get_by_role("button", name="Verstuur"), answer):
        box = part.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375, part
    assert fits_the_width(page)
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=OUTPUT / "chat-375.png")

    answer.locator(".citation a").first.click()
    expect(page.locator(".line.cited").first).to_be_in_viewport()
    assert fits_the_width(page)
    page.screenshot(path=OUTPUT / "document-375.png")


def test_a_question_the_documents_do_not_answer_is_told_so_and_no_passage_is_called_relevant(start_server, chapter_settings, page):
    server = start_server(chapter_settings, workers=1)
    page.goto(server.url + "/")
    ask(page, "Wat is de hoofdstad van Australië?")
    answer = page.locator(".exchange .answer")
    expect(answer.locator(".not-found")).to_have_text("Dit staat niet in de documenten die ik kan doorzoeken.")
    nearest = answer.locator("details.more-passages")
    expect(nearest.locator("summary")).to_have_text("Misschien verwant")
    expect(nearest.locator("li").first).to_be_hidden()  # folded until asked for
    nearest.locator("summary").click()
    expect(nearest.locator("li").first).to_be_visible()
    assert "relevant" not in answer.inner_text().replace("verwant", "")
    expect(answer.locator(".relevance").first).to_have_text("verwant, geen duidelijk antwoord")
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=OUTPUT / "chat-unanswered.png")

    ask(page, QUESTION)  # an answerable question still shows its sentence and citation
    second = page.locator(".exchange").nth(1)
    expect(second.locator(".answer > .passage-text .highlight")).to_contain_text("3.337 militairen")
    expect(second.locator(".answer > .citation a")).to_contain_text("p. 9")
    expect(second.locator(".relevance").first).to_have_text("beantwoordt uw vraag waarschijnlijk")


def wait_for_pdf_page(browser, page: Page, expected: str, pages: int) -> None:
    """Wait until Chromium's PDF viewer shows page `expected` of `pages` in its toolbar.

    The viewer is an extension page (chrome-extension://…/index.html) inside the tab, which
    Playwright does not offer as a frame; it is reached through the DevTools protocol, and its
    toolbar read from the viewer's own elements (as Chromium 156 builds them). A viewer that a
    navigation is about to close may still answer for a moment, so this waits for the page
    asked for rather than taking the first answer."""
    import json
    import time

    session = browser.new_browser_cdp_session()
    replies: list[dict] = []
    session.on("Target.receivedMessageFromTarget", lambda event: replies.append(json.loads(event["message"])))
    expression = """(() => {
        const viewer = document.querySelector('pdf-viewer');
        const toolbar = viewer && viewer.shadowRoot.querySelector('viewer-toolbar');
        const selector = toolbar && toolbar.shadowRoot.querySelector('viewer-page-selector');
        const input = selector && selector.shadowRoot.querySelector('input');
        return JSON.stringify(input ? [input.value, selector.docLength] : null);
    })()"""
    deadline = time.monotonic() + PATIENCE_MS / 1000
    attached: dict[str, str] = {}
    seen: set = set()
    try:
        while time.monotonic() < deadline:
            for target in session.send("Target.getTargets")["targetInfos"]:
                if target["url"].startswith("chrome-extension://") and target["targetId"] not in attached:
                    attached[target["targetId"]] = session.send(
                        "Target.attachToTarget", {"targetId": target["targetId"], "flatten": False})["sessionId"]
            for number, target_session in enumerate(attached.values()):
                session.send("Target.sendMessageToTarget", {"sessionId": target_session, "message": json.dumps(
                    {"id": number + 1, "method": "Runtime.evaluate",
                     "params": {"expression": expression, "returnByValue": True}})})
            page.wait_for_timeout(500)  # lets Playwright take in the replies
            for reply in replies:
                value = reply.get("result", {}).get("result", {}).get("value")
                if value and json.loads(value):
                    seen.add(tuple(json.loads(value)))
            if (expected, pages) in seen:
                return
            replies.clear()
        raise AssertionError(f"Chromium's PDF viewer did not show page {expected} of {pages}; it showed {seen or 'nothing'}")
    finally:
        session.detach()


def test_a_table_row_answers_and_its_citation_opens_the_original_pdf_at_that_page(start_server, report_settings,
                                                                                   page, browser):
    server = start_server(report_settings, workers=1)
    page.goto(server.url + "/")
    ask(page, "Wat was de realisatie van artikel 2.1 in 2022?")
    answer = page.locator(".exchange").nth(0).locator(".answer")
    expect(answer.locator(".answer-label + .passage-text")).to_contain_text("Artikel 2.1 Veiligheid: Realisatie 2022 123.456")
    citation = answer.locator(".answer-label + .passage-text + .citation")
    expect(citation.get_by_role("link").first).to_contain_text("p. 22")
    original = citation.get_by_role("link", name="Open de PDF op pagina 22")
    expect(original).to_have_attribute("href", f"/documents/{REPORT_NAME}/original#page=3")
    page.screenshot(path=str(OUTPUT / "chat-table-answer.png"))
    original.click()
    page.wait_for_url(re.compile(re.escape(f"/documents/{REPORT_NAME}/original#page=3") + "$"))
    wait_for_pdf_page(browser, page, "3", 6)
    page.screenshot(path=str(OUTPUT / "original-pdf-at-page-3.png"))
    # The same file at another page: the fragment alone decides where it opens.
    page.goto(server.url + "/documents")
    page.goto(server.url + f"/documents/{REPORT_NAME}/original#page=5")
    wait_for_pdf_page(browser, page, "5", 6)
    # The viewer of a long document: a link with only the fragment goes on to the part that holds
    # the line, once (a line past the end does not send it round in circles).
    page.goto(server.url + f"/documents/{LONG_NOTE}#L{LONG_NOTE_LINES}")
    page.wait_for_url(re.compile(re.escape(f"?lines={LONG_NOTE_LINES}-{LONG_NOTE_LINES}#L{LONG_NOTE_LINES}") + "$"))
    expect(page.locator(f"#L{LONG_NOTE_LINES}")).to_have_class(re.compile(r"\bcited\b"))
    expect(page.locator(f"#L{LONG_NOTE_LINES}")).to_be_in_viewport()
    page.goto(server.url + f"/documents/{LONG_NOTE}#L999999")
    page.wait_for_url(re.compile(re.escape("?lines=999999-999999#L999999") + "$"))
    page.wait_for_timeout(1000)
    assert page.url.endswith("?lines=999999-999999#L999999")
    expect(page.locator(f"#L{LONG_NOTE_LINES}")).to_be_attached()
    # A PDF in the viewer: running headers and footers dimmed, each page linked to the original.
    page.goto(server.url + f"/documents/{REPORT_NAME}")
    header = page.locator(".line.furniture", has_text="Jaarverslag 2022 | Ministerie").first
    assert float(header.locator(".line-text").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) < float(
        page.locator(".line:not(.furniture) .line-text").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
    expect(page.get_by_role("link", name=re.compile(r"open de PDF op deze pagina \(3 van 6\)"))).to_have_attribute(
        "href", f"/documents/{REPORT_NAME}/original#page=3")
    page.screenshot(path=str(OUTPUT / "viewer-pdf.png"), full_page=False)
