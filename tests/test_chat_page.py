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
    ROOT,
)

pytestmark = pytest.mark.slow

QUESTION = "Hoeveel militairen zijn in 2022 uitgezonden?"
ANSWER = "In 2022 zijn in totaal 3.337 militairen uitgezonden"
TITLE = "Beleidsthema 2 Vrede, veiligheid en stabiliteit"
PATIENCE_MS = 90_000  # two cores shared with other people's jobs: waiting long is not failing
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 700}
# axe-core, installed from npm by `make test` (package.json pins it).
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
NOWHERE = "/nergens"  # an address that is not there: its 404 is expected


@pytest.fixture
def open_tab(browser):
    """Fresh tabs (each with its own storage) in which a script error, a resource the policy
    refused or a missing file fails the test. Failed questions and the unknown address
    (NOWHERE) are left to the tests, which provoke them."""
    contexts = []
    problems: list[str] = []

    def note_console(message):
        if message.type == "error" and not message.location["url"].endswith(("/ask", NOWHERE)):
            problems.append(f"console: {message.text} ({message.location['url']})")

    def open_(viewport=DESKTOP, **options) -> Page:
        context = browser.new_context(viewport=viewport, locale="nl-NL", **options)
        context.set_default_timeout(PATIENCE_MS)
        contexts.append(context)
        tab = context.new_page()
        tab.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        tab.on("console", note_console)
        return tab

    yield open_
    for context in contexts:
        context.close()
    assert not problems, "the page reported problems:\n" + "\n".join(problems)


@pytest.fixture
def page(open_tab):
    return open_tab()


@pytest.fixture(autouse=True)
def patient_expectations():
    expect.set_options(timeout=PATIENCE_MS)


def ask(page: Page, question: str) -> None:
    box = page.get_by_role("textbox", name="Uw vraag")
    box.fill("")
    box.press_sequentially(question)
    box.press("Enter")


def answered(page: Page, number: int):
    """The number-th exchange (from 1), once its answer or its problem is shown."""
    exchange = page.locator(".exchange").nth(number - 1)
    expect(exchange.locator(".answer, .problem").first).to_be_visible()
    return exchange


def chat_counting_questions(server, page: Page):
    """The chat page of `server`, its question box, and the list of the /ask requests it sends."""
    asked = []
    page.on("request", lambda request: asked.append(request.url) if request.url.endswith("/ask") else None)
    page.goto(server.url + "/")
    return page.get_by_role("textbox", name="Uw vraag"), asked


def fits_the_width(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def assert_the_page_stays_put(page: Page) -> None:
    """The window does not scroll, and the header and the question box are where they belong:
    at the top and the bottom of the viewport."""
    state = page.evaluate("""() => ({
        scrollY: window.scrollY,
        pageHeight: document.scrollingElement.scrollHeight,
        viewport: window.innerHeight,
        header: document.querySelector('.site-header').getBoundingClientRect().top,
        box: document.getElementById('ask-form').getBoundingClientRect().bottom,
    })""")
    assert state["scrollY"] == 0, state
    assert state["pageHeight"] <= state["viewport"], state
    assert state["header"] == 0 and abs(state["box"] - state["viewport"]) < 1, state


def axe_violations(page: Page) -> list[str]:
    """What axe-core finds against WCAG 2.2 AA (the page's context must bypass its CSP)."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: `make test` installs it (npm ci).", pytrace=False)
    if page.evaluate("typeof window.axe") == "undefined":
        page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))
        .violations.map(v => `${v.id}: ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)""", WCAG_22_AA)
    return found


def screenshot(page: Page, name: str) -> None:
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"))


