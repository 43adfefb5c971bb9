"""The FAISS backend's generations: immutable folders in the index directory (the vectors, their
FAISS index, bm25s, the SQLite passage store and manifest.json), and a `CURRENT` file naming the
live one. A generation is written under a hidden name, made durable, then renamed into place;
publishing replaces `CURRENT` atomically. index/README.md lists the files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from ..config import Settings
from ..embedder import Embedder
from ..lexical import Analyzer, LexicalIndex
from .faiss import FaissVectorSearch
from .generation import (
    BUILDING_PREFIX,
    POINTER,
    IndexGeneration,
    NewGeneration,
    current_generation_name,
    fsync_directory,
    prune_generation_folders,
    publish_generation,
)
from .store import write_store
from .vector_search import IndexType


class LocalBackend:
    """Generations as folders under QA_INDEX_DIR (see generation.GenerationBackend)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.index_dir: Path = settings.index_dir

    def pointer(self) -> tuple | None:
        try:
            stat = (self.index_dir / POINTER).stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def current_name(self) -> str | None:
        return current_generation_name(self.index_dir)

    def open(self, language: str, embedder: Embedder | None = None) -> IndexGeneration:
        return IndexGeneration.open(self.index_dir, language, embedder)

    def write(self, generation: NewGeneration) -> None:
        staging = self.index_dir / (BUILDING_PREFIX + generation.name)
        staging.mkdir(parents=True)
        manifest = generation.manifest
        np.save(staging / "vectors.npy", generation.vectors)
        index_type = IndexType(manifest["index_type"], manifest["index_parameters"])
        FaissVectorSearch.build(generation.vectors, index_type).save(staging)
        np.save(staging / "sentence_vectors.npy", generation.sentence_vectors)
        np.save(staging / "sentence_offsets.npy", generation.offsets)
        analyzer = Analyzer(manifest["language"])
        LexicalIndex.build([p.contextual_text() for p in generation.passages], analyzer).save(staging / "bm25")
        write_store(staging / "passages.sqlite", generation.passages, generation.keys, generation.documents,
                    generation.summaries)
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        for path in staging.rglob("*"):
            if path.is_file():
                with open(path, "rb") as handle:
                    os.fsync(handle.fileno())
        os.rename(staging, self.index_dir / generation.name)
        fsync_directory(self.index_dir)

    def publish(self, name: str) -> None:
        publish_generation(self.index_dir, name)

    def discard(self, name: str) -> None:
        if name != self.current_name():
            shutil.rmtree(self.index_dir / name, ignore_errors=True)
            shutil.rmtree(self.index_dir / (BUILDING_PREFIX + name), ignore_errors=True)

    def prune(self, keep: int) -> None:
        prune_generation_folders(self.index_dir, keep)

    def close(self) -> None:
        pass
