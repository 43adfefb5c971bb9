"""The security headers of every response, decided in this one place: pages, JSON, errors, files."""

from __future__ import annotations

from flask import Response, current_app, request

# Pages: scripts, styles and requests only from this service's own files, so an injected
# <script> or onerror= attribute would not run even if some text ever reached a page as HTML.
PAGE_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
# Everything else (JSON, metrics, CSS and JS files) is never a document to render: nothing may load.
DATA_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

# A corpus file served as it was added (/documents/<name>/original): nothing in it may run or
# load, and what is not a PDF opens sandboxed, as a page of no origin (HTML, say).
SANDBOXED_POLICY = DATA_POLICY + "; sandbox"
ORIGINALS = "web.original"

ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a question in a GET /ask URL stays out of other sites' logs
    "X-Frame-Options": "DENY",  # frame-ancestors 'none' for browsers that predate it
}


def never_cache(view):
    """Mark a view whose answers no browser or proxy may keep (Cache-Control: no-store)."""
    view.never_cache = True
    return view


def add_security_headers(response: Response) -> Response:
    if request.endpoint == ORIGINALS and response.status_code < 400:
        policy = DATA_POLICY if response.mimetype == "application/pdf" else SANDBOXED_POLICY
    else:
        policy = PAGE_POLICY if response.mimetype == "text/html" else DATA_POLICY
    response.headers["Content-Security-Policy"] = policy
    response.headers.update(ALWAYS)
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "never_cache", False):
        response.headers["Cache-Control"] = "no-store"
    return response
