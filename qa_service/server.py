"""Run the app under gunicorn, the production WSGI server, with settings from the CLI."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from gunicorn.app.base import BaseApplication

from .config import Settings

# prometheus_client's multiprocess mode: read once, when prometheus_client is first imported.
# This module imports nothing that imports it, so the variable is set before any worker does.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


class ProductionServer(BaseApplication):
    """gunicorn with its configuration from Settings instead of a config file.

    Each worker builds its own app after the fork: the model's threads do not survive a fork,
    and the index files are memory-mapped, so workers share their pages anyway.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        super().__init__()

    def load_config(self):
        options = {
            "bind": f"{self.settings.host}:{self.settings.port}",
            "workers": self.settings.workers,
            "worker_class": "gthread",
            "threads": self.settings.threads,
            "timeout": 120,
            "graceful_timeout": 30,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "info",
            # gunicorn's control socket sits at one path per user; several servers on one
            # machine would fight over it, and the service does not use it.
            "control_socket_disable": True,
        }
        for key, value in options.items():
            self.cfg.set(key, value)
        self.cfg.set("worker_exit", _exit_without_finalizers)
        self.cfg.set("child_exit", _forget_live_figures)

    def load(self):
        from .api import create_app
        from .request_log import log_to_stderr_as_json

        log_to_stderr_as_json()
        return create_app(self.settings)


def _exit_without_finalizers(server, worker) -> None:
    """End a stopping worker at once. PyTorch's exit-time finalizers take seconds to tens of
    seconds, long enough for gunicorn to kill the worker at its graceful timeout; a worker that
    has stopped serving has nothing left to flush."""
    logging.shutdown()
    os._exit(0)


def _forget_live_figures(server, worker) -> None:
    """A worker ended: its gauges (passages, generation) no longer count; its counters still do."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(server.app.settings.metrics_dir))


def serve(settings: Settings) -> None:
    """Serve until stopped. The workers share a folder made fresh for this run and removed at
    its end: the rate-limit counters, and each worker's metrics files, which /metrics adds up."""
    settings = settings.with_changes(runtime_dir=Path(tempfile.mkdtemp(prefix="qa-service-")))
    settings.metrics_dir.mkdir()
    os.environ[MULTIPROCESS_DIR] = str(settings.metrics_dir)
    try:
        ProductionServer(settings).run()
    finally:
        shutil.rmtree(settings.runtime_dir, ignore_errors=True)
