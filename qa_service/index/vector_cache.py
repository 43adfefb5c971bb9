"""Passage and sentence vectors for a build: reused from the previous generation where a
passage's embedding key is unchanged (a content hash of what the model reads, and the model),
embedded otherwise, a chunk at a time."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Sequence

import numpy as np
from tqdm import tqdm

from ..embedder import Embedder
from ..passages import Passage

if TYPE_CHECKING:
    from .generation import Generation


def embedding_key(model: str, passage: Passage) -> str:
    """Passages with the same key have the same vectors: a cache key across builds."""
    content = json.dumps([model, passage.contextual_text(), passage.sentences])
    return hashlib.sha1(content.encode("utf-8")).hexdigest()


# Passages embedded at a time. It bounds what a build holds besides the vectors themselves (the
# model's token embeddings of the chunk, some hundreds of MB) at any corpus size.
EMBED_CHUNK = 1024


def passage_vectors(passages: Sequence[Passage], keys: Sequence[str], offsets: np.ndarray, embedder: Embedder,
                    previous: "Generation | None", progress: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """The passage vectors (float32) and sentence vectors (int8, see quantized), reused from
    the previous generation where the embedding key matches, embedded otherwise."""
    dimension = embedder.dimension
    vectors = np.zeros((len(passages), dimension), np.float32)
    sentence_vectors = np.zeros((int(offsets[-1]), dimension), np.int8)
    found = np.zeros(len(passages), bool)
    for i, vector, sentences in previous.reused_vectors(keys) if previous else ():
        vectors[i] = vector
        sentence_vectors[offsets[i] : offsets[i + 1]] = sentences
        found[i] = True
    missing = np.flatnonzero(~found).tolist()
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
                sentence_vectors[offsets[i] : offsets[i + 1]] = quantized(new_sentences[cursor : cursor + count])
                cursor += count
            bar.update(len(chunk))
    return vectors, sentence_vectors, len(passages) - len(missing)


_INT8_SCALE = 127.0  # a unit vector's components times this fit int8


def quantized(vectors: np.ndarray) -> np.ndarray:
    """Sentence vectors only rank a passage's sentences: int8 keeps that and a quarter of the bytes."""
    return np.clip(np.rint(vectors * _INT8_SCALE), -127, 127).astype(np.int8)


def dequantized(sentence_vectors: np.ndarray) -> np.ndarray:
    """Stored int8 sentence vectors as float32 again (unit length, to within rounding)."""
    return np.asarray(sentence_vectors, np.float32) / _INT8_SCALE


