// The document viewer: marks the lines that the address names (#L49-L50, or #L49 for one
// line), as citations link them, and scrolls the first of them into view. The viewer shows a
// long document a part at a time; an address whose lines are in another part goes there.
"use strict";

(() => {
  const note = document.getElementById("cited-range");
  const list = document.querySelector(".lines");
  const shownFirst = Number(list.dataset.first);
  const shownLast = Number(list.dataset.last);

  function showCitedLines() {
    for (const line of document.querySelectorAll(".line.cited")) line.classList.remove("cited");
    const match = /^#L(\d+)(?:-L(\d+))?$/.exec(location.hash);
    note.hidden = true;
    if (!match) return;
    const [first, last] = [Number(match[1]), Number(match[2] || match[1])].sort((a, b) => a - b);
    const asked = `${first}-${last}`;
    if ((first < shownFirst || first > shownLast) && new URLSearchParams(location.search).get("lines") !== asked) {
      location.replace(`${list.dataset.url}?lines=${asked}${location.hash}`);  // once: past the end it stays
      return;
    }
    const cited = [...document.querySelectorAll(".line")].filter((line) => {
      const number = Number(line.id.slice(1));
      return first <= number && number <= last;
    });
    if (!cited.length) return;
    for (const line of cited) line.classList.add("cited");
    // One link to the cited lines (the line numbers are no tab stops): the note, which names them.
    const link = document.createElement("a");
    link.href = location.hash;
    link.textContent = first === last ? `Regel ${first}` : `Regels ${first} tot en met ${last}`;
    link.addEventListener("click", (event) => {
      event.preventDefault();
      goTo(cited[0]);
    });
    note.replaceChildren(link, first === last ? " is gemarkeerd." : " zijn gemarkeerd.");
    note.hidden = false;
    goTo(cited[0]);
  }

  // Focus on the first cited line, so a screen reader reads on from there, and show it.
  function goTo(line) {
    line.tabIndex = -1;
    line.focus({ preventScroll: true });
    line.scrollIntoView({ block: "center" });
  }

  window.addEventListener("hashchange", showCitedLines);
  showCitedLines();
})();
