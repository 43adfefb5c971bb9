"""Build, publish and load index generations: passages, vectors, FAISS and BM25 on disk.

An index directory holds immutable generation folders and a `CURRENT` file naming the live
one. A build writes a complete new generation beside the live one, then replaces `CURRENT`
atomically, so readers see the old index or the new one, never half of either. A running
server notices the new pointer and switches; requests in flight finish on the generation
they started with.
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import logging
import math
import os
import secrets
import shutil
import sqlite3
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Iterator, Mapping, Protocol, Sequence

import faiss
import numpy as np
from tqdm import tqdm

from .config import Settings, usable_cores
from .documents import Document, DocumentError, Line, corpus_files, read_document
from .embedder import Embedder
from .lexical import Analyzer, LexicalIndex
from .passages import Citation, Passage, split_document

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
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


class BuildInProgressError(RuntimeError):
    pass


class EmptyCorpusError(RuntimeError):
    """A build that would index no passage at all; nothing was built or changed."""


# --- the vector search interface ----------------------------------------------------------


class VectorSearch(Protocol):
    """Nearest passages to a question vector. FAISS on local disk is the one backend today;
    a distributed vector engine would be a second implementation of this."""

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(row, cosine) pairs, best first; the cosines exact (fusion takes them as they are),
        the rows the index's best guess."""

    def similarities(self, vector: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """The cosine of the question vector with the passages at `rows`, exactly."""


# A single question searches fastest on one thread (exact search over 10,000 vectors: 0.6 ms on
# one, 16 ms on two, as OpenMP's start-up dominates); building an index uses every core.
faiss.omp_set_num_threads(1)

# Exact search up to here; measured on one core at 384 dimensions (benchmarks/vector_search.py):
# 2.3 ms a question at 30,000 vectors, 6.8 ms at 50,000, as it becomes bound by memory bandwidth.
EXACT_UP_TO = 30_000
# HNSW up to here; above, IVF, whose recall holds at a million (0.996-0.998 at nprobe 32, 2-4 ms)
# where HNSW's falls to 0.89. HNSW's parameters come from the hardest corpus we measured: 100,000
# passages embedded by the model whose texts are all alike (a passage's cosine with another is
# 0.69 on average). There, with the model's questions, efConstruction 100 and efSearch 128 found
# 0.90 of the exact top 10 in 0.54 ms; efConstruction 200 and efSearch 192 find 0.95 in 0.93-0.95 ms.
HNSW_UP_TO = 300_000


@dataclass(frozen=True)
class IndexType:
    """The FAISS structure for a corpus size, and the parameters it is built and searched with."""

    kind: str  # flat, hnsw or ivf
    parameters: dict = field(default_factory=dict)


def index_type_for(passages: int) -> IndexType:
    if passages <= EXACT_UP_TO:
        return IndexType("flat")
    if passages <= HNSW_UP_TO:
        return IndexType("hnsw", {"M": 32, "efConstruction": 200, "efSearch": 192})
    # About four lists per square root of the corpus, trained on 64 vectors a list.
    return IndexType("ivf", {"nlist": int(4 * math.sqrt(passages)), "nprobe": 32})


class FaissVectorSearch:
    def __init__(self, index: faiss.Index, vectors: np.ndarray, index_type: IndexType):
        self.index = index
        self.vectors = vectors
        space = faiss.ParameterSpace()
        for name in ("efSearch", "nprobe"):
            if name in index_type.parameters:
                # Search parameters are set after loading: the file keeps whatever they were
                # when it was written.
                space.set_index_parameter(index, name, index_type.parameters[name])

    @classmethod
    def build(cls, vectors: np.ndarray, index_type: IndexType) -> "FaissVectorSearch":
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dimension, p = vectors.shape[1], index_type.parameters
        if index_type.kind == "flat":
            index = faiss.IndexFlatIP(dimension)
        elif index_type.kind == "hnsw":
            index = faiss.IndexHNSWFlat(dimension, p["M"], faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = p["efConstruction"]
        elif index_type.kind == "ivf":
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, p["nlist"], faiss.METRIC_INNER_PRODUCT)
        else:
            raise ValueError(f"unknown index type {index_type.kind!r}")
        faiss.omp_set_num_threads(usable_cores())
        try:
            if index_type.kind == "ivf":
                sample = np.random.default_rng(0).choice(len(vectors), min(len(vectors), 64 * p["nlist"]), replace=False)
                index.train(vectors[np.sort(sample)])
            index.add(vectors)
        finally:
            faiss.omp_set_num_threads(1)
        return cls(index, vectors, index_type)

    def save(self, directory: Path) -> None:
        faiss.write_index(self.index, str(directory / "dense.faiss"))

    @classmethod
    def load(cls, directory: Path, vectors: np.ndarray, index_type: IndexType) -> "FaissVectorSearch":
        # Memory-mapped: worker processes share the pages instead of each holding a copy.
        index = faiss.read_index(str(directory / "dense.faiss"), faiss.IO_FLAG_MMAP_IFC)
        return cls(index, vectors, index_type)

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, self.index.ntotal)
        if k <= 0:
            return []
        scores, rows = self.index.search(np.asarray(vector, dtype=np.float32).reshape(1, -1), k)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def similarities(self, vector: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        if not len(rows):
            return np.zeros(0, np.float32)
        order = np.argsort(rows)  # read the memory-mapped rows in file order
        found = np.empty(len(rows), np.float32)
        found[order] = np.asarray(self.vectors[np.asarray(rows)[order]], dtype=np.float32) @ vector
        return found


# --- records ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentSummary:
    name: str
    title: str
    sha256: str
    passages: int
    pages: int | None


@dataclass
class BuildReport:
    generation: str | None
    documents: int = 0
    passages: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # file -> why it was not indexed
    indexed: dict[str, DocumentSummary] = field(default_factory=dict)  # every document, by name
    reused: int = 0
    embedded: int = 0
    seconds: float = 0.0
    up_to_date: bool = False

    def summary(self) -> str:
        if self.up_to_date:
            return f"index is up to date (generation {self.generation}, {self.passages} passages); nothing to do"
        lines = [
            f"generation {self.generation}: {self.documents} documents, {self.passages} passages "
            f"in {self.seconds:.1f} s",
            f"added {len(self.added)}, changed {len(self.changed)}, removed {len(self.removed)}; "
            f"vectors reused {self.reused}, embedded {self.embedded}",
        ]
        lines += [f"skipped {name}: {why}" for name, why in self.skipped.items()]
        return "\n".join(lines)


def embedding_key(model: str, passage: Passage) -> str:
    """Passages with the same key have the same vectors: a cache key across builds."""
    content = json.dumps([model, passage.contextual_text(), passage.sentences])
    return hashlib.sha1(content.encode("utf-8")).hexdigest()


def corpus_fingerprint(documents: dict[str, str]) -> str:
    listing = "\n".join(f"{name}\t{digest}" for name, digest in sorted(documents.items()))
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


# --- publishing ---------------------------------------------------------------------------


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
    current = current_generation_name(index_dir)
    generations = [p for p in _generations(index_dir)]
    for old in generations[: max(0, len(generations) - keep)]:
        if old.name != current:
            shutil.rmtree(old, ignore_errors=True)


# --- building -----------------------------------------------------------------------------


def _new_generation_name() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)