def test_the_answer_comes_first_with_numbered_sources_and_a_citation_returns_to_where_you_were(
        start_server, chapter_settings, page):
    server = start_server(chapter_settings, workers=1)
    page.goto(server.url + "/")
    expect(page.get_by_role("button", name="Migratiesamenwerking")).to_be_visible()
    screenshot(page, "chat-empty-desktop")

    ask(page, QUESTION)
    first = answered(page, 1)
    # Each exchange is a region headed by its question; the answering sentence comes first.
    expect(page.get_by_role("region", name=QUESTION)).to_have_count(1)
    expect(first.get_by_role("heading", level=2)).to_have_text("Uw vraag: " + QUESTION)
    expect(first.locator(".answer > :first-child")).to_have_class("answer-sentence")
    expect(first.locator(".answer-sentence")).to_contain_text(ANSWER)
    chips = first.locator(".sources a")
    expect(chips.first).to_have_text(re.compile(r"^\[1\] " + re.escape(TITLE) + r", pagina 9$"))
    expect(chips.first).to_have_attribute("href", f"/documents/{CHAPTER_NAME}#L49-L50")
    # The source card: the quote with the sentence marked by more than colour, the full citation.
    card = first.locator(".answer > .source")
    expect(card.locator(".source-number")).to_have_text("1")
    expect(card.locator(".highlight")).to_contain_text("Antwoordzin: " + ANSWER)
    assert card.locator(".highlight").evaluate("e => getComputedStyle(e).textDecorationLine") == "underline"
    expect(card.locator(".citation")).to_have_text(re.compile(
        r"^Bron: " + re.escape(TITLE) + r" › [^,]+, pagina 9, regels 49–50$"))
    expect(card.get_by_role("link", name="regels 49–50")).to_have_attribute("href", f"/documents/{CHAPTER_NAME}#L49-L50")
    head = card.locator(".source-head").bounding_box()
    assert head["height"] < 40  # the relevance cue stays on the card's first line
    assert "p. " not in first.inner_text() and "r. " not in first.inner_text()
    assert "0." not in card.locator(".citation").inner_text()  # no raw scores
    # The other passages are folded, numbered as they rank, without a highlight each.
    others = first.locator("details.more-passages")
    expect(others.locator("summary")).to_have_text("4 andere passages")
    expect(others.locator(".source-number")).to_have_text(["2", "3", "4", "5"])
    expect(others.locator(".source").first).to_be_hidden()
    expect(others.locator(".highlight")).to_have_count(0)
    # Focus is back in the box, the box is empty, and a short summary is spoken.
    expect(page.get_by_role("textbox", name="Uw vraag")).to_be_focused()
    expect(page.get_by_role("textbox", name="Uw vraag")).to_have_value("")
    expect(page.locator("#announcer")).to_have_text(f"Antwoord gevonden in {TITLE}, pagina 9.")
    expect(page.locator("#suggestions")).to_be_hidden()
    screenshot(page, "chat-answered-desktop")

    # While the service works, the second question shows a busy indicator under its bubble;
    # sending with the button leaves the focus in the box, not on <body>.
    held = []
    page.route("**/ask", lambda route: held.append(route))
    page.get_by_role("textbox", name="Uw vraag").fill("Wat is het COMPASS-partnerschap?")
    page.get_by_role("button", name="Verstuur").click()
    second = page.locator(".exchange").nth(1)
    expect(second.locator(".busy")).to_have_text("Bezig met zoeken in de documenten…")
    expect(page.get_by_role("textbox", name="Uw vraag")).to_be_focused()
    while not held:
        page.wait_for_timeout(100)  # Playwright hands the held request over between its calls
    held[0].continue_()
    page.unroute("**/ask")
    expect(second.locator(".answer-sentence")).to_contain_text("COMPASS")
    expect(second.locator(".busy")).to_have_count(0)
    expect(page.get_by_role("textbox", name="Uw vraag")).to_be_focused()
    expect(second).to_be_in_viewport()

    # A failed exchange stays in the conversation.
    page.route("**/ask", lambda route: route.abort())
    ask(page, "Wat doet Nederland aan migratiesamenwerking?")
    expect(answered(page, 3).locator(".problem")).to_contain_text("De dienst is niet bereikbaar.")
    page.unroute("**/ask")

    # Coming back from a citation returns to the exchange it was followed from, folded as it was.
    others.locator("summary").click()
    expect(others.locator(".source").first).to_be_visible()
    chips.first.click()
    page.wait_for_url(re.compile(re.escape(f"/documents/{CHAPTER_NAME}#L49-L50") + "$"))
    expect(page.locator(".line.cited")).to_have_count(2)
    assert page.locator(".line.cited").evaluate_all("lines => lines.map(line => line.id)") == ["L49", "L50"]
    expect(page.locator("#L50")).to_contain_text("3.337")
    expect(page.locator("#L49")).to_be_in_viewport()
    expect(page.locator("#L49")).to_be_focused()
    expect(page.get_by_role("link", name="Regels 49 tot en met 50")).to_have_attribute("href", "#L49-L50")
    expect(page.locator("#cited-range")).to_have_text("Regels 49 tot en met 50 zijn gemarkeerd.")
    assert page.locator(".lines a").count() == 0  # no tab stop per line number
    screenshot(page, "viewer-desktop")

    page.get_by_role("link", name="Terug naar de chat").click()
    expect(page.locator(".exchange")).to_have_count(3)
    first = page.locator(".exchange").nth(0)
    expect(first.locator("details.more-passages .source").first).to_be_visible()  # still unfolded
    expect(first.locator(".bubble")).to_be_in_viewport()
    expect(page.locator(".exchange").nth(2).locator(".problem")).to_contain_text("De dienst is niet bereikbaar.")
    assert_the_page_stays_put(page)
    page.get_by_role("button", name="Nieuw gesprek").click()
    expect(page.locator(".exchange")).to_have_count(0)
    expect(page.get_by_role("button", name="Migratiesamenwerking")).to_be_visible()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE, {"width": 640, "height": 400}], ids=["desktop", "phone", "zoom-200"])
