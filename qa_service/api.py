"""The Flask app: `create_app(settings)`, the JSON API, and JSON errors for every failure."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from .config import Settings
from .embedder import Embedder, load_embedder
from .index import IndexUnavailableError, LiveIndex
from .openapi import Operation, openapi_document
from .schemas import (
    AskRequest,
    AskResponse,
    DocumentsResponse,
    ErrorResponse,
    HealthResponse,
    answer_response,
    describe_validation_error,
)
from .search import Searcher

log = logging.getLogger("qa_service")

ASK_BODY_LIMIT = 64 * 1024  # a question is at most 1000 characters; anything far larger is not one


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Service:
    """What the routes work with; one per app."""

    settings: Settings
    embedder: Embedder
    live_index: LiveIndex
    searcher: Searcher


def service() -> Service:
    return current_app.extensions["qa_service"]


api = Blueprint("api", __name__)

_errors = {400: ErrorResponse, 413: ErrorResponse, 415: ErrorResponse, 503: ErrorResponse}
OPERATIONS = [
    Operation("POST", "/ask", "Ask a question; get the passages that answer it, with citations.",
              body=AskRequest, responses={200: AskResponse, **_errors}),
    Operation("GET", "/ask", "The same as POST /ask, with the question in `q`.",
              query=AskRequest, query_names={"question": "q"},
              responses={200: AskResponse, 400: ErrorResponse, 503: ErrorResponse}),
    Operation("GET", "/health", "Whether the service can answer: passages, generation, model.",
              responses={200: HealthResponse, 503: ErrorResponse}),
    Operation("GET", "/documents", "The indexed documents with their title and passage count "
              "(JSON with Accept: application/json, a page otherwise).",
              responses={200: DocumentsResponse, 503: ErrorResponse}),
    Operation("GET", "/openapi.json", "This description of the API.",
              responses={200: {"application/json": {"type": "object"}}}),
]


def error_response(status: int, code: str, message: str) -> Response:
    response = jsonify(ErrorResponse.model_validate({"error": {"code": code, "message": message}}).model_dump())
    response.status_code = status
    return response


def validated(model: type[BaseModel], payload: dict) -> BaseModel:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise ApiError(400, "invalid_request", describe_validation_error(exc)) from None


class _DuplicateKey(ValueError):
    pass


def _reject_duplicates(pairs: list[tuple[str, object]]) -> dict:
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def read_json_object() -> dict:
    """The request body as a JSON object, or an ApiError that says what is wrong with it."""
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type",
                       'send JSON with the header Content-Type: application/json, e.g. {"question": "…"}.')
    raw = request.get_data(cache=False)
    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=_reject_duplicates)
    except _DuplicateKey as exc:
        raise ApiError(400, "invalid_json", f"the key {str(exc)!r} appears twice in the body.") from None
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_json", "the body is not valid UTF-8.") from None
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_json", 'the body must be a JSON object, e.g. {"question": "…"}.')
    return value


def _answer(ask: AskRequest) -> Response:
    answer = service().searcher.ask(ask.question.strip(), top_k=ask.top_k, mode=ask.mode)
    return jsonify(answer_response(answer).model_dump(mode="json"))


@api.post("/ask")
def ask_post():
    return _answer(validated(AskRequest, read_json_object()))


@api.get("/ask")
def ask_get():
    payload: dict = {}
    if "q" in request.args:
        payload["question"] = request.args["q"]
    if "top_k" in request.args:
        value = request.args["top_k"].strip()
        payload["top_k"] = int(value) if re.fullmatch(r"[+-]?\d{1,9}", value) else value
    if "mode" in request.args:
        payload["mode"] = request.args["mode"]
    return _answer(validated(AskRequest, payload))


@api.get("/health")
def health():
    current = service()
    generation = current.live_index.current()
    manifest = generation.manifest
    body = HealthResponse(
        status="ok", passages=generation.passage_count, documents=int(manifest["documents"]),
        generation=generation.name, model=manifest["model"], index_type=manifest["index_type"],
    )
    return jsonify(body.model_dump())


@api.get("/openapi.json")
def openapi():
    return jsonify(openapi_document(OPERATIONS, "qa_service"))


def _limit_question_bodies():
    if request.endpoint == "api.ask_post":
        request.max_content_length = ASK_BODY_LIMIT


def _register_errors(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return error_response(error.status, error.code, error.message)

    @app.errorhandler(IndexUnavailableError)
    def index_unavailable(error: IndexUnavailableError):
        return error_response(503, "index_unavailable", str(error))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = re.sub(r"\W+", "_", (error.name or "error").lower()).strip("_")
        messages = {
            404: f"there is nothing at {request.path}; see /openapi.json for the API.",
            405: f"{request.method} is not allowed on {request.path}; use {', '.join(sorted(error.valid_methods or []))}." if getattr(error, "valid_methods", None) else f"{request.method} is not allowed here.",
            413: "the request body is too large.",
        }
        response = error_response(error.code or 500, code, messages.get(error.code, error.description or error.name))
        if error.code == 405 and getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "something went wrong on our side; the error has been logged.")


def create_app(settings: Settings | None = None, embedder: Embedder | None = None) -> Flask:
    """The whole service as a Flask app; loads the model, and the index if one is built."""
    settings = settings or Settings.from_env()
    embedder = embedder or load_embedder(settings)
    live_index = LiveIndex(settings, embedder)
    app = Flask(__name__, static_folder=None)  # /static/ is the web blueprint's: the pages' CSS and JS
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_mb * 1024 * 1024
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.extensions["qa_service"] = Service(settings, embedder, live_index, Searcher(embedder, live_index))
    app.before_request(_limit_question_bodies)
    app.register_blueprint(api)
    from .web import web  # imported here because the pages use this module's service()

    app.register_blueprint(web)
    _register_errors(app)
    embedder.embed_queries(["warm-up"])  # the first call of a model is slow; pay it at start-up
    try:
        live_index.current()
    except IndexUnavailableError as exc:
        log.warning("%s", exc)
    return app
