"""Build a generation from the corpus: read and split the documents, embed what changed, then
have the backend write the generation (FAISS: local.py; Milvus: milvus.py) and make it current.

Reading and embedding are the same for every backend; only the writing differs."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from ..config import Settings
from ..documents import Document, DocumentError, corpus_files
from ..embedder import Embedder
from ..passages import Passage
from ..reader_process import ReaderProcess
from .generation import (
    FORMAT_VERSION,
    EmptyCorpusError,
    Generation,
    GenerationBackend,
    IndexMismatchError,
    IndexUnavailableError,
    NewGeneration,
    NoIndexError,
    backend_for,
    build_lock,
    clean_up,
)
from .parsed_cache import ParsedCache
from .ray_build import RayCluster, build_cluster
from .store import DocumentSummary
from .vector_cache import embedding_key, passage_vectors
from .vector_search import index_type_for

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    generation: str | None
    documents: int = 0
    passages: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # file -> why it was not indexed
    read: list[str] = field(default_factory=list)  # the documents read (the others' reading was reused)
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
            f"vectors reused {self.reused}, embedded {self.embedded}; documents read {len(self.read)}, "
            f"their earlier reading reused {self.documents + len(self.skipped) - len(self.read)}",
        ]
        lines += [f"skipped {name}: {why}" for name, why in self.skipped.items()]
        return "\n".join(lines)



def corpus_fingerprint(documents: dict[str, str]) -> str:
    listing = "\n".join(f"{name}\t{digest}" for name, digest in sorted(documents.items()))
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()



def _new_generation_name() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)



@dataclass
class _Corpus:
    documents: list[Document]
    digests: dict[str, str]
    passages: list[Passage]
    skipped: dict[str, str]
    read: list[str]  # the names read for this build (by it, or by its caller: already_read)


def file_digests(sources: Sequence[tuple[Path, str]]) -> dict[str, str]:
    return {name: hashlib.sha256(path.read_bytes()).hexdigest() for path, name in sources}


Outcome = tuple[Document, list[Passage]]


def read_corpus(
    sources: Sequence[tuple[Path, str]],
    digests: dict[str, str],
    progress: bool = False,
    already_read: Mapping[str, Outcome] = MappingProxyType({}),
    cluster: RayCluster | None = None,
    settings: Settings | None = None,
    cache: ParsedCache | None = None,
) -> _Corpus:
    """Read and split every source, here (in a child process within the settings' read limits)
    or on a Ray `cluster`. `already_read` documents (by name) are not read again, nor those
    the `cache` holds; what is read goes into the cache."""
    outcomes: dict[str, Outcome | str] = {}
    for _, name in sources:
        if name in already_read:
            outcomes[name] = already_read[name]
        elif cache and (kept := cache.get(name, digests[name])):
            outcomes[name] = kept
    unread = [(path, name) for path, name in sources if name not in outcomes]
    settings = settings or Settings()
    if cluster:
        outcomes.update(cluster.read(unread, settings.read_memory_mb, settings.read_seconds))
    else:
        with ReaderProcess.for_settings(settings) as reader:
            for path, name in tqdm(unread, desc="reading", unit="file", disable=not progress):
                try:
                    outcomes[name] = reader.read(path, name)
                except DocumentError as exc:
                    outcomes[name] = str(exc)
    documents, passages, skipped = [], [], {}
    for _, name in sources:
        outcome = outcomes[name]
        if isinstance(outcome, str):
            log.warning("skipped %s: %s", name, outcome)
            skipped[name] = outcome
            continue
        if cache and name not in already_read:
            cache.put(name, digests[name], outcome)
        documents.append(outcome[0])
        passages.extend(outcome[1])
    parsed = {d.name: digests[d.name] for d in documents}
    return _Corpus(documents, parsed, passages, skipped, sorted([*already_read, *(name for _, name in unread)]))


def _summaries(corpus: _Corpus) -> dict[str, DocumentSummary]:
    counts = Counter(passage.citation.document for passage in corpus.passages)
    return {
        d.name: DocumentSummary(d.name, d.title, corpus.digests[d.name], counts[d.name], d.pages, d.page_numbering,
                                len(d.lines))
        for d in corpus.documents
    }


def is_up_to_date(settings: Settings, embedder: Embedder) -> bool:
    """Whether the current generation was built from the corpus as it is, with this model."""
    backend = backend_for(settings)
    try:
        generation = backend.open(settings.language, embedder)
    except IndexUnavailableError:
        backend.close()
        return False
    try:
        digests = file_digests(corpus_files(settings.corpus_dir))
        return _indexes_as_asked(generation, corpus_fingerprint(digests), settings.language)
    finally:
        generation.close()
        backend.close()


def _indexes_as_asked(generation: Generation, fingerprint: str, language: str) -> bool:
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
        left_out: dict[str, str] = {}
        sources = corpus_files(settings.corpus_dir, left_out)
        return build_generation(settings, embedder, sources, full=full, progress=progress, left_out=left_out)


def build_generation(
    settings: Settings,
    embedder: Embedder,
    sources: Sequence[tuple[Path, str]],
    *,
    full: bool = False,
    progress: bool = False,
    already_read: Mapping[str, Outcome] = MappingProxyType({}),
    before_publish: Callable[[], None] | None = None,
    left_out: Mapping[str, str] = MappingProxyType({}),
) -> BuildReport:
    """Build a generation from `sources` (path, name) and make it current. The caller holds
    build_lock. `already_read` are documents of the sources the caller has read and split (a PDF
    takes a while). Unless `full`, documents read and split by earlier builds (by name, content
    and reader version) are not read again. `before_publish` runs after the new generation is
    complete and before it goes live: the moment to move added files into the corpus.
    `left_out` are files of the corpus folder that are not sources (links out of it), with the
    reason, for the report. With QA_RAY_ADDRESS the corpus is read and embedded on that Ray
    cluster, and everything else happens here as without it."""
    backend = backend_for(settings)
    try:
        with build_cluster(settings, embedder, progress) as cluster:
            report = _build(settings, embedder, backend, sources, full, progress, already_read, before_publish,
                            cluster)
    finally:
        backend.close()
    report.skipped = {**report.skipped, **left_out}
    return report


def _build(settings: Settings, embedder: Embedder, backend: GenerationBackend, sources: Sequence[tuple[Path, str]],
           full: bool, progress: bool, already_read: Mapping[str, Outcome],
           before_publish: Callable[[], None] | None, cluster: RayCluster | None) -> BuildReport:
    started = time.perf_counter()
    digests = file_digests(sources)
    fingerprint = corpus_fingerprint(digests)
    previous = _previous_generation(backend, embedder, settings.language)
    if previous and not full and _indexes_as_asked(previous, fingerprint, settings.language):
        report = BuildReport(previous.name, documents=int(previous.manifest["documents"]),
                             passages=previous.passage_count, up_to_date=True,
                             indexed={d.name: d for d in previous.store.documents()})
        previous.close()
        if before_publish:
            before_publish()
        report.seconds = time.perf_counter() - started
        return report

    cache = ParsedCache(settings.index_dir, reuse=not full)  # a full build reads every document again
    corpus = read_corpus(sources, digests, progress, already_read, cluster, settings, cache)
    if not corpus.passages:
        if previous:
            previous.close()
        unreadable = "".join(f"; {name}: {why}" for name, why in corpus.skipped.items())
        raise EmptyCorpusError(
            f"there would be nothing to search: no document left in the corpus has text to index{unreadable}. "
            "Keep or add at least one document with text (qa-service add, or POST /documents)."
        )
    report = BuildReport(None, documents=len(corpus.documents), passages=len(corpus.passages), skipped=corpus.skipped,
                         indexed=_summaries(corpus), read=corpus.read)
    before = previous.store.document_digests() if previous else {}
    report.added = sorted(set(corpus.digests) - set(before))
    report.removed = sorted(set(before) - set(corpus.digests))
    report.changed = sorted(n for n in corpus.digests if n in before and before[n] != corpus.digests[n])

    keys = [embedding_key(embedder.name, p) for p in corpus.passages]
    # Passage r's sentence vectors are rows offsets[r] to offsets[r + 1] of sentence_vectors.npy.
    offsets = np.cumsum([0] + [len(p.sentences) for p in corpus.passages], dtype=np.int64)
    vectors, sentence_vectors, report.reused = passage_vectors(corpus.passages, keys, offsets, embedder,
                                                               None if full else previous, progress, cluster)
    if cluster:
        cluster.close()  # its work is done; the rest is written here
    report.embedded = len(corpus.passages) - report.reused
    if previous:
        previous.close()

    index_type = index_type_for(len(vectors))
    name = _new_generation_name()
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
        "build": cluster.record() if cluster else {"engine": "local"},
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    try:
        backend.write(NewGeneration(name, manifest, corpus.passages, keys, corpus.documents, report.indexed, vectors,
                                    sentence_vectors, offsets))
        if before_publish:
            before_publish()
        backend.publish(name)
    except BaseException:
        backend.discard(name)  # a generation that never went live leaves nothing behind
        raise
    clean_up(settings)
    cache.keep_only(corpus.digests.items())
    report.generation = name
    report.seconds = time.perf_counter() - started
    return report


def _previous_generation(backend: GenerationBackend, embedder: Embedder, language: str) -> Generation | None:
    """The current generation if its vectors can be reused with this embedder."""
    try:
        return backend.open(language, embedder)
    except IndexMismatchError:
        return None
    except NoIndexError as exc:
        if backend.current_name() is not None:
            log.warning("every passage will be embedded again: %s", exc)
        return None


