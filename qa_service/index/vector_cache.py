"""Passage and sentence vectors for a build: reused from the previous generation where a
passage's embedding key is unchanged (a content hash of what the model reads, and the model),
embedded otherwise, a chunk at a time, here or on a Ray cluster."""

from __future__ import annotations

import hashlib
import json
from itertools import islice
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence, TypeVar

import numpy as np
from tqdm import tqdm

from ..embedder import Embedder
from ..passages import Passage

if TYPE_CHECKING:
    from .generation import Generation
    from .ray_build import RayCluster

T = TypeVar("T")


def embedding_key(model: str, passage: Passage) -> str:
    """Passages with the same key have the same vectors: a cache key across builds."""
    content = json.dumps([model, passage.contextual_text(), passage.sentences])
    return hashlib.sha1(content.encode("utf-8")).hexdigest()


# Passages embedded at a time. It bounds what a build holds besides the vectors themselves (the
# model's token embeddings of the chunk, some hundreds of MB) at any corpus size.
EMBED_CHUNK = 1024


def passage_vectors(passages: Sequence[Passage], keys: Sequence[str], offsets: np.ndarray, embedder: Embedder,
                    previous: "Generation | None", progress: bool,
                    cluster: "RayCluster | None" = None) -> tuple[np.ndarray, np.ndarray, int]:
    """The passage vectors (float32) and sentence vectors (int8, see quantized), reused from
    the previous generation where the embedding key matches, embedded otherwise: here, or by
    the actors of a Ray `cluster`, which only ever sees the passages to embed."""
    dimension = embedder.dimension
    vectors = np.zeros((len(passages), dimension), np.float32)
    sentence_vectors = np.zeros((int(offsets[-1]), dimension), np.int8)
    found = np.zeros(len(passages), bool)
    for i, vector, sentences in previous.reused_vectors(keys) if previous else ():
        vectors[i] = vector
        sentence_vectors[offsets[i] : offsets[i + 1]] = sentences
        found[i] = True
    missing = np.flatnonzero(~found).tolist()
    inputs = (model_input(passages[i]) for i in missing)  # made as they are sent: a chunk's worth at a time
    batches = cluster.embedded(inputs, len(missing)) if cluster else _embedded_here(embedder, inputs)
    with tqdm(total=len(missing), desc="embedding", unit="passage", disable=not progress or not missing) as bar:
        for positions, new_vectors, new_sentences in batches:
            cursor = 0
            for j, position in enumerate(positions):
                i = missing[position]
                count = offsets[i + 1] - offsets[i]
                vectors[i] = new_vectors[j]
                sentence_vectors[offsets[i] : offsets[i + 1]] = new_sentences[cursor : cursor + count]
                cursor += count
            bar.update(len(positions))
    return vectors, sentence_vectors, len(passages) - len(missing)


def model_input(passage: Passage) -> tuple[str, list[tuple[int, int]]]:
    """What the model reads of a passage: its text in context, and its sentences' spans in that text."""
    text = passage.contextual_text()
    shift = len(text) - len(passage.text)
    return text, [(a + shift, b + shift) for a, b in passage.sentences]


def embed_batch(embedder: Embedder, inputs: Sequence[tuple[str, Sequence[tuple[int, int]]]]) -> tuple[np.ndarray, np.ndarray]:
    """The vectors of a batch of model inputs, and their sentences' vectors (int8) one passage after the other."""
    new_vectors, new_sentences = embedder.embed_passages([text for text, _ in inputs], [spans for _, spans in inputs])
    return new_vectors, quantized(new_sentences)


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _embedded_here(embedder: Embedder, inputs: Iterable[tuple[str, Sequence[tuple[int, int]]]]) -> Iterator[tuple[range, np.ndarray, np.ndarray]]:
    first = 0
    for chunk in chunks(inputs, EMBED_CHUNK):
        yield range(first, first + len(chunk)), *embed_batch(embedder, chunk)
        first += len(chunk)


_INT8_SCALE = 127.0  # a unit vector's components times this fit int8


def quantized(vectors: np.ndarray) -> np.ndarray:
    """Sentence vectors only rank a passage's sentences: int8 keeps that and a quarter of the bytes."""
    return np.clip(np.rint(vectors * _INT8_SCALE), -127, 127).astype(np.int8)


def dequantized(sentence_vectors: np.ndarray) -> np.ndarray:
    """Stored int8 sentence vectors as float32 again (unit length, to within rounding)."""
    return np.asarray(sentence_vectors, np.float32) / _INT8_SCALE