_SCHEMA = """
CREATE TABLE passages (
    row INTEGER PRIMARY KEY, id TEXT NOT NULL, document TEXT NOT NULL, title TEXT NOT NULL,
    section TEXT NOT NULL, page INTEGER, line_start INTEGER NOT NULL, line_end INTEGER NOT NULL,
    text TEXT NOT NULL, sentences TEXT NOT NULL, embed_key TEXT NOT NULL
);
CREATE INDEX passages_by_id ON passages(id);
CREATE TABLE documents (
    name TEXT PRIMARY KEY, title TEXT NOT NULL, sha256 TEXT NOT NULL, passages INTEGER NOT NULL,
    pages INTEGER
);
CREATE TABLE lines (
    document TEXT NOT NULL, number INTEGER NOT NULL, page INTEGER, text TEXT NOT NULL
);
CREATE INDEX lines_by_document ON lines(document);
"""


@dataclass
class _Corpus:
    documents: list[Document]
    digests: dict[str, str]
    passages: list[Passage]
    skipped: dict[str, str]


def file_digests(sources: Sequence[tuple[Path, str]]) -> dict[str, str]:
    return {name: hashlib.sha256(path.read_bytes()).hexdigest() for path, name in sources}


def read_corpus(
    sources: Sequence[tuple[Path, str]],
    digests: dict[str, str],
    progress: bool = False,
    already_read: Mapping[str, Document] = MappingProxyType({}),
) -> _Corpus:
    """Read and split every source; `already_read` documents (by name) are not read again."""
    documents, passages, skipped = [], [], {}
    for path, name in tqdm(sources, desc="reading", unit="file", disable=not progress):
        try:
            document = already_read.get(name) or read_document(path, name)
        except DocumentError as exc:
            skipped[name] = str(exc)
            continue
        documents.append(document)
        passages.extend(split_document(document))
    parsed = {d.name: digests[d.name] for d in documents}
    return _Corpus(documents, parsed, passages, skipped)


