"""Build a generation from the corpus: read and split the documents, embed what changed, write
BM25, the vector index, the passage store and the manifest, then make it current."""

from __future__ import annotations

import hashlib
import json
import logging
import os
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
from ..documents import Document, DocumentError, corpus_files, read_document
from ..embedder import Embedder
from ..lexical import Analyzer, LexicalIndex
from ..passages import Passage, split_document
from .faiss import FaissVectorSearch
from .generation import (
    BUILDING_PREFIX,
    FORMAT_VERSION,
    EmptyCorpusError,
    IndexGeneration,
    IndexMismatchError,
    IndexUnavailableError,
    NoIndexError,
    build_lock,
    clean_up,
    current_generation_name,
    fsync_directory,
    publish_generation,
)
from .store import DocumentSummary, write_store
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
        d.name: DocumentSummary(d.name, d.title, corpus.digests[d.name], counts[d.name], d.pages, d.page_numbering,
                                len(d.lines))
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
                             indexed={d.name: d for d in previous.store.documents()})
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
    before = previous.store.document_digests() if previous else {}
    report.added = sorted(set(corpus.digests) - set(before))
    report.removed = sorted(set(before) - set(corpus.digests))
    report.changed = sorted(n for n in corpus.digests if n in before and before[n] != corpus.digests[n])

    keys = [embedding_key(embedder.name, p) for p in corpus.passages]
    # Passage r's sentence vectors are rows offsets[r] to offsets[r + 1] of sentence_vectors.npy.
    offsets = np.cumsum([0] + [len(p.sentences) for p in corpus.passages], dtype=np.int64)
    vectors, sentence_vectors, report.reused = passage_vectors(corpus.passages, keys, offsets, embedder,
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
    write_store(staging / "passages.sqlite", corpus.passages, keys, corpus.documents, report.indexed)
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


