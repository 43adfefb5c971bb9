"""The pages people use: the chat at `/`, the list of documents, and the document viewer that
citations link to. HTML from the templates in web/templates, plain CSS and JS from web/static;
their Content-Security-Policy comes from headers.py, with every other response's headers."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, request

from .api import error_response, service
from .index import IndexUnavailableError
from .schemas import MAX_QUESTION_CHARS, DocumentsResponse, document_out

SUGGESTED_TOPICS = 6

web = Blueprint("web", __name__, template_folder="web/templates", static_folder="web/static", static_url_path="/static")


def wants_json() -> bool:
    """Whether the client asked for JSON (`Accept: application/json`) rather than a page."""
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


@web.get("/")
def chat():
    try:
        topics = service().live_index.current().store.section_headings(SUGGESTED_TOPICS)
    except IndexUnavailableError:
        topics = []  # the page still loads; asking then says in the chat that there is no index
    return render_template("chat.html", topics=topics, max_question_chars=MAX_QUESTION_CHARS)


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
    generation = service().live_index.current()
    summary = next((d for d in generation.store.documents() if d.name == name), None)
    if summary is None:
        abort(404)
    return render_template("document.html", document=summary, lines=generation.store.document_lines(name))


@web.errorhandler(404)
def not_found(error):
    name = (request.view_args or {}).get("name")
    if wants_json():
        message = f"there is no document {name!r} in the index; see /documents." if name else f"there is nothing at {request.path}."
        return error_response(404, "not_found", message)
    message = f"Het document ‘{name}’ staat niet in de index." if name else "Deze pagina bestaat niet."
    return render_template("problem.html", heading="Niet gevonden", message=message), 404


@web.errorhandler(IndexUnavailableError)
def index_unavailable(error: IndexUnavailableError):
    if wants_json():
        return error_response(503, "index_unavailable", str(error))
    message = "Er is nog geen index van de documenten gebouwd, dus er valt nog niets te tonen. Probeer het later opnieuw."
    return render_template("problem.html", heading="Nog niet beschikbaar", message=message), 503