def test_only_the_conversation_scrolls(start_server, chapter_settings, open_tab, viewport):
    """Six questions, all passages unfolded: the header and the question box stay put (640×400
    is 1280×800 at 200% zoom)."""
    server = start_server(chapter_settings, workers=1)
    page = open_tab(viewport)
    page.goto(server.url + "/")
    questions = [QUESTION, "Wat is het COMPASS-partnerschap?", "Wat doet Nederland aan migratiesamenwerking?",
                 "Hoeveel geld gaat er naar internationale veiligheid?", "Wat is de beleidsdoelstelling?",
                 "Welke missies zijn er?"]
    for number, question in enumerate(questions, start=1):
        ask(page, question)
        exchange = answered(page, number)
        expect(exchange.locator(".bubble")).to_be_in_viewport()  # the newest answer is shown from its question
        exchange.locator("details summary").click()
        assert_the_page_stays_put(page)
    conversation = page.locator("#conversation")
    assert conversation.evaluate("e => e.scrollHeight > e.clientHeight")  # it holds more than it shows
    assert fits_the_width(page)
    page.locator(".exchange").first.locator(".sources a").first.click()
    expect(page.locator(".line.cited").first).to_be_visible()
    page.get_by_role("link", name="Terug naar de chat").click()
    expect(page.locator(".exchange")).to_have_count(len(questions))
    assert_the_page_stays_put(page)
    expect(page.locator(".exchange").first.locator(".bubble")).to_be_in_viewport()


