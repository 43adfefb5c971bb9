"""Run the app under gunicorn, the production WSGI server, with settings from the CLI."""

from __future__ import annotations

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

    def load(self):
        from .api import create_app

        return create_app(self.settings)


def serve(settings: Settings) -> None:
    ProductionServer(settings).run()