def _summaries(corpus: _Corpus) -> dict[str, DocumentSummary]:
    counts = Counter(passage.citation.document for passage in corpus.passages)
    return {
        d.name: DocumentSummary(d.name, d.title, corpus.digests[d.name], counts[d.name],
                                len({line.page for line in d.lines if line.page is not None}) or None)
        for d in corpus.documents
    }


def is_up_to_date(settings: Settings, embedder: Embedder) -> bool:
    """Whether the current generation was built from the corpus as it is, with this model."""
    try:
        generation = IndexGeneration.open(settings.index_dir, settings.language, embedder)
    except IndexUnavailableError:
        return False
    try:
        digests = file_digests(corpus_files(settings.corpus_dir))
        return _indexes_as_asked(generation, corpus_fingerprint(digests), settings.language)
    finally:
        generation.close()


def _indexes_as_asked(generation: "IndexGeneration", fingerprint: str, language: str) -> bool:
    """Whether a generation holds this corpus, with BM25 for this language and the vector index
    this version chooses for its size (an update build then rebuilds them, reusing the vectors)."""
    manifest, wanted = generation.manifest, index_type_for(generation.passage_count)
    return (manifest["corpus_fingerprint"] == fingerprint and manifest.get("language") == language
            and (manifest["index_type"], manifest.get("index_parameters", {})) == (wanted.kind, wanted.parameters))


def build_index(settings: Settings, embedder: Embedder, *, full: bool = False, progress: bool = False, wait: bool = True) -> BuildReport:
    """Build a generation from the corpus and make it current; one build at a time.

    Unless `full`, passages whose text, sentences and model are unchanged reuse the vectors
    of the current generation, and an unchanged corpus publishes nothing new. With `wait`
    false, a build that finds another one running raises BuildInProgressError at once.
    """
    with build_lock(settings.index_dir, wait=wait):
        clean_up(settings)
        return build_generation(settings, embedder, corpus_files(settings.corpus_dir), full=full, progress=progress)


