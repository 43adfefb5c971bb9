"""The gunicorn worker the server runs: gthread, except that a request is read in the worker's
event loop (non-blocking, through its selector) until it is complete, and only then handed to
a thread. A client that sends its request slowly (a header every few seconds, as a slowloris
attack does) holds a socket, never one of the few threads that answer questions; after
HEADER_SECONDS without a complete request it gets a 408.

Complete means the headers and, when the body is small (what every route but the uploads
takes), the body too. Uploads' bodies are read by the thread, as before: their size is limited
and their route answers 401 without a token before reading them. It also keeps header values
out of gunicorn's own error lines: an `Authorization Bearer <token>` sent without its colon
would otherwise be written to the log (and echoed to the client) whole.
"""

from __future__ import annotations

import errno
import re
import selectors
import time
from functools import partial

from gunicorn import http, util
from gunicorn.http.errors import (
    InvalidHeader,
    InvalidHeaderName,
    InvalidResponseHeader,
    InvalidResponseHeaderName,
    ObsoleteFolding,
)
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import _DEFER, TConn, ThreadWorker

HEADER_SECONDS = 20  # from a request's first byte to its last (headers and small body)
# Bodies up to this size are read before a thread takes the request: the API's limit for every
# route but the uploads (api.BODY_LIMIT), and a little for chunked framing.
BUFFERED_BODY = 64 * 1024 + 4096
READ_SIZE = 64 * 1024

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length[ \t]*:[ \t]*(\d{1,18})[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding[ \t]*:[^\r\n]*chunked", re.IGNORECASE)


class _Incoming:
    """The bytes of a request read so far, and when it must be complete."""

    __slots__ = ("conn", "data", "deadline")

    def __init__(self, conn: TConn, data: bytes):
        self.conn = conn
        self.data = bytearray(data)
        self.deadline = time.monotonic() + HEADER_SECONDS

    def complete(self, head_limit: int) -> bool:
        """Whether a thread can take it now: a whole request, or more than it will ever accept
        (the parser then refuses it at once, with 414 or 431)."""
        end = self.data.find(b"\r\n\r\n")
        if end < 0:
            return len(self.data) > head_limit
        head, body = bytes(self.data[: end + 2]), len(self.data) - end - 4
        if _CHUNKED.search(head):
            return body > BUFFERED_BODY or self.data.endswith(b"0\r\n\r\n")
        length = _CONTENT_LENGTH.search(head)
        return length is None or int(length.group(1)) > BUFFERED_BODY - 4096 or body >= int(length.group(1))


class SlowClientWorker(ThreadWorker):
    """gthread whose threads only ever see complete requests (see the module's docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.incoming: dict[TConn, _Incoming] = {}
        self.head_limit = self.cfg.limit_request_line + self.cfg.limit_request_fields * (
            self.cfg.limit_request_field_size + 2) + 4

    def accept(self, listener):
        if self.cfg.is_ssl:  # TLS is read in the threads, as gthread does (the service serves plain HTTP)
            return super().accept(listener)
        try:
            client, address = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            raise
        self.nr_conns += 1
        conn = TConn(self.cfg, client, address, listener.getsockname())  # non-blocking
        if negotiation.prior_knowledge_allowed(self.cfg, address):
            return self.enqueue_req(conn)  # HTTP/2 frames are not a request this loop can read
        self._read_request(conn, b"")

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection's next request is read here too, not in a thread."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._read_request(conn, b"")

    def finish_request(self, conn, fs):
        """A request answered: if the client already sent part of the next one (pipelining),
        the rest of it is read here too."""
        if (self.alive and not fs.cancelled() and fs.result() not in (False, None, _DEFER) and not conn.is_http2
                and conn.parser.unreader.buf.getvalue()):
            conn.sock.setblocking(False)
            return self._read_request(conn, conn.parser.unreader.take_buffered())
        return super().finish_request(conn, fs)

    def _read_request(self, conn: TConn, data: bytes) -> None:
        incoming = _Incoming(conn, data)
        if data and incoming.complete(self.head_limit):
            return self._hand_over(incoming)
        self.incoming[conn] = incoming
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, incoming))

    def _on_readable(self, incoming: _Incoming, sock) -> None:
        try:
            data = sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._forget(incoming)
            return
        incoming.data += data
        if incoming.complete(self.head_limit):
            self.poller.unregister(sock)
            del self.incoming[incoming.conn]
            self._hand_over(incoming)

    def _hand_over(self, incoming: _Incoming) -> None:
        conn = incoming.conn
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(bytes(incoming.data))
        conn.data_ready = True  # no waiting for data in the thread: it is all here
        self.enqueue_req(conn)

    def _forget(self, incoming: _Incoming, answer: bool = False) -> None:
        self.poller.unregister(incoming.conn.sock)
        del self.incoming[incoming.conn]
        if answer:
            try:
                util.write_error(incoming.conn.sock, 408, "Request Timeout",
                                 f"the request was not complete after {HEADER_SECONDS} s")
            except OSError:
                pass
        self.nr_conns -= 1
        incoming.conn.close()

    def murder_pending(self):
        """Also end the requests still incomplete at their deadline: a 408 to those that sent
        something, a closed connection to those that never did."""
        super().murder_pending()
        now = time.monotonic()
        for incoming in [i for i in self.incoming.values() if i.deadline <= now]:
            self._forget(incoming, answer=bool(incoming.data))

    def handle_error(self, req, client, addr, exc):
        """gunicorn's refusal of a malformed header, with the header's name and value left out
        of the log line and the answer: they may hold a token."""
        if isinstance(exc, (InvalidHeader, InvalidHeaderName, ObsoleteFolding)) and not isinstance(
                exc, (InvalidResponseHeader, InvalidResponseHeaderName)):
            exc.hdr = f"<{len(str(exc.hdr))} characters, not shown>"
        super().handle_error(req, client, addr, exc)
