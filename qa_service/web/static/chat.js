// The chat page: sends questions to /ask, with the conversation's earlier turns, and shows the
// answering sentence first, its numbered sources, and the cited passages.
// Everything that comes from the documents or the person goes into the page as text nodes
// (textContent, createTextNode), never as HTML.
"use strict";

(() => {
  const form = document.getElementById("ask-form");
  const questionBox = document.getElementById("question");
  const sendButton = document.getElementById("send");
  const conversation = document.getElementById("conversation");
  const suggestions = document.getElementById("suggestions");
  const newConversationButton = document.getElementById("new-conversation");
  const counter = document.getElementById("question-count");
  const announcer = document.getElementById("announcer");
  const askUrl = form.dataset.askUrl;
  const maxQuestionChars = Number(form.dataset.maxQuestionChars);
  const COUNT_FROM = Math.floor(maxQuestionChars * 0.8); // the counter shows from here on
  const HISTORY_TURNS = 5; // the earlier turns sent with a question, as POST /ask takes them
  const LIKELY = 0.6; // a confidence from which a passage probably answers
  // The conversation survives following a citation and coming back, and a reload, for as long
  // as the tab lives; RETURN_KEY names the exchange whose citation was followed.
  const STORAGE_KEY = "qa-service.conversation";
  const RETURN_KEY = "qa-service.return-to";
  let busy = false;

  class Problem extends Error {}

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The API's offsets count code points, as Array.from does (a JS string index counts UTF-16 units).
  function slice(text, start, end) {
    return Array.from(text).slice(start, end).join("");
  }

  // The passage with the question's words in <strong>, and, for the answering passage, its
  // best sentence in <mark> with a word for screen readers, since a colour alone says nothing.
  function passageText(passage, markSentence) {
    const characters = Array.from(passage.text);
    const { start: sentenceStart, end: sentenceEnd } = passage.highlight;
    const cuts = new Set([0, characters.length]);
    if (markSentence) cuts.add(sentenceStart).add(sentenceEnd);
    for (const term of passage.terms) cuts.add(term.start).add(term.end);
    const points = [...cuts].filter((p) => p >= 0 && p <= characters.length).sort((a, b) => a - b);
    const quote = element("blockquote", "passage-text");
    let sentence = null;
    for (let i = 0; i + 1 < points.length; i++) {
      const from = points[i];
      const to = points[i + 1];
      const text = characters.slice(from, to).join("");
      const isTerm = passage.terms.some((term) => term.start <= from && to <= term.end);
      const piece = isTerm ? element("strong", "term", text) : document.createTextNode(text);
      if (markSentence && sentenceStart <= from && to <= sentenceEnd) {
        if (!sentence) {
          sentence = element("mark", "highlight");
          sentence.append(element("span", "visually-hidden", "Antwoordzin: "));
          quote.append(sentence);
        }
        sentence.append(piece);
      } else {
        quote.append(piece);
      }
    }
    return quote;
  }

  // Confidence is the probability that a passage answers the question, so the words say how
  // likely that is; a passage that probably does not answer is never called relevant.
  function relevance(confidence) {
    const [level, words] = confidence >= LIKELY
      ? ["high", "beantwoordt uw vraag waarschijnlijk"]
      : confidence >= 0.3
        ? ["medium", "beantwoordt uw vraag misschien"]
        : ["low", "verwant, geen duidelijk antwoord"];
    return element("span", `relevance relevance-${level}`, words);
  }

  function pageWords(citation) {
    if (citation.page === null || citation.page === undefined) return null;
    const last = citation.page_end ?? null;
    return last === null || String(last) === String(citation.page) ? `pagina ${citation.page}` : `pagina ${citation.page}–${last}`;
  }

  function lineWords(citation) {
    return citation.line_start === citation.line_end
      ? `regel ${citation.line_start}`
      : `regels ${citation.line_start}–${citation.line_end}`;
  }

  function whereWords(citation) {
    return citation.title + (citation.section.length ? ` › ${citation.section[citation.section.length - 1]}` : "");
  }

  // [1] Title, pagina 9: a short chip that opens the cited lines.
  function sourceChip(passage) {
    const { citation } = passage;
    const chip = element("a", "source-chip");
    chip.href = citation.url;
    const page = pageWords(citation);
    chip.setAttribute("aria-label", `Bron ${passage.rank}: ${[citation.title, page, lineWords(citation)].filter(Boolean).join(", ")}`);
    chip.append(element("span", "chip-number", `[${passage.rank}]`), " ", element("span", "chip-title", citation.title));
    if (page) chip.append(element("span", "chip-page", `, ${page}`));
    return chip;
  }

  // The passage as a card: its number, how likely it answers, the quote, the full citation.
  function sourceCard(passage, markSentence) {
    const { citation } = passage;
    const card = element("div", "source");
    const head = element("p", "source-head");
    head.append(element("span", "source-number", String(passage.rank)), " ", relevance(passage.confidence));
    const line = element("p", "citation");
    const lines = element("a", null, lineWords(citation));
    lines.href = citation.url;
    line.append(element("span", "visually-hidden", "Bron: "), element("span", "cite-where", whereWords(citation)), ", ");
    const page = pageWords(citation);
    if (page) line.append(`${page}, `);
    line.append(lines);
    if (citation.pdf_url) {
      // The original at the cited page, named as printed (the file's own page where none is).
      const original = element("a", "original-link", `Open de PDF op pagina ${citation.page ?? citation.pdf_page}`);
      original.href = citation.pdf_url;
      line.append(" · ", original);
    }
    card.append(head, passageText(passage, markSentence), line);
    return card;
  }

  function folded(summary, passages, open) {
    const more = element("details", "more-passages");
    more.open = Boolean(open);
    const list = element("ol", "source-list");
    for (const passage of passages) {
      const item = element("li");
      item.append(sourceCard(passage, false));
      list.append(item);
    }
    more.append(element("summary", null, summary), list);
    return more;
  }

  function showAnswer(exchange, record) {
    const { answer } = record;
    if (answer.context) {
      const questions = answer.context.questions;
      exchange.append(element("p", "understood", `Begrepen als vervolg op: ${questions[questions.length - 1]}`));
    }
    const container = element("div", "answer");
    const [best, ...others] = answer.passages;
    if (!best) {
      container.append(element("p", "problem", "Er is geen passage gevonden die bij deze vraag past. Probeer het met andere woorden."));
    } else if (answer.answered === false) {
      // Nothing is likely to answer: say so, and keep the nearest passages out of the way.
      container.append(
        element("p", "not-found", "Dit staat niet in de documenten die ik kan doorzoeken."),
        element("p", "hint", "Probeer het met andere woorden, of kijk of een van deze passages toch helpt."),
        folded("Misschien verwant", answer.passages, record.open),
      );
    } else {
      const sources = element("p", "sources");
      sources.append(element("span", "visually-hidden", "Bronnen: "));
      for (const passage of shownFirst(answer)) sources.append(sourceChip(passage), " ");
      container.append(
        element("p", "answer-sentence", slice(best.text, best.highlight.start, best.highlight.end).trim()),
        sources,
        sourceCard(best, true),
      );
      if (others.length) {
        container.append(folded(others.length === 1 ? "1 andere passage" : `${others.length} andere passages`, others, record.open));
      }
    }
    exchange.append(container);
  }

  // The passages an answer shows first: the answering one, and any other that probably answers too.
  function shownFirst(answer) {
    if (answer.answered === false) return [];
    return answer.passages.filter((passage, i) => i === 0 || passage.confidence >= LIKELY);
  }

  function summary(answer) {
    const [best] = answer.passages;
    if (!best || answer.answered === false) return "Niet gevonden in de documenten.";
    const { citation } = best;
    return `Antwoord gevonden in ${citation.title}, ${pageWords(citation) ?? lineWords(citation)}.`;
  }

  function announce(text) {
    announcer.textContent = "";
    requestAnimationFrame(() => { announcer.textContent = text; }); // the same words twice are told twice
  }

  function addExchange(question, index) {
    const exchange = element("section", "exchange");
    exchange.dataset.index = String(index);
    const heading = element("h2", "bubble");
    heading.id = `exchange-${index}`;
    heading.append(element("span", "visually-hidden", "Uw vraag: "), question);
    exchange.setAttribute("aria-labelledby", heading.id);
    exchange.append(heading);
    conversation.append(exchange);
    if (suggestions) suggestions.hidden = true;
    newConversationButton.hidden = false;
    return exchange;
  }

  function showRecord(record, index) {
    const exchange = addExchange(record.question, index);
    if (record.answer) showAnswer(exchange, record);
    else exchange.append(element("p", "problem", record.problem));
    return exchange;
  }

  // Only the conversation scrolls: never scrollIntoView, which scrolls the window as well.
  function scrollTo(exchange) {
    conversation.scrollTop = exchange.offsetTop - conversation.clientTop - 8;
  }

  function scrollToEnd() {
    conversation.scrollTop = conversation.scrollHeight;
  }

  function failureMessage(status, question, retryAfter) {
    const length = Array.from(question).length;
    if ((status === 400 || status === 413) && length > maxQuestionChars) {
      return tooLongMessage(length);
    }
    if (status === 400) {
      return "Deze vraag kan niet worden verwerkt. Gebruik gewone tekst, zonder stuurtekens, en probeer het opnieuw.";
    }
    if (status === 429) {
      const seconds = Number.parseInt(retryAfter ?? "", 10);
      const wait = seconds > 0 ? `over ${seconds} ${seconds === 1 ? "seconde" : "seconden"}` : "zo meteen";
      return `U hebt kort na elkaar veel vragen gesteld. Stel uw vraag ${wait} opnieuw.`;
    }
    if (status === 503) {
      return "De dienst kan nu geen vragen beantwoorden: de documenten zijn nog niet geïndexeerd. Probeer het later opnieuw.";
    }
    return `Er ging iets mis bij de dienst (foutcode ${status}). Probeer het zo meteen opnieuw.`;
  }

  function tooLongMessage(length) {
    return `Uw vraag is te lang: ${length} tekens, en er mogen er hoogstens ${maxQuestionChars} zijn. Maak hem korter en verstuur hem opnieuw.`;
  }

  async function fetchAnswer(question, history) {
    let response;
    try {
      response = await fetch(askUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(history.length ? { question, mode: "hybrid", history } : { question, mode: "hybrid" }),
      });
    } catch {
      throw new Problem("De dienst is niet bereikbaar. Controleer de verbinding en probeer het opnieuw.");
    }
    if (!response.ok) {
      throw new Problem(failureMessage(response.status, question, response.headers.get("Retry-After")));
    }
    try {
      return await response.json();
    } catch {
      throw new Problem("Het antwoord van de dienst was onleesbaar. Probeer het opnieuw.");
    }
  }

  function rememberedExchanges() {
    try {
      const records = JSON.parse(sessionStorage.getItem(STORAGE_KEY));
      return Array.isArray(records) ? records : [];
    } catch {
      return [];
    }
  }

  function store(records) {
    try {
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify(records));
    } catch {
      // Storage full or switched off: the exchange is on the page, it only won't survive a reload.
    }
  }

  // The last turns that got an answer, oldest first, each with the passages it showed first.
  function history(records) {
    return records.filter((record) => record.answer).slice(-HISTORY_TURNS).map((record) => {
      const passages = shownFirst(record.answer).map((passage) => passage.id);
      return passages.length ? { question: record.question, passages } : { question: record.question };
    });
  }

  function showFormProblem(message) {
    clearFormProblem();
    const notice = element("p", "problem form-problem", message);
    notice.id = "ask-problem";
    notice.setAttribute("role", "alert");
    form.prepend(notice);
  }

  function clearFormProblem() {
    document.getElementById("ask-problem")?.remove();
  }

  function updateCounter() {
    const length = Array.from(questionBox.value).length;
    counter.textContent = length >= COUNT_FROM ? `${length} van ${maxQuestionChars} tekens` : "";
    counter.classList.toggle("over", length > maxQuestionChars);
    questionBox.setAttribute("aria-invalid", String(length > maxQuestionChars));
    // The box grows with what is typed, up to the height the style sheet allows.
    questionBox.style.height = "auto";
    questionBox.style.height = `${questionBox.scrollHeight + questionBox.offsetHeight - questionBox.clientHeight}px`;
  }

  async function ask(typed) {
    if (busy) return;
    questionBox.focus(); // a click on the button would otherwise leave the focus there, or on <body>
    clearFormProblem();
    const question = typed.trim();
    if (!question) {
      showFormProblem("Typ eerst een vraag; een lege vraag kan niet worden beantwoord.");
      return;
    }
    const length = Array.from(question).length;
    if (length > maxQuestionChars) {
      showFormProblem(tooLongMessage(length));
      return;
    }
    busy = true;
    sendButton.setAttribute("aria-disabled", "true");
    const records = rememberedExchanges();
    const exchange = addExchange(question, records.length);
    const waiting = element("p", "busy", "Bezig met zoeken in de documenten…");
    exchange.append(waiting);
    scrollToEnd();
    let record;
    try {
      const answer = await fetchAnswer(question, history(records));
      record = { question, answer };
      waiting.remove();
      showAnswer(exchange, record);
      announce(summary(answer));
      if (questionBox.value.trim() === question) questionBox.value = "";
      updateCounter();
    } catch (error) {
      const message = error instanceof Problem ? error.message : "Er ging iets mis op deze pagina. Probeer het opnieuw.";
      record = { question, problem: message };
      waiting.remove();
      exchange.append(element("p", "problem", message));
      announce(message);
    } finally {
      busy = false;
      sendButton.removeAttribute("aria-disabled");
    }
    store([...rememberedExchanges(), record]);
    scrollTo(exchange);
  }

  function startNewConversation() {
    sessionStorage.removeItem(STORAGE_KEY);
    sessionStorage.removeItem(RETURN_KEY);
    for (const item of conversation.querySelectorAll(":scope > .exchange")) item.remove();
    if (suggestions) suggestions.hidden = false;
    newConversationButton.hidden = true;
    clearFormProblem();
    announce("Nieuw gesprek begonnen.");
    questionBox.focus();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ask(questionBox.value);
  });
  questionBox.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  questionBox.addEventListener("input", updateCounter);
  suggestions?.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-question]");
    if (!button) return;
    questionBox.value = button.dataset.question;
    ask(questionBox.value);
  });
  newConversationButton.addEventListener("click", startNewConversation);
  // Coming back from a citation returns to the exchange it was followed from, folded as it was.
  conversation.addEventListener("click", (event) => {
    const exchange = event.target.closest("a[href]")?.closest(".exchange");
    if (exchange) sessionStorage.setItem(RETURN_KEY, exchange.dataset.index);
  });
  conversation.addEventListener("toggle", (event) => {
    const exchange = event.target.closest(".exchange");
    if (!exchange) return;
    const records = rememberedExchanges();
    const record = records[Number(exchange.dataset.index)];
    if (!record) return;
    record.open = event.target.open;
    store(records);
  }, true);

  const records = rememberedExchanges();
  const shown = records.map(showRecord);
  const returnTo = shown[Number(sessionStorage.getItem(RETURN_KEY) ?? -1)];
  sessionStorage.removeItem(RETURN_KEY);
  if (returnTo) scrollTo(returnTo);
  else if (shown.length) scrollTo(shown[shown.length - 1]);
  updateCounter();
})();