def test_the_page_sends_the_conversation_and_says_how_a_follow_up_was_understood(start_server, chapter_settings, page):
    """The page's half of follow-up questions: the body it sends, and what it shows of an
    answer's `context` (the service's answer here is taken and given a context)."""
    server = start_server(chapter_settings, workers=1)
    page.goto(server.url + "/")
    sent: list[dict] = []

    def with_context(route):
        sent.append(route.request.post_data_json)
        answer = route.fetch().json()
        if sent[-1].get("history"):
            answer["context"] = {"turns": [len(sent[-1]["history"]) - 1], "questions": [sent[-1]["history"][-1]["question"]],
                                 "terms": ["militairen"]}
        answer["passages"][0]["citation"]["page_end"] = 10  # as a passage over a page break has it
        route.fulfill(json=answer)

    page.route("**/ask", with_context)
    ask(page, QUESTION)
    first = answered(page, 1)
    assert sent[0] == {"question": QUESTION, "mode": "hybrid"}  # the first question stands alone
    expect(first.locator(".understood")).to_have_count(0)
    expect(first.locator(".sources a").first).to_contain_text("pagina 9–10")
    expect(first.locator(".answer > .source .citation")).to_contain_text("pagina 9–10, regels 49–50")
    shown_first = [first.locator(".sources a").count()]

    ask(page, "En in 2021?")
    second = answered(page, 2)
    assert sent[1]["question"] == "En in 2021?"
    assert sent[1]["history"][0]["question"] == QUESTION
    assert len(sent[1]["history"][0]["passages"]) == shown_first[0] >= 1
    expect(second.locator(".understood")).to_have_text(f"Begrepen als vervolg op: {QUESTION}")
    expect(page.locator(".understood")).to_have_count(1)
    screenshot(page, "chat-follow-up-desktop")

    # A reload keeps the conversation, and the next question is sent with it.
    page.reload()
    expect(page.locator(".exchange")).to_have_count(2)
    expect(page.locator(".understood")).to_have_text(f"Begrepen als vervolg op: {QUESTION}")
    for number in range(3, 8):
        ask(page, f"En vraag {number}?")
        answered(page, number)
    history = sent[-1]["history"]
    assert [turn["question"] for turn in history] == ["En in 2021?"] + [f"En vraag {n}?" for n in range(3, 7)]  # the last 5
    assert all(len(turn.get("passages", [])) <= 20 for turn in history)

    page.get_by_role("button", name="Nieuw gesprek").click()
    ask(page, "En in 2021?")
    answered(page, 1)
    assert sent[-1] == {"question": "En in 2021?", "mode": "hybrid"}  # a new conversation: no history
    expect(page.locator(".understood")).to_have_count(0)


def test_a_long_question_is_counted_and_stopped_before_it_is_sent(start_server, chapter_settings, page):
    box, asked = chat_counting_questions(start_server(chapter_settings, workers=1), page)
    counter = page.locator("#question-count")
    box.fill("Waarom " * 100)
    expect(counter).to_be_hidden()  # far from the limit: no counter
    box.fill("Waarom " * 130)
    expect(counter).to_have_text("910 van 1000 tekens")
    too_long = "Waarom zijn er zoveel militairen uitgezonden? " * 25 + "Waarom?"
    box.fill(too_long)
    expect(counter).to_have_text(f"{len(too_long)} van 1000 tekens")
    expect(box).to_have_attribute("aria-invalid", "true")
    box.press("Enter")
    expect(page.get_by_role("alert")).to_have_text(
        f"Uw vraag is te lang: {len(too_long)} tekens, en er mogen er hoogstens 1000 zijn. Maak hem korter en verstuur hem opnieuw.")
    assert asked == [] and page.locator(".exchange").count() == 0  # not sent, no huge bubble
    expect(box).to_have_value(too_long)
    expect(box).to_be_focused()
    box_height = box.bounding_box()["height"]
    assert box_height < 0.35 * DESKTOP["height"]  # it grows with the text, not over the conversation
    box.fill(QUESTION)
    box.press("Enter")
    answered(page, 1)
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(counter).to_be_hidden()