def build_generation(
    settings: Settings,
    embedder: Embedder,
    sources: Sequence[tuple[Path, str]],
    *,
    full: bool = False,
    progress: bool = False,
    already_read: Mapping[str, Document] = MappingProxyType({}),
    before_publish: Callable[[], None] | None = None,
) -> BuildReport:
    """Build a generation from `sources` (path, name) and make it current. The caller holds
    build_lock. `already_read` are documents of the sources the caller has read (a PDF takes a
    while). `before_publish` runs after the new generation is complete and before it goes
    live: the moment to move added files into the corpus."""
    index_dir = settings.index_dir
    started = time.perf_counter()
    digests = file_digests(sources)
    fingerprint = corpus_fingerprint(digests)
    previous = _previous_generation(index_dir, embedder, settings.language)
    if previous and not full and _indexes_as_asked(previous, fingerprint, settings.language):
        report = BuildReport(previous.name, documents=int(previous.manifest["documents"]),
                             passages=previous.passage_count, up_to_date=True,
                             indexed={d.name: d for d in previous.documents()})
        previous.close()
        if before_publish:
            before_publish()
        report.seconds = time.perf_counter() - started
        return report

    corpus = read_corpus(sources, digests, progress, already_read)
    if not corpus.passages:
        if previous:
            previous.close()
        unreadable = "".join(f"; {name}: {why}" for name, why in corpus.skipped.items())
        raise EmptyCorpusError(
            f"there would be nothing to search: no document left in the corpus has text to index{unreadable}. "
            "Keep or add at least one document with text (qa-service add, or POST /documents)."
        )
    report = BuildReport(None, documents=len(corpus.documents), passages=len(corpus.passages), skipped=corpus.skipped,
                         indexed=_summaries(corpus))
    before = previous.document_digests() if previous else {}
    report.added = sorted(set(corpus.digests) - set(before))
    report.removed = sorted(set(before) - set(corpus.digests))
    report.changed = sorted(n for n in corpus.digests if n in before and before[n] != corpus.digests[n])

    keys = [embedding_key(embedder.name, p) for p in corpus.passages]
    # Passage r's sentence vectors are rows offsets[r] to offsets[r + 1] of sentence_vectors.npy.
    offsets = np.cumsum([0] + [len(p.sentences) for p in corpus.passages], dtype=np.int64)
    vectors, sentence_vectors, report.reused = _vectors(corpus.passages, keys, offsets, embedder,
                                                        None if full else previous, progress)
    report.embedded = len(corpus.passages) - report.reused
    if previous:
        previous.close()

    name = _new_generation_name()
    staging = index_dir / (BUILDING_PREFIX + name)
    staging.mkdir(parents=True)
    np.save(staging / "vectors.npy", vectors)
    index_type = index_type_for(len(vectors))
    dense = FaissVectorSearch.build(vectors, index_type)
    dense.save(staging)
    np.save(staging / "sentence_vectors.npy", sentence_vectors)
    np.save(staging / "sentence_offsets.npy", offsets)
    analyzer = Analyzer(settings.language)
    LexicalIndex.build([p.contextual_text() for p in corpus.passages], analyzer).save(staging / "bm25")
    _write_store(staging / "passages.sqlite", corpus, keys, report.indexed)
    manifest = {
        "format_version": FORMAT_VERSION,
        "generation": name,
        "model": embedder.name,
        "dimension": int(embedder.dimension),
        "language": settings.language,
        "index_type": index_type.kind,
        "index_parameters": index_type.parameters,
        "passages": len(corpus.passages),
        "documents": len(corpus.documents),
        "corpus_fingerprint": fingerprint,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for path in staging.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    os.rename(staging, index_dir / name)
    fsync_directory(index_dir)
    if before_publish:
        before_publish()
    publish_generation(index_dir, name)
    clean_up(settings)
    report.generation = name
    report.seconds = time.perf_counter() - started
    return report


def _previous_generation(index_dir: Path, embedder: Embedder, language: str) -> "IndexGeneration | None":
    """The current generation if its vectors can be reused with this embedder."""
    try:
        return IndexGeneration.open(index_dir, language, embedder)
    except IndexMismatchError:
        return None
    except NoIndexError as exc:
        if current_generation_name(index_dir) is not None:
            log.warning("every passage will be embedded again: %s", exc)
        return None


# Passages embedded at a time. It bounds what a build holds besides the vectors themselves (the
# model's token embeddings of the chunk, some hundreds of MB) at any corpus size.
EMBED_CHUNK = 1024


def _vectors(passages, keys, offsets, embedder, previous, progress):
    """The passage vectors (float32) and sentence vectors (int8, see _quantize), reused from
    the previous generation where the embedding key matches, embedded otherwise."""
    dimension = embedder.dimension
    vectors = np.zeros((len(passages), dimension), np.float32)
    sentence_vectors = np.zeros((int(offsets[-1]), dimension), np.int8)
    cached = previous.vector_cache() if previous else {}
    missing = []
    for i, key in enumerate(keys):
        row = cached.get(key)
        if row is None:
            missing.append(i)
            continue
        vectors[i] = previous.vectors[row]
        sentence_vectors[offsets[i] : offsets[i + 1]] = previous.sentences_of(row)
    with tqdm(total=len(missing), desc="embedding", unit="passage", disable=not progress or not missing) as bar:
        for first in range(0, len(missing), EMBED_CHUNK):
            chunk = missing[first : first + EMBED_CHUNK]
            texts, spans = [], []
            for i in chunk:
                passage = passages[i]
                shift = len(passage.contextual_text()) - len(passage.text)
                texts.append(passage.contextual_text())
                spans.append([(a + shift, b + shift) for a, b in passage.sentences])
            new_vectors, new_sentences = embedder.embed_passages(texts, spans)
            cursor = 0
            for j, i in enumerate(chunk):
                count = offsets[i + 1] - offsets[i]
                vectors[i] = new_vectors[j]
                sentence_vectors[offsets[i] : offsets[i + 1]] = _quantize(new_sentences[cursor : cursor + count])
                cursor += count
            bar.update(len(chunk))
    return vectors, sentence_vectors, len(passages) - len(missing)


_INT8_SCALE = 127.0  # a unit vector's components times this fit int8


def _quantize(vectors: np.ndarray) -> np.ndarray:
    """Sentence vectors only rank a passage's sentences: int8 keeps that and a quarter of the bytes."""
    return np.clip(np.rint(vectors * _INT8_SCALE), -127, 127).astype(np.int8)


def dequantized(sentence_vectors: np.ndarray) -> np.ndarray:
    """Stored int8 sentence vectors as float32 again (unit length, to within rounding)."""
    return np.asarray(sentence_vectors, np.float32) / _INT8_SCALE


def _write_store(path: Path, corpus: _Corpus, keys: list[str], summaries: dict[str, DocumentSummary]) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.executescript(_SCHEMA)
        rows = []
        for row, (passage, key) in enumerate(zip(corpus.passages, keys)):
            c = passage.citation
            rows.append((row, passage.id, c.document, c.title, json.dumps(c.section, ensure_ascii=False), c.page,
                         c.line_start, c.line_end, passage.text, json.dumps(passage.sentences), key))
        connection.executemany("INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        for document in corpus.documents:
            summary = summaries[document.name]
            connection.execute(
                "INSERT INTO documents VALUES (?,?,?,?,?)",
                (summary.name, summary.title, summary.sha256, summary.passages, summary.pages),
            )
            connection.executemany(
                "INSERT INTO lines VALUES (?,?,?,?)",
                [(document.name, line.number, line.page, line.text) for line in document.lines],
            )
        connection.commit()
    finally:
        connection.close()


# --- loading ------------------------------------------------------------------------------


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
        self._db = sqlite3.connect(f"file:{directory / 'passages.sqlite'}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        # SQLite opens its file lazily: read it now. Rows are numbered 0..n-1, so the last row
        # tells the count without the full scan of count(*) (0.57 s cold at a million passages).
        (last,), = self._query("SELECT max(row) FROM passages")
        if (last if last is not None else -1) + 1 != self.passage_count:
            raise ValueError(f"passages.sqlite ends at row {last}, the manifest counts {self.passage_count} passages")
        if self.sentence_offsets is None:
            counts = [len(json.loads(spans)) for (spans,) in self._query("SELECT sentences FROM passages ORDER BY row")]
            self.sentence_offsets = np.cumsum([0, *counts], dtype=np.int64)

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
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexMismatchError(
                f"the index in {index_dir} has format {manifest.get('format_version')}, this version reads "
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
        try:
            return cls(directory, manifest, language)
        except (OSError, ValueError, KeyError, RuntimeError, sqlite3.DatabaseError) as exc:  # RuntimeError: FAISS
            log.warning("cannot load the index generation %s in %s", name, index_dir, exc_info=exc)
            raise NoIndexError(f"the index generation {name} in {index_dir} cannot be loaded (the server log says "
                               "why): run `qa-service build --full`.") from exc

    @property
    def passage_count(self) -> int:
        return int(self.manifest["passages"])

    def _query(self, sql: str, parameters: Sequence = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    def passages(self, rows: Sequence[int]) -> dict[int, Passage]:
        """Passages by row."""
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        found = {}
        for row, pid, document, title, section, page, start, end, text, sentences in self._query(
            "SELECT row, id, document, title, section, page, line_start, line_end, text, sentences "
            f"FROM passages WHERE row IN ({marks})", list(rows)
        ):
            citation = Citation(document, title, tuple(json.loads(section)), page, start, end)
            spans = tuple(tuple(s) for s in json.loads(sentences))
            found[row] = Passage(pid, text, citation, spans)
        return found

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

    def documents(self) -> list[DocumentSummary]:
        return [DocumentSummary(*row) for row in self._query("SELECT name, title, sha256, passages, pages FROM documents ORDER BY name")]

    def document_digests(self) -> dict[str, str]:
        return {name: digest for name, digest in self._query("SELECT name, sha256 FROM documents")}

    def section_headings(self, limit: int) -> list[str]:
        """Distinct headings that passages stand under (the nearest one), taking turns across
        documents so that every document gets a say, in reading order within each."""
        by_document: dict[str, list[str]] = {}
        for document, section in self._query(
            "SELECT document, section FROM passages GROUP BY document, section ORDER BY MIN(row)"
        ):
            headings = json.loads(section)
            if headings and headings[-1] not in by_document.setdefault(document, []):
                by_document[document].append(headings[-1])
        chosen: list[str] = []
        for heading in itertools.chain.from_iterable(itertools.zip_longest(*by_document.values())):
            if heading is not None and heading not in chosen:
                chosen.append(heading)
        return chosen[:limit]

    def document_lines(self, name: str) -> list[Line]:
        return [Line(n, p, t) for n, p, t in self._query("SELECT number, page, text FROM lines WHERE document = ? ORDER BY rowid", (name,))]

    def vector_cache(self) -> dict[str, int]:
        """embedding key -> the row of its passage's vectors."""
        return {key: row for row, key in self._query("SELECT row, embed_key FROM passages")}

    def close(self) -> None:
        self._db.close()


class LiveIndex:
    """The generation a server answers from; switches when CURRENT changes.

    `current()` costs one stat() when nothing changed. The request that notices a new pointer
    loads it; requests that arrive meanwhile keep answering from the old generation. A pointer
    that cannot be used leaves the old generation answering; it is not tried again while it
    names an index of another model, and tried again after RETRY_SECONDS if it failed to load.
    """

    RETRY_SECONDS = 30.0

    def __init__(self, settings: Settings, embedder: Embedder,
                 on_switch: Callable[[IndexGeneration], None] | None = None):
        self.settings = settings
        self.embedder = embedder
        self.on_switch = on_switch  # told of each generation this process starts answering from
        self._generation: IndexGeneration | None = None
        self._seen: tuple | None = None
        # The pointer last refused: its state, the refusal, and when to try it again.
        self._refused: tuple[tuple, IndexUnavailableError, float] | None = None
        self._loading = threading.Lock()

    def _pointer_state(self) -> tuple | None:
        try:
            stat = (self.settings.index_dir / POINTER).stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def current(self) -> IndexGeneration:
        state = self._pointer_state()
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
                    loaded = IndexGeneration.open(self.settings.index_dir, self.settings.language, self.embedder)
                except IndexUnavailableError as refusal:
                    if state is not None:
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

    def _still_answering(self, refusal: IndexUnavailableError) -> IndexGeneration:
        """The generation loaded before, or the refusal of the pointer if there is none."""
        if self._generation is None:
            raise type(refusal)(str(refusal))
        return self._generation
