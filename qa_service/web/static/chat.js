// The chat page: sends questions to /ask and shows the cited passages that answer them.
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
  const askUrl = form.dataset.askUrl;
  const maxQuestionChars = Number(form.dataset.maxQuestionChars);
  // The conversation survives following a citation and coming back, for as long as the tab lives.
  const STORAGE_KEY = "qa-service.conversation";
  let busy = false;

  class Problem extends Error {}

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The passage with its best sentence in <mark> and the question's words in <strong>. The
  // API's offsets count code points, as Array.from does (a JS string index counts UTF-16 units).
  function passageText(passage) {
    const characters = Array.from(passage.text);
    const { start: sentenceStart, end: sentenceEnd } = passage.highlight;
    const cuts = new Set([0, characters.length, sentenceStart, sentenceEnd]);
    for (const term of passage.terms) {
      cuts.add(term.start);
      cuts.add(term.end);
    }
    const points = [...cuts].filter((p) => p >= 0 && p <= characters.length).sort((a, b) => a - b);
    const quote = element("blockquote", "passage-text");
    let sentence = null;
    for (let i = 0; i + 1 < points.length; i++) {
      const from = points[i];
      const to = points[i + 1];
      const text = characters.slice(from, to).join("");
      const isTerm = passage.terms.some((term) => term.start <= from && to <= term.end);
      const piece = isTerm ? element("strong", "term", text) : document.createTextNode(text);
      if (sentenceStart <= from && to <= sentenceEnd) {
        if (!sentence) {
          sentence = element("mark", "highlight");
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
    const [level, words] = confidence >= 0.6
      ? ["high", "beantwoordt uw vraag waarschijnlijk"]
      : confidence >= 0.3
        ? ["medium", "beantwoordt uw vraag misschien"]
        : ["low", "verwant, geen duidelijk antwoord"];
    return element("span", `relevance relevance-${level}`, words);
  }

  function citation(passage) {
    const line = element("p", "citation");
    const link = element("a", null, passage.citation.label);
    link.href = passage.citation.url;
    line.append(element("span", "visually-hidden", "Bron: "), link, " ", relevance(passage.confidence));
    if (passage.citation.pdf_url) {
      // The original at the cited page, named as printed (the file's own page where none is).
      const page = passage.citation.page ?? passage.citation.pdf_page;
      const original = element("a", "original-link", `Open de PDF op pagina ${page}`);
      original.href = passage.citation.pdf_url;
      line.append(" ", original);
    }
    return line;
  }

  function passageList(passages) {
    const list = element("ol");
    for (const passage of passages) {
      const item = element("li");
      item.append(passageText(passage), citation(passage));
      list.append(item);
    }
    return list;
  }

  function folded(summary, passages) {
    const more = element("details", "more-passages");
    more.append(element("summary", null, summary), passageList(passages));
    return more;
  }

  function showAnswer(exchange, answer) {
    const container = element("div", "answer");
    const [best, ...others] = answer.passages;
    if (!best) {
      container.append(element("p", "problem", "Er is geen passage gevonden die bij deze vraag past. Probeer het met andere woorden."));
    } else if (answer.answered === false) {
      // Nothing is likely to answer: say so, and keep the nearest passages out of the way.
      container.append(
        element("p", "not-found", "Dit staat niet in de documenten die ik kan doorzoeken."),
        element("p", "hint", "Probeer het met andere woorden, of kijk of een van deze passages toch helpt."),
        folded("Misschien verwant", answer.passages),
      );
    } else {
      container.append(element("p", "answer-label", "Beste passage"), passageText(best), citation(best));
      if (others.length) {
        container.append(folded(others.length === 1 ? "1 andere passage" : `${others.length} andere passages`, others));
      }
    }
    exchange.append(container);
  }

  function addExchange(question) {
    const exchange = element("article", "exchange");
    const bubble = element("p", "bubble");
    bubble.append(element("span", "visually-hidden", "Uw vraag: "), question);
    exchange.append(bubble);
    conversation.append(exchange);
    if (suggestions) suggestions.hidden = true;
    newConversationButton.hidden = false;
    return exchange;
  }

  function failureMessage(status, question, retryAfter) {
    const length = Array.from(question).length;
    if ((status === 400 || status === 413) && length > maxQuestionChars) {
      return `Uw vraag is te lang: ${length} tekens, en er mogen er hoogstens ${maxQuestionChars} zijn. Maak hem korter en verstuur hem opnieuw.`;
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

  async function fetchAnswer(question) {
    let response;
    try {
      response = await fetch(askUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ question, mode: "hybrid" }),
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
      return JSON.parse(sessionStorage.getItem(STORAGE_KEY)) || [];
    } catch {
      return [];
    }
  }

  function remember(question, answer) {
    try {
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify([...rememberedExchanges(), { question, answer }]));
    } catch {
      // Storage full or switched off: the exchange is on the page, it only won't survive a reload.
    }
  }

  function clearNotices() {
    for (const notice of conversation.querySelectorAll(":scope > .problem")) notice.remove();
  }

  async function ask(typed) {
    if (busy) return;
    clearNotices();
    const question = typed.trim();
    if (!question) {
      const notice = element("p", "problem", "Typ eerst een vraag; een lege vraag kan niet worden beantwoord.");
      conversation.append(notice);
      notice.scrollIntoView({ block: "nearest" });
      questionBox.focus();
      return;
    }
    busy = true;
    sendButton.disabled = true;
    const exchange = addExchange(question);
    const waiting = element("p", "busy", "Bezig met zoeken in de documenten…");
    exchange.append(waiting);
    exchange.scrollIntoView({ block: "end" });
    try {
      const answer = await fetchAnswer(question);
      waiting.remove();
      showAnswer(exchange, answer);
      remember(question, answer);
      if (questionBox.value.trim() === question) questionBox.value = "";
      exchange.scrollIntoView({ block: "start" });
    } catch (error) {
      waiting.remove();
      const message = error instanceof Problem ? error.message : "Er ging iets mis op deze pagina. Probeer het opnieuw.";
      const notice = element("p", "problem", message);
      exchange.append(notice);
      notice.scrollIntoView({ block: "nearest" });
    } finally {
      busy = false;
      sendButton.disabled = false;
    }
  }

  function startNewConversation() {
    sessionStorage.removeItem(STORAGE_KEY);
    for (const item of conversation.querySelectorAll(":scope > .exchange, :scope > .problem")) item.remove();
    if (suggestions) suggestions.hidden = false;
    newConversationButton.hidden = true;
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
  suggestions?.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-question]");
    if (!button) return;
    questionBox.value = button.dataset.question;
    questionBox.focus(); // the suggestions hide, so the focus goes where the next question is typed
    ask(questionBox.value);
  });
  newConversationButton.addEventListener("click", startNewConversation);

  for (const { question, answer } of rememberedExchanges()) showAnswer(addExchange(question), answer);
  conversation.querySelector(".exchange:last-child")?.scrollIntoView({ block: "start" });
})();
