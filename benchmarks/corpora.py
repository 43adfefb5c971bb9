"""Synthetic corpora for the benchmarks, the same on every run: text from the chapter's words
with a fixed seed, indexed by the service's own build with the real model or, for corpora too
large to embed on this machine, with passage vectors from a generator calibrated to the
statistics of real all-MiniLM-L6-v2 embeddings.

The model embeds about 18 passages a second on 2 cores: 90 minutes for 100,000 passages, about
15 hours for 1,000,000. So the million is indexed by the service's own build (reading, splitting,
BM25, passages.sqlite, FAISS, sentence vectors, manifest) with `CalibratedEmbedder` standing in
for the model: its passage vectors come from `CalibratedVectors`. The two indexes of a corpus
live side by side. Only the benchmarks use the stand-in; questions sent to a server are always
embedded by the real model in that server.
"""

from __future__ import annotations

import random
import re
import textwrap
from pathlib import Path
from typing import Sequence

import numpy as np

from qa_service.config import DEFAULT_MODEL, Settings
from qa_service.index import IndexGeneration, IndexUnavailableError, build_index

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "corpus" / "beleidsthema-2-vrede-veiligheid-stabiliteit.txt"
RESULTS = ROOT / "benchmarks" / "results"  # git-ignored: corpora and indexes built once, reused
SEED = 2023
SECTIONS, PARAGRAPHS = 4, 5  # a document: 4 headings with 5 paragraphs under each, 20 passages
PASSAGES_PER_DOCUMENT = SECTIONS * PARAGRAPHS
DIMENSION = 384


class Writer:
    """Sentences, headings and paragraphs drawn from the chapter's words, in their frequencies."""

    def __init__(self, seed: int):
        self.random = random.Random(seed)
        self.words = [w for w in re.findall(r"[^\W\d_]+", CHAPTER.read_text(encoding="utf-8")) if len(w) > 1]

    def sentence(self) -> str:
        words = self.random.choices(self.words, k=self.random.randint(8, 18))
        return " ".join(words).capitalize() + "."

    def heading(self) -> str:
        return " ".join(self.random.choices(self.words, k=self.random.randint(2, 3))).capitalize()

    def paragraph(self) -> str:
        """About 100 words: one passage, as the splitter keeps paragraphs of 40 to 200 words whole."""
        return " ".join(self.sentence() for _ in range(self.random.randint(6, 9)))


def write_corpus(folder: Path, writer: Writer, documents: int, sections: int = SECTIONS,
                 paragraphs: int = PARAGRAPHS) -> None:
    """Text files laid out like the chapter: a title, headings, hard-wrapped paragraphs."""
    folder.mkdir(parents=True)
    for number in range(documents):
        parts = [f"Beleidsrapport {number + 1}", ""]
        for _ in range(sections):
            parts += [writer.heading()] + [textwrap.fill(writer.paragraph(), 95) + "\n" for _ in range(paragraphs)]
        (folder / f"rapport-{number + 1:06d}.txt").write_text("\n".join(parts), encoding="utf-8")


