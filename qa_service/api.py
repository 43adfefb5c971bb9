"""The Flask app: `create_app(settings)`, the JSON API, and JSON errors for every failure."""

from __future__ import annotations

import functools
import hmac
import ipaddress
import json
import logging
import re
import time
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .confidence import confidence_model_for
from .config import Settings
from .corpus import (
    ChangeRefused,
    NameTakenError,
    NewDocument,
    UnknownDocumentError,
    UnreadableDocumentError,
    UnsafeNameError,
    UnsupportedTypeError,
    change_corpus,
    document_name,
)
from .documents import corpus_files
from .embedder import Embedder, load_embedder
from .headers import add_security_headers, never_cache
from .index import (
    BuildInProgressError,
    BuildReport,
    EmptyCorpusError,
    IndexUnavailableError,
    LiveIndex,
    RayClusterError,
    build_index,
)
from .metrics import ServiceMetrics
from .openapi import Operation, openapi_document
from .rate_limit import ASK_ENDPOINTS, limit_questions, rate_limited_message, retry_after
from .request_log import log_request
from .schemas import (
    VIEWER_LINES,
    AskQuery,
    AskRequest,
    AskResponse,
    BuildOut,
    CorpusChangeResponse,
    DocumentPart,
    DocumentReplacement,
    DocumentsResponse,
    DocumentUpload,
    ErrorResponse,
    HealthResponse,
    RebuildRequest,
    answer_response,
    build_response,
    change_response,
    describe_validation_error,
)
from .search import Searcher

log = logging.getLogger("qa_service")

# The body every route but the uploads accepts: a question with five earlier turns is at most
# 6,000 characters (24 KB in the widest UTF-8) and their passage ids, and a rebuild request a
# flag, so anything far larger is not one of them.
BODY_LIMIT = 64 * 1024


class ForwardedFor:
    """The client's address from X-Forwarded-For, for requests that come from a trusted proxy.

    The header is read from the right: each trusted proxy appends the address it saw, so the
    first address from the right that is not a trusted proxy is the client; what the client
    wrote itself stands further left and is not believed. A value that is not an IP address
    leaves the peer's address in place. Without trusted proxies the header is ignored, so
    nobody picks their own address to dodge the rate limit.
    """

    def __init__(self, app, networks):
        self.app = app
        self.networks = networks

    def __call__(self, environ, start_response):
        if self._trusted(environ.get("REMOTE_ADDR", "")):
            client = self._client(environ.get("HTTP_X_FORWARDED_FOR", ""))
            if client:
                environ["REMOTE_ADDR"] = client
        return self.app(environ, start_response)

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def _client(self, header: str) -> str | None:
        hops = [hop.strip() for hop in header.split(",") if hop.strip()]
        for hop in reversed(hops):
            try:
                ip = ipaddress.ip_address(hop)
            except ValueError:
                return None
            if not any(ip in network for network in self.networks):
                return str(ip)
        return str(ipaddress.ip_address(hops[0])) if hops else None


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


@dataclass
class Service:
    """What the routes work with; one per app."""

    settings: Settings
    embedder: Embedder
    live_index: LiveIndex
    searcher: Searcher
    metrics: ServiceMetrics
    limiter: Limiter | None  # None when QA_RATE_LIMIT is empty


def service() -> Service:
    return current_app.extensions["qa_service"]


api = Blueprint("api", __name__)

