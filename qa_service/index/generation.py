"""Index generations: what a generation offers the searcher, the live one and the switch to a new
one, and the FAISS backend's generations on disk.

A build writes a complete new generation beside the live one, then moves the `CURRENT` pointer
to it in one step, so readers see the old index or the new one, never half of either. A running
server notices the new pointer and switches; requests in flight finish on the generation
they started with. Where generations live is the backend's business (`GenerationBackend`): with
FAISS, immutable folders in the index directory and a `CURRENT` file naming the live one (this
module and local.py); with Milvus, collections and an alias (milvus.py).
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import shutil
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Hashable, Iterator, Protocol, Sequence

import numpy as np

from ..config import Settings
from ..embedder import Embedder
from ..lexical import Analyzer, LexicalIndex
from .faiss import FaissVectorSearch
from .lexical_search import LexicalSearch
from .store import DocumentSummary, PassageStore
from .vector_cache import dequantized
from .vector_search import IndexType, VectorSearch

if TYPE_CHECKING:
    from ..documents import Document, Line
    from ..passages import Passage

log = logging.getLogger(__name__)

FORMAT_VERSION = 4  # 2: pdf_page of passages and lines, furniture lines, page_numbering; 3: page_end; 4: heading levels of lines
POINTER = "CURRENT"
LOCK = ".build.lock"
BUILDING_PREFIX = ".building-"
STAGING_PREFIX = ".staging-"  # files being added, inside the index directory until they go live
INCOMING_PREFIX = ".incoming-"  # in the corpus: a staged file being copied in, renamed into place when whole
KEEP_GENERATIONS = 2


class IndexUnavailableError(RuntimeError):
    """No usable index to answer from; the message says what to do about it."""


class NoIndexError(IndexUnavailableError):
    pass


class IndexMismatchError(IndexUnavailableError):
    pass


class IndexUnreachableError(IndexUnavailableError):
    """The engine that holds the index cannot be reached now (Milvus); every request tries again."""


class BuildInProgressError(RuntimeError):
    pass


class EmptyCorpusError(RuntimeError):
    """A build that would index no passage at all; nothing was built or changed."""


class PassageSource(Protocol):
    """A generation's passages, documents and their lines, by row or by name (`store`)."""

    def passages(self, rows: Sequence[int]) -> dict[int, "Passage"]: ...
    def rows_of(self, ids: Sequence[str]) -> dict[str, int]: ...
    def documents(self) -> list[DocumentSummary]: ...
    def document_digests(self) -> dict[str, str]: ...
    def section_headings(self, limit: int) -> list[tuple[str, str]]: ...
    def document_lines(self, name: str) -> list["Line"]: ...


class Generation(Protocol):
    """One loaded, immutable generation, whichever backend holds it: what the searcher, the API
    and the pages read (rows are passage numbers 0..n-1 throughout), and what a build reuses.
    `IndexGeneration` (below) is FAISS's, `MilvusGeneration` (milvus.py) Milvus's."""

    name: str
    manifest: dict
    dense: VectorSearch
    lexical: LexicalSearch
    store: PassageSource

    @property
    def passage_count(self) -> int: ...

    def sentences_of(self, row: int) -> np.ndarray:
        """The int8 vectors of a passage's sentences, in order."""

    def best_sentence_similarities(self, vector: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """For each row, the cosine of the question vector with the passage's closest sentence."""

    def reused_vectors(self, keys: Sequence[str]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(i, passage vector, int8 sentence vectors) for each keys[i] this generation holds
        vectors for (see vector_cache.embedding_key)."""

    def close(self) -> None: ...


@dataclass
class NewGeneration:
    """Everything a backend writes for a generation; row r is passage r in every part."""

    name: str
    manifest: dict
    passages: Sequence["Passage"]
    keys: Sequence[str]  # embedding keys, by row
    documents: Sequence["Document"]
    summaries: dict[str, DocumentSummary]
    vectors: np.ndarray  # float32, one per passage
    sentence_vectors: np.ndarray  # int8; passage r's are rows offsets[r] to offsets[r + 1]
    offsets: np.ndarray


class GenerationBackend(Protocol):
    """Where generations live and which one is current (`CURRENT`): local.py, milvus.py."""

    def pointer(self) -> Hashable | None:
        """Changes whenever CURRENT moves; cheap enough to ask at every request."""

    def current_name(self) -> str | None: ...

    def open(self, language: str, embedder: Embedder | None = None) -> Generation:
        """The current generation; with `embedder`, only if it was built with that model."""

    def write(self, generation: NewGeneration) -> None:
        """Store a complete generation beside the live one, without making it current."""

    def publish(self, name: str) -> None:
        """Make a written generation current, in one step."""

    def discard(self, name: str) -> None:
        """Remove a generation that was (partly) written but never published."""

    def prune(self, keep: int) -> None:
        """Remove half-written generations and all but the last `keep` (never the current one)."""

    def close(self) -> None: ...


def backend_for(settings: Settings) -> GenerationBackend:
    """The backend QA_INDEX_BACKEND names."""
    if settings.index_backend == "milvus":
        from .milvus import MilvusBackend

        return MilvusBackend(settings)
    from .local import LocalBackend

    return LocalBackend(settings)


def check_manifest(manifest: dict, where: str, embedder: Embedder | None) -> None:
    """Refuse a generation of another format, or of another model than `embedder`'s."""
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index in {where} has format {manifest.get('format_version')}, this version reads "
            f"{FORMAT_VERSION}: rebuild it with `qa-service build --full`."
        )
    if embedder is not None:
        model, dimension = manifest.get("model"), manifest.get("dimension")
        if model != embedder.name or dimension != embedder.dimension:
            raise IndexMismatchError(
                f"the index was built with the model {model!r} ({dimension} dimensions) but the service "
                f"uses {embedder.name!r} ({embedder.dimension} dimensions): rebuild it with "
                "`qa-service build --full`, or set QA_MODEL to the index's model."
            )



def current_generation_name(index_dir: Path) -> str | None:
    try:
        name = (index_dir / POINTER).read_text().strip()
    except FileNotFoundError:
        return None
    return name or None


def publish_generation(index_dir: Path, name: str) -> None:
    """Point CURRENT at a complete generation: write a temporary file, then rename it."""
    temporary = index_dir / f".{POINTER}.{os.getpid()}.tmp"
    with open(temporary, "w") as handle:
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, index_dir / POINTER)
    fsync_directory(index_dir)


def fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextmanager
def build_lock(index_dir: Path, wait: bool = True) -> Iterator[None]:
    """One build at a time per index directory, across processes."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / LOCK, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise BuildInProgressError(
                "another build of this index is running; try again when it has finished."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _generations(index_dir: Path) -> list[Path]:
    return sorted(p for p in index_dir.iterdir() if p.is_dir() and (p / "manifest.json").exists() and not p.name.startswith("."))


def clean_up(settings: Settings, keep: int = KEEP_GENERATIONS) -> None:
    """Remove what killed builds left behind, and generations older than the last `keep`.

    Call it holding the build lock: staged files and half-built generations belong to the
    build that holds it, so any found then were left by a build that died.
    """
    index_dir = settings.index_dir
    for leftover in [*index_dir.glob(BUILDING_PREFIX + "*"), *index_dir.glob(STAGING_PREFIX + "*")]:
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in [*index_dir.glob(f".{POINTER}.*.tmp"), *settings.corpus_dir.glob(INCOMING_PREFIX + "*")]:
        leftover.unlink(missing_ok=True)
    backend = backend_for(settings)
    try:
        backend.prune(keep)
    finally:
        backend.close()


def prune_generation_folders(index_dir: Path, keep: int) -> None:
    """Remove the generation folders older than the last `keep`, except the current one."""
    current = current_generation_name(index_dir)
    generations = [p for p in _generations(index_dir)]
    for old in generations[: max(0, len(generations) - keep)]:
        if old.name != current:
            shutil.rmtree(old, ignore_errors=True)


def _read_ahead(path: Path) -> None:
    """Ask the kernel to start reading a memory-mapped file now, so the first questions after a
    switch or a reboot do not each wait for the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_WILLNEED)
    finally:
        os.close(descriptor)