def test_mistakes_and_failures_are_told_in_dutch_and_the_typed_text_stays(start_server, chapter_settings, page):
    box, asked = chat_counting_questions(start_server(chapter_settings, workers=1), page)

    box.press_sequentially("   ")
    box.press("Enter")
    expect(page.get_by_role("alert")).to_have_text("Typ eerst een vraag; een lege vraag kan niet worden beantwoord.")
    assert asked == [] and page.locator(".exchange").count() == 0

    box.fill("")
    box.press_sequentially("Hoeveel militairen")
    box.press("Shift+Enter")
    box.press_sequentially("in 2022?")
    expect(box).to_have_value("Hoeveel militairen\nin 2022?")
    assert asked == [] and page.locator(".exchange").count() == 0

    page.route("**/ask", lambda route: route.abort())
    box.fill(QUESTION)
    box.press("Enter")
    expect(answered(page, 1).locator(".problem")).to_have_text(
        "De dienst is niet bereikbaar. Controleer de verbinding en probeer het opnieuw.")
    expect(page.locator("#announcer")).to_have_text(
        "De dienst is niet bereikbaar. Controleer de verbinding en probeer het opnieuw.")
    expect(box).to_have_value(QUESTION)
    shown = page.locator("#conversation").inner_text()
    assert "{" not in shown and "error" not in shown  # never the API's raw JSON


def test_over_the_rate_limit_the_chat_says_when_to_ask_again(start_server, chapter_settings, page):
    server = start_server(chapter_settings, workers=1, env={"QA_RATE_LIMIT": "2/minute"})
    page.goto(server.url + "/")
    box = page.get_by_role("textbox", name="Uw vraag")
    for number in range(1, 4):
        box.fill(QUESTION)
        box.press("Enter")
        answered(page, number)
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
    expect(page.get_by_role("textbox", name="Uw vraag")).to_have_value(QUESTION)


def test_markup_in_a_document_shows_as_text_and_runs_nothing(start_server, hostile_settings, page):
    server = start_server(hostile_settings, workers=1)
    page.goto(server.url + "/")
    expect(page.get_by_role("button", name=f"Kwaadaardige opmaak {HOSTILE_IMAGE}")).to_be_visible()

    ask(page, "Wat bevat de proefnotitie over kwaadaardige opmaak?")
    best = page.locator(".exchange .answer > .source .passage-text")
    expect(best).to_contain_text(HOSTILE_SCRIPT)
    expect(best).to_contain_text(HOSTILE_IMAGE)
    expect(page.locator(".exchange .answer > .source .citation")).to_contain_text(f"Kwaadaardige opmaak {HOSTILE_IMAGE}")
    assert page.locator("main img, main script").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"

    page.locator(".exchange .sources a").first.click()
    page.wait_for_url(re.compile(re.escape(f"/documents/{HOSTILE_NAME}#L")))
    expect(page.locator(".line.cited").first).to_contain_text(HOSTILE_SCRIPT)
    expect(page.get_by_text(HOSTILE_IMAGE).first).to_be_visible()
    assert page.locator("main img, main script").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_on_a_phone_the_conversation_keeps_the_room_and_the_viewer_shows_the_way_back(
        start_server, chapter_settings, open_tab):
    server = start_server(chapter_settings, workers=1)
    page = open_tab(PHONE, has_touch=True, is_mobile=True)
    page.goto(server.url + "/")
    assert fits_the_width(page)
    expect(page.locator("#ask-hint")).to_be_hidden()  # no Shift+Enter on a touchscreen
    assert page.locator("#ask-form").bounding_box()["height"] <= 0.16 * PHONE["height"]
    screenshot(page, "chat-empty-phone")

    ask(page, QUESTION)
    answer = answered(page, 1).locator(".answer")
    answer.locator("summary").press("Enter")
    expect(answer.locator("details .source").first).to_be_visible()
    for part in (page.get_by_role("textbox", name="Uw vraag"), page.get_by_role("button", name="Verstuur"), answer):
        box = part.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], part
    assert fits_the_width(page)
    assert_the_page_stays_put(page)
    page.locator("#conversation").evaluate("e => e.scrollTop = 0")
    screenshot(page, "chat-answered-phone")

    # The on-screen keyboard open: the conversation keeps at least half of what is left.
    page.set_viewport_size({"width": 375, "height": 380})
    assert page.locator("#conversation").bounding_box()["height"] >= 190
    assert_the_page_stays_put(page)
    page.set_viewport_size(PHONE)

    answer.locator(".sources a").first.click()
    expect(page.locator(".line.cited").first).to_be_in_viewport()
    expect(page.get_by_role("link", name="Terug naar de chat")).to_be_in_viewport()  # together
    expect(page.locator("#cited-range")).to_be_in_viewport()
    assert fits_the_width(page)
    screenshot(page, "viewer-phone")