class CalibratedVectors:
    """Unit vectors shaped like all-MiniLM-L6-v2's passage embeddings, reproducible from a seed.

    A tree of topics: each vector is a shared mean direction plus an offset for each of its
    ancestors (smaller at every level) plus its own noise, with anisotropic spectra, in a random
    basis. The parameters were fitted to 5,400 real MiniLM embeddings of report passages: the
    cosine of the nearest neighbour and the gap between the 1st and 10th neighbour at 300 to
    5,000 passages, the mean and spread of pairwise cosines, the length of the mean vector and
    the effective dimension. Unlike a mixture of Gaussian clusters, it keeps neighbourhoods
    distinct at a million vectors, where approximate search is hardest.
    """

    BLOCK = 100_000

    def __init__(self, seed: int = 1234, top: int = 32, levels: int = 7, branch: int = 6, spread: float = 0.7,
                 decay: float = 0.955, leaf: float = 0.51, mean: float = 1.21, alpha: float = 1.05,
                 alpha_fine: float = 0.55, top_sigma: float = 0.53, child_skew: float = 0.85, table: int = 1 << 16):
        rng = np.random.default_rng(seed)
        d = DIMENSION
        self.levels, self.branch, self.table = levels, branch, table
        self.basis = np.linalg.qr(rng.standard_normal((d, d)))[0].astype(np.float32)
        k = np.arange(1, d + 1)

        def spectrum(a: float) -> np.ndarray:
            s = k ** -a
            return np.sqrt(s / s.sum()).astype(np.float32)

        self.scales = [spectrum(alpha + (alpha_fine - alpha) * level / max(1, levels - 1)) * (spread * decay ** level)
                       for level in range(levels)]
        self.leaf_scale = spectrum(alpha_fine) * leaf
        direction = rng.standard_normal(d)
        self.mean = (mean * direction / np.linalg.norm(direction)).astype(np.float32) @ self.basis
        self.offsets = (rng.standard_normal((table, d)).astype(np.float32), rng.standard_normal((table, d)).astype(np.float32))
        weights = rng.lognormal(0, top_sigma, top)
        self.top_p = weights / weights.sum()
        children = np.arange(1, branch + 1) ** -child_skew
        self.child_p = children / children.sum()

    def _slot(self, node: np.ndarray, level: int, salt: int) -> np.ndarray:
        """A node's row in an offset table: a hash, so any number of nodes needs no storage."""
        h = (node.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ np.uint64(
            ((level + 1) * 0xBF58476D1CE4E5B9 + salt) & 0xFFFFFFFFFFFFFFFF)
        h ^= h >> np.uint64(31)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(29)
        return (h % np.uint64(self.table)).astype(np.int64)

    def sample(self, count: int, stream: int = 0) -> np.ndarray:
        """`count` vectors (float32, unit length) of an independent stream (0: passages)."""
        rng = np.random.default_rng([stream, 55])
        out = np.empty((count, DIMENSION), np.float32)
        with np.errstate(over="ignore"):
            for start in range(0, count, self.BLOCK):
                m = min(self.BLOCK, count - start)
                node = rng.choice(len(self.top_p), size=m, p=self.top_p).astype(np.int64)
                x = np.tile(self.mean, (m, 1))
                for level in range(self.levels):
                    if level:
                        node = node * self.branch + rng.choice(self.branch, size=m, p=self.child_p)
                    first, second = self.offsets
                    x += (first[self._slot(node, level, 1)] + second[self._slot(node, level, 2)]) * (self.scales[level] / np.sqrt(2))
                x += rng.standard_normal((m, DIMENSION)).astype(np.float32) * self.leaf_scale
                x = x @ self.basis.T
                out[start:start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out

    def questions(self, count: int) -> np.ndarray:
        """Question-like vectors: drawn like passages, then moved off them by twice a passage's own
        noise, so that a question is near its answers but is none of them (as real questions are)."""
        near = self.sample(count, stream=1)
        shift = np.random.default_rng(5).standard_normal(near.shape).astype(np.float32)
        questions = near + (shift * self.leaf_scale * 2.0) @ self.basis.T
        return questions / np.linalg.norm(questions, axis=1, keepdims=True)


class CalibratedEmbedder:
    """A stand-in for the model in index builds of the large synthetic corpora; benchmarks only.

    Passages get the next vectors of `CalibratedVectors` in the order they are embedded; each
    sentence gets its passage's vector moved a little (cosine about 0.8), as the model's
    sentence vectors lie near their passage's. It carries the real model's name and dimension,
    so the real server, with the real model, answers from the index it builds.
    """

    name = DEFAULT_MODEL
    dimension = DIMENSION

    def __init__(self, seed: int = 1234):
        self.vectors = CalibratedVectors(seed)
        self.noise = np.random.default_rng(seed + 1)
        self._pending = np.zeros((0, DIMENSION), np.float32)
        self._blocks = 0

    def _take(self, count: int) -> np.ndarray:
        """The next `count` passage vectors; made a block at a time, so any split of the calls
        gives the same vectors."""
        while len(self._pending) < count:
            block = self.vectors.sample(CalibratedVectors.BLOCK, stream=100 + self._blocks)
            self._pending, self._blocks = np.concatenate([self._pending, block]), self._blocks + 1
        taken, self._pending = self._pending[:count], self._pending[count:]
        return taken

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError("the stand-in only indexes; questions are embedded by the real model")

    def embed_passages(self, texts, sentences):
        passages = self._take(len(texts))
        counts = [len(spans) for spans in sentences]
        moved = np.repeat(passages, counts, axis=0)
        moved += self.noise.standard_normal(moved.shape, dtype=np.float32) * (0.75 / np.sqrt(DIMENSION))
        return passages, moved / np.linalg.norm(moved, axis=1, keepdims=True)


def corpus_settings(passages: int, stand_in: bool = False) -> Settings:
    """Where the synthetic corpus of `passages` passages lives, and its index: embedded by the
    model, or by the stand-in (`stand_in`), beside each other over the same texts."""
    root = RESULTS / f"corpus-{passages}"
    return Settings(corpus_dir=root / "corpus", index_dir=root / ("index-calibrated" if stand_in else "index"))


def synthetic_corpus(passages: int) -> Settings:
    """The corpus of `passages` passages (a multiple of 20), written once under benchmarks/results/."""
    settings = corpus_settings(passages)
    if not settings.corpus_dir.exists():
        write_corpus(settings.corpus_dir, Writer(SEED), passages // PASSAGES_PER_DOCUMENT)
    return settings


def synthetic_index(passages: int, embedder, progress: bool = True) -> Settings:
    """The corpus of `passages` passages (a multiple of 20) and its index, built once with
    `embedder` and kept under benchmarks/results/ for later runs. The stand-in carries the
    model's name, so a marker file says which of the two embedded an index."""
    stand_in = isinstance(embedder, CalibratedEmbedder)
    settings = corpus_settings(passages, stand_in)
    marker, embedded_by = settings.index_dir / "EMBEDDED_BY", "generator" if stand_in else embedder.name
    try:
        generation = IndexGeneration.open(settings.index_dir)
        built = generation.passage_count
        generation.close()
        if built == passages and marker.exists() and marker.read_text() == embedded_by:
            return settings
    except IndexUnavailableError:
        pass
    synthetic_corpus(passages)
    report = build_index(settings, embedder, full=True, progress=progress)
    if report.passages != passages:
        raise RuntimeError(f"the synthetic corpus in {settings.corpus_dir} has {report.passages} passages, "
                           f"not {passages}: remove {settings.corpus_dir.parent} and run again.")
    marker.write_text(embedded_by)
    return settings