PAGE = {"text/html": {"type": "string"}}
# A corpus file as it was added, in its own media type.
ORIGINAL = {media_type: {"type": "string", "format": "binary"} for media_type in (
    "application/pdf", "text/plain", "text/markdown", "text/html",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document")}


def json_or_page(model: type[BaseModel]) -> dict:
    """JSON with Accept: application/json, an HTML page otherwise."""
    return {"application/json": model, **PAGE}


# 414: a URL longer than the server reads (gunicorn refuses it before the app sees it).
_long_url = {414: ErrorResponse}
_errors = {400: ErrorResponse, 413: ErrorResponse, 415: ErrorResponse, 429: ErrorResponse, 503: ErrorResponse}
_admin_errors = {401: ErrorResponse, 403: ErrorResponse, 409: ErrorResponse, 503: ErrorResponse}
_upload_errors = {**_admin_errors, 400: ErrorResponse, 413: ErrorResponse, 415: ErrorResponse, 422: ErrorResponse}
OPERATIONS = [
    Operation("POST", "/ask", "Ask a question; get the passages that answer it, with citations.",
              body=AskRequest, responses={200: AskResponse, **_errors}),
    Operation("GET", "/ask", "The same as POST /ask without history, with the question in `q`.",
              query=AskQuery, query_names={"question": "q"},
              responses={200: AskResponse, 400: ErrorResponse, **_long_url, 429: ErrorResponse, 503: ErrorResponse}),
    Operation("GET", "/health", "Whether the service can answer: passages, generation, model.",
              responses={200: HealthResponse, 503: ErrorResponse}),
    Operation("GET", "/documents", "The indexed documents with their title and passage count "
              "(JSON with Accept: application/json, a page otherwise).",
              responses={200: json_or_page(DocumentsResponse), 503: json_or_page(ErrorResponse)}),
    Operation("GET", "/documents/<path:name>", "A document as it was indexed, every line numbered (a page), "
              f"{VIEWER_LINES} lines at a time.",
              path_parameters=("name",), query=DocumentPart,
              responses={200: PAGE, 400: ErrorResponse, 404: json_or_page(ErrorResponse), **_long_url,
                         503: json_or_page(ErrorResponse)}),
    Operation("GET", "/documents/<path:name>/original", "The document's file as it was added, unchanged and shown "
              "inline; a PDF opens at the page that #page=N names.",
              path_parameters=("name",),
              responses={200: ORIGINAL, 404: json_or_page(ErrorResponse), **_long_url, 503: json_or_page(ErrorResponse)}),
    Operation("GET", "/", "The chat page.", responses={200: PAGE}),
    Operation("GET", "/favicon.ico", "The service's icon (SVG).", responses={200: {"image/svg+xml": {"type": "string"}}}),
    Operation("GET", "/openapi.json", "This description of the API.",
              responses={200: {"application/json": {"type": "object"}}}),
    Operation("GET", "/metrics", "Requests, question latency, the live index and builds, in Prometheus' text format.",
              responses={200: {"text/plain": {"type": "string"}}}),
    Operation("POST", "/documents", "Add documents; answers once the index that holds them is live.",
              body=DocumentUpload, body_media_type="multipart/form-data",
              responses={201: CorpusChangeResponse, **_upload_errors}, admin=True),
    Operation("PUT", "/documents/<path:name>", "Replace a document with a new version; answers once it is live.",
              body=DocumentReplacement, body_media_type="multipart/form-data", path_parameters=("name",),
              responses={200: CorpusChangeResponse, 404: ErrorResponse, **_long_url, **_upload_errors}, admin=True),
    Operation("DELETE", "/documents/<path:name>", "Remove a document from the corpus and the index.",
              path_parameters=("name",),
              responses={200: CorpusChangeResponse, 404: ErrorResponse, **_long_url, **_admin_errors},
              admin=True),
    Operation("POST", "/index/rebuild", "Bring the index up to date with the corpus, or re-embed everything.",
              body=RebuildRequest,
              responses={200: BuildOut, 400: ErrorResponse, 413: ErrorResponse, 415: ErrorResponse, **_admin_errors},
              admin=True),
]

# Why a change was refused -> (status, code). Nothing was changed in any of these cases.
REFUSALS = {
    UnsafeNameError: (400, "unsafe_name"),
    UnsupportedTypeError: (415, "unsupported_type"),
    UnreadableDocumentError: (422, "unreadable_document"),
    NameTakenError: (409, "name_taken"),
    UnknownDocumentError: (404, "unknown_document"),
}


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
    if request.content_length is None and len(raw) >= BODY_LIMIT:
        # A chunked body is cut at the limit as it is read, not refused: refuse it here.
        raise RequestEntityTooLarge()
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


def _answer(ask: AskQuery) -> Response:
    g.question = ask.question  # for the request's log line, where QA_LOG_QUESTIONS=1 allows it
    current = service()
    history = ask.turns() if isinstance(ask, AskRequest) else []
    answer = current.searcher.ask(ask.question.strip(), top_k=ask.top_k, mode=ask.mode, history=history)
    g.answered = answer.answered
    if not answer.answered:
        current.metrics.observe_unanswered()
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
    return _answer(validated(AskQuery, payload))


@api.get("/health")
def health():
    current = service()
    generation = current.live_index.current()
    manifest = generation.manifest
    confidence = current.searcher.confidence
    body = HealthResponse(
        status="ok", passages=generation.passage_count, documents=int(manifest["documents"]),
        generation=generation.name, model=manifest["model"], index_type=manifest["index_type"],
        confidence=f"fitted for {confidence.model}" if confidence.fitted else
        f"lexical rule: no calibration is fitted for {manifest['model']} (qa-service calibrate fits one)",
    )
    return jsonify(body.model_dump())


@api.get("/openapi.json")
def openapi():
    return jsonify(openapi_document(OPERATIONS, "qa_service"))


@api.get("/metrics")
def metrics():
    current = service()
    try:
        current.live_index.current()  # the figures of the index this worker would answer from now
    except IndexUnavailableError:
        pass  # no index yet: the metrics say so by leaving the index figures out
    body, content_type = current.metrics.exposition()
    return Response(body, content_type=content_type)


# --- admin ---------------------------------------------------------------------------------


def admin_only(view):
    """Let the request through only with `Authorization: Bearer <QA_ADMIN_TOKEN>`."""

    @functools.wraps(view)
    def checked(*args, **kwargs):
        token = service().settings.admin_token
        if not token:
            raise ApiError(403, "admin_disabled",
                           "the admin routes are switched off: set QA_ADMIN_TOKEN to a long random secret, restart "
                           "the service, and send it as the header 'Authorization: Bearer <token>'.")
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise ApiError(401, "unauthorized", "this route needs the admin token: send the header "
                           "'Authorization: Bearer <token>' with the value of QA_ADMIN_TOKEN.",
                           {"WWW-Authenticate": 'Bearer realm="qa_service"'})
        if not hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8")):
            raise ApiError(401, "invalid_token", "the admin token is wrong; send the value of QA_ADMIN_TOKEN.",
                           {"WWW-Authenticate": 'Bearer realm="qa_service", error="invalid_token"'})
        return view(*args, **kwargs)

    return never_cache(checked)


UPLOADS = {"api.add_documents", "api.replace_document"}


def uploaded_files() -> list:
    """The files of a multipart upload in the field `file`, or an ApiError saying how to send them."""
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type",
                       "send the file as multipart/form-data in the field 'file', e.g. curl -F file=@rapport.pdf.")
    files = request.files.getlist("file")
    if not files:
        raise ApiError(400, "no_file", "the upload holds no field 'file'; send each file as file=@name.")
    return files


def _built(report: BuildReport, what: str) -> None:
    service().metrics.observe_build(report)
    log.info("%s: %s", what, report.summary().replace("\n", "; "))


def _change(**change) -> CorpusChangeResponse:
    current = service()
    result = change_corpus(current.settings, current.embedder, wait=False, **change)
    _built(result.report, "corpus changed")
    return change_response(result)


@api.post("/documents")
@admin_only
def add_documents():
    files = uploaded_files()
    documents = [NewDocument(document_name(f.filename or ""), f.stream) for f in files]
    return jsonify(_change(add=documents).model_dump(mode="json")), 201


@api.put("/documents/<path:name>")
@admin_only
def replace_document(name: str):
    files = uploaded_files()
    if len(files) != 1:
        raise ApiError(400, "one_file", "send exactly one file, the new version of the document.")
    if name not in {known for _, known in corpus_files(service().settings.corpus_dir)}:
        raise ApiError(404, "unknown_document", f"{name} is not in the corpus; add it with POST /documents.")
    return jsonify(_change(add=[NewDocument(name, files[0].stream)], replace=True).model_dump(mode="json"))


@api.delete("/documents/<path:name>")
@admin_only
def remove_document(name: str):
    return jsonify(_change(remove=[name]).model_dump(mode="json"))


@api.post("/index/rebuild")
@admin_only
def rebuild():
    rebuild_request = validated(RebuildRequest, read_json_object() if request.get_data(cache=True) else {})
    current = service()
    report = build_index(current.settings, current.embedder, full=rebuild_request.full, wait=False)
    _built(report, "index rebuilt")
    return jsonify(build_response(report).model_dump(mode="json"))


def _start_clock():
    g.started = time.perf_counter()


def _limit_bodies():
    """Uploads may be as large as QA_MAX_UPLOAD_MB; every other route takes BODY_LIMIT. A body
    that says it is larger is refused before a byte of it is read."""
    if request.endpoint not in UPLOADS:
        request.max_content_length = BODY_LIMIT
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()


def _observe(response: Response) -> Response:
    """The request's metrics and log line, and the headers every response carries."""
    current = service()
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    route = request.url_rule.rule if request.url_rule else None
    current.metrics.observe_request(route, request.method, response.status_code, seconds,
                                    asked=request.endpoint in ASK_ENDPOINTS)
    question = g.get("question") if current.settings.log_questions else None
    log_request(request.method, request.path, response.status_code, seconds, request.remote_addr, question,
                g.get("answered"))
    return add_security_headers(response)


def _register_errors(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        response = error_response(error.status, error.code, error.message)
        response.headers.update(error.headers)
        return response

    @app.errorhandler(RateLimitExceeded)
    def rate_limited(error: RateLimitExceeded):
        seconds = retry_after(service().limiter)
        response = error_response(429, "rate_limited", rate_limited_message(error, seconds))
        response.headers["Retry-After"] = str(seconds)
        return response

    @app.errorhandler(ChangeRefused)
    def change_refused(error: ChangeRefused):
        status, code = REFUSALS.get(type(error), (400, "invalid_change"))
        return error_response(status, code, str(error))

    @app.errorhandler(BuildInProgressError)
    def build_in_progress(error: BuildInProgressError):
        return error_response(409, "build_in_progress", str(error))

    @app.errorhandler(RayClusterError)
    def cluster_unavailable(error: RayClusterError):
        log.error("build on Ray failed: %s", error)
        return error_response(503, "build_cluster_unavailable", str(error))

    @app.errorhandler(EmptyCorpusError)
    def empty_corpus(error: EmptyCorpusError):
        return error_response(409, "empty_corpus", str(error))

    @app.errorhandler(IndexUnavailableError)
    def index_unavailable(error: IndexUnavailableError):
        return error_response(503, "index_unavailable", str(error))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = re.sub(r"\W+", "_", (error.name or "error").lower()).strip("_")
        messages = {
            404: f"there is nothing at {request.path}; see /openapi.json for the API.",
            405: f"{request.method} is not allowed on {request.path}; use {', '.join(sorted(error.valid_methods or []))}." if getattr(error, "valid_methods", None) else f"{request.method} is not allowed here.",
            413: f"the upload is larger than {service().settings.max_upload_mb} MB: split the file, or raise "
                 "QA_MAX_UPLOAD_MB." if request.endpoint in UPLOADS else
                 f"the request body is larger than {BODY_LIMIT // 1024} KB, more than {request.path} takes; "
                 "a question is at most 1000 characters.",
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
    metrics = ServiceMetrics(settings.metrics_dir)
    live_index = LiveIndex(settings, embedder, on_switch=metrics.observe_generation)
    app = Flask(__name__, static_folder=None)  # /static/ is the web blueprint's: the pages' CSS and JS
    if settings.trusted_proxy_addresses:
        app.wsgi_app = ForwardedFor(app.wsgi_app, settings.trusted_proxy_networks)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_mb * 1024 * 1024
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.before_request(_start_clock)  # first, so that even a request refused by the next ones is timed
    app.before_request(_limit_bodies)
    limiter = limit_questions(app, settings)
    confidence = confidence_model_for(embedder.name, str(settings.calibration_file or ""))
    app.extensions["qa_service"] = Service(settings, embedder, live_index, Searcher(embedder, live_index, confidence),
                                           metrics, limiter)
    app.after_request(_observe)
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