def test_a_question_the_documents_do_not_answer_is_told_so_and_no_passage_is_called_relevant(
        start_server, chapter_settings, open_tab):
    server = start_server(chapter_settings, workers=1)
    for viewport, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = open_tab(viewport)
        page.goto(server.url + "/")
        ask(page, "Wat is de hoofdstad van Australië?")
        answer = answered(page, 1).locator(".answer")
        expect(answer.locator(".not-found")).to_have_text("Dit staat niet in de documenten die ik kan doorzoeken.")
        expect(page.locator("#announcer")).to_have_text("Niet gevonden in de documenten.")
        expect(answer.locator(".sources, .answer-sentence")).to_have_count(0)
        nearest = answer.locator("details.more-passages")
        expect(nearest.locator("summary")).to_have_text("Misschien verwant")
        expect(nearest.locator(".source").first).to_be_hidden()  # folded until asked for
        nearest.locator("summary").click()
        expect(nearest.locator(".source").first).to_be_visible()
        expect(nearest.locator(".source-number").first).to_have_text("1")
        assert "relevant" not in answer.inner_text().replace("verwant", "")
        expect(answer.locator(".relevance").first).to_have_text("verwant, geen duidelijk antwoord")
        screenshot(page, f"chat-unanswered-{name}")

    ask(page, QUESTION)  # an answerable question still shows its sentence and citation
    second = answered(page, 2)
    expect(second.locator(".answer-sentence")).to_contain_text("3.337 militairen")
    expect(second.locator(".sources a").first).to_contain_text("pagina 9")
    expect(second.locator(".relevance").first).to_have_text("beantwoordt uw vraag waarschijnlijk")


def test_axe_core_finds_nothing_against_wcag_2_2_aa(start_server, chapter_settings, open_tab):
    """The empty chat, an answered one, an unanswered one, the viewer and a page that does not
    exist, on a desktop and a phone. axe-core is injected as a script, so this context bypasses
    the pages' Content-Security-Policy; no other test does."""
    server = start_server(chapter_settings, workers=1)
    for viewport in (DESKTOP, PHONE):
        page = open_tab(viewport, bypass_csp=True)
        page.goto(server.url + "/")
        expect(page.locator("#suggestions")).to_be_visible()
        assert axe_violations(page) == [], "empty chat"
        ask(page, "Wat is de hoofdstad van Australië?")  # first: it stands alone
        answered(page, 1).locator("summary").click()
        expect(page.locator(".exchange").nth(0).locator(".not-found")).to_be_visible()
        ask(page, QUESTION)
        answered(page, 2).locator("summary").click()
        assert axe_violations(page) == [], "answered and unanswered chat"
        page.locator(".exchange").nth(1).locator(".sources a").first.click()
        expect(page.locator(".line.cited").first).to_be_visible()
        assert axe_violations(page) == [], "viewer"
        page.goto(server.url + NOWHERE)
        expect(page.get_by_text("Deze pagina bestaat niet.")).to_be_visible()
        assert axe_violations(page) == [], "unknown address"