class IndexGeneration:
    """One loaded, immutable generation. Files are opened once, memory-mapped where possible,
    so a generation stays readable even after a newer build removes its folder."""

    def __init__(self, directory: Path, manifest: dict, language: str):
        self.directory = directory
        self.name = directory.name
        self.manifest = manifest
        for mapped in ("vectors.npy", "dense.faiss", "sentence_vectors.npy"):
            _read_ahead(directory / mapped)
        self.vectors = np.load(directory / "vectors.npy", mmap_mode="r")
        self.sentence_vectors = np.load(directory / "sentence_vectors.npy", mmap_mode="r")
        offsets = directory / "sentence_offsets.npy"
        # Row r's sentences are sentence_vectors[offsets[r]:offsets[r + 1]]. For generations
        # written before the file existed they are counted from the passage store.
        self.sentence_offsets = np.load(offsets, mmap_mode="r") if offsets.exists() else None
        index_type = IndexType(manifest["index_type"], manifest.get("index_parameters", {}))
        self.dense: VectorSearch = FaissVectorSearch.load(directory, self.vectors, index_type)
        self.lexical = LexicalIndex.load(directory / "bm25", Analyzer(manifest.get("language", language)))
        self.store = PassageStore(directory / "passages.sqlite")
        # SQLite opens its file lazily: read it now, and check it holds every passage.
        last = self.store.last_row()
        if (last if last is not None else -1) + 1 != self.passage_count:
            raise ValueError(f"passages.sqlite ends at row {last}, the manifest counts {self.passage_count} passages")
        if self.sentence_offsets is None:
            self.sentence_offsets = np.cumsum([0, *self.store.sentence_counts()], dtype=np.int64)

    @classmethod
    def open(cls, index_dir: Path, language: str = "nl", embedder: Embedder | None = None) -> "IndexGeneration":
        """The current generation of `index_dir`; with `embedder`, only if it was built with
        that model (checked before anything but the manifest is read)."""
        name = current_generation_name(index_dir)
        if name is None:
            raise NoIndexError(
                f"no index has been built in {index_dir}: run `qa-service build` (or `make serve`, which builds it)."
            )
        directory = index_dir / name
        try:
            manifest = json.loads((directory / "manifest.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError) as exc:
            raise NoIndexError(f"the index generation {name} in {index_dir} is unreadable ({exc}): run `qa-service build --full`.") from None
        check_manifest(manifest, str(index_dir), embedder)
        try:
            return cls(directory, manifest, language)
        except (OSError, ValueError, KeyError, RuntimeError, sqlite3.DatabaseError) as exc:  # RuntimeError: FAISS
            log.warning("cannot load the index generation %s in %s", name, index_dir, exc_info=exc)
            raise NoIndexError(f"the index generation {name} in {index_dir} cannot be loaded (the server log says "
                               "why): run `qa-service build --full`.") from exc

    @property
    def passage_count(self) -> int:
        return int(self.manifest["passages"])

    def sentences_of(self, row: int) -> np.ndarray:
        """The int8 vectors of a passage's sentences, in order."""
        return self.sentence_vectors[self.sentence_offsets[row] : self.sentence_offsets[row + 1]]

    def best_sentence_similarities(self, vector: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """For each row, the cosine of the question vector with the passage's closest sentence
        (the late-chunked sentence vectors that highlighting uses)."""
        rows = np.asarray(rows, dtype=np.int64)
        best = np.full(len(rows), -1.0, np.float32)
        if not len(rows):
            return best
        starts = self.sentence_offsets[rows]
        counts = self.sentence_offsets[rows + 1] - starts
        first = np.cumsum(counts) - counts  # where each row's sentences begin among all of them
        sentence_rows = np.repeat(starts - first, counts) + np.arange(int(counts.sum()))
        order = np.argsort(sentence_rows)  # read the memory-mapped rows in file order
        similarity = np.empty(len(sentence_rows), np.float32)
        similarity[order] = dequantized(self.sentence_vectors[sentence_rows[order]]) @ vector
        some = counts > 0
        best[some] = np.maximum.reduceat(similarity, first[some])
        return best

    def reused_vectors(self, keys: Sequence[str]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        cached = self.store.vector_cache()
        for i, key in enumerate(keys):
            row = cached.get(key)
            if row is not None:
                yield i, self.vectors[row], self.sentences_of(row)

    def close(self) -> None:
        self.store.close()


class LiveIndex:
    """The generation a server answers from; switches when CURRENT changes.

    `current()` costs one look at the pointer when nothing changed (a stat() with FAISS, the
    alias with Milvus). The request that notices a new pointer
    loads it; requests that arrive meanwhile keep answering from the old generation. A pointer
    that cannot be used leaves the old generation answering; it is not tried again while it
    names an index of another model, and tried again after RETRY_SECONDS if it failed to load.
    """

    RETRY_SECONDS = 30.0

    def __init__(self, settings: Settings, embedder: Embedder,
                 on_switch: Callable[["Generation"], None] | None = None):
        self.settings = settings
        self.embedder = embedder
        self.on_switch = on_switch  # told of each generation this process starts answering from
        self.backend = backend_for(settings)
        self._generation: Generation | None = None
        self._seen: Hashable | None = None
        # The pointer last refused: its state, the refusal, and when to try it again.
        self._refused: tuple[Hashable, IndexUnavailableError, float] | None = None
        self._loading = threading.Lock()

    def current(self) -> Generation:
        state = self.backend.pointer()
        generation = self._generation
        if generation is not None and state == self._seen:
            return generation
        # A new pointer, or nothing loaded yet: one request loads, the others keep the old one.
        if not self._loading.acquire(blocking=generation is None):
            return generation
        try:
            if self._generation is None or self._seen != state:
                refused = self._refused
                if refused and refused[0] == state and time.monotonic() < refused[2]:
                    return self._still_answering(refused[1])
                try:
                    loaded = self.backend.open(self.settings.language, self.embedder)
                except IndexUnavailableError as refusal:
                    if state is not None and not isinstance(refusal, IndexUnreachableError):
                        wait = math.inf if isinstance(refusal, IndexMismatchError) else self.RETRY_SECONDS
                        self._refused = (state, refusal, time.monotonic() + wait)
                        if self._generation is not None:
                            log.warning("still answering from %s: %s", self._generation.name, refusal)
                    return self._still_answering(refusal)
                self._generation, self._seen, self._refused = loaded, state, None
                if self.on_switch:
                    self.on_switch(loaded)
            return self._generation
        finally:
            self._loading.release()

    def close(self) -> None:
        if self._generation is not None:
            self._generation.close()
        self.backend.close()

    def _still_answering(self, refusal: IndexUnavailableError) -> Generation:
        """The generation loaded before, or the refusal of the pointer if there is none."""
        if self._generation is None:
            raise type(refusal)(str(refusal))
        return self._generation
