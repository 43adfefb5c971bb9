"""The rate limit on /ask: questions per client address (QA_RATE_LIMIT), counted in one place for
all the workers of a server, and a 429 that says when to try again."""

from __future__ import annotations

import math
import sqlite3
import threading
import time
import urllib.parse
from pathlib import Path

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits.storage import Storage

from .config import Settings

ASK_ENDPOINTS = {"api.ask_post", "api.ask_get"}  # one budget for both: switching method gains nothing
COUNTERS_FILE = "rate-limits.sqlite"


class SharedCounters(Storage):
    """Fixed-window counters in a SQLite file that every worker process of one server opens.

    Counters in memory would be per worker: with N workers a client could ask N times the limit,
    as often as its requests land on different workers. A file on the local disk is shared by
    all of them without running another service (Redis, memcached) on a one-machine deployment.
    """

    STORAGE_SCHEME = ["qa-sqlite"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: float | str | bool):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        path = urllib.parse.urlparse(uri or "").path
        self._lock = threading.Lock()  # one connection per process, its threads take turns
        self._db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")  # counters need not survive a crash of the machine
        self._db.execute("CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL, "
                         "expires_at REAL NOT NULL)")
        # Ended windows are deleted at every count: by this index, not by reading every client's row.
        self._db.execute("CREATE INDEX IF NOT EXISTS counters_by_expiry ON counters (expires_at)")

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM counters WHERE expires_at <= ?", (now,))
                (count,) = self._db.execute(
                    "INSERT INTO counters VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET count = count + excluded.count "
                    "RETURNING count", (key, amount, now + expiry),
                ).fetchone()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return count

    def _row(self, key: str) -> tuple[int, float] | None:
        with self._lock:
            return self._db.execute("SELECT count, expires_at FROM counters WHERE key = ? AND expires_at > ?",
                                    (key, time.time())).fetchone()

    def get(self, key: str) -> int:
        row = self._row(key)
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row[1] if row else time.time()

    def check(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1").fetchone() == (1,)

    def reset(self) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM counters WHERE key = ?", (key,))


def counters_uri(runtime_dir: Path | None) -> str:
    """Where the counters live: the server's shared folder, or this process's memory without one."""
    return f"qa-sqlite://{(runtime_dir / COUNTERS_FILE).resolve()}" if runtime_dir else "memory://"


def limit_questions(app: Flask, settings: Settings) -> Limiter | None:
    """Limit /ask (POST and GET together) per client address; None when QA_RATE_LIMIT is empty."""
    if not settings.rate_limit.strip():
        return None
    return Limiter(
        get_remote_address,  # the peer, or the client a trusted proxy named (ForwardedFor in api.py)
        app=app,
        application_limits=[settings.rate_limit],
        application_limits_exempt_when=lambda: request.endpoint not in ASK_ENDPOINTS,
        storage_uri=counters_uri(settings.runtime_dir),
        strategy="fixed-window",
        headers_enabled=False,  # Retry-After goes on the 429 alone (see retry_after); a 200 has nothing to retry
        swallow_errors=True,  # counters that cannot be read let questions through (logged), not fail them
    )


def retry_after(limiter: Limiter) -> int:
    """Whole seconds until the breached window ends and the client may ask again."""
    breached = limiter.current_limit
    if breached is None:
        return 1
    return max(1, math.ceil(breached.window.reset_time - time.time()))


def rate_limited_message(error: RateLimitExceeded, seconds: int) -> str:
    limit = error.limit.limit
    unit = limit.GRANULARITY.name
    window = unit if limit.multiples == 1 else f"{limit.multiples} {unit}s"
    return f"too many questions from your address (at most {limit.amount} per {window}); wait {seconds} s and ask again."