CONTRAST = """(element) => {
    const rgb = (colour) => colour.match(/[\\d.]+/g).map(Number);
    const luminance = (colour) => {
        const [r, g, b] = rgb(colour).slice(0, 3).map((v) => v / 255)
            .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const ratio = (a, b) => {
        const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
        return (x + 0.05) / (y + 0.05);
    };
    const background = (node) => {
        for (; node; node = node.parentElement) {
            const colour = getComputedStyle(node).backgroundColor;
            if (rgb(colour)[3] !== 0) return colour;
        }
        return "rgb(255, 255, 255)";
    };
    const style = getComputedStyle(element);
    // Outside the element (offset >= 0) the ring stands on what is behind it; inside, on the element.
    const behind = parseFloat(style.outlineOffset) >= 0 ? background(element.parentElement) : background(element);
    return {ring: ratio(style.outlineColor, behind), outline: style.outlineStyle,
            border: ratio(style.borderTopColor, background(element)),
            borderAround: ratio(style.borderTopColor, background(element.parentElement)),
            name: element.outerHTML.slice(0, 80)};
}"""


def test_the_focus_ring_and_the_question_box_stand_out_against_what_is_behind_them(start_server, chapter_settings, page):
    server = start_server(chapter_settings, workers=1)
    page.goto(server.url + "/")
    ask(page, QUESTION)
    answered(page, 1).locator("summary").click()
    box = page.get_by_role("textbox", name="Uw vraag").evaluate(CONTRAST)
    assert box["border"] >= 3 and box["borderAround"] >= 3, box
    page.reload()  # the conversation stays, unfolded as it was, and tabbing starts at the top
    expect(page.locator(".exchange details[open]")).to_have_count(1)
    seen = []
    for _ in range(40):  # every tab stop of the page, by keyboard
        page.keyboard.press("Tab")
        focused = page.evaluate_handle("document.activeElement")
        if focused.evaluate("e => e === document.body"):
            break
        ring = focused.evaluate(CONTRAST)
        assert ring["outline"] == "solid" and ring["ring"] >= 3, ring
        seen.append(ring["name"])
    assert len(seen) >= 10, seen  # header, chips, citation links, the folded passages, the box and its buttons


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
    answer = answered(page, 1).locator(".answer")
    expect(answer.locator(".answer-sentence")).to_contain_text("Artikel 2.1 Veiligheid: Realisatie 2022 123.456")
    expect(answer.locator(".sources a").first).to_contain_text("pagina 22")
    citation = answer.locator(":scope > .source .citation")
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


def test_a_follow_up_is_answered_from_the_conversation_the_page_sends(start_server, chapter_settings, page):
    """Issue 15 end to end: the page sends the earlier turn with the passages it showed, the
    service reads the elliptic question with it, and the page says how it understood it."""
    server = start_server(chapter_settings, workers=1)
    sent: list[dict] = []
    page.on("request", lambda request: sent.append(request.post_data_json) if request.url.endswith("/ask") else None)
    page.goto(server.url + "/")
    topic, follow_up = "Wat is het COMPASS-partnerschap?", "waar richt het zich op?"  # from followups.jsonl
    ask(page, topic)
    first = answered(page, 1)
    expect(first.locator(".understood")).to_have_count(0)
    shown = first.locator(".sources a").count()
    ask(page, follow_up)
    second = answered(page, 2)
    assert sent[1]["history"][0]["question"] == topic and len(sent[1]["history"][0]["passages"]) == shown
    expect(second.locator(".understood")).to_have_text(f"Begrepen als vervolg op: {topic}")
    expect(second.locator(":scope > .answer > .source .passage-text")).to_contain_text("het beschermen van migranten")
    screenshot(page, "chat-follow-up-served-desktop")

    page.get_by_role("button", name="Nieuw gesprek").click()
    ask(page, follow_up)
    alone = answered(page, 1)
    assert sent[-1] == {"question": follow_up, "mode": "hybrid"}
    expect(alone.locator(".understood")).to_have_count(0)
