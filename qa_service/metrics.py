"""What /metrics tells Prometheus: requests by route and status, how long questions take, the live
index and the builds, added up over all the workers of a server.

Under `qa-service serve` each worker writes its figures to files in the server's metrics folder
(prometheus_client's multiprocess mode, which the server switches on before the workers start)
and whichever worker answers /metrics adds up all of them. Without that folder (tests, one
process) the figures live in this process's registry.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from .index import BuildReport, Generation

UNMATCHED_ROUTE = "unmatched"  # 404s and the like: one label, not one per path a stranger tries
ASK_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
BUILD_SECONDS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class ServiceMetrics:
    """The service's metrics, one set per app; `directory` holds every worker's files, if several."""

    def __init__(self, directory: Path | None = None):
        self.directory = directory
        # Registered here and never exported directly under several workers: there the
        # MultiProcessCollector reads every worker's files instead.
        self.registry = CollectorRegistry()
        self.requests = Counter("qa_http_requests", "HTTP requests answered, by route (the URL rule), method "
                                "and status.", ["route", "method", "status"], registry=self.registry)
        self.ask_seconds = Histogram("qa_ask_duration_seconds", "Time to answer a question (/ask answered 200), "
                                     "in seconds.", buckets=ASK_SECONDS, registry=self.registry)
        # livemostrecent: the figure of the worker that switched generation last, among the living.
        self.passages = Gauge("qa_index_passages", "Passages in the live index generation.",
                              multiprocess_mode="livemostrecent", registry=self.registry)
        self.documents = Gauge("qa_index_documents", "Documents in the live index generation.",
                               multiprocess_mode="livemostrecent", registry=self.registry)
        # livemax: 1 for every generation some living worker answers from, 0 for those it left.
        self.generation = Gauge("qa_index_generation_info", "The live index generation (value 1), by name.",
                                ["generation"], multiprocess_mode="livemax", registry=self.registry)
        self.unanswered = Counter("qa_ask_unanswered", "Questions answered 'not in the documents' (no passage "
                                  "reached the confidence threshold).", registry=self.registry)
        self.build_seconds = Histogram("qa_index_build_duration_seconds", "Index builds done by this server "
                                       "(admin uploads, removals, rebuilds) that published a new generation, "
                                       "in seconds.", buckets=BUILD_SECONDS, registry=self.registry)
        self._generation_name: str | None = None

    def observe_request(self, route: str | None, method: str, status: int, seconds: float, asked: bool) -> None:
        """Count one answered request; `asked` when it answered a question."""
        self.requests.labels(route or UNMATCHED_ROUTE, method, str(status)).inc()
        if asked and status == 200:
            self.ask_seconds.observe(seconds)

    def observe_unanswered(self) -> None:
        """A question the documents did not answer: what people ask that the corpus lacks."""
        self.unanswered.inc()

    def observe_generation(self, generation: Generation) -> None:
        """The worker now answers from `generation`."""
        if generation.name == self._generation_name:
            return
        if self._generation_name is not None:
            self.generation.labels(self._generation_name).set(0)
        self.generation.labels(generation.name).set(1)
        self._generation_name = generation.name
        self.passages.set(generation.passage_count)
        self.documents.set(int(generation.manifest["documents"]))

    def observe_build(self, report: BuildReport) -> None:
        if not report.up_to_date:
            self.build_seconds.observe(report.seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The text Prometheus scrapes, and its content type."""
        if self.directory:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=str(self.directory))
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
