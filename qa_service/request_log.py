"""The service's log: one JSON object per line, one line per request (method, path, status,
duration, client address). Question text only with QA_LOG_QUESTIONS=1; headers never, so
neither the admin token nor any other credential can reach the log."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

log = logging.getLogger("qa_service.requests")


class JsonLines(logging.Formatter):
    """A record as one JSON object: time, level, logger, worker pid, message, and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,  # which worker
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def log_to_stderr_as_json() -> None:
    """Send everything the service logs (qa_service.*) to stderr as JSON lines, from INFO up."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    service_log = logging.getLogger("qa_service")
    service_log.handlers[:] = [handler]
    service_log.setLevel(logging.INFO)
    service_log.propagate = False


def log_request(method: str, path: str, status: int, seconds: float, client: str | None,
                question: str | None = None, answered: bool | None = None) -> None:
    """One line for one answered request; `question` (and whether the documents answered it)
    only when the operator asked for it."""
    fields = {"method": method, "path": path, "status": status, "duration_ms": round(seconds * 1000, 1),
              "client": client}
    if question is not None:
        fields["question"] = question
        if answered is not None:
            fields["answered"] = answered
    log.info("request", extra={"fields": fields})
