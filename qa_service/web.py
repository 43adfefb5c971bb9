"""The pages people use: the chat at `/`, the list of documents, and the document viewer that
citations link to. HTML from the templates in web/templates, plain CSS and JS from web/static;
their Content-Security-Policy comes from headers.py, with every other response's headers."""

from __future__ import annotations

import codecs
import mimetypes
import re

from flask import Blueprint, abort, jsonify, render_template, request, send_file

from .api import ApiError, error_response, service
from .index import IndexUnavailableError
from .schemas import (
    LINES_PATTERN,
    MAX_QUESTION_CHARS,
    VIEWER_LINES,
    DocumentsResponse,
    document_out,
    document_url,
    original_url,
)

SUGGESTED_TOPICS = 6
# A heading's own numbering ("1 Gemalen", "2.3. Budget", "B. Sahel"), left out of a suggestion.
_HEADING_NUMBER = re.compile(r"^(?:\d{1,2}(?:\.\d+)*\.?|[A-Z]\.|[IVXLC]+\.)\s+")

web = Blueprint("web", __name__, template_folder="web/templates", static_folder="web/static", static_url_path="/static")


def wants_json() -> bool:
    """Whether the client asked for JSON (`Accept: application/json`) rather than a page."""
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


@web.get("/")
def chat():
    try:
        store = service().live_index.current().store
        headings = store.section_headings(SUGGESTED_TOPICS)
        titles = {summary.name: summary.title for summary in store.documents()} if headings else {}
    except IndexUnavailableError:
        headings = []  # the page still loads; asking then says in the chat that there is no index
    return render_template("chat.html", topics=[_topic(heading, titles[name]) for heading, name in headings],
                           max_question_chars=MAX_QUESTION_CHARS)


def _topic(heading: str, title: str) -> dict[str, str]:
    """A suggestion: the heading without its number, the document it comes from, and the
    question that asks about it there (the title steers the search to that document)."""
    topic = _HEADING_NUMBER.sub("", heading).strip() or heading
    return {"heading": topic, "title": title, "question": f"Wat staat er in {title} over {topic}?"}


@web.get("/favicon.ico")
def favicon():
    """The icon, for what browsers ask of a page without a <link rel="icon">: a PDF shown by
    /documents/<name>/original."""
    return web.send_static_file("favicon.svg")


@web.get("/documents")
def documents():
    generation = service().live_index.current()
    listed = generation.store.documents()
    if wants_json():
        body = DocumentsResponse(
            generation=generation.name,
            documents=[document_out(d) for d in listed],
        )
        return jsonify(body.model_dump())
    return render_template("documents.html", documents=listed)


@web.get("/documents/<path:name>")
def document(name: str):
    """A document as indexed, VIEWER_LINES lines at a time: `?lines=A-B` shows the part that
    holds line A (and on to B when the cited lines run past it), the first part without it."""
    asked = request.args.get("lines")
    if asked is not None and not re.fullmatch(LINES_PATTERN, asked):
        raise ApiError(400, "invalid_lines", "lines must be a line number or a range such as 49-50, as a citation's "
                                             "url names them.")
    generation = service().live_index.current()
    summary = generation.store.document(name)
    if summary is None:
        abort(404)
    first, last = _viewer_part(asked or "", summary.lines)
    lines = generation.store.document_lines(name, first, last)
    parts = [(start, min(start + VIEWER_LINES - 1, summary.lines)) for start in range(1, summary.lines + 1, VIEWER_LINES)]
    return render_template(
        "document.html", document=summary, lines=lines, first=first, last=min(last, summary.lines),
        parts=parts if len(parts) > 1 else [], url=document_url(name),
        original=original_url(name) if name.lower().endswith(".pdf") else None,
    )


def _viewer_part(asked: str, total: int) -> tuple[int, int]:
    """The lines to show for `?lines=A-B`: the part of VIEWER_LINES that holds A, reaching on
    to B (at most one more part) so that cited lines across a part's end stay together."""
    match = re.fullmatch(r"(\d+)(?:-(\d+))?", asked)
    wanted = int(match.group(1)) if match else 1
    wanted = min(max(wanted, 1), max(total, 1))
    first = (wanted - 1) // VIEWER_LINES * VIEWER_LINES + 1
    last = first + VIEWER_LINES - 1
    if match and match.group(2):
        last = max(last, min(int(match.group(2)), first + 2 * VIEWER_LINES - 1))
    return first, last


# What a corpus file is served as. Anything but a PDF also gets a sandbox (headers.py), so an
# HTML document, say, opens as an inert page of this origin: no script, no form, no storage.
_MEDIA_TYPES = {".pdf": "application/pdf", ".md": "text/markdown", ".markdown": "text/markdown"}


@web.get("/documents/<path:name>/original")
def original(name: str):
    """The corpus file as it was added, unchanged, shown in the browser (PDFs open at the page an
    address's #page=N names). Only documents the live index lists are served, by their path in
    the corpus folder, so no other file can be named."""
    current = service()
    if current.live_index.current().store.document(name) is None:
        abort(404)
    corpus = current.settings.corpus_dir.resolve()
    path = (corpus / name).resolve()
    if not path.is_relative_to(corpus) or not path.is_file():
        abort(404)  # listed by the index but gone from the folder (a change is under way)
    suffix = path.suffix.lower()
    media_type = _MEDIA_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if media_type.startswith("text/"):
        media_type += "; charset=utf-8" if _is_utf8(path) else "; charset=windows-1252"
    # Content-Disposition: inline, with the file's name for saving it.
    response = send_file(path, mimetype=media_type, as_attachment=False, download_name=path.name, max_age=0)
    response.headers["Content-Type"] = media_type  # as chosen: werkzeug would add a second charset
    return response


def _is_utf8(path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 16):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
        return True
    except UnicodeDecodeError:
        return False


@web.app_errorhandler(404)
def not_found(error):
    """A Dutch page for a browser, JSON for anyone else. The pages answer with a page unless
    JSON is asked for; an unknown address only when the client prefers HTML, as browsers say."""
    name = (request.view_args or {}).get("name") if request.blueprint == "web" else None
    if wants_json() if request.blueprint == "web" else not prefers_page():
        message = (f"there is no document {name!r} in the index; see /documents." if name
                   else f"there is nothing at {request.path}; see /openapi.json for the API.")
        return error_response(404, "not_found", message)
    message = f"Het document ‘{name}’ staat niet in de index." if name else "Deze pagina bestaat niet."
    return render_template("problem.html", heading="Niet gevonden", message=message), 404


def prefers_page() -> bool:
    accepted = request.accept_mimetypes
    return accepted["text/html"] > accepted["application/json"]


@web.errorhandler(IndexUnavailableError)
def index_unavailable(error: IndexUnavailableError):
    if wants_json():
        return error_response(503, "index_unavailable", str(error))
    message = "Er is nog geen index van de documenten gebouwd, dus er valt nog niets te tonen. Probeer het later opnieuw."
    return render_template("problem.html", heading="Nog niet beschikbaar", message=message), 503
